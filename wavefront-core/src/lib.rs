//! The framework-neutral core of the Wavefront observability SDK for Rust web
//! services.
//!
//! Adapters (`wavefront-axum`, `wavefront-warp`, `wavefront-rocket`) and
//! anyone instrumenting another server depend on this crate. It never depends
//! on a web framework, and nothing it does on a request's path blocks, locks
//! or performs I/O: recording is a few atomic operations, and formatting and
//! sending happen on the reporter's and the senders' own threads.
//!
//! # What is in it
//!
//! | module | what |
//! |---|---|
//! | [`wire`], [`sanitize`] | the Wavefront line formats (metric, delta counter, histogram, span, span logs), byte for byte the reference SDK's, into reusable buffers |
//! | [`naming`], [`ApplicationTags`] | the series names and tags of the framework SDKs, for any component prefix |
//! | [`registry`], [`metric`], [`histogram`] | series by name and tag set; counters, delta counters, gauges and minute-binned Wavefront histograms, recorded without locks |
//! | [`trace`], [`red`] | spans, propagation (Wavefront, W3C, B3), sampling, and RED metrics derived from spans |
//! | [`export`] | what the reporter hands its data to: the Wavefront line formats, or OTLP (feature `otlp`) |
//! | [`sender`] | delivery to a proxy (TCP), by direct ingestion (HTTPS), or to the console, from bounded queues |
//! | [`reporter`], [`config`] | the periodic reporter (heartbeats, SDK diagnostics, spans every second) and configuration from the environment |
//! | [`lifecycle`] | what a server does per request: the contract an adapter implements |
//!
//! # Getting started
//!
//! Applications use an adapter (`wavefront-axum`, `wavefront-warp`,
//! `wavefront-rocket`) with a [`reporter::Reporter`]:
//!
//! ```
//! use std::time::Duration;
//! use wavefront_core::{reporter::Reporter, ApplicationTags};
//!
//! let defaults = ApplicationTags::builder("Ordering", "styling").build()?;
//! // WAVEFRONT_URL=proxy://host:2878, https://TOKEN@instance, or otlp://collector:4318
//! // (feature `otlp`, as is OTEL_EXPORTER_OTLP_ENDPOINT); unset: print to stdout.
//! let reporter = Reporter::from_env(&defaults)?;
//! reporter.registry().counter("orders.count", &[("region", "eu")]).inc();
//! reporter.shutdown(Duration::from_secs(5)); // flushes everything
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Instrumenting another server
//!
//! Build an [`lifecycle::Instrumentation`] with
//! [`reporter::Reporter::instrumentation`], implement
//! [`lifecycle::RequestInfo`] for the server's request, call
//! [`lifecycle::Instrumentation::start`] when one arrives, bind the route
//! and handler once the server knows them, set the status on the returned
//! guard and drop it when the response is done; the [`lifecycle`] module
//! documents the contract with an example.
//!
//! # Feature flags
//!
//! | feature | default | what |
//! |---|---|---|
//! | `direct` | yes | [`sender::DirectSender`] (reqwest with rustls, gzip) |
//! | `otlp` | no | `export::OtlpExporter`: OTLP/HTTP with protobuf (`opentelemetry-proto`), and OTLP from [`config`] (`OTEL_EXPORTER_OTLP_ENDPOINT`, `otlp://`) |
//! | `http` | no | `Headers`/`HeadersMut` for `http::HeaderMap`, `lifecycle::InstrumentedBody` for `http_body::Body`, and the tower `lifecycle::HttpLayer` shared by the axum and warp adapters |
//!
//! The encoders on their own:
//!
//! ```
//! use wavefront_core::{naming::{Endpoint, Level, Naming, RouteTemplate}, wire, ApplicationTags};
//!
//! let app = ApplicationTags::builder("Ordering", "styling").build()?;
//! let route = RouteTemplate::new("/style/{id}/make");
//! let endpoint = Endpoint { route: &route, method: "GET", func: "make_shirts" };
//! let series = Naming::new("axum").response(&app, &endpoint, 200, Level::Source);
//!
//! let mut buf = String::new();
//! wire::write_metric(&mut buf, &series.name, 1.0, Some(1_700_000_000), "host-1", &series.tags)?;
//! assert!(buf.starts_with("\"axum.response.style.id.make.GET.200.cumulative.count\" 1.0 1700000000"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod ascii;
pub mod clock;
pub mod config;
mod cow_map;
pub mod cpu;
mod error;
pub mod export;
pub mod histogram;
mod id;
pub mod lifecycle;
mod membarrier;
pub mod metric;
pub mod naming;
mod panics;
pub mod red;
pub mod registry;
pub mod reporter;
pub mod sanitize;
pub mod sender;
mod tags;
pub mod trace;
mod url;
pub mod wire;

pub use error::WireError;
pub use id::{ParseIdError, SpanId, TraceId};
pub use tags::{ApplicationTags, ApplicationTagsBuilder, ApplicationTagsError, NONE};
