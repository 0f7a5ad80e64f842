//! What a second serving thread does to the layer's own cost: the Shirts
//! route driven in process by one thread, then by two at once (pinned to
//! cores 0 and 1, each with its own current-thread runtime and a clone of
//! the router), bare and with `WavefrontLayer` (`cpu_time(false)`), in
//! alternating rounds. Spans are sampled out and RED metrics are off, so
//! the reporter has nothing to do: what is left is the request path, and
//! what its threads share (the cache lines of shared counters, reference
//! counts and the span pool move between the cores).
//!
//! ```sh
//! cargo run --release -p wavefront-benches --bin threads            # 3 rounds of 300,000 requests a thread
//! cargo run --release -p wavefront-benches --bin threads -- 5 100000
//! ```

use std::cell::Cell;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};
use wavefront_axum::WavefrontLayer;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ConsoleSender;
use wavefront_core::trace::RateSampler;
use wavefront_core::ApplicationTags;

/// Requests each thread sends before the measure.
const WARM_UP: usize = 20_000;

async fn make_shirts(Path(id): Path<String>) -> String {
    format!("Shirts {id} made.")
}

#[allow(unsafe_code)]
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside it;
    // sched_setaffinity(0) applies to the calling thread and only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Mean ns a request over `threads` threads sending `n` requests each.
fn run(router: &Router, threads: usize, n: usize) -> f64 {
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|core| {
            let (router, start) = (router.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                pin(core);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let mut service = router.into_service::<Body>();
                    let began = Cell::new(Instant::now());
                    let mut bytes = 0;
                    for i in 0..WARM_UP + n {
                        if i == WARM_UP {
                            start.wait();
                            began.set(Instant::now());
                        }
                        let request = http::Request::get(format!("/style/{}/make", i % 10))
                            .body(Body::empty())
                            .expect("request");
                        let ready = service.ready().await.expect("ready");
                        let response = ready.call(request).await.expect("response");
                        bytes += response
                            .into_body()
                            .collect()
                            .await
                            .expect("body")
                            .to_bytes()
                            .len();
                    }
                    std::hint::black_box(bytes);
                    began.get().elapsed().as_nanos() as f64 / n as f64
                })
            })
        })
        .collect();
    let each: Vec<f64> = handles
        .into_iter()
        .map(|h| h.join().expect("a thread panicked"))
        .collect();
    each.iter().sum::<f64>() / each.len() as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: usize| -> Result<usize, std::num::ParseIntError> {
        std::env::args().nth(n).map_or(Ok(default), |s| s.parse())
    };
    let rounds = arg(1, 3)?.clamp(1, 20);
    let requests = arg(2, 300_000)?.clamp(1_000, 5_000_000);
    let tags = ApplicationTags::builder("Ordering", "styling").build()?;
    let reporter = Reporter::builder(
        Registry::new(),
        Arc::new(ConsoleSender::to_writer(std::io::sink())),
        tags,
    )
    .interval(Duration::from_secs(3600))
    .red_metrics(false)
    .tracer(|tracer| tracer.sampler(RateSampler::new(0.0).expect("rate")))
    .start();
    let app = || Router::new().route("/style/{id}/make", get(make_shirts));
    let bare = app().with_state(());
    let layer = WavefrontLayer::builder(&reporter).cpu_time(false).build();
    let layered = app().layer(layer).with_state(());
    println!("| round | threads | bare ns/request | with the layer | added |");
    println!("|---:|---:|---:|---:|---:|");
    for round in 1..=rounds {
        for threads in [1, 2] {
            let b = run(&bare, threads, requests);
            let w = run(&layered, threads, requests);
            println!("| {round} | {threads} | {b:.0} | {w:.0} | {:+.0} |", w - b);
        }
    }
    reporter.shutdown(Duration::from_secs(5));
    Ok(())
}
