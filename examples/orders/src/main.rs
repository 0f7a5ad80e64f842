//! An orders service on axum whose handler uses what Rust services already
//! use, all reported to Wavefront:
//!
//! ```text
//! GET /orders/{id}/checkout   200 "order {id} checked out"   (checkout)
//! ```
//!
//! The handler opens a `tracing` span with an event in it, calls
//! `charge_card` (`#[tracing::instrument]`), which GETs
//! `$PAYMENTS_URL/charge/{id}` through the instrumented reqwest client
//! (skipped when `PAYMENTS_URL` is unset), and records through the `metrics`
//! facade. Each becomes a child span, a span log, a client span carrying the
//! trace, a counter and a minute histogram.
//!
//! `cargo run -p example-orders` prints what would be sent. `BIND_ADDR`
//! (default `127.0.0.1:8080`) and the `WAVEFRONT_*` variables as in
//! `example-axum`; SIGINT or SIGTERM stop it after a full flush.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::Router;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tracing_subscriber::layer::SubscriberExt;
use wavefront_axum::routing::get;
use wavefront_axum::WavefrontLayer;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;

#[derive(Clone)]
struct Payments {
    client: ClientWithMiddleware,
    url: Option<String>,
}

#[tracing::instrument(skip(payments))]
async fn charge_card(payments: &Payments, id: &str) {
    let Some(url) = &payments.url else { return };
    match payments
        .client
        .get(format!("{url}/charge/{id}"))
        .send()
        .await
    {
        Ok(response) => tracing::info!(status = response.status().as_u16(), "charged"),
        Err(error) => tracing::error!(%error, "the payment service failed"),
    }
}

async fn checkout(State(payments): State<Payments>, Path(id): Path<String>) -> String {
    {
        let _reserve = tracing::info_span!("reserve_stock").entered();
        tracing::info!(items = 3, "reserved");
    }
    charge_card(&payments, &id).await;
    metrics::counter!("orders.checked_out", "tier" => "gold").increment(1);
    metrics::histogram!("orders.basket_items").record(3.0);
    format!("order {id} checked out")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let defaults = ApplicationTags::builder("Ordering", "orders")
        .cluster("us-west-1")
        .shard("primary")
        .build()?;
    let reporter = Reporter::from_env(&defaults)?;
    // `tracing` spans, and the `metrics` facade, report through it too.
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(wavefront_tracing::WavefrontTracingLayer::new(&reporter)),
    )?;
    wavefront_metrics::WavefrontRecorder::new(&reporter).install()?;

    let payments = Payments {
        client: ClientBuilder::new(reqwest::Client::new())
            .with(wavefront_reqwest::WavefrontMiddleware)
            .build(),
        url: std::env::var("PAYMENTS_URL").ok(),
    };
    let app = Router::new()
        .route("/orders/{id}/checkout", get(checkout))
        .layer(WavefrontLayer::new(&reporter))
        .with_state(payments);

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
    // Give open requests 5 s, then report and flush (4 s more at most).
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
