//! The framework-neutral core of the Wavefront observability SDK for Rust web
//! services.
//!
//! Adapters (`wavefront-axum`, `wavefront-warp`, `wavefront-rocket`) and
//! anyone instrumenting another server depend on this crate. It never depends
//! on a web framework.
//!
//! * [`wire`]: the Wavefront line formats (metric, delta counter, histogram
//!   distribution, span, span logs), written into reusable buffers.
//! * [`sanitize`]: how names, tag keys and values are made safe.
//! * [`naming`]: the series names and tags of the framework SDKs, for any
//!   component prefix.
//! * [`metric`] and [`histogram`]: counters, delta counters, gauges and
//!   minute-binned Wavefront histograms, recorded without locks.
//! * [`ApplicationTags`]: application, service, cluster, shard and custom tags.
//! * [`TraceId`] / [`SpanId`]: the UUID identifiers of spans.
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

pub mod clock;
pub mod config;
mod cow_map;
pub mod cpu;
mod error;
pub mod histogram;
mod id;
pub mod lifecycle;
mod membarrier;
pub mod metric;
pub mod naming;
pub mod red;
pub mod registry;
pub mod reporter;
pub mod sanitize;
pub mod sender;
mod tags;
pub mod trace;
pub mod wire;

pub use error::WireError;
pub use id::{ParseIdError, SpanId, TraceId};
pub use tags::{ApplicationTags, ApplicationTagsBuilder, ApplicationTagsError, NONE};
