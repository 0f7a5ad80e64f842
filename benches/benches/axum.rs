//! What the Wavefront layer adds to an axum request, in process (no
//! network): the same router, bare and with `WavefrontLayer`, driven as a
//! tower service. The SDK reports to a sink, off the request path.
//!
//! Run: `cargo bench -p wavefront-benches --bench axum`.

use axum::body::Body;
use axum::extract::Path;
use axum::http::Request;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt;
use tower::ServiceExt;
use wavefront_axum::WavefrontLayer;
use wavefront_testkit::measure::reporter_to_nowhere;

async fn make_shirts(Path(id): Path<String>) -> String {
    format!("Shirts {id} made.")
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reporter = reporter_to_nowhere();
    let bare: Router = Router::new().route("/style/{id}/make", axum::routing::get(make_shirts));
    let with_cpu = Router::new()
        .route(
            "/style/{id}/make",
            wavefront_axum::routing::get(make_shirts),
        )
        .layer(WavefrontLayer::new(&reporter));
    let without_cpu = Router::new()
        .route(
            "/style/{id}/make",
            wavefront_axum::routing::get(make_shirts),
        )
        .layer(WavefrontLayer::builder(&reporter).cpu_time(false).build());

    let mut group = c.benchmark_group("axum_request");
    for (name, router) in [
        ("bare", bare),
        ("wavefront", with_cpu),
        ("wavefront_no_cpu_time", without_cpu),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let router = router.clone();
                async move {
                    let request = Request::get("/style/blue/make")
                        .body(Body::empty())
                        .unwrap();
                    let response = router.oneshot(request).await.unwrap();
                    response.into_body().collect().await.unwrap()
                }
            })
        });
    }
    group.finish();
    // Spans pile up in the tracer between reports; send them to the sink.
    reporter.report_now();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
