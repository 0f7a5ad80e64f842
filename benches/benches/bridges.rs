//! What the `tracing` bridge costs a span opened outside any request (a
//! thread-local look-up, nothing sent): the same span with a bare
//! `tracing-subscriber` registry, and with the Wavefront layer added.
//!
//! Run: `cargo bench -p wavefront-benches --bench bridges`.

use criterion::{criterion_group, criterion_main, Criterion};
use tracing_subscriber::layer::SubscriberExt;
use wavefront_testkit::measure::reporter_to_nowhere;
use wavefront_tracing::WavefrontTracingLayer;

fn outside_requests(c: &mut Criterion) {
    let reporter = reporter_to_nowhere();
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
