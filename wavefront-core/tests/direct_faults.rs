//! [`DirectSender`] against hostile or broken servers on 127.0.0.1: servers
//! that redirect (the redirect must not be followed), servers that never
//! answer (each request is bounded by the builder's timeout, and by a flush's
//! or shutdown's deadline), and the https-only rule.
//!
//! The servers are plain `std::net::TcpListener` threads writing raw HTTP
//! where the testkit receiver cannot (a `302` with a `Location` header, a
//! server that reads and never answers). Every wait is bounded.

#![cfg(feature = "direct")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use wavefront_core::config::{ConfigError, UrlSetting};
use wavefront_core::sender::{DataKind, DirectSender, LineBatch, Sender};
use wavefront_core::wire;
use wavefront_testkit::receiver::Receiver;

/// The longest any test waits for something to happen.
const WAIT: Duration = Duration::from_secs(10);
/// The token the senders use, looked for in logs.
const TOKEN: &str = "s3cr3t-bearer-7q";

// ===== helpers =====

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Polls `done` every 5 ms until it holds (true) or `timeout` passes (false).
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

/// A batch of `n` distinct metric lines.
fn points(prefix: &str, n: usize) -> LineBatch {
    let mut batch = LineBatch::new();
    for i in 0..n {
        batch
            .push_with(|buf| {
                wire::write_metric(
                    buf,
                    &format!("{prefix}.{i}"),
                    i as f64,
                    Some(1_700_000_000),
                    "test-host",
                    &[("run", prefix)],
                )
            })
            .unwrap();
    }
    batch
}

/// Log records of every test in this binary, from any thread.
static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        lock(&RECORDS).push((record.level(), record.args().to_string()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// The captured records that mention `needle`.
fn logs_mentioning(needle: &str) -> Vec<(log::Level, String)> {
    lock(&RECORDS)
        .iter()
        .filter(|(_, text)| text.contains(needle))
        .cloned()
        .collect()
}

/// One request as a raw server read it.
#[derive(Debug, Clone)]
struct RawRequest {
    /// `POST /report?f=wavefront HTTP/1.1`.
    request_line: String,
    /// Header lines, as sent.
    headers: Vec<String>,
}

/// A listener thread on 127.0.0.1 serving each connection with `serve`;
/// stopped and joined on drop.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<usize>>,
    requests: Arc<Mutex<Vec<RawRequest>>>,
    /// When each connection was seen closed by the client.
    closed_at: Arc<Mutex<Vec<Instant>>>,
    acceptor: Option<JoinHandle<()>>,
}

/// What a server does with a request it has read whole: the response bytes
/// to write, or `None` to hold the connection open without answering.
type Answer = Arc<dyn Fn(&RawRequest) -> Option<String> + Send + Sync>;

impl Server {
    fn start(answer: Answer) -> Server {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), answer)
    }

    fn start_on(listener: TcpListener, answer: Answer) -> Server {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let closed_at = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, connections, requests, closed_at) = (
                Arc::clone(&stop),
                Arc::clone(&connections),
                Arc::clone(&requests),
                Arc::clone(&closed_at),
            );
            thread::spawn(move || {
                let mut handlers = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            *lock(&connections) += 1;
                            let (stop, requests, closed_at, answer) = (
                                Arc::clone(&stop),
                                Arc::clone(&requests),
                                Arc::clone(&closed_at),
                                Arc::clone(&answer),
                            );
                            handlers.push(thread::spawn(move || {
                                serve(stream, &stop, &requests, &closed_at, &*answer);
                            }));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
                for handler in handlers {
                    let _ = handler.join();
                }
            })
        };
        Server {
            addr,
            stop,
            connections,
            requests,
            closed_at,
            acceptor: Some(acceptor),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn connections(&self) -> usize {
        *lock(&self.connections)
    }

    fn requests(&self) -> Vec<RawRequest> {
        lock(&self.requests).clone()
    }

    fn closed_at(&self) -> Vec<Instant> {
        lock(&self.closed_at).clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Reads requests off one connection (headers, then a `Content-Length`
/// body) and answers each with `answer`, until the client closes, the
/// answer closes, or the server stops.
fn serve(
    mut stream: TcpStream,
    stop: &AtomicBool,
    requests: &Mutex<Vec<RawRequest>>,
    closed_at: &Mutex<Vec<Instant>>,
    answer: &(dyn Fn(&RawRequest) -> Option<String> + Send + Sync),
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut holding = false;
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut chunk) {
            Ok(0) => {
                lock(closed_at).push(Instant::now());
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => {
                lock(closed_at).push(Instant::now());
                return;
            }
        }
        if holding {
            // Never answering: just drain.
            buf.clear();
            continue;
        }
        // Every complete request in `buf`.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or_default().to_owned();
            let headers: Vec<String> = lines.map(str::to_owned).collect();
            let length = headers
                .iter()
                .find_map(|h| {
                    let (k, v) = h.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() < end + 4 + length {
                break;
            }
            buf.drain(..end + 4 + length);
            let request = RawRequest {
                request_line,
                headers,
            };
            lock(requests).push(request.clone());
            match answer(&request) {
                Some(response) => {
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
                None => holding = true,
            }
        }
    }
}

/// A server answering every request with `status` and `Location: location`.
fn redirector(status: u16, location: String) -> Server {
    Server::start(Arc::new(move |_: &RawRequest| {
        Some(format!(
            "HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        ))
    }))
}

/// A server that reads requests and never answers them.
fn silent() -> Server {
    Server::start(Arc::new(|_: &RawRequest| None))
}

// ===== redirects =====

#[test]
fn redirects_are_refused_not_followed() {
    capture_logs();
    for status in [301, 302, 303, 307, 308] {
        // Where the redirect points: it must never be contacted.
        let elsewhere = silent();
        let redirecting = redirector(status, format!("{}/report?f=wavefront", elsewhere.url()));
        let sender = DirectSender::builder(redirecting.url(), TOKEN)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        sender.send(DataKind::Points, points("redirected", 30));
        sender.send(DataKind::Points, points("redirected-more", 20));
        sender.send(DataKind::Histograms, {
            let mut b = LineBatch::new();
            b.push_with(|buf| {
                wire::write_histogram(
                    buf,
                    wire::Granularity::Minute,
                    Some(1_700_000_040_000),
                    &[wire::Centroid {
                        mean: 1.0,
                        count: 2,
                    }],
                    "latency",
                    "test-host",
                    &[("route", "/a")],
                )
            })
            .unwrap();
            b
        });
        sender.send(DataKind::Spans, points("not-really-spans", 4));
        let sent = 30 + 20 + 1 + 4;
        let stats = sender.stats();
        assert!(
            eventually(WAIT, || stats.total_dropped() == sent),
            "{status}: dropped {}",
            stats.total_dropped()
        );
        assert!(sender.flush(WAIT));
        // Give a sender that follows redirects time to show itself.
        thread::sleep(Duration::from_millis(300));

        assert_eq!(
            elsewhere.connections(),
            0,
            "{status}: the redirect was followed: {:?}",
            elsewhere.requests()
        );
        let requests = redirecting.requests();
        assert!(!requests.is_empty());
        for request in &requests {
            // Only the sender's own POSTs, never a GET that follows.
            assert!(
                request.request_line.starts_with("POST /report?f="),
                "{status}: {request:?}"
            );
        }
        let count = |format: &str| {
            requests
                .iter()
                .filter(|r| {
                    r.request_line
                        .starts_with(&format!("POST /report?f={format} "))
                })
                .count() as u64
        };
        for (kind, format) in [
            (DataKind::Points, "wavefront"),
            (DataKind::Histograms, "histogram"),
            (DataKind::Spans, "trace"),
        ] {
            let kind_stats = stats.kind(kind);
            let n = count(format);
            assert!(n >= 1, "{status}: no request for {format}");
            assert_eq!(
                kind_stats.statuses(),
                vec![(status, n)],
                "{status} {format}"
            );
            assert_eq!(kind_stats.report_errors(), n, "{status} {format}");
            assert_eq!(kind_stats.valid(), 0);
        }
        assert_eq!(stats.total_valid() + stats.total_dropped(), sent);
        let report = sender.shutdown(WAIT);
        assert_eq!((report.delivered, report.dropped), (0, sent));

        // One warning, in plain words, without the token.
        let mentioning = logs_mentioning(&redirecting.addr.to_string());
        let warnings: Vec<&String> = mentioning
            .iter()
            .filter(|(level, _)| *level == log::Level::Warn)
            .map(|(_, text)| text)
            .collect();
        assert_eq!(warnings.len(), 1, "{status}: {mentioning:?}");
        let warning = warnings[0];
        let expected = format!(
            "direct ingestion to {}/report answered {status} (redirect to {}/report); redirects are not \
             followed: set WAVEFRONT_URL",
            redirecting.url(),
            elsewhere.url()
        );
        assert!(warning.contains(&expected), "{warning}");
        for (_, text) in lock(&RECORDS).iter() {
            assert!(!text.contains(TOKEN), "{text}");
        }
    }
}

#[test]
fn a_relative_redirect_to_the_same_server_is_not_followed() {
    let redirecting = redirector(307, "/api/v2/report?token=abc".into());
    let sender = DirectSender::builder(redirecting.url(), TOKEN)
        .build()
        .unwrap();
    sender.send(DataKind::Points, points("relative", 12));
    let stats = sender.stats();
    assert!(eventually(WAIT, || stats.total_dropped() == 12));
    thread::sleep(Duration::from_millis(200));
    let requests = redirecting.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0]
        .request_line
        .starts_with("POST /report?f=wavefront "));
    assert!(requests[0]
        .headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}"))));
    let points_stats = stats.kind(DataKind::Points);
    assert_eq!((points_stats.valid(), points_stats.dropped()), (0, 12));
    assert_eq!(points_stats.report_errors(), 1);
    assert_eq!(sender.shutdown(WAIT).dropped, 12);
}

#[test]
fn after_a_redirect_is_fixed_data_flows_again() {
    // The testkit receiver, first answering 302 twice, then normally: each
    // redirected batch is dropped, later ones are delivered.
    let receiver = Receiver::builder().token(TOKEN).start().unwrap();
    receiver.faults().set_http_status_for(1, 302);
    let sender = DirectSender::builder(receiver.http_url(), TOKEN)
        .build()
        .unwrap();
    let stats = sender.stats().kind(DataKind::Points);
    sender.send(DataKind::Points, points("first", 10));
    assert!(eventually(WAIT, || stats.dropped() == 10));
    sender.send(DataKind::Points, points("second", 7));
    assert!(receiver.wait_for_lines(7, WAIT));
    assert!(sender.flush(WAIT));
    let mut statuses = stats.statuses();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![(202, 1), (302, 1)]);
    assert_eq!(
        (stats.valid(), stats.dropped(), stats.report_errors()),
        (7, 10, 1)
    );
    assert!(receiver.rejected().is_empty());
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (7, 10));
}

// ===== https only =====

#[test]
fn plain_http_is_allowed_only_to_this_machine() {
    for url in [
        "http://example.com",
        "http://example.com:8080/prefix",
        "http://10.1.2.3",
        "http://localhost.example.com",
    ] {
        let err = DirectSender::builder(url, TOKEN).build().unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::TokenInClearText {
                    setting: UrlSetting::DirectSender,
                    ..
                }
            ),
            "{url}: {err}"
        );
        assert!(err.to_string().contains("clear text"), "{err}");
        assert!(!format!("{err} {err:?}").contains(TOKEN));
    }
    let err = DirectSender::builder("http://example.com", TOKEN)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the DirectSender URL would send the API token in clear text to example.com: use https://example.com \
         (plain http is allowed only to this machine: 127.0.0.0/8, ::1 or localhost)"
    );

    // Loopback, by address or by name, still works over plain http.
    let receiver = Receiver::builder().token(TOKEN).start().unwrap();
    let port = receiver.http_addr().port();
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let sender = DirectSender::builder(url.as_str(), TOKEN).build().unwrap();
        sender.send(DataKind::Points, points("loopback", 5));
        assert!(sender.flush(WAIT), "{url}");
        assert_eq!(sender.shutdown(WAIT).delivered, 5, "{url}");
    }
    assert!(receiver.wait_for_lines(10, WAIT));
    assert!(receiver.rejected().is_empty());
}

// ===== timeouts =====

#[test]
fn the_builder_timeout_bounds_each_request() {
    let server = silent();
    let sender = DirectSender::builder(server.url(), TOKEN)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let stats = sender.stats().kind(DataKind::Points);
    let started = Instant::now();
    sender.send(DataKind::Points, points("slow", 10));
    assert!(eventually(WAIT, || stats.report_errors() >= 1));
    let first = started.elapsed();
    assert!(
        first >= Duration::from_millis(250) && first < Duration::from_secs(3),
        "first request ended after {first:?}"
    );
    // And the retry is bounded alike.
    assert!(eventually(Duration::from_secs(3), || stats.report_errors() >= 2));
    assert!(server.requests().len() >= 2);
    assert_eq!(stats.valid(), 0);
    let report = sender.shutdown(Duration::from_millis(500));
    assert_eq!((report.delivered, report.dropped), (0, 10));
}

/// A sender to a port where nothing listens yet, whose first attempt has
/// failed (connection refused), and then a server on that port that reads
/// requests and never answers: the retry hangs until a deadline cuts it.
fn sender_retrying_into_a_silent_server() -> (DirectSender, Server) {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    // The default timeout: 10 s per request.
    let sender = DirectSender::builder(format!("http://127.0.0.1:{port}"), TOKEN)
        .build()
        .unwrap();
    let stats = sender.stats().kind(DataKind::Points);
    sender.send(DataKind::Points, points("deadline", 10));
    assert!(eventually(WAIT, || stats.report_errors() >= 1));
    let server = Server::start_on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        Arc::new(|_: &RawRequest| None),
    );
    (sender, server)
}

#[test]
fn a_flush_deadline_cuts_a_request_short() {
    // The retry starts while a flush with an 800 ms deadline is under way:
    // it must end by that deadline, not after the 10 s timeout.
    let (sender, server) = sender_retrying_into_a_silent_server();
    let stats = sender.stats().kind(DataKind::Points);
    let started = Instant::now();
    assert!(!sender.flush(Duration::from_millis(800)));
    // Stop at once, so that no retry starts between the flush and the
    // shutdown without a deadline.
    let report = sender.shutdown(Duration::from_millis(500));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(2_000), "{elapsed:?}");
    assert_eq!((report.delivered, report.dropped), (0, 10));
    assert!(stats.report_errors() >= 2);
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(requests[0]
        .request_line
        .starts_with("POST /report?f=wavefront "));
    // The first hanging request was abandoned at the flush's deadline: its
    // connection closed then, not 10 s later.
    assert!(eventually(Duration::from_secs(2), || !server
        .closed_at()
        .is_empty()));
    let first_close = server.closed_at()[0] - started;
    assert!(
        first_close < Duration::from_millis(1_500),
        "closed after {first_close:?}"
    );
}

#[test]
fn a_shutdown_deadline_cuts_a_request_short() {
    let (sender, server) = sender_retrying_into_a_silent_server();
    let started = Instant::now();
    let report = sender.shutdown(Duration::from_millis(800));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(1_500), "{elapsed:?}");
    // The worker was not left blocked: it counted its batch before the
    // report.
    assert_eq!((report.delivered, report.dropped), (0, 10));
    assert!(!server.requests().is_empty());
    assert!(eventually(Duration::from_secs(2), || !server
        .closed_at()
        .is_empty()));
    let first_close = server.closed_at()[0] - started;
    assert!(
        first_close < Duration::from_millis(1_500),
        "closed after {first_close:?}"
    );
}
