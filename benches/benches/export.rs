//! The two exporters' encoders side by side, per span and per point: the
//! Wavefront line formats (`WavefrontExporter`) and OTLP protobuf
//! (`OtlpExporter`, before gzip, as each would send one batch).
//!
//! Run: `cargo bench -p wavefront-benches --bench export`.
//!
//! Inputs: 1,000 spans of the Shirts app's shape (the tracer's application
//! tags, eight span tags, one span log in ten), and a report of 1,000
//! series: counters, delta counters and gauges with four tags, and one
//! minute of a five-centroid histogram in ten. Criterion reports elements
//! per second: spans or points encoded.

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wavefront_core::export::{
    MetricPoint, MetricsReport, Origin, OtlpExporter, OtlpNaming, PointValue, WavefrontExporter,
};
use wavefront_core::histogram::Distribution;
use wavefront_core::registry::Registry;
use wavefront_core::sender::ConsoleSender;
use wavefront_core::trace::{FinishedSpan, Tracer};
use wavefront_core::wire::Centroid;
use wavefront_core::ApplicationTags;

const BATCH: usize = 1_000;

fn app() -> ApplicationTags {
    ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .custom_tag("env", "Staging")
        .build()
        .unwrap()
}

/// Finished spans, as the tracer hands them to the reporter.
fn spans() -> Vec<FinishedSpan> {
    let finished = Arc::new(Mutex::new(Vec::with_capacity(BATCH)));
    let sink = Arc::clone(&finished);
    let tracer = Tracer::builder(app())
        .source("host-1")
        .on_finish(Arc::new(move |span: &FinishedSpan| {
            sink.lock().unwrap().push(span.clone());
        }))
        .build();
    for i in 0..BATCH {
        let span = tracer
            .span("make_shirts")
            .tag("component", "axum")
            .tag("span.kind", "server")
            .tag("http.method", "GET")
            .tag("http.status_code", "200")
            .tag("http.url", "http://localhost:8080/style/blue/make")
            .tag("axum.func", "make_shirts")
            .tag("axum.route", "/style/{id}/make")
            .tag("request.id", i.to_string())
            .start();
        if i % 10 == 0 {
            span.log(vec![
                ("event".into(), "error".into()),
                ("message".into(), "HTTP 502".into()),
            ]);
        }
        span.finish();
    }
    let spans = std::mem::take(&mut *finished.lock().unwrap());
    assert_eq!(spans.len(), BATCH);
    spans
}

/// One report of `BATCH` points over as many series.
fn report() -> MetricsReport {
    let registry = Registry::new();
    for i in 0..BATCH {
        let tags = [
            ("application", "Ordering"),
            ("cluster", "us-west-1"),
            ("service", "styling"),
            ("route", &*format!("route.{i}")),
        ];
        let name = format!("axum.response.route.{i}.GET.200");
        match i % 10 {
            0 => drop(registry.histogram(&format!("{name}.latency"), &tags)),
            1..=3 => drop(registry.delta_counter(&format!("{name}.aggregated.count"), &tags)),
            4 => drop(registry.gauge(&format!("{name}.inflight"), &tags)),
            _ => drop(registry.counter(&format!("{name}.cumulative.count"), &tags)),
        }
    }
    let centroids = [(0.12, 3), (0.25, 7), (1.5, 1), (10.0, 12), (123.4, 2)]
        .map(|(mean, count)| Centroid { mean, count });
    let points = registry
        .entries()
        .into_iter()
        .enumerate()
        .map(|(i, series)| {
            let value = match series.metric() {
                wavefront_core::registry::Metric::Histogram(_) => {
                    PointValue::Histogram(Distribution {
                        minute_ms: 1_700_000_040_000,
                        centroids: centroids.to_vec(),
                    })
                }
                wavefront_core::registry::Metric::DeltaCounter(_) => PointValue::Delta(3.0),
                wavefront_core::registry::Metric::Gauge(_) => PointValue::Gauge(i as f64),
                _ => PointValue::Counter(i as u64 * 7),
            };
            MetricPoint { series, value }
        })
        .collect();
    MetricsReport {
        timestamp_s: 1_700_000_100,
        points,
    }
}

fn encoders(c: &mut Criterion) {
    let tags = app();
    let origin = Origin {
        source: "host-1",
        tags: &tags,
    };
    let wavefront = WavefrontExporter::new(Arc::new(ConsoleSender::to_writer(std::io::sink())));
    // Never sends: the endpoint is only parsed.
    let otlp = OtlpExporter::builder("http://127.0.0.1:9").build().unwrap();

    let spans = spans();
    let mut group = c.benchmark_group("export/spans");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("wavefront", |b| {
        b.iter(|| black_box(WavefrontExporter::encode_spans(origin, black_box(&spans))))
    });
    group.bench_function("otlp", |b| {
        b.iter(|| black_box(otlp.encode_spans(origin, black_box(&spans))))
    });
    group.finish();

    let report = report();
    let mut group = c.benchmark_group("export/points");
    group.throughput(Throughput::Elements(BATCH as u64));
    // Each series' name and tags are encoded once, on the first report, as
    // the exporter does; the loop measures the reports after it.
    let _ = wavefront.encode_metrics(origin, &report);
    group.bench_function("wavefront", |b| {
        b.iter(|| black_box(wavefront.encode_metrics(origin, black_box(&report))))
    });
    group.bench_function("otlp", |b| {
        b.iter(|| black_box(otlp.encode_metrics(origin, black_box(&report), OtlpNaming::Wavefront)))
    });
    group.finish();
}

criterion_group!(benches, encoders);
criterion_main!(benches);
