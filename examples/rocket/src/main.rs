//! The Shirts app of the Flask SDK's README, on rocket, reporting to Wavefront.
//!
//! ```text
//! GET /style/<id>/make          200 "Shirts {id} made."   (make_shirts)
//! GET /bad-gateway              502                       (bad_gateway)
//! GET /orders/<order_id>/crash  the handler panics: 500   (crash)
//! anything else                 404
//! ```
//!
//! `cargo run -p example-rocket` prints what would be sent at each report.
//! Set `WAVEFRONT_URL` (`proxy://host:2878` or `https://TOKEN@host`) to send
//! it; `BIND_ADDR` (default `127.0.0.1:8080`) to listen elsewhere; the other
//! `WAVEFRONT_*` variables override the application tags below.

use std::net::SocketAddr;
use std::time::Duration;

use rocket::config::{LogLevel, Shutdown};
use rocket::fairing::AdHoc;
use rocket::Config;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let defaults = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .custom_tag("location", "Oregon")
        .custom_tag("env", "Staging")
        .build()?;
    let reporter = Reporter::from_env(&defaults)?;

    let addr: SocketAddr = std::env::var("BIND_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
        .parse()?;
    let config = Config {
        address: addr.ip(),
        port: addr.port(),
        // Rocket's own logging is off: stdout carries only the SDK's lines.
        log_level: LogLevel::Off,
        // SIGINT and SIGTERM stop the server, giving open requests 2 s.
        shutdown: Shutdown {
            ctrlc: true,
            #[cfg(unix)]
            signals: [rocket::config::Sig::Term].into_iter().collect(),
            grace: 2,
            mercy: 1,
            ..Shutdown::default()
        },
        ..Config::release_default()
    };

    let rocket = example_rocket::rocket(config, &reporter).attach(AdHoc::on_liftoff(
        "listening",
        |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                eprintln!(
                    "listening on {}",
                    SocketAddr::new(config.address, config.port)
                );
            })
        },
    ));
    rocket.launch().await?;

    // Report and flush (4 s at most).
    let report =
        rocket::tokio::task::spawn_blocking(move || reporter.shutdown(Duration::from_secs(4)))
            .await?;
    eprintln!(
        "stopped: {} lines delivered, {} dropped",
        report.delivered, report.dropped
    );
    Ok(())
}
