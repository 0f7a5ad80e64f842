//! What the Wavefront adapters add to a warp and a rocket request, in
//! process (no network): the same Shirts route, bare and instrumented (CPU
//! time on and off), reporting to a sink off the request path. axum's is in
//! `benches/axum.rs`; the peers, side by side with axum, in
//! `shared/bench-peers`.
//!
//! Run: `cargo bench -p wavefront-benches --bench frameworks`.

use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Empty};
use tower::{Layer, ServiceExt};
use warp::Filter;
use wavefront_testkit::measure::reporter_to_nowhere;

fn warp_requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reporter = reporter_to_nowhere();
    let routes = || {
        warp::path!("style" / String / "make")
            .and(warp::get())
            .and(wavefront_warp::route("/style/{id}/make", "make_shirts"))
            .map(|id: String| format!("Shirts {id} made."))
    };
    let mut group = c.benchmark_group("warp_request");
    macro_rules! bench {
        ($name:expr, $service:expr) => {{
            let service = $service;
            group.bench_function($name, |b| {
                b.to_async(&runtime).iter(|| {
                    let service = service.clone();
                    async move {
                        let request = http::Request::get("/style/blue/make")
                            .body(Empty::<bytes::Bytes>::new())
                            .unwrap();
                        let response = service.oneshot(request).await.unwrap();
                        response.into_body().collect().await.unwrap()
                    }
                })
            });
        }};
    }
    bench!("bare", warp::service(routes()));
    bench!(
        "wavefront",
        wavefront_warp::WavefrontLayer::new(&reporter).layer(warp::service(routes()))
    );
    bench!(
        "wavefront_no_cpu_time",
        wavefront_warp::WavefrontLayer::builder(&reporter)
            .cpu_time(false)
            .build()
            .layer(warp::service(routes()))
    );
    group.finish();
    reporter.report_now();
}

#[rocket::get("/style/<id>/make")]
fn make_shirts(id: &str) -> String {
    format!("Shirts {id} made.")
}

fn rocket_requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reporter = reporter_to_nowhere();
    let config = rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    };
    let clients = [
        (
            "bare",
            rocket::custom(config.clone()).mount("/", rocket::routes![make_shirts]),
        ),
        (
            "wavefront",
            rocket::custom(config.clone())
                .mount("/", wavefront_rocket::wrap(rocket::routes![make_shirts]))
                .attach(wavefront_rocket::WavefrontFairing::new(&reporter)),
        ),
        (
            "wavefront_no_cpu_time",
            rocket::custom(config)
                .mount("/", wavefront_rocket::wrap(rocket::routes![make_shirts]))
                .attach(
                    wavefront_rocket::WavefrontFairing::builder(&reporter)
                        .cpu_time(false)
                        .build(),
                ),
        ),
    ];
    let mut group = c.benchmark_group("rocket_request");
    for (name, rocket) in clients {
        let client = runtime
            .block_on(rocket::local::asynchronous::Client::untracked(rocket))
            .unwrap();
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response = client.get("/style/blue/make").dispatch().await;
                response.into_string().await.unwrap()
            })
        });
    }
    group.finish();
    reporter.report_now();
}

criterion_group!(benches, warp_requests, rocket_requests);
criterion_main!(benches);
