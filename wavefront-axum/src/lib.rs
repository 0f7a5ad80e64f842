//! Wavefront metrics, histograms and traces for [axum](https://docs.rs/axum):
//! one layer.
//!
//! ```no_run
//! use axum::Router;
//! use wavefront_axum::routing::get;
//! use wavefront_axum::WavefrontLayer;
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::ApplicationTags;
//!
//! async fn make_shirts() -> &'static str {
//!     "Shirts made."
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let defaults = ApplicationTags::builder("Ordering", "styling").build()?;
//! let reporter = Reporter::from_env(&defaults)?; // WAVEFRONT_URL etc.; unset: print to stdout
//! let app = Router::new()
//!     .route("/style/{id}/make", get(make_shirts))
//!     .layer(WavefrontLayer::new(&reporter));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! reporter.shutdown(std::time::Duration::from_secs(10));
//! # Ok(()) }
//! ```
//!
//! # What is recorded
//!
//! Every series and span of the Flask SDK's tables, with `axum` where Flask
//! says `flask` (see [`wavefront_core::naming`]): in-flight gauges per route
//! and in total; per route, method and status a cumulative counter, delta
//! counters aggregated per shard, service, cluster and application, and the
//! `latency` (milliseconds) and `cpu_ns` minute histograms; completed and
//! error totals; a server span per request (operation = the handler's name)
//! with its tags, `error=true` and an error span log for 4xx and 5xx; and the
//! `~component.heartbeat` for `axum`.
//!
//! # Placing the layer
//!
//! Add it with [`Router::layer`](axum::Router::layer) after the routes, so it
//! sees axum's [`MatchedPath`](axum::extract::MatchedPath) (nested routers
//! give the full template). It also sees requests that matched no route:
//! they are recorded under the route `unmatched`, never under their raw path,
//! as are requests a route refused with `405`. With
//! [`route_layer`](axum::Router::route_layer) it sees matched routes only.
//!
//! # Handler names
//!
//! axum does not know a handler's name, so the routing functions in
//! [`routing`] (drop-in replacements for axum's) and [`named`] wrap handlers
//! to record theirs (`make_shirts`), the `axum.func` tag and the span's
//! operation. A handler used through axum's own `get`/`post` is named after
//! its route instead (`GET /style/{id}/make`).
//!
//! # The current span
//!
//! Handlers take the request's span as an argument ([`CurrentSpan`]), to add
//! tags or logs or to continue the trace in outgoing calls:
//!
//! ```
//! use wavefront_axum::CurrentSpan;
//!
//! async fn checkout(span: CurrentSpan) -> &'static str {
//!     span.set_tag("cart.items", "3");
//!     "ok"
//! }
//! ```
//!
//! # Panics and aborted requests
//!
//! A handler that panics is recorded as a 500 with an error span whose log
//! holds the panic message; the panic then continues as axum would have it
//! (put `tower_http::catch_panic::CatchPanicLayer` outside this layer to
//! answer 500). A client that disconnects before the response is recorded as
//! `499`; one that disconnects during a streamed body keeps the status and
//! the time until the disconnect. The in-flight gauges are always balanced.
//!
//! # When a request ends
//!
//! An answer already made (a body of known size, at most
//! [`SENT_AT_ONCE`](wavefront_core::lifecycle::SENT_AT_ONCE) bytes: text,
//! JSON) is recorded when its response leaves the layer, as the reference
//! SDK records it, and goes to axum unwrapped: the layer allocates nothing
//! for it. A streamed or larger body is recorded when it has been sent.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod layer;
pub mod routing;
mod span;

pub use layer::{AxumBody, AxumRoute, WavefrontLayer, WavefrontService};
pub use routing::{named, named_as, Named};
pub use span::{CurrentSpan, NoSpan};
pub use wavefront_core::lifecycle::ResponseFuture;
pub use wavefront_core::trace::SpanHandle;

/// The component name of this adapter: the series prefix and the
/// heartbeat's `component`.
pub const COMPONENT: &str = "axum";
