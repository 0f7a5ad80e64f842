//! Cost of recording into a counter, a delta counter and a histogram, from 1
//! thread and from 2 threads at once (per record, per thread), of reading a
//! thread's CPU time (the perf-sequence reading, the system call, and a
//! poll's stopwatch), of deriving one span's RED metrics (on the reporter's
//! thread), and of one report cycle over 10,000 series.
//!
//! Run: `cargo bench -p wavefront-benches --bench record`.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use wavefront_core::histogram::WavefrontHistogram;
use wavefront_core::metric::{Counter, DeltaCounter, Gauge};
use wavefront_core::red::RedMetrics;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ConsoleSender;
use wavefront_core::trace::{FinishedSpan, Tracer};
use wavefront_core::ApplicationTags;

/// Runs `op` `iters` times on each of `threads` threads started together;
/// the time is the slowest thread's, so the result is per record per thread.
fn concurrently(threads: usize, iters: u64, op: impl Fn(u64) + Send + Sync + 'static) -> Duration {
    let op = Arc::new(op);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, barrier) = (Arc::clone(&op), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for i in 0..iters {
                    op(black_box(i));
                }
                start.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap_or_default()
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    for threads in [1, 2] {
        let counter = Counter::new();
        group.bench_function(format!("counter/{threads}t"), |b| {
            b.iter_custom(|iters| {
                let counter = counter.clone();
                concurrently(threads, iters, move |_| counter.inc())
            })
        });
        let delta = DeltaCounter::new();
        group.bench_function(format!("delta_counter/{threads}t"), |b| {
            b.iter_custom(|iters| {
                let delta = delta.clone();
                concurrently(threads, iters, move |_| delta.inc())
            })
        });
        // An in-flight count: one up and one down a request.
        for (kind, gauge) in [("atomic", Gauge::new()), ("up_down", Gauge::up_down())] {
            group.bench_function(format!("gauge_inc_dec_{kind}/{threads}t"), |b| {
                b.iter_custom(|iters| {
                    let gauge = gauge.clone();
                    concurrently(threads, iters, move |_| {
                        gauge.inc();
                        gauge.dec();
                    })
                })
            });
        }
        let histogram = WavefrontHistogram::new();
        group.bench_function(format!("histogram/{threads}t"), |b| {
            b.iter_custom(|iters| {
                let histogram = histogram.clone();
                // Latency-like values spread over a few octaves.
                concurrently(threads, iters, move |i| {
                    histogram.record(50_000 + (i * 7919) % 2_000_000)
                })
            })
        });
    }
    group.finish();
}

fn report_cycle(c: &mut Criterion) {
    let registry = Registry::new();
    let tags = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .build()
        .unwrap();
    let routes = [
        "style.id.make",
        "orders.id",
        "bad_gateway",
        "cart",
        "checkout",
    ];
    for i in 0..10_000 {
        let route = routes[i % routes.len()];
        let func = format!("handler_{}", i / 10);
        let name = format!(
            "axum.response.{route}.GET.{}.cumulative.count",
            200 + i % 10
        );
        let series_tags = [
            ("application", "Ordering"),
            ("cluster", "us-west-1"),
            ("service", "styling"),
            ("shard", "primary"),
            ("axum.func", func.as_str()),
        ];
        match i % 2 {
            0 => registry.counter(&name, &series_tags).inc_by(i as u64),
            _ => registry
                .gauge(
                    &name.replace("cumulative.count", "inflight.value"),
                    &series_tags,
                )
                .set(i as f64),
        }
    }
    assert_eq!(registry.len(), 10_000);
    let reporter = Reporter::builder(
        registry,
        Arc::new(ConsoleSender::to_writer(std::io::sink())),
        tags,
    )
    .source("host-1")
    .interval(Duration::from_secs(3600))
    .start();
    reporter.report_now(); // first cycle encodes and caches every series' name and tags
    let mut group = c.benchmark_group("report");
    group.sample_size(20);
    group.bench_function("cycle/10000_series", |b| b.iter(|| reporter.report_now()));
    group.finish();
}

fn cpu_clock(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu");
    println!("clock source: {:?}", wavefront_core::cpu::clock_source());
    group.bench_function("thread_time_ns", |b| {
        b.iter(|| black_box(wavefront_core::cpu::thread_time_ns()))
    });
    group.bench_function("thread_time_ns_syscall", |b| {
        b.iter(|| black_box(wavefront_core::cpu::thread_time_ns_syscall()))
    });
    // What a poll pays: a stopwatch started and read (no switch between).
    group.bench_function("stopwatch_poll", |b| {
        b.iter(|| {
            black_box(wavefront_core::cpu::CpuStopwatch::start().and_then(|s| s.elapsed_ns()))
        })
    });
    group.finish();
}

/// RED metrics from a finished server span of the Shirts app (its series
/// already exist), as the reporter derives them for every span: one span
/// (`red/record`), and a batch of 128 (`red/record_all_128`, per span in
/// its throughput).
fn red_metrics(c: &mut Criterion) {
    let app = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .custom_tag("env", "Staging")
        .build()
        .unwrap();
    let finished = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&finished);
    let tracer = Tracer::builder(app.clone())
        .on_finish(Arc::new(move |span: &FinishedSpan| {
            sink.lock().unwrap().push(span.clone())
        }))
        .build();
    tracer
        .span("make_shirts")
        .tag("component", "axum")
        .tag("span.kind", "server")
        .tag("http.method", "GET")
        .tag("http.status_code", "200")
        .tag("http.url", "http://localhost:8080/style/blue/make")
        .tag("axum.func", "make_shirts")
        .start()
        .finish();
    let span = finished.lock().unwrap().pop().unwrap();
    let red = RedMetrics::new(Registry::new(), app, Vec::new());
    red.record(&span);
    c.bench_function("red/record", |b| b.iter(|| red.record(black_box(&span))));
    // A batch as the reporter takes it (128 spans of one route, sharing
    // their tags' texts): per span, the series are found once a batch.
    let batch: Vec<FinishedSpan> = (0..128).map(|_| span.clone()).collect();
    let mut group = c.benchmark_group("red");
    group.throughput(criterion::Throughput::Elements(batch.len() as u64));
    group.bench_function("record_all_128", |b| {
        b.iter(|| red.record_all(black_box(&batch)))
    });
    group.finish();
}

criterion_group!(benches, record, cpu_clock, red_metrics, report_cycle);
criterion_main!(benches);
