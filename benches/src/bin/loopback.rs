//! Loopback HTTP: the Shirts app served by axum on 127.0.0.1 (one tokio
//! worker, with the SDK's threads and the proxy stand-in, on the second core
//! when there is one), bare and with the
//! `WavefrontLayer` (everything on, and `cpu_time(false)`), loaded by
//! closed-loop keep-alive clients (on the first core) in alternating rounds:
//! every round runs every variant once, starting one further along each
//! round, so the machine's drift spreads over all of them. Spans go over TCP
//! to a proxy stand-in that reads and drops them.
//!
//! ```sh
//! cargo run --release -p wavefront-benches --bin loopback               # 5 rounds of 5 s, 2 connections
//! cargo run --release -p wavefront-benches --bin loopback -- 3 2 4      # 3 s a run, 2 rounds, 4 connections
//! cargo run --release -p wavefront-benches --bin loopback -- 5 5 2 apart
//! ```
//!
//! `apart` moves the SDK's threads and the proxy stand-in to the clients'
//! core, leaving the server's core to the server: what the layer costs a
//! request on its own, without its background work beside it.
//!
//! Prints a Markdown table: requests a second, and the p50 and p99 latency
//! the clients saw (each run after a one-second warm-up), medians over the
//! rounds, and the ratio of each round's requests a second to bare's in the
//! same round. The request mix repeats every ten: eight `/style/{id}/make`
//! (200), one `/fail` (502), one unknown path (404).

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use hdrhistogram::Histogram;
use wavefront_axum::WavefrontLayer;
use wavefront_benches::Connection;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ProxySender;
use wavefront_core::ApplicationTags;

/// What is measured: bare, or the layer with CPU time on or off.
#[derive(Clone, Copy)]
enum Variant {
    Bare,
    Wavefront { cpu_time: bool },
}

impl Variant {
    const ALL: [Variant; 3] = [
        Variant::Bare,
        Variant::Wavefront { cpu_time: true },
        Variant::Wavefront { cpu_time: false },
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Bare => "bare axum",
            Variant::Wavefront { cpu_time: true } => "WavefrontLayer, everything on",
            Variant::Wavefront { cpu_time: false } => "WavefrontLayer, `cpu_time(false)`",
        }
    }
}

/// One run's result.
struct Run {
    per_second: f64,
    p50_us: u64,
    p99_us: u64,
}

/// Where the clients and the server run (on a machine with two cores).
const CLIENT_CPU: usize = 0;
const SERVER_CPU: usize = 1;

/// Pins the calling thread to `cpu`, when the machine has it.
fn pin(cpu: usize) {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: a zeroed `cpu_set_t` is a valid empty set; the call reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % cores, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A proxy stand-in on 127.0.0.1 that reads whatever it is sent.
fn proxy_stand_in(cpu: usize) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    thread::spawn(move || {
        pin(cpu);
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut stream = stream;
                let mut buf = vec![0u8; 64 * 1024];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    Ok(port)
}

async fn make_shirts(Path(id): Path<String>) -> String {
    format!("Shirts {id} made.")
}

async fn fail() -> StatusCode {
    StatusCode::BAD_GATEWAY
}

fn app(variant: Variant, reporter: &Reporter) -> Router {
    let app = Router::new()
        .route("/style/{id}/make", get(make_shirts))
        .route("/fail", get(fail));
    match variant {
        Variant::Bare => app,
        Variant::Wavefront { cpu_time } => {
            app.layer(WavefrontLayer::builder(reporter).cpu_time(cpu_time).build())
        }
    }
}

/// The request mix, by request number.
fn path(i: u64) -> String {
    match i % 10 {
        8 => "/fail".to_owned(),
        9 => "/no/such/page".to_owned(),
        _ => format!("/style/{}/make", i % 800),
    }
}

/// Serves `variant` and loads it for `warmup` then `measure`.
fn run(
    variant: Variant,
    proxy_port: u16,
    connections: usize,
    sdk_cpu: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<Run, Box<dyn std::error::Error>> {
    let tags = ApplicationTags::builder("Ordering", "styling").build()?;
    let sender = ProxySender::builder("127.0.0.1")
        .metrics_port(proxy_port)
        .tracing_port(proxy_port)
        .build();
    // The reporter's and the sender's threads start on `sdk_cpu`; the
    // server's runtime, made next, on the server's.
    pin(sdk_cpu);
    let reporter = Reporter::builder(Registry::new(), Arc::new(sender), tags)
        .interval(Duration::from_secs(60))
        .start();
    pin(SERVER_CPU);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr: SocketAddr = listener.local_addr()?;
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn({
        let app = app(variant, &reporter);
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    stopped.await.unwrap_or(());
                })
                .await
        }
    });

    let started = Instant::now();
    let (measure_from, end) = (started + warmup, started + warmup + measure);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..connections)
        .map(|c| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || -> std::io::Result<Histogram<u64>> {
                pin(CLIENT_CPU);
                let mut latencies = Histogram::<u64>::new(3).map_err(std::io::Error::other)?;
                let mut connection = Connection::open(addr)?;
                let mut i = c as u64 * 7;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    connection.get(&path(i))?;
                    let done = Instant::now();
                    if sent >= measure_from && done <= end {
                        latencies.saturating_record(done.duration_since(sent).as_micros() as u64);
                    }
                    i += 1;
                }
                Ok(latencies)
            })
        })
        .collect();
    thread::sleep(end.saturating_duration_since(Instant::now()));
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Histogram::<u64>::new(3)?;
    for client in clients {
        let client = client.join().map_err(|_| "a client panicked")??;
        latencies.add(&client)?;
    }
    let _ = stop_server.send(());
    runtime.block_on(server)??;
    reporter.shutdown(Duration::from_secs(10));
    Ok(Run {
        per_second: latencies.len() as f64 / measure.as_secs_f64(),
        p50_us: latencies.value_at_quantile(0.50),
        p99_us: latencies.value_at_quantile(0.99),
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: u64| -> Result<u64, std::num::ParseIntError> {
        std::env::args().nth(n).map_or(Ok(default), |s| s.parse())
    };
    let seconds = arg(1, 5)?.clamp(1, 60);
    let rounds = arg(2, 5)?.clamp(1, 20) as usize;
    let connections = arg(3, 2)?.clamp(1, 64) as usize;
    // The server's side (its worker, the SDK's threads, the proxy stand-in)
    // on one core, as a service shares its cores with its SDK, unless
    // `apart`; the clients on the other.
    let apart = std::env::args().nth(4).is_some_and(|a| a == "apart");
    let sdk_cpu = if apart { CLIENT_CPU } else { SERVER_CPU };
    pin(SERVER_CPU);
    let proxy_port = proxy_stand_in(sdk_cpu)?;
    let mut runs: Vec<Vec<Run>> = Variant::ALL.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for k in 0..Variant::ALL.len() {
            let at = (round + k) % Variant::ALL.len();
            let variant = Variant::ALL[at];
            let result = run(
                variant,
                proxy_port,
                connections,
                sdk_cpu,
                Duration::from_secs(1),
                Duration::from_secs(seconds),
            )?;
            eprintln!(
                "round {} {}: {:.0} req/s, p50 {} µs, p99 {} µs",
                round + 1,
                variant.name(),
                result.per_second,
                result.p50_us,
                result.p99_us
            );
            runs[at].push(result);
        }
    }
    let sdk = if apart {
        "the clients'"
    } else {
        "the server's"
    };
    println!(
        "Loopback HTTP/1.1: {connections} keep-alive connections, {seconds} s a run after 1 s of warm-up, {rounds} rounds; server: 1 tokio worker; the SDK's threads and the proxy stand-in on {sdk} core\n"
    );
    println!(
        "| variant | req/s (median) | min..max | × bare (paired per round) | p50 µs | p99 µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let bare = &runs[0];
    for (variant, runs) in Variant::ALL.iter().zip(&runs) {
        let per_second: Vec<f64> = runs.iter().map(|r| r.per_second).collect();
        let paired: Vec<f64> = runs
            .iter()
            .zip(bare)
            .map(|(r, b)| r.per_second / b.per_second)
            .collect();
        let (min, max) = per_second
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        println!(
            "| {} | {:.0} | {:.0}..{:.0} | {:.3} | {:.0} | {:.0} |",
            variant.name(),
            median(per_second),
            min,
            max,
            median(paired),
            median(runs.iter().map(|r| r.p50_us as f64).collect()),
            median(runs.iter().map(|r| r.p99_us as f64).collect()),
        );
    }
    Ok(())
}
