//! The viewer's HTTP: `GET` only, one request per connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use super::{lock, now_ms, Shared};

const PAGE: &str = include_str!("page.html");
const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// How long the acceptor sleeps when no connection was waiting.
const ACCEPT_POLL: Duration = Duration::from_millis(10);
/// How long a connection may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(shared);
                // Detached: each connection ends within IO_TIMEOUT.
                let _ = thread::Builder::new()
                    .name("wf-viewer-conn".into())
                    .spawn(move || serve(stream, &shared));
            }
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)));
    if setup.is_err() {
        return;
    }
    let mut head = Vec::new();
    let mut buf = [0; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD {
            let _ = stream.write_all(&response(431, "text/plain", b"head too large"));
            return;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let answer = if method == "GET" {
        route(target, shared)
    } else {
        response(405, "text/plain", b"GET only")
    };
    let _ = stream.write_all(&answer);
}

fn route(target: &str, shared: &Shared) -> Vec<u8> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let json = |value: Value| response(200, "application/json", value.to_string().as_bytes());
    let model = || lock(&shared.model);
    match path {
        "/" | "/index.html" => response(200, "text/html; charset=utf-8", PAGE.as_bytes()),
        "/viewer.css" => response(200, "text/css; charset=utf-8", CSS.as_bytes()),
        "/viewer.js" => response(200, "text/javascript; charset=utf-8", JS.as_bytes()),
        "/api/summary" => {
            let mut summary = model().summary_json();
            summary["exposed"] = json!(shared.exposed);
            summary["now_ms"] = json!(now_ms());
            json(summary)
        }
        "/api/routes" => json(model().routes_json(now_ms())),
        "/api/traces" => json(model().traces_json()),
        "/api/problems" => json(model().problems_json()),
        "/api/diagnostics" => json(model().diagnostics_json()),
        _ => match path
            .strip_prefix("/api/traces/")
            .map(|id| model().trace_json(id))
        {
            Some(Some(trace)) => json(trace),
            _ => response(404, "text/plain", b"not found"),
        },
    }
}

fn response(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Request Header Fields Too Large",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'self'\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}
