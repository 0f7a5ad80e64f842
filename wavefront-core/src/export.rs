//! Exporters: what the reporter hands its data to, as structured values.
//!
//! Every report, the [reporter](crate::reporter) drains the registry (a delta
//! counter's count, a histogram's completed minutes) and the tracer (the
//! finished spans), and gives an [`Exporter`] what it took: a
//! [`MetricsReport`] of [`MetricPoint`]s and the [`FinishedSpan`]s. Draining
//! happens there and nowhere else; the exporter only encodes and delivers.
//!
//! Two exporters, neither special:
//!
//! * [`WavefrontExporter`]: the Wavefront line formats, byte for byte the
//!   reference SDK's, handed to a [`Sender`] (a proxy, direct ingestion or
//!   the console).
//! * `OtlpExporter` (feature `otlp`): OTLP/HTTP with protobuf, to an
//!   OpenTelemetry Collector, a Wavefront proxy's OTLP receiver or any
//!   backend that speaks it.
//!
//! An exporter must return at once from `export_*` (queue, do not write),
//! count what it could not encode as invalid in its [`SenderStats`], and
//! deliver from a thread of its own.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use wavefront_core::export::{Exporter, WavefrontExporter};
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::registry::Registry;
//! use wavefront_core::sender::ConsoleSender;
//! use wavefront_core::ApplicationTags;
//!
//! let exporter: Arc<dyn Exporter> =
//!     Arc::new(WavefrontExporter::new(Arc::new(ConsoleSender::to_writer(std::io::sink()))));
//! let tags = ApplicationTags::builder("Ordering", "styling").build()?;
//! let reporter = Reporter::builder(Registry::new(), exporter, tags).start();
//! reporter.registry().counter("orders.count", &[("region", "eu")]).inc();
//! assert!(reporter.shutdown(Duration::from_secs(5)).delivered >= 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "otlp")]
pub mod otlp;
mod wavefront;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::histogram::Distribution;
use crate::registry::Entry;
use crate::sender::{Sender, SenderStats, ShutdownReport};
use crate::tags::ApplicationTags;
use crate::trace::FinishedSpan;

#[cfg(feature = "otlp")]
pub use otlp::{OtlpBody, OtlpExporter, OtlpExporterBuilder, OtlpNaming};
pub use wavefront::{EncodedLines, WavefrontExporter};

/// Where the data comes from: the reporter's source and application tags.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The source (host) name.
    pub source: &'a str,
    /// The application tags.
    pub tags: &'a ApplicationTags,
}

/// One value of one series, as the reporter took it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PointValue {
    /// A cumulative counter's count since the start.
    Counter(u64),
    /// A gauge's value now.
    Gauge(f64),
    /// What a delta counter counted since the last report.
    Delta(f64),
    /// One minute of a histogram.
    Histogram(Distribution),
}

/// A series (its name and tags are the [`Entry`]'s) and one value of it.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    /// The series. Series are never removed from a registry, so an exporter
    /// may cache what it derives from one, keyed by the `Arc`'s address
    /// while it holds a clone.
    pub series: Arc<Entry>,
    /// The value.
    pub value: PointValue,
}

/// What one report took from the registry, the SDK's own series first.
#[derive(Debug, Clone, Default)]
pub struct MetricsReport {
    /// When the report was taken, in epoch seconds (counters' and gauges'
    /// timestamp; histograms carry their minute, delta counters none).
    pub timestamp_s: u64,
    /// The points, in the order to send them: when a queue is nearly full,
    /// what comes last is what is dropped.
    pub points: Vec<MetricPoint>,
}

/// Encodes and delivers a reporter's data. See the [module documentation](self).
pub trait Exporter: Send + Sync + fmt::Debug {
    /// Queues a report's metric points and returns at once.
    fn export_metrics(&self, origin: Origin<'_>, report: MetricsReport);

    /// Queues finished, sampled spans (with their logs) and returns at once.
    fn export_spans(&self, origin: Origin<'_>, spans: Vec<FinishedSpan>);

    /// [`export_spans`](Self::export_spans) for the sampled ones of
    /// `spans`, after `each_chunk` has seen every one of them, sampled or
    /// not (the reporter derives its RED metrics there). An exporter that
    /// reads spans one by one may show them a few at a time, each chunk just
    /// before it reads them, so that a span is read twice while in the
    /// cache; by default `each_chunk` sees them all at once. Either way it
    /// must see each span of `spans` once, as given: the reporter knows the
    /// spans' texts by their addresses through the call.
    fn export_spans_with(
        &self,
        origin: Origin<'_>,
        mut spans: Vec<FinishedSpan>,
        each_chunk: &mut dyn FnMut(&[FinishedSpan]),
    ) {
        each_chunk(&spans);
        spans.retain(|span| span.sampled);
        self.export_spans(origin, spans);
    }

    /// Delivers what is queued, waiting at most `timeout`; true if
    /// everything was delivered.
    fn flush(&self, timeout: Duration) -> bool;

    /// Flushes for at most `timeout`, then stops; what is left is dropped.
    fn shutdown(&self, timeout: Duration) -> ShutdownReport;

    /// The delivery counters, reported as the SDK's diagnostics.
    fn stats(&self) -> &SenderStats;
}

/// What a reporter can export through: an [`Exporter`], or a [`Sender`]
/// of Wavefront lines (wrapped in a [`WavefrontExporter`]).
pub trait IntoExporter {
    /// The exporter.
    fn into_exporter(self) -> Arc<dyn Exporter>;
}

impl IntoExporter for Arc<dyn Exporter> {
    fn into_exporter(self) -> Arc<dyn Exporter> {
        self
    }
}

impl IntoExporter for Arc<dyn Sender> {
    fn into_exporter(self) -> Arc<dyn Exporter> {
        Arc::new(WavefrontExporter::new(self))
    }
}

impl<S: Sender + 'static> IntoExporter for Arc<S> {
    fn into_exporter(self) -> Arc<dyn Exporter> {
        Arc::new(WavefrontExporter::new(self))
    }
}

impl IntoExporter for WavefrontExporter {
    fn into_exporter(self) -> Arc<dyn Exporter> {
        Arc::new(self)
    }
}
