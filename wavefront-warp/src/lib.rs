//! Wavefront metrics, histograms and traces for [warp](https://docs.rs/warp)
//! 0.4: one layer around the service, and a marker on each route.
//!
//! ```no_run
//! use tower_layer::Layer;
//! use warp::Filter;
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::ApplicationTags;
//! use wavefront_warp::{route, WavefrontLayer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let defaults = ApplicationTags::builder("Ordering", "styling").build()?;
//! let reporter = Reporter::from_env(&defaults)?; // WAVEFRONT_URL etc.; unset: print to stdout
//! let make_shirts = warp::path!("style" / String / "make")
//!     .and(warp::get())
//!     .and(route("/style/{id}/make", "make_shirts")) // the route's template and handler
//!     .map(|id: String| format!("Shirts {id} made."));
//! let service = WavefrontLayer::new(&reporter).layer(warp::service(make_shirts));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! wavefront_warp::serve(listener, service, std::future::pending()).await?;
//! reporter.shutdown(std::time::Duration::from_secs(10));
//! # Ok(()) }
//! ```
//!
//! # What warp lets the SDK see
//!
//! warp's filters carry no route template and no handler name, so each route
//! declares them with [`route`], placed after the filters that match the path
//! and the method: it runs only when they matched, so a branch of an `or`
//! chain that rejects the request never records it. A request no marked
//! route took (warp's 404 and 405) is recorded under the route `unmatched`,
//! never its raw path. When two marked branches both match, the first wins.
//!
//! The series and spans are those of the Flask SDK's tables with `warp`
//! where Flask says `flask`, and the tag `warp.func`: in-flight gauges per
//! route and in total, per-status counters and delta counters, `latency`
//! and `cpu_ns` minute histograms (timing covers the body to its end),
//! completed and error totals, and one server span per request.
//!
//! # Serving
//!
//! `warp::serve` takes filters only, so the instrumented service is served
//! with [`serve`] (HTTP/1 and HTTP/2, graceful shutdown), or by any hyper 1
//! server loop. warp does not catch panics: put
//! `tower_http::catch_panic::CatchPanicLayer` outside the layer to answer a
//! panicking handler with a 500; the layer records the panic's message.
//!
//! # The current span
//!
//! [`span`] extracts the request's [`SpanHandle`], to add tags or logs or to
//! continue the trace in outgoing calls.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod layer;
mod serve;

pub use layer::{route, span, NoSpan, WavefrontLayer, WavefrontService};
pub use serve::serve;
pub use wavefront_core::lifecycle::ResponseFuture;
pub use wavefront_core::trace::SpanHandle;

/// The component name of this adapter: the series prefix and the
/// heartbeat's `component`.
pub const COMPONENT: &str = "warp";
