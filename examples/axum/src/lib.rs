//! The Shirts app of the Flask SDK's README, on axum (its `main` serves it;
//! the conformance suite runs it too).
//!
//! ```text
//! GET|HEAD /style/{id}/make    200 "Shirts {id} made."   (make_shirts)
//! GET /bad-gateway             502                       (bad_gateway)
//! GET /orders/{order_id}/crash the handler panics: 500   (crash)
//! anything else                404
//! ```

use std::future::Future;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use wavefront_axum::routing::get;
use wavefront_axum::WavefrontLayer;
use wavefront_core::reporter::Reporter;

async fn make_shirts(Path(id): Path<String>) -> String {
    format!("Shirts {id} made.")
}

async fn bad_gateway() -> StatusCode {
    StatusCode::BAD_GATEWAY
}

async fn crash(Path(order_id): Path<u64>) -> &'static str {
    panic!("order {order_id} cannot be processed")
}

/// The app, instrumented through `reporter`.
pub fn app(reporter: &Reporter) -> Router {
    Router::new()
        .route("/style/{id}/make", get(make_shirts))
        .route("/bad-gateway", get(bad_gateway))
        .route("/orders/{order_id}/crash", get(crash))
        .layer(WavefrontLayer::new(reporter))
        // Outside the Wavefront layer: it records the panic, then this
        // turns it into a 500 for the client.
        .layer(CatchPanicLayer::new())
}

/// Serves the app on `listener` until `shutdown` completes.
pub fn serve(
    listener: tokio::net::TcpListener,
    reporter: &Reporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
    let app = app(reporter);
    async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
