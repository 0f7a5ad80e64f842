//! Benchmarks only: see `benches/`, and the `soak` and `loopback` commands
//! in `src/bin/`. What the commands share lives here.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One HTTP/1.1 keep-alive connection that sends `GET`s and reads their
/// responses whole, as a load generator needs and no more.
#[derive(Debug)]
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
    line: String,
    body: Vec<u8>,
}

impl Connection {
    /// Connects to `addr` (loopback), with Nagle off and a read timeout.
    pub fn open(addr: std::net::SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            host: addr.to_string(),
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// Sends `GET path` and reads the response; returns its status.
    pub fn get(&mut self, path: &str) -> io::Result<u16> {
        write!(
            self.writer,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.host
        )?;
        let mut status = 0;
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if self.line == "\r\n" {
                break;
            }
            if status == 0 {
                status = self
                    .line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            } else if let Some((name, value)) = self.line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body)?;
        Ok(status)
    }
}
