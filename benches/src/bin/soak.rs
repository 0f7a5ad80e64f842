//! The soak: the Shirts app (axum) under load for a few minutes while its
//! proxy flaps, then a report of what was served, sent and dropped, and of
//! the process's memory over time.
//!
//! ```sh
//! cargo run --release -p wavefront-benches --bin soak            # 5 minutes
//! cargo run --release -p wavefront-benches --bin soak -- 60      # 60 seconds
//! ```
//!
//! The proxy (the testkit's strict receiver on 127.0.0.1) goes away for
//! `OUTAGE` seconds of every 20: it closes its connections and refuses new
//! ones. The SDK must queue meanwhile and drop nothing below its queue caps
//! (50,000 lines per kind: about 2.4 s of spans at 20,000 requests a second,
//! so a 1 s outage and the reconnection fit). Lines already written into a
//! socket the proxy then closes are lost, as raw TCP has no
//! acknowledgements: the report shows them as delivered but not received.
//!
//! `cargo run --release -p wavefront-benches --bin soak -- 300 2` makes the
//! outages 2 s, past what the queues hold at that rate: the overflow is
//! dropped and counted. Clients are 4 threads with keep-alive
//! connections, each bounded by the run's duration. Everything stays on
//! loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use wavefront_benches::Connection;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::{DataKind, ProxySender, Sender};
use wavefront_core::ApplicationTags;
use wavefront_testkit::receiver::Receiver;

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4)
}

/// Requests on one keep-alive connection until `stop`; returns how many
/// were answered.
fn client(addr: SocketAddr, worker: usize, stop: &AtomicBool) -> u64 {
    let mut served = 0;
    'connect: while !stop.load(Ordering::Relaxed) {
        let Ok(mut connection) = Connection::open(addr) else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            // Mostly the make route; now and then an error and a 404.
            let path = match i % 50 {
                0 => "/bad-gateway".to_owned(),
                1 => format!("/no/such/{i}"),
                _ => format!("/style/w{worker}-{}/make", i % 97),
            };
            if connection.get(&path).is_err() {
                continue 'connect;
            }
            served += 1;
        }
    }
    served
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: u64| -> Result<u64, std::num::ParseIntError> {
        std::env::args().nth(n).map_or(Ok(default), |s| s.parse())
    };
    let seconds = arg(1, 300)?;
    let outage = arg(2, 1)?.clamp(1, 10);
    let run_for = Duration::from_secs(seconds);
    let receiver = Receiver::start()?;
    let sender = Arc::new(
        ProxySender::builder("127.0.0.1")
            .metrics_port(receiver.metrics_addr().port())
            .tracing_port(receiver.tracing_addr().port())
            .build(),
    );
    let tags = ApplicationTags::builder("Ordering", "styling").build()?;
    let reporter = Reporter::builder(Registry::new(), sender.clone(), tags)
        .interval(Duration::from_secs(5))
        .start();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(example_axum::serve(listener, &reporter, async {
        stopped.await.unwrap_or(())
    }));

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..4)
        .map(|worker| {
            let (stop, served) = (Arc::clone(&stop), Arc::clone(&served));
            thread::spawn(move || served.fetch_add(client(addr, worker, &stop), Ordering::Relaxed))
        })
        .collect();

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut flaps = 0;
    // The receiver keeps what it got; take it every pass so the process's
    // memory is the app's and the SDK's, not the receiver's.
    let (mut received, mut rejected) = (0usize, 0usize);
    let drain = |receiver: &Receiver, received: &mut usize, rejected: &mut usize| {
        for line in receiver.take_received() {
            *received += 1;
            *rejected += usize::from(line.parsed.is_err());
        }
    };
    println!("soak: {seconds} s, proxy down {outage} s of every 20");
    while started.elapsed() < run_for {
        let second = started.elapsed().as_secs();
        let down = second % 20 >= 20 - outage;
        if down != receiver.faults().refusing_connections() {
            receiver.faults().set_close_after_bytes(down.then_some(0));
            receiver.faults().set_refuse_connections(down);
            flaps += usize::from(down);
        }
        if second.is_multiple_of(10) && samples.last().is_none_or(|&(s, _)| s != second) {
            samples.push((second, rss_kib()));
            println!("  {second:>4} s  rss {:>7} KiB", rss_kib());
        }
        drain(&receiver, &mut received, &mut rejected);
        thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    receiver.faults().set_close_after_bytes(None);
    receiver.faults().set_refuse_connections(false);
    for client in clients {
        let _ = client.join();
    }
    let _ = stop_server.send(());
    let _ = runtime.block_on(server);
    let report = reporter.shutdown(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while received < report.delivered as usize && Instant::now() < deadline {
        drain(&receiver, &mut received, &mut rejected);
        thread::sleep(Duration::from_millis(50));
    }

    let served = served.load(Ordering::Relaxed);
    println!(
        "requests served      {served} ({:.0}/s)",
        served as f64 / run_for.as_secs_f64()
    );
    println!("proxy outages        {flaps} ({outage} s each)");
    for kind in DataKind::ALL {
        let k = sender.stats().kind(kind);
        println!(
            "{:<20} sent {:>9}  dropped {:>6}  errors {:>5}",
            format!("{kind:?}"),
            k.valid(),
            k.dropped(),
            k.report_errors()
        );
    }
    println!("lines received       {received}");
    println!("rejected by parser   {rejected}");
    let peak = samples.iter().map(|&(_, kib)| kib).max().unwrap_or(0);
    let half = samples.len() / 2;
    let mean = |s: &[(u64, u64)]| s.iter().map(|&(_, k)| k).sum::<u64>() / s.len().max(1) as u64;
    println!(
        "rss                  peak {peak} KiB; mean {} KiB first half, {} KiB second half",
        mean(&samples[..half]),
        mean(&samples[half..])
    );
    println!("delivered {} dropped {}", report.delivered, report.dropped);
    Ok(())
}
