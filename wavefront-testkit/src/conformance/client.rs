//! A plain HTTP/1.1 client over `std::net`: every byte it sends is the
//! scenario's own (raw percent-encoding, a request cut short), and nothing
//! it does depends on the server's framework.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// One request with `Connection: close`; returns the status and the body.
pub(super) fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> io::Result<(u16, String)> {
    let mut stream = connect(addr)?;
    stream.write_all(head(addr, method, target, headers).as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let status = status_of(&text)?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Sends half a request head, then closes the connection.
pub(super) fn abandon_mid_headers(addr: SocketAddr, target: &str) -> io::Result<()> {
    let mut stream = connect(addr)?;
    let head = head(addr, "GET", target, &[]);
    stream.write_all(&head.as_bytes()[..head.len() / 2])?;
    stream.flush()
}

/// Sends a whole request, reads only the status line, then closes the
/// connection; returns the status.
pub(super) fn abandon_after_status(addr: SocketAddr, target: &str) -> io::Result<u16> {
    let stream = connect(addr)?;
    (&stream).write_all(head(addr, "GET", target, &[]).as_bytes())?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    status_of(&line)
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

fn head(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    head
}

fn status_of(response: &str) -> io::Result<u16> {
    response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            let start: String = response.chars().take(80).collect();
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP/1.1 response: {start:?}"),
            )
        })
}
