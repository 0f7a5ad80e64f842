//! The whole path: registry → reporter → `ProxySender` → a strict receiver on
//! 127.0.0.1. Lines are compared byte for byte where the values are known
//! (a `ManualClock` fixes the timestamps), and counters exactly.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wavefront_core::clock::{Clock, ManualClock};
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::{ConsoleSender, DataKind, LineBatch, ProxySender, Sender};
use wavefront_core::ApplicationTags;
use wavefront_testkit::receiver::Receiver;

/// The longest any test waits for something to happen.
const WAIT: Duration = Duration::from_secs(10);
/// The manual clock's start: 10 s into the minute that starts at
/// 1_700_000_040_000 ms (the histograms' first timestamp).
const T0_MS: u64 = 1_700_000_050_000;
const NO_TAGS: &[(&str, &str)] = &[];

/// A receiver, a proxy sender to it, a registry on a manual clock and a
/// reporter (60 s interval, so only its first report is automatic).
struct Setup {
    receiver: Receiver,
    sender: ProxySender,
    clock: ManualClock,
    registry: Registry,
    reporter: Reporter,
    /// Lines of the receiver already handed out by `next_lines`.
    seen: usize,
}

impl Setup {
    fn new(tags: ApplicationTags, components: &[&str], queue_capacity: usize) -> Setup {
        let receiver = Receiver::start().unwrap();
        let sender = ProxySender::builder("127.0.0.1")
            .metrics_port(receiver.metrics_addr().port())
            .tracing_port(receiver.tracing_addr().port())
            .queue_capacity(queue_capacity)
            .build();
        let clock = ManualClock::new(T0_MS);
        let registry = Registry::builder()
            .clock(Clock::Manual(clock.clone()))
            .build();
        let mut builder = Reporter::builder(
            registry.clone(),
            Arc::new(sender.clone()) as Arc<dyn Sender>,
            tags,
        )
        .source("test-host")
        .interval(Duration::from_secs(60))
        // These tests compare closed sets of lines; RED output has its own test.
        .red_metrics(false);
        for component in components {
            builder = builder.component(*component);
        }
        let reporter = builder.start();
        Setup {
            receiver,
            sender,
            clock,
            registry,
            reporter,
            seen: 0,
        }
    }

    /// The lines of the report the reporter makes when it starts.
    fn first_report(&mut self) -> Vec<String> {
        assert!(self.receiver.wait_for_lines(1, WAIT), "no report at start");
        self.next_lines()
    }

    /// Every line delivered since the last call, once the sender's queues
    /// are empty and the receiver has them all.
    fn next_lines(&mut self) -> Vec<String> {
        assert!(self.sender.flush(WAIT));
        let delivered = self.sender.stats().total_valid() as usize;
        assert!(
            self.receiver
                .wait_until(WAIT, |r| r.line_count() >= delivered),
            "delivered lines did not arrive"
        );
        assert_eq!(self.receiver.line_count(), delivered, "extra lines arrived");
        let rejected = self.receiver.rejected();
        assert!(rejected.is_empty(), "rejected: {rejected:?}");
        let lines: Vec<String> = self.receiver.received()[self.seen..]
            .iter()
            .map(|r| r.line.clone())
            .collect();
        self.seen = delivered;
        lines
    }
}

fn app_tags() -> ApplicationTags {
    ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap()
}

fn is_diagnostic(line: &str) -> bool {
    line.starts_with("\"~sdk.") || line.starts_with("\"∆~sdk.")
}

/// The core's own diagnostics (sender, registry, version); other parts of
/// the SDK may add theirs.
fn core_diagnostics(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("\"~sdk.rust.core.") || l.starts_with("\"∆~sdk.rust.core."))
        .cloned()
        .collect()
}

fn without_diagnostics(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| !is_diagnostic(l))
        .cloned()
        .collect()
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|l| (*l).to_owned()).collect()
}

/// The value of the one line for `name` (quoted, as written) in `lines`.
fn value_of(lines: &[String], name: &str) -> Option<f64> {
    let prefix = format!("\"{name}\" ");
    let found: Vec<&String> = lines.iter().filter(|l| l.starts_with(&prefix)).collect();
    assert!(found.len() <= 1, "{name} reported twice: {found:?}");
    found.first().map(|l| {
        l[prefix.len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    })
}

const DIAG_TAGS: &str = "source=\"test-host\" \"application\"=\"Ordering\" \"service\"=\"styling\"";

/// The nine gauges every report carries, for an idle sender with queues of
/// `capacity`, at `ts` seconds.
fn idle_gauges(ts: u64, capacity: usize) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    for kind in ["points", "histograms", "spans", "span_logs"] {
        lines.insert(format!(
            "\"~sdk.rust.core.sender.proxy.{kind}.queue.size\" 0.0 {ts} {DIAG_TAGS}"
        ));
        lines.insert(format!(
            "\"~sdk.rust.core.sender.proxy.{kind}.queue.remaining_capacity\" {capacity}.0 {ts} {DIAG_TAGS}"
        ));
    }
    lines.insert(format!(
        "\"~sdk.rust.core.sender.proxy.version\" {} {ts} {DIAG_TAGS}",
        version_gauge()
    ));
    lines
}

/// `major.MMPP`, as the reporter encodes the crate version (0.1.0 → 0.01).
fn version_gauge() -> String {
    let part = |s: &str| s.parse::<f64>().unwrap();
    let v = part(env!("CARGO_PKG_VERSION_MAJOR"))
        + part(env!("CARGO_PKG_VERSION_MINOR")) / 100.0
        + part(env!("CARGO_PKG_VERSION_PATCH")) / 10_000.0;
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

fn delta_line(name: &str, value: u64) -> String {
    format!("\"∆~sdk.rust.core.sender.proxy.{name}.count\" {value}.0 {DIAG_TAGS}")
}

#[test]
fn every_metric_type_is_reported_exactly() {
    let mut s = Setup::new(app_tags(), &[], 1_000);
    // The report at start: nothing registered yet, no component, nothing sent
    // so far: only the gauges.
    let first = s.first_report();
    assert_eq!(core_diagnostics(&first), idle_gauges(T0_MS / 1000, 1_000));
    assert!(without_diagnostics(&first).is_empty(), "{first:#?}");

    // Tags are given out of order; they are written sorted by key.
    let requests = s
        .registry
        .counter("requests.count", &[("route", "/a"), ("method", "GET")]);
    requests.inc_by(5);
    let errors = s
        .registry
        .delta_counter("errors.count", &[("zone", "b"), ("app", "x")]);
    errors.add(3.0);
    s.registry.gauge("queue.depth", NO_TAGS).set(7.5);
    s.registry
        .function_gauge("pool.size", &[("pool", "db")], || 12.0);
    let latency = s.registry.histogram("latency", &[("route", "/a")]);
    latency.record(100);
    latency.record(250);
    latency.record(100);
    s.clock.advance_ms(60_000);
    s.reporter.report_now();

    let second = s.next_lines();
    assert_eq!(
        without_diagnostics(&second),
        set(&[
            "\"requests.count\" 5.0 1700000110 source=\"test-host\" \"method\"=\"GET\" \"route\"=\"/a\"",
            "\"∆errors.count\" 3.0 source=\"test-host\" \"app\"=\"x\" \"zone\"=\"b\"",
            "\"queue.depth\" 7.5 1700000110 source=\"test-host\"",
            "\"pool.size\" 12.0 1700000110 source=\"test-host\" \"pool\"=\"db\"",
            "!M 1700000040000 #2 100.0 #1 250.0 \"latency\" source=\"test-host\" \"route\"=\"/a\"",
        ])
    );
    // The gauges, and the first report's points delivered.
    let mut diagnostics = idle_gauges(1_700_000_110, 1_000);
    diagnostics.insert(delta_line("points.valid", first.len() as u64));
    assert_eq!(core_diagnostics(&second), diagnostics);

    // Next report, same minute: the delta is zero and not sent, the
    // histogram minute was sent already; the others are sent again.
    s.reporter.report_now();
    let third = s.next_lines();
    assert_eq!(
        without_diagnostics(&third),
        set(&[
            "\"requests.count\" 5.0 1700000110 source=\"test-host\" \"method\"=\"GET\" \"route\"=\"/a\"",
            "\"queue.depth\" 7.5 1700000110 source=\"test-host\"",
            "\"pool.size\" 12.0 1700000110 source=\"test-host\" \"pool\"=\"db\"",
        ])
    );

    // The delta goes again once it moved; a new minute brings a new line.
    errors.inc();
    latency.record(7);
    s.clock.advance_ms(60_000);
    s.reporter.report_now();
    let fourth = without_diagnostics(&s.next_lines());
    assert!(
        fourth.contains("\"∆errors.count\" 1.0 source=\"test-host\" \"app\"=\"x\" \"zone\"=\"b\"")
    );
    assert!(fourth
        .contains("!M 1700000100000 #1 7.0 \"latency\" source=\"test-host\" \"route\"=\"/a\""));
    assert_eq!(fourth.len(), 5);
}

#[test]
fn heartbeats_at_start_for_every_component() {
    let tags = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .custom_tag("location", "Oregon")
        .custom_tag("env", "prod")
        .build()
        .unwrap();
    let mut s = Setup::new(tags, &["axum", "tokio"], 1_000);
    let heartbeat = |component: &str, ts: u64| {
        format!(
            "\"~component.heartbeat\" 1.0 {ts} source=\"test-host\" \"application\"=\"Ordering\" \
             \"cluster\"=\"us-west-1\" \"service\"=\"styling\" \"shard\"=\"none\" \
             \"component\"=\"{component}\" \"location\"=\"Oregon\" \"env\"=\"prod\""
        )
    };
    let first = s.first_report();
    let expected: BTreeSet<String> = [
        heartbeat("axum", 1_700_000_050),
        heartbeat("tokio", 1_700_000_050),
    ]
    .into_iter()
    .collect();
    assert_eq!(without_diagnostics(&first), expected);
    // The parser reads the tags in this order.
    let parsed = s.receiver.metrics();
    let beat = parsed
        .iter()
        .find(|p| p.name == "~component.heartbeat")
        .unwrap();
    let keys: Vec<&str> = beat.tags.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "application",
            "cluster",
            "service",
            "shard",
            "component",
            "location",
            "env"
        ]
    );

    // Not again on the next reports (every 5 minutes).
    s.clock.advance_ms(60_000);
    s.reporter.report_now();
    let second = s.next_lines();
    assert!(without_diagnostics(&second).is_empty(), "{second:#?}");

    // A component added later gets its heartbeat with the next report.
    s.reporter.add_component("grpc");
    s.reporter.report_now();
    let third = without_diagnostics(&s.next_lines());
    assert!(
        third.contains(&heartbeat("grpc", 1_700_000_110)),
        "{third:#?}"
    );
    let shutdown = s.reporter.shutdown(WAIT);
    assert_eq!(shutdown.dropped, 0);
}

#[test]
fn diagnostics_report_what_the_sender_did() {
    let mut s = Setup::new(app_tags(), &[], 30);
    let first = s.first_report();
    assert_eq!(core_diagnostics(&first).len(), 9);
    let at_start = first.len() as u64;
    assert_eq!(s.sender.stats().kind(DataKind::Points).valid(), at_start);

    // The queue is empty (flushed): 30 of these 40 lines fit, 10 are dropped.
    let mut extra = LineBatch::new();
    for i in 0..40 {
        extra.push_line(&format!("\"extra.{i}\" 1.0 source=\"test-host\""));
    }
    s.sender.send(DataKind::Points, extra);
    assert_eq!(s.sender.stats().kind(DataKind::Points).dropped(), 10);
    let extras = s.next_lines();
    assert_eq!(extras.len(), 30);

    s.reporter.report_now();
    let second = s.next_lines();
    // Since the last report: the first report's and the 30 extra points
    // delivered, 10 dropped, nothing else happened (zero deltas are not sent).
    let expected: BTreeSet<String> = [
        delta_line("points.valid", at_start + 30),
        delta_line("points.dropped", 10),
    ]
    .into_iter()
    .chain(idle_gauges(T0_MS / 1000, 30))
    .collect();
    assert_eq!(core_diagnostics(&second), expected);
    assert!(without_diagnostics(&second).is_empty(), "{second:#?}");

    // A histogram to see its own counter; the deltas start again from the
    // last report.
    s.registry.histogram("latency", NO_TAGS).record(3);
    s.clock.advance_ms(60_000);
    s.reporter.report_now();
    let third = s.next_lines();
    assert_eq!(
        value_of(&third, "∆~sdk.rust.core.sender.proxy.points.valid.count"),
        Some(second.len() as f64)
    );
    assert_eq!(
        value_of(&third, "∆~sdk.rust.core.sender.proxy.points.dropped.count"),
        None
    );
    s.reporter.report_now();
    let fourth = s.next_lines();
    assert_eq!(
        value_of(
            &fourth,
            "∆~sdk.rust.core.sender.proxy.histograms.valid.count"
        ),
        Some(1.0)
    );
    assert_eq!(
        value_of(&fourth, "∆~sdk.rust.core.sender.proxy.points.valid.count"),
        Some((third.len() - 1) as f64) // the histogram line is not a point
    );
    assert_eq!(
        value_of(&fourth, "~sdk.rust.core.sender.proxy.points.queue.size"),
        Some(0.0)
    );
    assert_eq!(
        value_of(&fourth, "~sdk.rust.core.sender.proxy.version"),
        Some(version_gauge().parse().unwrap())
    );
}

#[test]
fn shutdown_sends_the_partial_minute_and_everything_else() {
    let mut s = Setup::new(app_tags(), &[], 1_000);
    s.first_report();
    s.registry.counter("jobs", NO_TAGS).inc_by(2);
    s.registry.delta_counter("hits", NO_TAGS).add(4.0);
    let latency = s.registry.histogram("latency", NO_TAGS);
    latency.record(42);
    latency.record(42);
    // The minute is not over: a normal report keeps the histogram.
    s.reporter.report_now();
    let before = without_diagnostics(&s.next_lines());
    assert_eq!(
        before,
        set(&[
            "\"jobs\" 2.0 1700000050 source=\"test-host\"",
            "\"∆hits\" 4.0 source=\"test-host\"",
        ])
    );

    s.registry.delta_counter("hits", NO_TAGS).add(1.0);
    let report = s.reporter.shutdown(WAIT);
    let last = without_diagnostics(&s.next_lines());
    assert_eq!(
        last,
        set(&[
            "\"jobs\" 2.0 1700000050 source=\"test-host\"",
            "\"∆hits\" 1.0 source=\"test-host\"",
            "!M 1700000040000 #2 42.0 \"latency\" source=\"test-host\"",
        ])
    );
    assert_eq!(report.dropped, 0);
    assert_eq!(report.delivered, s.receiver.line_count() as u64);
    assert_eq!(report.delivered, s.sender.stats().total_valid());
    // Shutting down again changes nothing and says the same.
    assert_eq!(s.reporter.shutdown(WAIT), report);
    assert_eq!(s.reporter.shutdown(Duration::ZERO), report);
    s.reporter.report_now(); // after shutdown: dropped by the sender, not sent
    assert_eq!(s.receiver.line_count() as u64, report.delivered);
}

#[test]
fn concurrent_delta_increments_are_all_reported_once() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 50_000;
    let receiver = Receiver::start().unwrap();
    let sender = ProxySender::builder("127.0.0.1")
        .metrics_port(receiver.metrics_addr().port())
        .tracing_port(receiver.tracing_addr().port())
        .build();
    let registry = Registry::new();
    let reporter = Reporter::builder(
        registry.clone(),
        Arc::new(sender.clone()) as Arc<dyn Sender>,
        app_tags(),
    )
    .source("test-host")
    .interval(Duration::from_secs(1))
    .start();

    // About 2.5 s of increments, so that several reports take the counter
    // while threads are adding to it.
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let hits = registry.delta_counter("hits", &[("kind", "concurrent")]);
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD / 1_000 {
                    for _ in 0..1_000 {
                        hits.inc();
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(started.elapsed() > Duration::from_secs(2));
    let report = reporter.shutdown(WAIT);
    assert_eq!(report.dropped, 0);
    assert!(receiver.wait_until(WAIT, |r| r.line_count() as u64 == report.delivered));
    assert!(receiver.rejected().is_empty());

    let deltas: Vec<f64> = receiver
        .metrics()
        .into_iter()
        .filter(|p| p.name == "∆hits")
        .map(|p| {
            assert_eq!(p.tag("kind"), Some("concurrent"));
            assert_eq!(p.timestamp, None);
            p.value
        })
        .collect();
    assert!(
        deltas.len() >= 2,
        "only {} reports saw the counter",
        deltas.len()
    );
    assert!(deltas.iter().all(|&v| v > 0.0));
    assert_eq!(deltas.iter().sum::<f64>(), (THREADS * PER_THREAD) as f64);
}

#[test]
fn components_can_be_added_while_reporting() {
    let registry = Registry::new();
    for i in 0..100 {
        registry.counter(&format!("series.{i}"), NO_TAGS).inc();
    }
    let sender = Arc::new(ConsoleSender::to_writer(std::io::sink()));
    let reporter = Arc::new(
        Reporter::builder(registry, sender, app_tags())
            .source("test-host")
            .start(),
    );
    let adder = {
        let reporter = Arc::clone(&reporter);
        std::thread::spawn(move || {
            for i in 0..500 {
                reporter.add_component(&format!("component-{i}"));
            }
        })
    };
    let reporting = {
        let reporter = Arc::clone(&reporter);
        std::thread::spawn(move || {
            for _ in 0..500 {
                reporter.report_now();
            }
        })
    };
    // Deadlocked threads would never finish: fail instead of hanging.
    assert!(
        finishes(&adder) && finishes(&reporting),
        "add_component and report_now deadlocked"
    );
    adder.join().unwrap();
    reporting.join().unwrap();
    assert_eq!(reporter.shutdown(WAIT).dropped, 0);
}

fn finishes(thread: &std::thread::JoinHandle<()>) -> bool {
    let deadline = Instant::now() + WAIT;
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

#[test]
fn red_metrics_and_their_heartbeats_come_from_every_span() {
    use wavefront_core::trace::sampling::ConstantSampler;

    let receiver = Receiver::start().unwrap();
    let sender = ProxySender::builder("127.0.0.1")
        .metrics_port(receiver.metrics_addr().port())
        .tracing_port(receiver.tracing_addr().port())
        .build();
    let reporter = Reporter::builder(
        Registry::new(),
        Arc::new(sender) as Arc<dyn Sender>,
        app_tags(),
    )
    .source("test-host")
    .interval(Duration::from_secs(3600))
    .red_metrics_tag_keys(["tenant"])
    // Sample nothing: RED metrics must still count every span.
    .tracer(|t| t.sampler(ConstantSampler::new(false)))
    .start();
    let tracer = reporter.tracer().clone();
    for status in ["200", "200", "503"] {
        let span = tracer
            .span("checkout")
            .tag("component", "axum")
            .tag("span.kind", "server")
            .tag("tenant", "acme")
            .start();
        span.set_tag("http.status_code", status);
        span.finish();
    }
    let report = reporter.shutdown(Duration::from_secs(10));
    assert!(receiver.wait_for_lines(report.delivered as usize, WAIT));
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    assert!(receiver.spans().is_empty(), "nothing was sampled");
    let points = receiver.metrics();
    let sum = |name: &str, status: &str| -> f64 {
        points
            .iter()
            .filter(|p| p.name == name && p.tag("http.status_code") == Some(status))
            .map(|p| p.value)
            .sum()
    };
    let p = "∆tracing.derived.Ordering.styling.checkout";
    assert_eq!(sum(&format!("{p}.invocation.count"), "200"), 2.0);
    assert_eq!(sum(&format!("{p}.invocation.count"), "503"), 1.0);
    let red = points
        .iter()
        .find(|x| x.name == format!("{p}.invocation.count"))
        .unwrap();
    for (key, value) in [
        ("operationName", "checkout"),
        ("component", "axum"),
        ("span.kind", "server"),
        ("tenant", "acme"),
        ("shard", "none"),
    ] {
        assert_eq!(red.tag(key), Some(value), "{key}");
    }
    let histograms = receiver.histograms();
    let samples: i64 = histograms
        .iter()
        .filter(|h| h.name == "tracing.derived.Ordering.styling.checkout.duration.micros")
        .map(|h| h.count())
        .sum();
    assert_eq!(samples, 3);
    let beats: Vec<_> = points
        .iter()
        .filter(|x| x.name == "~component.heartbeat")
        .collect();
    assert!(beats
        .iter()
        .any(|b| b.tag("component") == Some("wavefront-generated")));
    let red_beats = beats
        .iter()
        .filter(|b| b.tag("operationName").is_none() && b.tag("span.kind") == Some("server"))
        .count();
    assert_eq!(red_beats, 2, "one per RED tag set (two statuses)");
    let discarded: f64 = points
        .iter()
        .filter(|x| x.name == "∆~sdk.rust.opentracing.spans.discarded.count")
        .map(|x| x.value)
        .sum();
    assert_eq!(discarded, 3.0);
}

#[test]
fn a_panicking_function_gauge_skips_its_point_only_and_is_counted() {
    let tags = ApplicationTags::builder("app", "svc").build().unwrap();
    let mut s = Setup::new(tags, &[], 1_000);
    s.first_report();
    s.registry
        .function_gauge("pool.size", NO_TAGS, || panic!("the pool is gone"));
    s.registry.counter("orders.count", NO_TAGS).inc();
    for report in 1..=3u32 {
        s.clock.advance_ms(60_000);
        s.reporter.report_now();
        let lines = s.next_lines();
        assert!(
            lines.iter().any(|l| l.starts_with("\"orders.count\" 1.0")),
            "report {report}: {lines:#?}"
        );
        assert!(!lines.iter().any(|l| l.contains("pool.size")));
        // One panic a report, each counted (the delta since the last report).
        let panics = lines
            .iter()
            .find(|l| l.starts_with("\"∆~sdk.rust.core.reporter.panics.count\""))
            .unwrap_or_else(|| panic!("report {report}: {lines:#?}"));
        assert!(
            panics.starts_with("\"∆~sdk.rust.core.reporter.panics.count\" 1.0"),
            "{panics}"
        );
    }
}

#[test]
fn spans_flow_to_the_sender_as_batches_fill_not_only_every_second() {
    let receiver = Receiver::start().unwrap();
    let sender: Arc<dyn Sender> = Arc::new(
        ProxySender::builder("127.0.0.1")
            .metrics_port(receiver.metrics_addr().port())
            .tracing_port(receiver.tracing_addr().port())
            .build(),
    );
    let tags = ApplicationTags::builder("app", "svc").build().unwrap();
    let reporter = Reporter::builder(Registry::new(), sender, tags)
        .interval(Duration::from_secs(3600))
        .red_metrics(false)
        .tracer(|t| t.queue_capacity(5_000))
        .start();
    let tracer = reporter.tracer().clone();
    // 30 batches, each waited on until the reporter has taken it: sent as
    // batches fill, that takes milliseconds a batch; sent only on the
    // one-second tick, it would take 30 seconds.
    let started = Instant::now();
    for batch in 0..30 {
        for i in 0..1_000 {
            tracer
                .span(format!("op{}", (batch * 1_000 + i) % 7))
                .start()
                .finish();
        }
        let waiting = Instant::now();
        while tracer.queue_size() >= 1_000 {
            assert!(waiting.elapsed() < WAIT, "batch {batch} was never taken");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let spent = started.elapsed();
    assert!(spent < Duration::from_secs(10), "30 batches took {spent:?}");
    assert_eq!(tracer.dropped(), 0);
    let report = reporter.shutdown(WAIT);
    assert_eq!(report.dropped, 0);
    assert!(receiver.wait_until(WAIT, |r| r.spans().len() == 30_000));
}

#[test]
fn an_adapter_keeps_its_reporter_running_after_the_handle_is_dropped() {
    use std::borrow::Cow;
    use wavefront_core::lifecycle::{Instrumentation, RequestInfo};
    use wavefront_core::trace::Headers;

    struct Get([(&'static str, &'static str); 0]);
    impl RequestInfo for Get {
        fn method(&self) -> &str {
            "GET"
        }
        fn route(&self) -> Option<&str> {
            Some("/orders")
        }
        fn url(&self) -> Cow<'_, str> {
            Cow::Borrowed("http://localhost/orders")
        }
        fn headers(&self) -> &dyn Headers {
            &self.0
        }
    }

    let receiver = Receiver::start().unwrap();
    let sender: Arc<dyn Sender> = Arc::new(
        ProxySender::builder("127.0.0.1")
            .metrics_port(receiver.metrics_addr().port())
            .tracing_port(receiver.tracing_addr().port())
            .build(),
    );
    let tags = ApplicationTags::builder("app", "svc").build().unwrap();
    // As in `.layer(WavefrontLayer::new(&Reporter::from_env(..)?))`: the
    // handle is a temporary, gone once the adapter is built.
    let instrumentation: Instrumentation = Reporter::builder(Registry::new(), sender, tags)
        .interval(Duration::from_secs(1))
        .start()
        .instrumentation("shop")
        .build();
    let mut guard = instrumentation.start(&Get([]));
    guard.set_status(200);
    drop(guard);
    let reported = |r: &Receiver| {
        r.metrics()
            .iter()
            .any(|p| p.name == "shop.response.orders.GET.200.cumulative.count")
    };
    assert!(receiver.wait_until(WAIT, reported), "the reporter stopped");
    assert!(receiver.wait_until(WAIT, |r| r.spans().len() == 1));
    // The last adapter gone, the reporter stops with a final report.
    let before = receiver.line_count();
    let mut guard = instrumentation.start(&Get([]));
    guard.set_status(201);
    drop(guard);
    drop(instrumentation);
    assert!(receiver.wait_until(WAIT, |r| r
        .metrics()
        .iter()
        .any(|p| p.name == "shop.response.orders.GET.201.cumulative.count")));
    assert!(receiver.line_count() > before);
}

#[test]
fn your_own_series_carry_the_application_tags() {
    let mut s = Setup::new(app_tags(), &[], 1_000);
    s.first_report();
    s.reporter
        .counter(
            "orders.checked_out",
            &[("tier", "gold"), ("service", "not-mine")],
        )
        .inc_by(2);
    s.reporter.gauge("pool.size", &[]).set(8.0);
    s.reporter.histogram("orders.basket_items", &[]).record(3);
    s.clock.advance_ms(60_000);
    s.reporter.report_now();
    let lines = s.next_lines();
    let line = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("\"{name}\"")) || l.contains(&format!(" \"{name}\" ")))
            .unwrap_or_else(|| panic!("{name}: {lines:#?}"))
            .clone()
    };
    let counter = line("orders.checked_out");
    assert!(
        counter.starts_with("\"orders.checked_out\" 2.0 "),
        "{counter}"
    );
    for tag in [
        "\"application\"=\"Ordering\"",
        "\"cluster\"=\"none\"",
        "\"service\"=\"styling\"",
        "\"shard\"=\"none\"",
        "\"tier\"=\"gold\"",
    ] {
        assert!(counter.contains(tag), "{tag} in {counter}");
    }
    assert!(!counter.contains("not-mine"), "{counter}");
    assert!(line("pool.size").contains("\"service\"=\"styling\""));
    assert!(line("orders.basket_items").starts_with("!M "));
}
