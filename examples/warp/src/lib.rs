//! The Shirts app of the Flask SDK's README, on warp (its `main` serves it;
//! the conformance suite runs it too).
//!
//! ```text
//! GET|HEAD /style/{id}/make    200 "Shirts {id} made."   (make_shirts)
//! GET /bad-gateway             502                       (bad_gateway)
//! GET /orders/{order_id}/crash the handler panics: 500   (crash)
//! anything else                404
//! ```

use std::future::Future;

use tower_http::catch_panic::CatchPanicLayer;
use tower_layer::Layer;
use warp::http::StatusCode;
use warp::Filter;
use wavefront_core::reporter::Reporter;
use wavefront_warp::{route, WavefrontLayer};

/// Serves the app on `listener`, instrumented through `reporter`, until
/// `shutdown` completes.
pub fn serve(
    listener: tokio::net::TcpListener,
    reporter: &Reporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
    let make_shirts = warp::path!("style" / String / "make")
        .and(warp::get().or(warp::head()).unify())
        .and(route("/style/{id}/make", "make_shirts"))
        .map(|id: String| format!("Shirts {id} made."));
    let bad_gateway = warp::path!("bad-gateway")
        .and(warp::get())
        .and(route("/bad-gateway", "bad_gateway"))
        .map(|| warp::reply::with_status(warp::reply(), StatusCode::BAD_GATEWAY));
    let crash = warp::path!("orders" / u64 / "crash")
        .and(warp::get())
        .and(route("/orders/{order_id}/crash", "crash"))
        .map(|order_id: u64| -> &'static str { panic!("order {order_id} cannot be processed") });
    let routes = make_shirts.or(bad_gateway).or(crash);
    // Outside the Wavefront layer: it records the panic, then this turns it
    // into a 500 for the client.
    let service =
        CatchPanicLayer::new().layer(WavefrontLayer::new(reporter).layer(warp::service(routes)));
    wavefront_warp::serve(listener, service, shutdown)
}
