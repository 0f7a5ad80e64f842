//! [`DirectSender`] ignores the proxy environment variables (`HTTP_PROXY`,
//! `HTTPS_PROXY`, `ALL_PROXY`) unless `use_env_proxy(true)` asks for them:
//! requests carry the API token, and an inherited variable must not send it
//! to another host.
//!
//! Environment variables are process-global, so this file is its own test
//! binary with a single test that sets them once.

#![cfg(feature = "direct")]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use wavefront_core::sender::{DataKind, DirectSender, LineBatch, Sender};
use wavefront_core::wire;
use wavefront_testkit::receiver::Receiver;

/// The longest the test waits for something to happen.
const WAIT: Duration = Duration::from_secs(10);

fn eventually(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

fn points(prefix: &str, n: usize) -> LineBatch {
    let mut batch = LineBatch::new();
    for i in 0..n {
        batch
            .push_with(|buf| {
                wire::write_metric(
                    buf,
                    &format!("{prefix}.{i}"),
                    1.0,
                    None,
                    "test-host",
                    &[("run", prefix)],
                )
            })
            .unwrap();
    }
    batch
}

/// What the fake proxy saw: connections, and the first line of each.
#[derive(Default)]
struct Seen {
    connections: usize,
    first_lines: Vec<String>,
}

/// A fake HTTP proxy on 127.0.0.1 that records every connection and its
/// first line, and answers `502`. Stops when `stop` is set.
fn fake_proxy(stop: Arc<AtomicBool>) -> (String, Arc<Mutex<Seen>>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorder = Arc::clone(&seen);
    let handle = thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    recorder
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .connections += 1;
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let mut buf = [0u8; 4096];
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let first = text.lines().next().unwrap_or_default().to_owned();
                    recorder
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .first_lines
                        .push(first);
                    let _ = stream.write_all(
                        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return,
            }
        }
    });
    (url, seen, handle)
}

#[test]
fn proxy_variables_are_ignored_unless_asked_for() {
    let stop = Arc::new(AtomicBool::new(false));
    let (proxy_url, seen, proxy) = fake_proxy(Arc::clone(&stop));
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        std::env::set_var(name, &proxy_url);
    }
    // Nothing may exempt the receiver from the proxy (and a CGI environment
    // would make reqwest ignore the variables).
    for name in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
        std::env::remove_var(name);
    }
    let seen = || {
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        (seen.connections, seen.first_lines.clone())
    };

    // By default: straight to the receiver, the proxy never contacted.
    let receiver = Receiver::builder().token("tok").start().unwrap();
    let sender = DirectSender::builder(receiver.http_url(), "tok")
        .build()
        .unwrap();
    sender.send(DataKind::Points, points("direct", 20));
    assert!(receiver.wait_for_lines(20, WAIT));
    assert!(sender.flush(WAIT));
    thread::sleep(Duration::from_millis(200));
    assert_eq!(seen(), (0, Vec::new()), "the proxy was contacted");
    assert_eq!(receiver.metrics().len(), 20);
    assert!(receiver.rejected().is_empty());
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (20, 0));

    // With `use_env_proxy(true)`, the variables are honoured: the requests go
    // to the proxy (which answers 502, so nothing is delivered).
    let sender = DirectSender::builder(receiver.http_url(), "tok")
        .use_env_proxy(true)
        .build()
        .unwrap();
    sender.send(DataKind::Points, points("via-proxy", 5));
    assert!(
        eventually(WAIT, || seen().0 >= 1),
        "use_env_proxy(true) did not use the proxy"
    );
    let (_, first_lines) = seen();
    let expected = format!("POST {}/report?f=wavefront HTTP/1.1", receiver.http_url());
    assert_eq!(first_lines[0], expected);
    let report = sender.shutdown(Duration::from_millis(500));
    assert_eq!((report.delivered, report.dropped), (0, 5));
    assert_eq!(receiver.line_count(), 20);

    stop.store(true, Ordering::SeqCst);
    proxy.join().unwrap();
}
