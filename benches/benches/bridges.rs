//! What the `tracing` bridge costs a span opened outside any request (a
//! thread-local look-up, nothing sent): the same span with a bare
//! `tracing-subscriber` registry, and with the Wavefront layer added.
//!
//! Run: `cargo bench -p wavefront-benches --bench bridges`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tracing_subscriber::layer::SubscriberExt;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ConsoleSender;
use wavefront_core::ApplicationTags;
use wavefront_tracing::WavefrontTracingLayer;

fn outside_requests(c: &mut Criterion) {
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap();
    let reporter = Reporter::builder(
        Registry::new(),
        Arc::new(ConsoleSender::to_writer(std::io::sink())),
        tags,
    )
    .interval(Duration::from_secs(3600))
    .start();
    let mut group = c.benchmark_group("tracing_span_outside_requests");
    let bare = tracing_subscriber::registry();
    tracing::subscriber::with_default(bare, || {
        group.bench_function("registry", |b| {
            b.iter(|| tracing::info_span!("background").in_scope(|| tracing::info!("tick")))
        });
    });
    let with_layer = tracing_subscriber::registry().with(WavefrontTracingLayer::new(&reporter));
    tracing::subscriber::with_default(with_layer, || {
        group.bench_function("registry_and_wavefront", |b| {
            b.iter(|| tracing::info_span!("background").in_scope(|| tracing::info!("tick")))
        });
    });
    group.finish();
}

criterion_group!(benches, outside_requests);
criterion_main!(benches);
