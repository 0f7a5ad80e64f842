//! The Wavefront line formats as an exporter: points, delta counters and
//! `!M` histograms to the metrics port, spans and span logs to the tracing
//! port, through any [`Sender`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Exporter, MetricsReport, Origin, PointValue};
use crate::registry::{Entry, Metric};
use crate::sender::{DataKind, LineBatch, Sender, SenderStats, ShutdownReport};
use crate::trace::{FinishedSpan, Text};
use crate::wire::{self, Encoded, EncodedSpanTags, Granularity, MetricTemplate, SpanLine};
use crate::WireError;

/// Encodes a reporter's data as Wavefront lines and hands them to a
/// [`Sender`]. Each series is encoded once (its quoted name, source and
/// tags); each report writes only values and timestamps.
#[derive(Debug)]
pub struct WavefrontExporter {
    sender: Arc<dyn Sender>,
    /// Each series' encoded name and tags, with the series kept alive so its
    /// address stays a unique key. Used from the reporting thread only.
    templates: Mutex<Templates>,
}

/// Encoded series by the address of their entry, which each keeps alive.
type Templates = HashMap<usize, (Arc<Entry>, Result<MetricTemplate, WireError>)>;

impl WavefrontExporter {
    /// An exporter of Wavefront lines to `sender`.
    #[must_use]
    pub fn new<S: Sender + ?Sized + 'static>(sender: Arc<S>) -> Self {
        WavefrontExporter {
            sender: WavefrontExporter::erase(sender),
            templates: Mutex::new(HashMap::new()),
        }
    }

    fn erase<S: Sender + ?Sized + 'static>(sender: Arc<S>) -> Arc<dyn Sender> {
        // `Arc<S>` is itself a `Sender`: boxing it once more costs one
        // indirection per report, never per line.
        Arc::new(sender)
    }

    /// The sender the lines go to.
    #[must_use]
    pub fn sender(&self) -> &Arc<dyn Sender> {
        &self.sender
    }
}

impl Exporter for WavefrontExporter {
    fn export_metrics(&self, origin: Origin<'_>, report: MetricsReport) {
        // A panic in an earlier report poisoned the lock: the templates are
        // still right, so go on with them.
        let mut templates = self
            .templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut points = LineBatch::new();
        let mut histograms = LineBatch::new();
        let mut invalid = (0u64, 0u64);
        for point in &report.points {
            let key = Arc::as_ptr(&point.series) as usize;
            let (_, template) = templates.entry(key).or_insert_with(|| {
                (
                    Arc::clone(&point.series),
                    template(&point.series, origin.source),
                )
            });
            let written = match (template, &point.value) {
                (Err(_), _) => Err(()),
                (Ok(t), PointValue::Counter(n)) => points
                    .push_with(|b| t.write(b, *n as f64, Some(report.timestamp_s)))
                    .map_err(drop),
                (Ok(t), PointValue::Gauge(v)) => points
                    .push_with(|b| t.write(b, *v, Some(report.timestamp_s)))
                    .map_err(drop),
                (Ok(t), PointValue::Delta(v)) => points
                    .push_with(|b| t.write_delta(b, *v))
                    .map(|_: Encoded| ())
                    .map_err(drop),
                (Ok(t), PointValue::Histogram(d)) => histograms
                    .push_with(|b| {
                        t.write_histogram(b, Granularity::Minute, Some(d.minute_ms), &d.centroids)
                    })
                    .map_err(drop),
            };
            if written.is_err() {
                match point.value {
                    PointValue::Histogram(_) => invalid.1 += 1,
                    _ => invalid.0 += 1,
                }
            }
        }
        drop(templates);
        let stats = self.sender.stats();
        stats.kind(DataKind::Points).add_invalid(invalid.0);
        stats.kind(DataKind::Histograms).add_invalid(invalid.1);
        self.sender.send(DataKind::Points, points);
        if !histograms.is_empty() {
            self.sender.send(DataKind::Histograms, histograms);
        }
    }

    fn export_spans(&self, origin: Origin<'_>, spans: Vec<FinishedSpan>) {
        let mut lines = LineBatch::new();
        let mut logs = LineBatch::new();
        let mut invalid = 0;
        let mut line = String::new();
        let mut shared = SharedTags::default();
        for span in &spans {
            line.clear();
            if write_span(&mut line, span, origin.source, &mut shared).is_err() {
                invalid += 1;
                continue;
            }
            lines.push_line(&line);
            if !span.data.logs.is_empty() {
                let d = &span.data;
                let _ = logs.push_with(|b| {
                    wire::write_span_logs(b, d.context.trace_id, d.context.span_id, &d.logs, &line);
                    Ok(())
                });
            }
        }
        let stats = self.sender.stats();
        stats.kind(DataKind::Spans).add_invalid(invalid);
        self.sender.send(DataKind::Spans, lines);
        if !logs.is_empty() {
            self.sender.send(DataKind::SpanLogs, logs);
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.sender.flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.sender.shutdown(timeout)
    }

    fn stats(&self) -> &SenderStats {
        self.sender.stats()
    }
}

fn template(entry: &Entry, source: &str) -> Result<MetricTemplate, WireError> {
    let tags: Vec<(&str, &str)> = entry.tags().iter().map(|(k, v)| (&**k, &**v)).collect();
    match entry.metric() {
        Metric::DeltaCounter(_) => MetricTemplate::delta(entry.name(), source, &tags),
        _ => MetricTemplate::new(entry.name(), source, &tags),
    }
}

/// The encoded form of a tracer's shared span tags, made once per batch
/// for each set (spans share one `Arc`, so its address identifies it).
#[derive(Default)]
struct SharedTags(Vec<(usize, Result<EncodedSpanTags, WireError>)>);

impl SharedTags {
    fn encoded(&mut self, tags: &Arc<[(Text, Text)]>) -> Result<&EncodedSpanTags, WireError> {
        let key = Arc::as_ptr(tags).cast::<()>() as usize;
        let at = match self.0.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.0.push((key, EncodedSpanTags::new(tags)));
                self.0.len() - 1
            }
        };
        self.0[at].1.as_ref().map_err(Clone::clone)
    }
}

/// One span line, start and duration in microseconds.
fn write_span(
    out: &mut String,
    span: &FinishedSpan,
    source: &str,
    shared: &mut SharedTags,
) -> Result<(), WireError> {
    let d = &span.data;
    let line = SpanLine {
        operation: &d.operation,
        source,
        trace_id: d.context.trace_id,
        span_id: d.context.span_id,
        parents: &d.parents,
        follows_from: &d.follows_from,
        tags: &d.tags,
        start: d.start_micros,
        duration: span.duration_micros,
        has_logs: !d.logs.is_empty(),
    };
    match d.shared_tags() {
        Some(tags) => wire::write_span_after(out, shared.encoded(tags)?, &line),
        None => wire::write_span(out, &line),
    }
}
