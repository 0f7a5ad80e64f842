//! Delivery through real sockets on 127.0.0.1: [`ProxySender`] over raw TCP
//! and [`DirectSender`] over HTTP, against the strict receiver of
//! `wavefront-testkit`, with its faults (refused connections, stalls,
//! mid-stream closes, HTTP error statuses).
//!
//! Every wait is bounded (at most [`WAIT`]); every test checks exact line
//! contents and exact counters, so a lost, duplicated or broken line fails it.

#![cfg(feature = "direct")]

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use wavefront_core::config::Config;
use wavefront_core::sender::{
    DataKind, DirectSender, LineBatch, ProxySender, Sender, MAX_LINES_PER_REQUEST,
};
use wavefront_core::wire::{self, Centroid, Granularity, SpanLine, SpanLog};
use wavefront_core::{SpanId, TraceId};
use wavefront_testkit::receiver::{Channel, HttpRequest, Receiver};

/// The longest any test waits for something to happen.
const WAIT: Duration = Duration::from_secs(10);

// ===== helpers =====

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
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `n` distinct metric lines `"<prefix>.<i>" <i> 1700000000 source="test-host" "run"="<prefix>"`.
fn points(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut line = String::new();
            wire::write_metric(
                &mut line,
                &format!("{prefix}.{i}"),
                i as f64,
                Some(1_700_000_000),
                "test-host",
                &[("run", prefix)],
            )
            .unwrap();
            line
        })
        .collect()
}

/// `n` distinct metric lines of about 1 KB each (four long tag values), to
/// fill kernel socket buffers quickly.
fn wide_points(prefix: &str, n: usize) -> Vec<String> {
    let filler = "x".repeat(240);
    (0..n)
        .map(|i| {
            let mut line = String::new();
            wire::write_metric(
                &mut line,
                &format!("{prefix}.{i}"),
                1.0,
                None,
                "test-host",
                &[
                    ("a", filler.as_str()),
                    ("b", filler.as_str()),
                    ("c", filler.as_str()),
                    ("d", filler.as_str()),
                ],
            )
            .unwrap();
            line
        })
        .collect()
}

/// `n` distinct minute distributions.
fn histograms(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut line = String::new();
            let centroids = [
                Centroid {
                    mean: 1.5 + i as f64,
                    count: i as u64 + 1,
                },
                Centroid {
                    mean: 250.0,
                    count: 3,
                },
            ];
            wire::write_histogram(
                &mut line,
                Granularity::Minute,
                Some(1_700_000_040_000),
                &centroids,
                &format!("latency.{i}"),
                "test-host",
                &[("route", "/a")],
            )
            .unwrap();
            line
        })
        .collect()
}

/// `n` spans with span logs: (span lines, span-log lines).
fn spans(n: usize) -> (Vec<String>, Vec<String>) {
    let tags = [
        ("application", "app"),
        ("service", "svc"),
        ("cluster", "none"),
        ("shard", "none"),
    ];
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    for i in 0..n {
        let trace_id = TraceId::from_u128(0x7b3b_f470_9456_11e8_9eb6_5292_69fb_0000 + i as u128);
        let span_id = SpanId::from_u128(0x0313_bafe_9457_11e8_9eb6_5292_69fb_0000 + i as u128);
        let mut span = String::new();
        wire::write_span(
            &mut span,
            &SpanLine {
                operation: &format!("op-{i}"),
                source: "test-host",
                trace_id,
                span_id,
                parents: &[],
                follows_from: &[],
                tags: &tags,
                start: 1_700_000_000_000 + i as u64,
                duration: 5,
                has_logs: true,
            },
        )
        .unwrap();
        let mut log = String::new();
        let entry = SpanLog {
            timestamp_micros: 1_700_000_000_000_000 + i as u64,
            fields: vec![("event".into(), "error".into())],
        };
        wire::write_span_logs(&mut log, trace_id, span_id, &[entry], &span);
        spans.push(span);
        logs.push(log);
    }
    (spans, logs)
}

fn batch(lines: &[String]) -> LineBatch {
    let mut batch = LineBatch::new();
    for line in lines {
        batch.push_line(line);
    }
    batch
}

/// The lines as the receiver records them: without their `\n`.
fn bare(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.strip_suffix('\n').unwrap_or(l).to_owned())
        .collect()
}

/// The lines received on `channel` whose text `keep` selects, in order.
fn lines_on(receiver: &Receiver, channel: &Channel, keep: impl Fn(&str) -> bool) -> Vec<String> {
    receiver
        .received()
        .into_iter()
        .filter(|r| &r.channel == channel && keep(&r.line))
        .map(|r| r.line)
        .collect()
}

fn all_lines(receiver: &Receiver) -> Vec<String> {
    receiver.received().into_iter().map(|r| r.line).collect()
}

fn assert_no_rejected(receiver: &Receiver) {
    let rejected = receiver.rejected();
    assert!(
        rejected.is_empty(),
        "{} lines rejected, first: {:?}",
        rejected.len(),
        rejected.first()
    );
}

fn assert_unique(lines: &[String]) {
    let set: HashSet<&String> = lines.iter().collect();
    assert_eq!(set.len(), lines.len(), "some line arrived twice");
}

/// Two ports nothing listens on (bound by the OS, then released).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn proxy_to(receiver: &Receiver) -> wavefront_core::sender::ProxySenderBuilder {
    ProxySender::builder("127.0.0.1")
        .metrics_port(receiver.metrics_addr().port())
        .tracing_port(receiver.tracing_addr().port())
}

fn sent_lines(sender: &dyn Sender) -> u64 {
    sender.stats().total_valid() + sender.stats().total_dropped()
}

// ===== proxy =====

#[test]
fn proxy_delivers_every_kind_byte_exact() {
    let receiver = Receiver::start().unwrap();
    let sender = proxy_to(&receiver).build();
    let points = points("exact", 50);
    let histograms = histograms(10);
    let (spans, logs) = spans(10);
    sender.send(DataKind::Points, batch(&points[..20]));
    sender.send(DataKind::Histograms, batch(&histograms));
    sender.send(DataKind::Spans, batch(&spans));
    sender.send(DataKind::SpanLogs, batch(&logs));
    sender.send(DataKind::Points, batch(&points[20..]));
    assert!(sender.flush(WAIT), "the queues were not emptied");
    assert!(receiver.wait_for_lines(80, WAIT));

    assert_no_rejected(&receiver);
    let is_histogram = |l: &str| l.starts_with("!M ");
    let is_span_logs = |l: &str| l.starts_with('{');
    assert_eq!(
        lines_on(&receiver, &Channel::MetricsTcp, |l| !is_histogram(l)),
        bare(&points)
    );
    assert_eq!(
        lines_on(&receiver, &Channel::MetricsTcp, is_histogram),
        bare(&histograms)
    );
    assert_eq!(
        lines_on(&receiver, &Channel::TracingTcp, |l| !is_span_logs(l)),
        bare(&spans)
    );
    assert_eq!(
        lines_on(&receiver, &Channel::TracingTcp, is_span_logs),
        bare(&logs)
    );
    // The strict parser read them as what they are.
    assert_eq!(receiver.metrics().len(), 50);
    assert_eq!(receiver.metrics()[7].name, "exact.7");
    assert_eq!(receiver.histograms().len(), 10);
    assert_eq!(receiver.spans().len(), 10);
    let span_logs = receiver.span_logs();
    assert_eq!(span_logs.len(), 10);
    assert_eq!(span_logs[3].span.as_ref().unwrap().operation, "op-3");

    let stats = sender.stats();
    let counts = |k| {
        let s = stats.kind(k);
        (s.valid(), s.dropped(), s.report_errors(), s.queue_size())
    };
    assert_eq!(counts(DataKind::Points), (50, 0, 0, 0));
    assert_eq!(counts(DataKind::Histograms), (10, 0, 0, 0));
    assert_eq!(counts(DataKind::Spans), (10, 0, 0, 0));
    assert_eq!(counts(DataKind::SpanLogs), (10, 0, 0, 0));
    assert_eq!(receiver.line_count(), 80, "extra lines arrived");
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (80, 0));
}

#[test]
fn proxy_that_appears_after_startup_gets_everything() {
    let (metrics, tracing) = free_ports();
    let sender = ProxySender::builder("127.0.0.1")
        .metrics_port(metrics)
        .tracing_port(tracing)
        .build();
    let lines = points("late", 20);
    let sent = Instant::now();
    sender.send(DataKind::Points, batch(&lines));
    let points = sender.stats().kind(DataKind::Points);
    assert!(eventually(WAIT, || points.report_errors() > 0));
    // Let a few connection attempts fail: the backoff (100 ms doubling, with
    // jitter) then waits at most 800 ms.
    std::thread::sleep(Duration::from_millis(600).saturating_sub(sent.elapsed()));
    assert_eq!(points.valid(), 0);

    let receiver = Receiver::builder()
        .ports(metrics, tracing, 0)
        .start()
        .unwrap();
    let started = Instant::now();
    assert!(receiver.wait_for_lines(20, WAIT));
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "took {waited:?} to reconnect"
    );
    assert!(sender.flush(WAIT));
    assert_no_rejected(&receiver);
    assert_eq!(all_lines(&receiver), bare(&lines));
    assert_eq!((points.valid(), points.dropped()), (20, 0));
    assert!(points.report_errors() > 0);
}

#[test]
fn proxy_killed_and_restarted_loses_nothing_below_the_queue_cap() {
    let first = Receiver::start().unwrap();
    let ports = (
        first.metrics_addr().port(),
        first.tracing_addr().port(),
        first.http_addr().port(),
    );
    let sender = proxy_to(&first).queue_capacity(1_000).build();
    let before = points("before", 100);
    sender.send(DataKind::Points, batch(&before));
    assert!(first.wait_for_lines(100, WAIT));
    assert!(sender.flush(WAIT));
    assert_eq!(all_lines(&first), bare(&before));
    first.stop();

    // Sent while the proxy is down: 4 batches, 400 lines, below the cap.
    let during: Vec<Vec<String>> = (0..4).map(|b| points(&format!("during{b}"), 100)).collect();
    let points_stats = sender.stats().kind(DataKind::Points);
    for lines in &during {
        sender.send(DataKind::Points, batch(lines));
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(eventually(WAIT, || points_stats.report_errors() > 0));
    assert_eq!(points_stats.queue_size(), 400);

    let second = Receiver::builder()
        .ports(ports.0, ports.1, ports.2)
        .start()
        .unwrap();
    assert!(second.wait_for_lines(400, WAIT));
    assert!(sender.flush(WAIT));
    assert_no_rejected(&second);
    let got = all_lines(&second);
    let expected: Vec<String> = during.iter().flat_map(|b| bare(b)).collect();
    assert_eq!(got.len(), 400, "lines lost or repeated");
    assert_unique(&got);
    assert_eq!(
        got.iter().collect::<HashSet<_>>(),
        expected.iter().collect::<HashSet<_>>()
    );
    assert_eq!((points_stats.valid(), points_stats.dropped()), (500, 0));
}

#[test]
fn overflow_is_dropped_and_counted_exactly() {
    let receiver = Receiver::start().unwrap();
    receiver.faults().set_refuse_connections(true);
    let sender = proxy_to(&receiver).queue_capacity(100).build();
    let lines = points("overflow", 250);
    // 25 batches of 10: the first 10 batches fill the queue (100 lines) and
    // stay there, since nothing can be delivered; the other 150 lines do not
    // fit and are dropped as they are sent.
    for chunk in lines.chunks(10) {
        sender.send(DataKind::Points, batch(chunk));
    }
    let stats = sender.stats().kind(DataKind::Points);
    assert_eq!(stats.dropped(), 150);
    assert_eq!((stats.queue_size(), stats.remaining_capacity()), (100, 0));
    assert!(eventually(WAIT, || stats.report_errors() > 0));
    assert_eq!(stats.valid(), 0);

    receiver.faults().set_refuse_connections(false);
    assert!(receiver.wait_for_lines(100, WAIT));
    assert!(sender.flush(WAIT));
    assert_no_rejected(&receiver);
    assert_eq!(all_lines(&receiver), bare(&lines[..100]));
    assert_eq!((stats.valid(), stats.dropped()), (100, 150));
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (100, 150));
}

#[test]
fn stalled_proxy_never_blocks_the_caller() {
    let receiver = Receiver::start().unwrap();
    receiver.faults().set_stall(true);
    let write_timeout = Duration::from_millis(200);
    let sender = proxy_to(&receiver)
        .queue_capacity(2_000)
        .write_timeout(write_timeout)
        .build();
    let stats = sender.stats().kind(DataKind::Points);
    // Batches of 1,000 distinct lines, about 1 MB each.
    let mut batches = (0..).map(|b| batch(&wide_points(&format!("stall{b}"), 1_000)));

    // Keep sending 1 MB batches: the kernel buffers fill, the writes time
    // out, the queue fills and then drops; each send returns at once.
    let mut sent = 0u64;
    let mut slowest = Duration::ZERO;
    for _ in 0..100 {
        let b = batches.next().unwrap();
        assert!(b.text().len() > 1_000_000);
        let started = Instant::now();
        sender.send(DataKind::Points, b);
        slowest = slowest.max(started.elapsed());
        sent += 1_000;
        if stats.dropped() > 0 && stats.report_errors() > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        slowest < Duration::from_millis(50),
        "a send took {slowest:?}"
    );
    assert!(stats.dropped() > 0, "the queue never filled");
    assert!(stats.report_errors() > 0, "no write timed out");

    // Resume: everything that was not dropped arrives, whole.
    receiver.faults().set_stall(false);
    assert!(sender.flush(WAIT), "the backlog was not delivered");
    let expected = sent - stats.dropped();
    assert_eq!(stats.valid(), expected);
    assert!(receiver.wait_for_lines(expected as usize, WAIT));
    assert_no_rejected(&receiver);
    let got = all_lines(&receiver);
    assert_eq!(got.len() as u64, expected);
    assert_unique(&got);

    // Stall again, with every kind's queue full and its connection blocked
    // (the sender does not look inside lines, so the ~1 KB metric lines
    // serve for the tracing kinds too: they are never read), and shut down:
    // it must not wait for the proxy, once per kind.
    receiver.faults().set_stall(true);
    let all = sender.stats();
    let dropped_before = DataKind::ALL.map(|k| all.kind(k).dropped());
    for _ in 0..40 {
        let waiting: Vec<DataKind> = DataKind::ALL
            .into_iter()
            .filter(|&k| all.kind(k).dropped() == dropped_before[k as usize])
            .collect();
        if waiting.is_empty() {
            break;
        }
        for kind in waiting {
            sender.send(kind, batches.next().unwrap());
            sent += 1_000;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for kind in DataKind::ALL {
        assert!(
            all.kind(kind).dropped() > dropped_before[kind as usize],
            "{kind:?} never filled"
        );
    }
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let report = sender.shutdown(timeout);
    let took = started.elapsed();
    // The timeout and a little slack; not one more write per kind, nor the
    // write timeout of a write that began before the shutdown did.
    assert!(
        took <= timeout + Duration::from_millis(150),
        "shutdown took {took:?}"
    );
    assert!(report.delivered + report.dropped <= sent);
    // A write already blocked when shutdown began ends within its own
    // timeout; its batch is then counted, and every line is.
    assert!(
        eventually(WAIT, || all.total_valid() + all.total_dropped() == sent),
        "a line was not accounted for: {} + {} of {sent}",
        all.total_valid(),
        all.total_dropped()
    );
    for kind in DataKind::ALL {
        assert_eq!(all.kind(kind).queue_size(), 0);
    }
    // After shutdown, sends are dropped and counted.
    sender.send(DataKind::Points, batch(&points("late", 3)));
    assert_eq!(sent_lines(&sender), sent + 3);
}

#[test]
fn proxy_closing_mid_stream_is_reconnected_to() {
    let receiver = Receiver::start().unwrap();
    // Every connection is cut after 256 KB: a 10 MB batch cannot get through
    // on one connection, writes fail, the sender reconnects.
    receiver.faults().set_close_after_bytes(Some(256 * 1024));
    let sender = proxy_to(&receiver).build();
    let stats = sender.stats().kind(DataKind::Points);
    let big = wide_points("cut", 10_000);
    sender.send(DataKind::Points, batch(&big));
    assert!(eventually(WAIT, || stats.report_errors() >= 2));
    assert!(
        eventually(WAIT, || receiver.line_count() > 0),
        "nothing arrived before the cut"
    );

    // The proxy behaves again: the rest of the big batch and later batches
    // arrive over a new connection.
    receiver.faults().set_close_after_bytes(None);
    let later = points("after-cut", 500);
    sender.send(DataKind::Points, batch(&later[..250]));
    sender.send(DataKind::Points, batch(&later[250..]));
    assert!(sender.flush(WAIT));
    let later = bare(&later);
    let later_set: HashSet<&String> = later.iter().collect();
    assert!(eventually(WAIT, || {
        all_lines(&receiver)
            .iter()
            .filter(|l| later_set.contains(l))
            .count()
            == later.len()
    }));
    // A line cut by a close is dropped by the receiver, never half recorded.
    assert_no_rejected(&receiver);
    let got = all_lines(&receiver);
    assert_unique(&got);
    let arrived_later: Vec<&String> = got.iter().filter(|l| later_set.contains(l)).collect();
    assert_eq!(arrived_later, later.iter().collect::<Vec<_>>());
    // Lines written into a connection the proxy then reset are lost (raw TCP
    // has no acknowledgements), but they were all counted once.
    assert_eq!(stats.valid() + stats.dropped(), 10_500);
    assert!(stats.report_errors() >= 2);
}

#[test]
fn shutdown_flushes_everything_queued() {
    let receiver = Receiver::start().unwrap();
    let sender = proxy_to(&receiver).build();
    let points = points("flush", 3_000);
    let histograms = histograms(40);
    let (spans, logs) = spans(30);
    for chunk in points.chunks(500) {
        sender.send(DataKind::Points, batch(chunk));
    }
    sender.send(DataKind::Histograms, batch(&histograms));
    sender.send(DataKind::Spans, batch(&spans));
    sender.send(DataKind::SpanLogs, batch(&logs));
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (3_100, 0));
    assert!(receiver.wait_for_lines(3_100, WAIT));
    assert_no_rejected(&receiver);
    let got = all_lines(&receiver);
    assert_eq!(got.len(), 3_100);
    assert_unique(&got);
    let expected: HashSet<String> = [points, histograms, spans, logs]
        .iter()
        .flat_map(|l| bare(l))
        .collect();
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected);
    // Once shut down, lines are dropped and counted, and shutting down again
    // reports the same delivered count.
    sender.send(DataKind::Points, batch(&self::points("after", 5)));
    let again = sender.shutdown(WAIT);
    assert_eq!((again.delivered, again.dropped), (3_100, 5));
}

#[test]
fn config_from_vars_sends_to_the_proxy() {
    let receiver = Receiver::start().unwrap();
    let url = format!("proxy://127.0.0.1:{}", receiver.metrics_addr().port());
    let traces = receiver.tracing_addr().port().to_string();
    let config = Config::from_vars(|name| match name {
        "WAVEFRONT_URL" => Some(url.clone()),
        "WAVEFRONT_TRACES_PORT" => Some(traces.clone()),
        _ => None,
    })
    .unwrap();
    let sender = config.sender().unwrap();
    assert_eq!(sender.stats().transport(), "proxy");
    let points = points("config", 5);
    let (spans, _) = spans(3);
    sender.send(DataKind::Points, batch(&points));
    sender.send(DataKind::Spans, batch(&spans));
    assert!(sender.flush(WAIT));
    assert!(receiver.wait_for_lines(8, WAIT));
    assert_no_rejected(&receiver);
    assert_eq!(
        lines_on(&receiver, &Channel::MetricsTcp, |_| true),
        bare(&points)
    );
    assert_eq!(
        lines_on(&receiver, &Channel::TracingTcp, |_| true),
        bare(&spans)
    );
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (8, 0));
}

// ===== direct ingestion =====

fn requests_for<'a>(requests: &'a [HttpRequest], format: &str) -> Vec<&'a HttpRequest> {
    let target = format!("/report?f={format}");
    requests
        .iter()
        .filter(|r| r.path_and_query == target)
        .collect()
}

fn http_lines(receiver: &Receiver, format: &str) -> Vec<String> {
    let channel = Channel::Http {
        format: format.to_owned(),
    };
    lines_on(receiver, &channel, |_| true)
}

#[test]
fn direct_ingestion_batches_gzip_and_authenticates() {
    let receiver = Receiver::builder().token("tok").start().unwrap();
    let sender = DirectSender::builder(receiver.http_url(), "tok")
        .build()
        .unwrap();
    assert!(!format!("{sender:?}").contains("tok"));
    let points = points("direct", 25_000);
    let histograms = histograms(10);
    let (spans, logs) = spans(10);
    sender.send(DataKind::Points, batch(&points));
    sender.send(DataKind::Histograms, batch(&histograms));
    sender.send(DataKind::Spans, batch(&spans));
    sender.send(DataKind::SpanLogs, batch(&logs));
    assert!(sender.flush(WAIT));
    assert!(receiver.wait_for_lines(25_030, WAIT));
    assert_no_rejected(&receiver);

    let requests = receiver.http_requests();
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.status_sent, 202, "{request:?}");
        assert_eq!(request.header("authorization"), Some("Bearer tok"));
        assert_eq!(request.header("content-encoding"), Some("gzip"));
        assert!(request.lines <= MAX_LINES_PER_REQUEST);
        assert!(!request.on_metrics_port);
    }
    let point_requests = requests_for(&requests, "wavefront");
    assert!(
        point_requests.len() >= 3,
        "{} requests",
        point_requests.len()
    );
    assert_eq!(
        point_requests.iter().map(|r| r.lines).sum::<usize>(),
        25_000
    );
    for format in ["histogram", "trace", "spanLogs"] {
        assert_eq!(requests_for(&requests, format).len(), 1, "f={format}");
    }
    assert_eq!(requests.len(), point_requests.len() + 3);

    // Each kind arrived whole under its own format. A batch larger than a
    // request may be split, so only the order within a request is kept.
    let got = http_lines(&receiver, "wavefront");
    assert_eq!(got.len(), 25_000);
    assert_unique(&got);
    assert_eq!(
        got.iter().collect::<HashSet<_>>(),
        bare(&points).iter().collect::<HashSet<_>>()
    );
    assert_eq!(http_lines(&receiver, "histogram"), bare(&histograms));
    assert_eq!(http_lines(&receiver, "trace"), bare(&spans));
    assert_eq!(http_lines(&receiver, "spanLogs"), bare(&logs));

    let stats = sender.stats();
    assert_eq!(stats.transport(), "direct");
    assert_eq!(
        stats.kind(DataKind::Points).statuses(),
        vec![(202, point_requests.len() as u64)]
    );
    assert_eq!(stats.kind(DataKind::Points).valid(), 25_000);
    assert_eq!(stats.kind(DataKind::SpanLogs).valid(), 10);
    assert_eq!(stats.total_dropped(), 0);
    assert!(!format!("{sender:?}").contains("tok"));
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (25_030, 0));
}

#[test]
fn direct_ingestion_retries_server_errors() {
    let receiver = Receiver::builder().token("tok").start().unwrap();
    let sender = DirectSender::builder(receiver.http_url(), "tok")
        .build()
        .unwrap();
    receiver.faults().set_http_status_for(2, 500);
    let points = points("retry", 300);
    sender.send(DataKind::Points, batch(&points));
    assert!(receiver.wait_for_lines(300, WAIT));
    assert!(sender.flush(WAIT));
    assert_no_rejected(&receiver);
    assert_eq!(http_lines(&receiver, "wavefront"), bare(&points));

    let statuses: Vec<u16> = receiver
        .http_requests()
        .iter()
        .map(|r| r.status_sent)
        .collect();
    assert_eq!(statuses, vec![500, 500, 202]);
    let stats = sender.stats().kind(DataKind::Points);
    let mut seen = stats.statuses();
    seen.sort_unstable();
    assert_eq!(seen, vec![(202, 1), (500, 2)]);
    assert_eq!(stats.report_errors(), 2);
    assert_eq!((stats.valid(), stats.dropped()), (300, 0));
}

#[test]
fn direct_ingestion_unauthorized_stops_only_that_kind() {
    let receiver = Receiver::builder().token("tok").start().unwrap();
    let sender = DirectSender::builder(receiver.http_url(), "tok")
        .build()
        .unwrap();
    let points_stats = sender.stats().kind(DataKind::Points);
    receiver.faults().set_http_status_for(1, 401);
    sender.send(DataKind::Points, batch(&points("refused", 10)));
    assert!(eventually(WAIT, || points_stats.dropped() == 10));

    // Other kinds still flow.
    let histograms = histograms(5);
    sender.send(DataKind::Histograms, batch(&histograms));
    assert!(receiver.wait_for_lines(5, WAIT));
    assert_eq!(http_lines(&receiver, "histogram"), bare(&histograms));

    // Later points are dropped without asking the server again.
    for _ in 0..3 {
        sender.send(DataKind::Points, batch(&points("refused-later", 10)));
    }
    assert!(eventually(WAIT, || points_stats.dropped() == 40));
    assert!(sender.flush(WAIT));
    // Give a wrongly retrying sender time to show itself.
    std::thread::sleep(Duration::from_millis(300));
    let requests = receiver.http_requests();
    let point_requests = requests_for(&requests, "wavefront");
    assert_eq!(point_requests.len(), 1, "points were sent after the 401");
    assert_eq!(point_requests[0].status_sent, 401);
    assert_eq!(points_stats.statuses(), vec![(401, 1)]);
    assert_eq!(points_stats.valid(), 0);
    assert_eq!(sender.stats().kind(DataKind::Histograms).valid(), 5);
    assert!(http_lines(&receiver, "wavefront").is_empty());

    // 403 (that kind of data not enabled for the account) stops spans alike.
    let (spans, logs) = spans(4);
    receiver.faults().set_http_status_for(1, 403);
    sender.send(DataKind::Spans, batch(&spans));
    let span_stats = sender.stats().kind(DataKind::Spans);
    assert!(eventually(WAIT, || span_stats.dropped() == 4));
    sender.send(DataKind::Spans, batch(&spans));
    sender.send(DataKind::SpanLogs, batch(&logs));
    assert!(sender.flush(WAIT));
    assert_eq!(span_stats.dropped(), 8);
    assert_eq!(span_stats.statuses(), vec![(403, 1)]);
    assert_eq!(requests_for(&receiver.http_requests(), "trace").len(), 1);
    assert!(receiver.wait_until(WAIT, |r| r.line_count() == 9));
    assert_eq!(http_lines(&receiver, "spanLogs"), bare(&logs));

    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (9, 48));
}

#[test]
fn direct_ingestion_with_a_wrong_token_is_refused_once_per_kind() {
    let receiver = Receiver::builder().token("right-token").start().unwrap();
    let sender = DirectSender::builder(receiver.http_url(), "wrong-token")
        .build()
        .unwrap();
    let (spans, _) = spans(3);
    sender.send(DataKind::Points, batch(&points("wrong", 10)));
    sender.send(DataKind::Histograms, batch(&histograms(4)));
    sender.send(DataKind::Spans, batch(&spans));
    let stats = sender.stats();
    assert!(eventually(WAIT, || stats.total_dropped() == 17));
    for _ in 0..3 {
        sender.send(DataKind::Points, batch(&points("wrong-again", 10)));
    }
    assert!(eventually(WAIT, || stats.total_dropped() == 47));
    assert!(sender.flush(WAIT));
    std::thread::sleep(Duration::from_millis(300));

    let requests = receiver.http_requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for format in ["wavefront", "histogram", "trace"] {
        let for_kind = requests_for(&requests, format);
        assert_eq!(for_kind.len(), 1, "f={format}");
        assert_eq!(for_kind[0].status_sent, 401);
        assert_eq!(
            for_kind[0].header("authorization"),
            Some("Bearer wrong-token")
        );
    }
    assert_eq!(receiver.line_count(), 0);
    assert_eq!(stats.total_valid(), 0);
    assert_eq!(stats.kind(DataKind::Points).statuses(), vec![(401, 1)]);
    assert!(!format!("{sender:?}").contains("wrong-token"));
    let report = sender.shutdown(WAIT);
    assert_eq!((report.delivered, report.dropped), (0, 47));
}

#[test]
fn a_stalled_metrics_port_does_not_hold_up_spans() {
    // Metrics go to a proxy that stops reading; spans to a healthy one. The
    // metrics writes block (for up to the 30 s write timeout), the spans must
    // not wait for them.
    let stalled = Receiver::start().unwrap();
    let healthy = Receiver::start().unwrap();
    stalled.faults().set_stall(true);
    let sender = ProxySender::builder("127.0.0.1")
        .metrics_port(stalled.metrics_addr().port())
        .tracing_port(healthy.tracing_addr().port())
        .write_timeout(Duration::from_secs(30))
        .build();
    // Enough to fill the socket buffers of the stalled connection (40,000
    // lines of 1 KB, below the 50,000-line queue).
    for i in 0..20 {
        sender.send(
            DataKind::Points,
            batch(&wide_points(&format!("stall{i}"), 2_000)),
        );
    }
    let (span_lines, _) = spans(3);
    let started = Instant::now();
    sender.send(DataKind::Spans, batch(&span_lines));
    assert!(
        healthy.wait_until(WAIT, |r| r.spans().len() == 3),
        "spans held up behind stalled metrics"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    stalled.faults().set_stall(false);
    let report = sender.shutdown(Duration::from_secs(20));
    assert_eq!((report.delivered, report.dropped), (40_003, 0));
    assert!(stalled.wait_for_lines(40_000, WAIT));
    assert_no_rejected(&healthy);
    assert_no_rejected(&stalled);
}
