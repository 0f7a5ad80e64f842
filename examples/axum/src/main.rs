//! The Shirts app on axum: `cargo run -p example-axum` prints what would be
//! sent at each report. Set `WAVEFRONT_URL` (`proxy://host:2878` or
//! `https://TOKEN@host`) to send it, or leave it unset and set
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (`http://collector:4318`) to send OTLP;
//! `BIND_ADDR` (default `127.0.0.1:8080`)
//! to listen elsewhere; the other `WAVEFRONT_*` variables override the
//! application tags below. SIGINT or SIGTERM stop it after a full flush.

use std::time::Duration;

use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let defaults = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .custom_tag("location", "Oregon")
        .custom_tag("env", "Staging")
        .build()?;
    let reporter = Reporter::from_env(&defaults)?;

    let addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on {}", listener.local_addr()?);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(example_axum::serve(listener, &reporter, async {
        stopped.await.unwrap_or(())
    }));
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
