//! Every adapter of the workspace serves the Shirts app to the conformance
//! kit, and all of them report the same series and spans once the
//! component prefix is normalised away.

use std::future::Future;
use std::net::SocketAddr;

use wavefront_core::reporter::Reporter;
use wavefront_testkit::conformance::{Conformance, Outcome, RunningServer};

/// Runs an example's `serve` on its own runtime and thread.
fn on_thread<F>(
    serve: impl FnOnce(tokio::net::TcpListener, tokio::sync::oneshot::Receiver<()>) -> F,
) -> RunningServer
where
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = serve(listener, stopped);
    let thread = std::thread::spawn(move || runtime.block_on(served).unwrap());
    RunningServer::new(addr, move || {
        let _ = stop.send(());
        thread.join().unwrap();
    })
}

async fn until(stopped: tokio::sync::oneshot::Receiver<()>) {
    stopped.await.unwrap_or(());
}

fn axum(reporter: &Reporter) -> RunningServer {
    on_thread(|listener, stopped| example_axum::serve(listener, reporter, until(stopped)))
}

fn warp(reporter: &Reporter) -> RunningServer {
    on_thread(|listener, stopped| example_warp::serve(listener, reporter, until(stopped)))
}

fn custom_server(reporter: &Reporter) -> RunningServer {
    on_thread(|listener, stopped| example_custom_server::serve(listener, reporter, until(stopped)))
}

/// Starts one framework's Shirts app.
type Start = fn(&Reporter) -> RunningServer;

fn conform(component: &str, start: Start) -> Outcome {
    Conformance::new(component)
        .run(start)
        .unwrap_or_else(|failures| panic!("{component}: {failures}"))
}

#[test]
fn axum_conforms() {
    conform("axum", axum);
}

#[test]
fn warp_conforms() {
    conform("warp", warp);
}

#[test]
fn the_custom_server_conforms() {
    conform("hyper", custom_server);
}

#[test]
fn every_adapter_reports_the_same_series_and_spans() {
    let reference = conform("axum", axum);
    let others: [(&str, Start); 3] = [("warp", warp), ("rocket", rocket), ("hyper", custom_server)];
    for (component, start) in others {
        let outcome = conform(component, start);
        let (ours, theirs) = (reference.transcript(), outcome.transcript());
        let only_axum: Vec<_> = ours.iter().filter(|l| !theirs.contains(l)).collect();
        let only_other: Vec<_> = theirs.iter().filter(|l| !ours.contains(l)).collect();
        assert!(
            only_axum.is_empty() && only_other.is_empty(),
            "axum and {component} differ:\nonly axum: {only_axum:#?}\nonly {component}: {only_other:#?}"
        );
        assert_eq!(ours, theirs);
    }
}

fn rocket(reporter: &Reporter) -> RunningServer {
    use rocket::config::{LogLevel, Shutdown};
    let config = rocket::Config {
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: LogLevel::Off,
        shutdown: Shutdown {
            ctrlc: false,
            #[cfg(unix)]
            signals: Default::default(),
            grace: 1,
            mercy: 1,
            ..Shutdown::default()
        },
        ..rocket::Config::debug_default()
    };
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let app = example_rocket::rocket(config, reporter).attach(rocket::fairing::AdHoc::on_liftoff(
        "port",
        move |rocket| {
            Box::pin(async move {
                let _ = port_tx.send(rocket.config().port);
            })
        },
    ));
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        rocket::execute(async move {
            let ignited = app.ignite().await.unwrap();
            let _ = handle_tx.send(ignited.shutdown());
            ignited.launch().await.unwrap();
        })
    });
    let shutdown = handle_rx.recv().unwrap();
    let port = port_rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap();
    RunningServer::new(SocketAddr::from(([127, 0, 0, 1], port)), move || {
        shutdown.notify();
        thread.join().unwrap();
    })
}

#[test]
fn rocket_conforms() {
    conform("rocket", rocket);
}
