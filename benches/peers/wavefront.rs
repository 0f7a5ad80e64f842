//! The peers harness's Wavefront variant with two knobs, for taking the
//! layer's cost apart (`benches/decompose.py`); without them it is the
//! harness's own `wavefront` variant: everything on, spans through a
//! `ProxySender` to a proxy stand-in on 127.0.0.1 that reads and counts.
//!
//! - `WAVEFRONT_BENCH_RED=off`: no RED metrics derived from the spans.
//! - `WAVEFRONT_BENCH_SAMPLING=<rate>`: a `RateSampler` (at 0, only the
//!   spans an error forces are sent: the 502s, one request in ten).
//!
//! Used in place of the harness's file: `PEERS_VARIANT=benches/peers/wavefront.rs
//! ../shared/bench-peers/run.sh . list` (it compiles inside the harness only).

use crate::{app, Built, Variant};
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wavefront_axum::WavefrontLayer;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ProxySender;
use wavefront_core::trace::sampling::RateSampler;
use wavefront_core::ApplicationTags;

pub const VARIANT: Variant = Variant {
    name: "wavefront",
    summary: "WavefrontLayer, everything on (WAVEFRONT_BENCH_RED / _SAMPLING turn parts off) -> ProxySender -> local TCP sink",
    build: || build(true),
};

pub const VARIANT_NO_CPU: Variant = Variant {
    name: "wavefront-no-cpu",
    summary: "the same WavefrontLayer with cpu_time(false)",
    build: || build(false),
};

/// A proxy stand-in: reads every connection to the end, counting bytes.
fn proxy_stand_in() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stand-in");
    let port = listener.local_addr().expect("its port").port();
    let read = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&read);
    let named = || std::thread::Builder::new().name("proxy-stand-in".into());
    let _ = named().spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = Arc::clone(&counter);
            let _ = named().spawn(move || {
                let mut stream = stream;
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (port, read)
}

fn build(cpu_time: bool) -> Built {
    let red = std::env::var("WAVEFRONT_BENCH_RED").map_or(true, |v| v != "off");
    let sampling = std::env::var("WAVEFRONT_BENCH_SAMPLING").ok().map(|rate| {
        rate.parse::<f64>()
            .expect("WAVEFRONT_BENCH_SAMPLING: a rate in 0..=1")
    });
    let (port, read) = proxy_stand_in();
    let sender = ProxySender::builder("127.0.0.1")
        .metrics_port(port)
        .tracing_port(port)
        .build();
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .expect("tags");
    let reporter = Reporter::builder(Registry::new(), Arc::new(sender), tags)
        .interval(Duration::from_secs(60))
        .red_metrics(red)
        .tracer(move |tracer| match sampling {
            Some(rate) => tracer.sampler(RateSampler::new(rate).expect("a rate in 0..=1")),
            None => tracer,
        })
        .start();
    let layer = WavefrontLayer::builder(&reporter)
        .cpu_time(cpu_time)
        .build();
    Built {
        router: app().layer(layer),
        finish: Box::new(move || {
            let tracer = reporter.tracer().clone();
            let threads = thread_times();
            let report = reporter.shutdown(Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(200));
            format!(
                "spans received={} dropped={} discarded={}; bytes to proxy={}; red={red}; sampling={sampling:?}; shutdown={report:?}; threads: {}",
                tracer.received(),
                tracer.dropped(),
                tracer.discarded(),
                read.load(Ordering::Relaxed),
                threads,
            )
        }),
    }
}

/// Each thread's time on a CPU so far, in milliseconds, by name (Linux's
/// scheduler statistics; empty elsewhere): where the layer's work ran.
fn thread_times() -> String {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return String::new();
    };
    let mut times: Vec<(String, f64)> = Vec::new();
    for task in tasks.flatten() {
        let read = |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
        let name = read("comm").trim().to_owned();
        let ns: f64 = read("schedstat")
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0);
        match times.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += ns / 1e6,
            None => times.push((name, ns / 1e6)),
        }
    }
    times
        .iter()
        .map(|(name, ms)| format!("{name}={ms:.1}ms"))
        .collect::<Vec<_>>()
        .join(" ")
}
