//! Faults that must not stop delivery, lose a line without counting it, or
//! make `shutdown` overrun its timeout: slow readers, multi-byte lines cut by
//! partial writes, a proxy back just before shutdown, a blocked console, and
//! sends racing shutdown. Real listeners on 127.0.0.1; every wait bounded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use wavefront_core::sender::{ConsoleSender, DataKind, LineBatch, ProxySender, Sender};
use wavefront_core::wire;
use wavefront_testkit::parse;

/// Delta counter lines with non-ASCII tags: every `∆` and `é` is a place a
/// partial write can stop inside a character.
fn delta_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut line = String::new();
            let encoded = wire::write_delta(
                &mut line,
                &format!("∆orders.{i}.count"),
                1.0,
                "hôte-1",
                &[("région", "Île-de-France"), ("日本", "語")],
            )
            .unwrap();
            assert_eq!(encoded, wire::Encoded::Line);
            line
        })
        .collect()
}

fn batch(lines: &[String]) -> LineBatch {
    let mut batch = LineBatch::new();
    for line in lines {
        batch.push_line(line);
    }
    batch
}

/// A proxy that reads `chunk` bytes every `pause`, recording all it read.
struct SlowProxy {
    port: u16,
    received: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    /// Set to read fast from then on (to drain the socket buffers).
    fast: Arc<AtomicBool>,
}

impl SlowProxy {
    fn start(chunk: usize, pause: Duration) -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let fast = Arc::new(AtomicBool::new(false));
        let (rx, st, f) = (Arc::clone(&received), Arc::clone(&stop), Arc::clone(&fast));
        thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut conns: Vec<TcpStream> = Vec::new();
            let mut buf = vec![0u8; chunk.max(64 * 1024)];
            while !st.load(Ordering::Relaxed) && Instant::now() < deadline {
                let chunk = if f.load(Ordering::Relaxed) {
                    buf.len()
                } else {
                    chunk
                };
                if let Ok((c, _)) = listener.accept() {
                    c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
                    conns.push(c);
                }
                for c in &mut conns {
                    if let Ok(n) = c.read(&mut buf[..chunk]) {
                        rx.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                }
                thread::sleep(pause);
            }
        });
        SlowProxy {
            port,
            received,
            stop,
            fast,
        }
    }

    /// The whole lines received, each checked by the strict parser.
    fn lines(&self) -> Vec<String> {
        let mut bytes = self.received.lock().unwrap().clone();
        // The reader stops anywhere, inside a character too: whole lines only.
        bytes.truncate(bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1));
        let text = String::from_utf8(bytes).expect("whole lines are whole characters");
        text.lines()
            .map(|l| {
                parse::parse_metric(l).unwrap_or_else(|e| panic!("{l:?}: {e:?}"));
                l.to_owned()
            })
            .collect()
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_slow_reader_and_multi_byte_lines_never_stop_delivery_nor_overrun_shutdown() {
    let proxy = SlowProxy::start(7, Duration::from_millis(2));
    let sender = ProxySender::builder("127.0.0.1")
        .metrics_port(proxy.port)
        .write_timeout(Duration::from_millis(30))
        .build();
    let lines = delta_lines(60_000);
    let sent = lines.len() as u64;
    for chunk in lines.chunks(1_000) {
        sender.send(DataKind::Points, batch(chunk));
    }
    // Delivery keeps going (partial writes stop inside characters all the
    // time at 7 bytes per read).
    thread::sleep(Duration::from_millis(1_500));
    let early = proxy.lines().len();
    assert!(early > 0, "nothing delivered");
    thread::sleep(Duration::from_millis(500));
    assert!(
        proxy.lines().len() > early,
        "delivery stopped after {early} lines"
    );

    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    let report = sender.shutdown(timeout);
    let took = started.elapsed();
    assert!(
        took < timeout + Duration::from_millis(300),
        "shutdown took {took:?}"
    );
    // Every line counted once: delivered or dropped.
    let stats = sender.stats().kind(DataKind::Points);
    assert_eq!(stats.valid() + stats.dropped(), sent, "{stats:?}");
    assert_eq!(report.delivered + report.dropped, sent);
    // Exactly the lines counted as delivered arrive, whole (the reader now
    // drains what the socket buffers still hold).
    proxy.fast.store(true, Ordering::Relaxed);
    let arrived = || proxy.lines().len() as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while arrived() < stats.valid() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(100));
    assert_eq!(arrived(), stats.valid());
}

#[test]
fn a_proxy_back_shortly_before_shutdown_gets_the_final_report() {
    // Reserve a port, then leave it closed: the sender fails and backs off.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let sender = ProxySender::builder("127.0.0.1").metrics_port(port).build();
    let lines = delta_lines(50);
    // Several failures in a row: the backoff grows past a second.
    for _ in 0..5 {
        sender.send(DataKind::Points, batch(&lines[..1]));
        thread::sleep(Duration::from_millis(400));
    }
    sender.send(DataKind::Points, batch(&lines[1..]));
    // The proxy comes back; shutdown follows at once.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let received = thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut text = String::new();
        let _ = conn.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let report = sender.shutdown(Duration::from_secs(3));
    assert!(started.elapsed() < Duration::from_millis(3_300));
    drop(sender);
    let text = received.join().unwrap();
    assert_eq!(report.dropped, 0, "{report:?}");
    // The five single lines sent while it was down, and the 49 after.
    assert_eq!(text.lines().count(), 54, "{text}");
}

/// A writer that blocks until released, as a stdout pipe nobody reads.
struct Blocked(Arc<AtomicBool>);

impl Write for Blocked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        while !self.0.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(5));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_blocked_console_holds_up_neither_sends_nor_shutdown() {
    let release = Arc::new(AtomicBool::new(false));
    let sender = ConsoleSender::to_writer(Blocked(Arc::clone(&release)));
    let lines = delta_lines(10);
    let started = Instant::now();
    for _ in 0..100 {
        sender.send(DataKind::Points, batch(&lines));
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "send blocked"
    );
    let started = Instant::now();
    let report = sender.shutdown(Duration::from_millis(500));
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    // The batch being written when the deadline passed is counted when its
    // write returns: every line is then counted once.
    assert_eq!(report.delivered, 0, "{report:?}");
    release.store(true, Ordering::Relaxed);
    let stats = sender.stats().kind(DataKind::Points);
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats.valid() + stats.dropped() < 1_000 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stats.valid() + stats.dropped(), 1_000, "{stats:?}");
}

#[test]
fn sends_racing_shutdown_are_all_counted() {
    let proxy = SlowProxy::start(64 * 1024, Duration::from_millis(1));
    for _ in 0..5 {
        let sender = Arc::new(
            ProxySender::builder("127.0.0.1")
                .metrics_port(proxy.port)
                .build(),
        );
        let sent = Arc::new(AtomicU64::new(0));
        let senders: Vec<_> = (0..4)
            .map(|_| {
                let (sender, sent) = (Arc::clone(&sender), Arc::clone(&sent));
                thread::spawn(move || {
                    let lines = delta_lines(5);
                    for _ in 0..400 {
                        sender.send(DataKind::Points, batch(&lines));
                        sent.fetch_add(5, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(5));
        sender.shutdown(Duration::from_millis(200));
        for s in senders {
            s.join().unwrap();
        }
        let stats = sender.stats().kind(DataKind::Points);
        assert_eq!(
            stats.valid() + stats.dropped(),
            sent.load(Ordering::Relaxed),
            "{stats:?}"
        );
        assert_eq!(stats.queue_size(), 0);
    }
}
