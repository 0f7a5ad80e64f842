//! Wavefront metrics, histograms and traces for [rocket](https://rocket.rs)
//! 0.5: one fairing, and [`wrap`] around the routes.
//!
//! ```no_run
//! use rocket::{get, routes};
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::ApplicationTags;
//! use wavefront_rocket::WavefrontFairing;
//!
//! #[get("/style/<id>/make")]
//! fn make_shirts(id: &str) -> String {
//!     format!("Shirts {id} made.")
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let defaults = ApplicationTags::builder("Ordering", "styling").build()?;
//! let reporter = Reporter::from_env(&defaults)?; // WAVEFRONT_URL etc.; unset: print to stdout
//! let _ = rocket::build()
//!     .mount("/", wavefront_rocket::wrap(routes![make_shirts]))
//!     .attach(WavefrontFairing::new(&reporter))
//!     .launch()
//!     .await?;
//! reporter.shutdown(std::time::Duration::from_secs(10));
//! # Ok(()) }
//! ```
//!
//! # What is recorded
//!
//! Every series and span of the Flask SDK's tables, with `rocket` where Flask
//! says `flask` (see [`wavefront_core::naming`]): in-flight gauges per route
//! and in total; per route (the mounted template, `/style/<id>/make`),
//! method and status a cumulative counter, delta counters aggregated per
//! shard, service, cluster and application, and the `latency` (milliseconds,
//! until the response body has been sent) and `cpu_ns` minute histograms;
//! completed and error totals; a server span per request (operation = the
//! handler's function name, also the `rocket.func` tag) with its tags,
//! `error=true` and an error span log for 4xx and 5xx; and the
//! `~component.heartbeat` for `rocket`.
//!
//! Requests that no route answered (no route matched, or every matching route
//! forwarded and a catcher answered, `404` or `422`) are recorded under the
//! route `unmatched`, never under their raw path. A `HEAD` request that rocket
//! answers with its `GET` route is recorded as `HEAD`.
//!
//! # What rocket lets the SDK see
//!
//! The fairing starts a request in [`Fairing::on_request`] and learns its
//! route only in [`Fairing::on_response`], after the handler has answered:
//! the total in-flight gauge counts a request throughout, but its route's
//! in-flight gauge counts it only from then until its body has been sent.
//! Attach the fairing before other fairings so their time is included.
//!
//! `cpu_ns` is the CPU time of the fairing's two callbacks and of the
//! handler; what rocket spends routing between them is not seen. The
//! handlers that [`wrap`] wraps tell the fairing which route answered,
//! measure the handler's CPU time and keep a panic's message for the error
//! span log (rocket still answers the panic with its `500` catcher). Routes
//! mounted without `wrap` are recorded under the last route rocket tried, so
//! a catcher that answered after all of them forwarded cannot be told apart
//! from a handler's answer; a panic there is recorded as the 500 without its
//! message, and the handler's CPU time is not measured.
//!
//! # The current span
//!
//! Handlers reach the request's span through the [`CurrentSpan`] request
//! guard, to add tags or logs or to continue the trace in outgoing calls:
//!
//! ```
//! use rocket::get;
//! use wavefront_rocket::CurrentSpan;
//!
//! #[get("/checkout")]
//! fn checkout(span: CurrentSpan) -> &'static str {
//!     span.set_tag("cart.items", "3");
//!     "ok"
//! }
//! ```
//!
//! # Aborted requests
//!
//! A client that disconnects before the response is sent is recorded with
//! the response's status; one that disconnects during a body keeps the
//! status and the time until the disconnect. The in-flight gauges are always
//! balanced. Requests rocket rejects before any fairing runs (unparsable
//! HTTP) are not recorded.
//!
//! # Feature flags
//!
//! | feature | default | what |
//! |---|---|---|
//! | `direct` | yes | `wavefront_core::sender::DirectSender` (direct ingestion over HTTPS) |
//!
//! [`Fairing::on_request`]: rocket::fairing::Fairing::on_request
//! [`Fairing::on_response`]: rocket::fairing::Fairing::on_response

#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod fairing;
mod span;
mod state;
mod wrap;

pub use fairing::WavefrontFairing;
pub use span::CurrentSpan;
pub use wavefront_core::trace::SpanHandle;
pub use wrap::wrap;

/// The component name of this adapter: the series prefix and the
/// heartbeat's `component`.
pub const COMPONENT: &str = "rocket";
