//! The Shirts app of the Flask SDK's README, on axum, reporting to Wavefront.
//!
//! ```text
//! GET /style/{id}/make        200 "Shirts {id} made."   (make_shirts)
//! GET /bad-gateway            502                       (bad_gateway)
//! GET /orders/{order_id}/crash  the handler panics: 500 (crash)
//! anything else               404
//! ```
//!
//! `cargo run -p example-axum` prints what would be sent at each report.
//! Set `WAVEFRONT_URL` (`proxy://host:2878` or `https://TOKEN@host`) to send
//! it; `BIND_ADDR` (default `127.0.0.1:8080`) to listen elsewhere; the other
//! `WAVEFRONT_*` variables override the application tags below.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use wavefront_axum::routing::get;
use wavefront_axum::WavefrontLayer;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;

async fn make_shirts(Path(id): Path<String>) -> String {
    format!("Shirts {id} made.")
}

async fn bad_gateway() -> StatusCode {
    StatusCode::BAD_GATEWAY
}

async fn crash(Path(order_id): Path<u64>) -> &'static str {
    panic!("order {order_id} cannot be processed")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let defaults = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .custom_tag("location", "Oregon")
        .custom_tag("env", "Staging")
        .build()?;
    let reporter = Reporter::from_env(&defaults)?;

    let app = Router::new()
        .route("/style/{id}/make", get(make_shirts))
        .route("/bad-gateway", get(bad_gateway))
        .route("/orders/{order_id}/crash", get(crash))
        .layer(WavefrontLayer::new(&reporter))
        // Outside the Wavefront layer: it records the panic, then this
        // turns it into a 500 for the client.
        .layer(CatchPanicLayer::new());

    let addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on {}", listener.local_addr()?);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async { stopped.await.unwrap_or(()) })
            .await
    });
    shutdown_signal().await;
    let _ = stop.send(());
    // Give open requests 5 s, then report and flush (5 s more at most).
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let report =
        tokio::task::spawn_blocking(move || reporter.shutdown(Duration::from_secs(4))).await?;
    eprintln!(
        "stopped: {} lines delivered, {} dropped",
        report.delivered, report.dropped
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return drop(ctrl_c.await),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
