//! A delivery failure is heard: said once at warn when it starts, once when
//! delivery recovers, with retries in between at debug only.

#![cfg(feature = "direct")]

use std::io::Read;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{Level, Log, Metadata, Record};
use wavefront_core::sender::{DataKind, DirectSender, LineBatch, ProxySender, Sender};
use wavefront_testkit::receiver::Receiver;

static LINES: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        LINES
            .lock()
            .unwrap()
            .push((record.level(), record.args().to_string()));
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

fn warnings_with(text: &str) -> usize {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|(level, line)| *level == Level::Warn && line.contains(text))
        .count()
}

fn batch(line: &str) -> LineBatch {
    let mut batch = LineBatch::new();
    batch.push_line(line);
    batch
}

fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn failures_and_recoveries_are_said_once_each_at_warn() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Debug);

    // A proxy that is not there yet: several failed attempts, one warning.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = ProxySender::builder("127.0.0.1").metrics_port(port).build();
    proxy.send(DataKind::Points, batch("\"m\" 1.0 source=\"h\""));
    let stats = proxy.stats().kind(DataKind::Points);
    assert!(eventually(|| stats.report_errors() >= 3));
    let proxy_at = format!("the Wavefront proxy at 127.0.0.1:{port}");
    assert_eq!(warnings_with(&format!("{proxy_at}: cannot connect")), 1);
    // It comes up: one more warning, that it delivers again.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut text = String::new();
        let _ = conn.read_to_string(&mut text);
        text
    });
    assert!(proxy.flush(Duration::from_secs(10)));
    assert_eq!(warnings_with(&format!("{proxy_at}: delivering again")), 1);
    proxy.shutdown(Duration::from_secs(1));
    drop(proxy);
    assert!(reader.join().unwrap().contains("\"m\" 1.0"));

    // Direct ingestion answering 503, then 200.
    let receiver = Receiver::start().unwrap();
    receiver.faults().set_http_status(Some(503));
    let direct = DirectSender::builder(receiver.http_url(), "a-token")
        .build()
        .unwrap();
    direct.send(DataKind::Points, batch("\"m\" 2.0 source=\"h\""));
    let stats = direct.stats().kind(DataKind::Points);
    assert!(eventually(|| stats.report_errors() >= 3));
    assert_eq!(warnings_with("answered 503"), 1);
    receiver.faults().set_http_status(None);
    assert!(direct.flush(Duration::from_secs(10)));
    assert_eq!(
        warnings_with("direct ingestion at"),
        2,
        "{:#?}",
        LINES.lock().unwrap()
    );
    assert!(warnings_with("delivering again") == 2);
    // The token never appears in what is said.
    assert!(LINES
        .lock()
        .unwrap()
        .iter()
        .all(|(_, line)| !line.contains("a-token")));
    direct.shutdown(Duration::from_secs(1));
}
