//! Encoder throughput: metric, histogram and span lines per second, on one
//! core, next to the same lines formatted by the Python reference SDK
//! (wavefront-sdk-python 2.1.0) measured in the same run.
//!
//! Run: `cargo bench -p wavefront-benches --bench wire`. The Python figures
//! need the conformance venv (`python3 conformance/generate.py` creates it);
//! without it the ratio table says so and shows the Rust figures alone.
//!
//! The inputs are those documented at the top of
//! `conformance/bench_reference.py`; each is checked against the exact line
//! the reference produces before anything is timed.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use criterion::{criterion_group, Criterion, Throughput};
use wavefront_core::wire::{self, Centroid, Granularity, MetricTemplate, SpanLine};
use wavefront_core::{SpanId, TraceId};

const METRIC_TAGS: [(&str, &str); 4] = [
    ("application", "Ordering"),
    ("cluster", "us-west-1"),
    ("service", "styling"),
    ("shard", "primary"),
];
const SPAN_TAGS: [(&str, &str); 10] = [
    ("application", "Ordering"),
    ("cluster", "us-west-1"),
    ("service", "styling"),
    ("shard", "primary"),
    ("component", "flask"),
    ("span.kind", "server"),
    ("http.method", "GET"),
    ("http.status_code", "200"),
    ("http.url", "http://localhost:5000/style/blue/make"),
    ("flask.func", "make_shirts"),
];
const CENTROIDS: [Centroid; 5] = [
    Centroid {
        mean: 1.0,
        count: 3,
    },
    Centroid {
        mean: 2.5,
        count: 7,
    },
    Centroid {
        mean: 10.25,
        count: 1,
    },
    Centroid {
        mean: 100.0,
        count: 12,
    },
    Centroid {
        mean: 1234.5,
        count: 2,
    },
];
const TAG_TEXT: &str =
    r#""application"="Ordering" "cluster"="us-west-1" "service"="styling" "shard"="primary""#;

fn metric(buf: &mut String) {
    wire::write_metric(
        buf,
        "request.latency",
        42.5,
        Some(1_700_000_000),
        "host-1",
        &METRIC_TAGS,
    )
    .unwrap();
}

fn histogram(buf: &mut String) {
    wire::write_histogram(
        buf,
        Granularity::Minute,
        Some(1_700_000_040_000),
        &CENTROIDS,
        "request.latency",
        "host-1",
        &METRIC_TAGS,
    )
    .unwrap();
}

fn span(buf: &mut String) {
    let parents = [SpanId::from_u128(0x2f64e538_9457_11e8_9eb6_529269fb1459)];
    wire::write_span(
        buf,
        &SpanLine {
            operation: "make_shirts",
            source: "host-1",
            trace_id: TraceId::from_u128(0x11111111_2222_4333_8444_555555555555),
            span_id: SpanId::from_u128(0x66666666_7777_4888_9999_aaaaaaaaaaaa),
            parents: &parents,
            follows_from: &[],
            tags: &SPAN_TAGS,
            start: 1_700_000_000_123,
            duration: 343,
            has_logs: false,
        },
    )
    .unwrap();
}

/// The reporter's path: the series' name and tags encoded once, only the
/// value and timestamp per line.
fn metric_template(buf: &mut String) {
    static TEMPLATE: std::sync::OnceLock<MetricTemplate> = std::sync::OnceLock::new();
    let template = TEMPLATE
        .get_or_init(|| MetricTemplate::new("request.latency", "host-1", &METRIC_TAGS).unwrap());
    template.write(buf, 42.5, Some(1_700_000_000)).unwrap();
}

/// The reporter's path for spans: the tracer's shared tags (the first four)
/// encoded once, only the span's own written per line.
fn span_after_shared_tags(buf: &mut String) {
    static SHARED: std::sync::OnceLock<wire::EncodedSpanTags> = std::sync::OnceLock::new();
    let shared = SHARED.get_or_init(|| wire::EncodedSpanTags::new(&SPAN_TAGS[..4]).unwrap());
    let parents = [SpanId::from_u128(0x2f64e538_9457_11e8_9eb6_529269fb1459)];
    wire::write_span_after(
        buf,
        shared,
        &SpanLine {
            operation: "make_shirts",
            source: "host-1",
            trace_id: TraceId::from_u128(0x11111111_2222_4333_8444_555555555555),
            span_id: SpanId::from_u128(0x66666666_7777_4888_9999_aaaaaaaaaaaa),
            parents: &parents,
            follows_from: &[],
            tags: &SPAN_TAGS[4..],
            start: 1_700_000_000_123,
            duration: 343,
            has_logs: false,
        },
    )
    .unwrap();
}

type Encoder = fn(&mut String);

const ENCODERS: [(&str, Encoder); 5] = [
    ("metric", metric),
    ("metric_template", metric_template),
    ("histogram", histogram),
    ("span", span),
    ("span_after_shared_tags", span_after_shared_tags),
];

/// The lines the Python reference writes for the same inputs.
fn check_lines() {
    let mut buf = String::new();
    metric(&mut buf);
    assert_eq!(
        buf,
        format!("\"request.latency\" 42.5 1700000000 source=\"host-1\" {TAG_TEXT}\n")
    );
    let metric_line = buf.clone();
    buf.clear();
    metric_template(&mut buf);
    assert_eq!(buf, metric_line);
    buf.clear();
    histogram(&mut buf);
    assert_eq!(
        buf,
        format!(
            "!M 1700000040000 #3 1.0 #7 2.5 #1 10.25 #12 100.0 #2 1234.5 \"request.latency\" source=\"host-1\" {TAG_TEXT}\n"
        )
    );
    buf.clear();
    span(&mut buf);
    assert!(buf.starts_with(
        "\"make_shirts\" source=\"host-1\" traceId=11111111-2222-4333-8444-555555555555 "
    ));
    assert!(buf.ends_with("\"flask.func\"=\"make_shirts\" 1700000000123 343\n"));
    let span_line = buf.clone();
    buf.clear();
    span_after_shared_tags(&mut buf);
    assert_eq!(buf, span_line);
}

/// Appends lines into one reusable buffer, as a reporter does, clearing it
/// every 1000 lines.
fn encode_into_batch(c: &mut Criterion) {
    check_lines();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    for (name, encode) in ENCODERS {
        let mut buf = String::with_capacity(1 << 20);
        let mut n = 0u32;
        group.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                if n == 1000 {
                    buf.clear();
                    n = 0;
                }
                encode(black_box(&mut buf));
            })
        });
    }
    group.finish();
}

/// Lines per second of one encoder, from the median criterion just
/// measured (`target/criterion/encode/<name>/new/estimates.json`).
fn rust_lines_per_sec(name: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let file = target
        .join("criterion/encode")
        .join(name)
        .join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let ns = json["median"]["point_estimate"].as_f64()?;
    Some(1e9 / ns)
}

fn python_lines_per_sec() -> Result<serde_json::Value, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("conformance/.venv/bin/python");
    if !python.exists() {
        return Err("no conformance venv (run `python3 conformance/generate.py` once)".into());
    }
    let out = Command::new(python)
        .arg(root.join("conformance/bench_reference.py"))
        .args(["--seconds", "2"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

fn reference_ratio() {
    let python = python_lines_per_sec();
    println!("\nlines per second, one core (Rust: criterion medians of this run; Python reference: same inputs, child process):");
    println!(
        "{:<16} {:>14} {:>14} {:>8}",
        "line", "rust", "python", "ratio"
    );
    for (name, _) in ENCODERS {
        let Some(rust) = rust_lines_per_sec(name) else {
            println!("{name:<16} not measured in this run");
            continue;
        };
        // The reference has no template path: compare with its metric lines.
        let reference = if name == "metric_template" {
            "metric"
        } else {
            name
        };
        let py = python
            .as_ref()
            .ok()
            .and_then(|p| p[format!("python_{reference}_lines_per_sec")].as_f64());
        match py {
            Some(py) => println!("{name:<16} {rust:>14.0} {py:>14.0} {:>7.1}x", rust / py),
            None => println!("{name:<16} {rust:>14.0} {:>14} {:>8}", "-", "-"),
        }
    }
    if let Err(e) = python {
        println!("python reference not measured: {e}");
    }
}

criterion_group!(benches, encode_into_batch);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Profiling runs (`--profile-time`) and listings time nothing else.
    if !std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        reference_ratio();
    }
}
