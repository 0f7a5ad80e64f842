//! The Wavefront line formats as an exporter: points, delta counters and
//! `!M` histograms to the metrics port, spans and span logs to the tracing
//! port, through any [`Sender`].

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Exporter, MetricsReport, Origin, PointValue};
use crate::registry::{Entry, Metric};
use crate::sender::{DataKind, LineBatch, Sender, SenderStats, ShutdownReport};
use crate::trace::{FinishedSpan, Text};
use crate::wire::{
    self, Cached, Encoded, EncodedSpanTags, Granularity, MetricTemplate, SpanLine, TagCache,
};
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
    pub fn new(sender: Arc<dyn Sender>) -> Self {
        WavefrontExporter {
            sender,
            templates: Mutex::new(HashMap::new()),
        }
    }

    /// The sender the lines go to.
    #[must_use]
    pub fn sender(&self) -> &Arc<dyn Sender> {
        &self.sender
    }
}

impl WavefrontExporter {
    /// The lines of `report`, as [`export_metrics`](Exporter::export_metrics)
    /// sends them: to measure the encoding, or to ship the lines by other
    /// means.
    pub fn encode_metrics(&self, origin: Origin<'_>, report: &MetricsReport) -> EncodedLines {
        // A panic in an earlier report poisoned the lock: the templates are
        // still right, so go on with them.
        let mut templates = self
            .templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = EncodedLines::default();
        for point in &report.points {
            let key = Arc::as_ptr(&point.series) as usize;
            let (_, template) = templates.entry(key).or_insert_with(|| {
                (
                    Arc::clone(&point.series),
                    template(&point.series, origin.source),
                )
            });
            let (kind, written) = match (template, &point.value) {
                (Err(_), PointValue::Histogram(_)) => (DataKind::Histograms, Err(())),
                (Err(_), _) => (DataKind::Points, Err(())),
                (Ok(t), PointValue::Counter(n)) => (
                    DataKind::Points,
                    out.push(DataKind::Points, |b| {
                        t.write(b, *n as f64, Some(report.timestamp_s))
                    }),
                ),
                (Ok(t), PointValue::Gauge(v)) => (
                    DataKind::Points,
                    out.push(DataKind::Points, |b| {
                        t.write(b, *v, Some(report.timestamp_s))
                    }),
                ),
                (Ok(t), PointValue::Delta(v)) => (
                    DataKind::Points,
                    out.push(DataKind::Points, |b| {
                        t.write_delta(b, *v).map(|_: Encoded| ())
                    }),
                ),
                (Ok(t), PointValue::Histogram(d)) => (
                    DataKind::Histograms,
                    out.push(DataKind::Histograms, |b| {
                        t.write_histogram(b, Granularity::Minute, Some(d.minute_ms), &d.centroids)
                    }),
                ),
            };
            if written.is_err() {
                out.invalid[kind.index()] += 1;
            }
        }
        out
    }

    /// The span and span-log lines of `spans`, as
    /// [`export_spans`](Exporter::export_spans) sends them.
    #[must_use]
    pub fn encode_spans(origin: Origin<'_>, spans: &[FinishedSpan]) -> EncodedLines {
        encode_each(origin, spans.len(), spans.iter())
    }

    /// Counts what could not be encoded and queues the rest.
    fn send(&self, lines: EncodedLines) {
        let stats = self.sender.stats();
        for (kind, (batch, invalid)) in DataKind::ALL
            .into_iter()
            .zip(lines.batches.into_iter().zip(lines.invalid))
        {
            stats.kind(kind).add_invalid(invalid);
            if !batch.is_empty() {
                self.sender.send(kind, batch);
            }
        }
    }
}

/// Lines of each [`DataKind`], and how many values of each could not be
/// encoded (a name or tag the format cannot carry).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EncodedLines {
    batches: [LineBatch; 4],
    invalid: [u64; 4],
}

impl EncodedLines {
    /// The lines of `kind`.
    #[must_use]
    pub fn lines(&self, kind: DataKind) -> &LineBatch {
        &self.batches[kind.index()]
    }

    /// How many values of `kind` could not be encoded.
    #[must_use]
    pub fn invalid(&self, kind: DataKind) -> u64 {
        self.invalid[kind.index()]
    }

    fn push<T>(
        &mut self,
        kind: DataKind,
        encode: impl FnOnce(&mut String) -> Result<T, WireError>,
    ) -> Result<(), ()> {
        self.batches[kind.index()]
            .push_with(encode)
            .map(drop)
            .map_err(drop)
    }
}

impl Exporter for WavefrontExporter {
    fn export_metrics(&self, origin: Origin<'_>, report: MetricsReport) {
        self.send(self.encode_metrics(origin, &report));
    }

    fn export_spans(&self, origin: Origin<'_>, spans: Vec<FinishedSpan>) {
        // Each span is dropped (its storage recycled) right after it is
        // encoded, while it is still in the cache.
        self.send(encode_each(origin, spans.len(), spans.into_iter()));
    }

    fn export_spans_with(
        &self,
        origin: Origin<'_>,
        spans: Vec<FinishedSpan>,
        each_chunk: &mut dyn FnMut(&[FinishedSpan]),
    ) {
        let sampled = spans.iter().filter(|span| span.sampled).count();
        let spans = SeenInChunks {
            spans: spans.into_iter(),
            left_in_chunk: 0,
            each_chunk,
        };
        self.send(encode_each(origin, sampled, spans));
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

/// Spans shown to [`Exporter::export_spans_with`]'s `each_chunk`: a span
/// takes about 1 KiB to read (its data, tags and URL), so this many fit in
/// a core's L1 cache with room to spare.
const SEEN_TOGETHER: usize = 16;

/// The sampled spans of `spans`, each chunk of [`SEEN_TOGETHER`] shown to
/// `each_chunk` (sampled or not) before its first is yielded, so that the
/// encoder reads them while they are still in the cache; unsampled spans
/// are dropped once seen.
struct SeenInChunks<'f> {
    spans: std::vec::IntoIter<FinishedSpan>,
    left_in_chunk: usize,
    each_chunk: &'f mut dyn FnMut(&[FinishedSpan]),
}

impl Iterator for SeenInChunks<'_> {
    type Item = FinishedSpan;

    fn next(&mut self) -> Option<FinishedSpan> {
        loop {
            if self.left_in_chunk == 0 {
                let rest = self.spans.as_slice();
                let chunk = &rest[..rest.len().min(SEEN_TOGETHER)];
                if chunk.is_empty() {
                    return None;
                }
                (self.each_chunk)(chunk);
                self.left_in_chunk = chunk.len();
            }
            self.left_in_chunk -= 1;
            let span = self.spans.next()?;
            if span.sampled {
                return Some(span);
            }
        }
    }
}

/// The span and span-log lines of `spans` (about `count` of them), each
/// dropped once encoded when the iterator owns them.
///
/// The batch cache finds texts by address. Every span of the batch was
/// alive when the batch was taken, so their texts' addresses were distinct
/// then; dropping a span frees addresses, but none of the spans still to
/// come can have a text there, and finished spans take no new texts.
fn encode_each<S: Borrow<FinishedSpan>>(
    origin: Origin<'_>,
    count: usize,
    spans: impl Iterator<Item = S>,
) -> EncodedLines {
    /// A request's span line is about this long (14 tags).
    const SPAN_LINE: usize = 512;
    let mut out = EncodedLines::default();
    // The buffers grow once a batch at most, not line by line (each growth
    // copies what the batch holds so far); those of batches sent before
    // come back with their room (span logs: about one span in five here).
    out.batches[DataKind::Spans.index()].reserve(count * SPAN_LINE);
    out.batches[DataKind::SpanLogs.index()].reserve(count * SPAN_LINE / 2);
    // A span with logs: its line, escaped for the logs' JSON.
    let mut escaped = String::with_capacity(SPAN_LINE * 5 / 4);
    let mut shared = SharedTags::default();
    let mut cache = TagCache::default();
    for span in spans {
        let span = span.borrow();
        let d = &span.data;
        escaped.clear();
        let json = (!d.logs.is_empty()).then_some(&mut escaped);
        let with_logs = json.is_some();
        let written = out.batches[DataKind::Spans.index()]
            .push_line_with(|b| write_span(b, span, origin.source, &mut shared, &mut cache, json));
        if written.is_err() {
            out.invalid[DataKind::Spans.index()] += 1;
            continue;
        }
        if with_logs {
            let (trace, id) = (d.context.trace_id, d.context.span_id);
            let _ = out.batches[DataKind::SpanLogs.index()].push_line_with(|b| {
                wire::write_span_logs_escaped(b, trace, id, &d.logs, &escaped);
                Ok(())
            });
        }
    }
    out
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
    cache: &mut TagCache,
    json: Option<&mut String>,
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
    // A text that owns its buffer (a URL) is not cached: it is this span's
    // alone, and its address may be reused by the next span's.
    let cacheable: fn(&(Text, Text)) -> Cached = |(k, v)| match (k.owns_buffer(), v.owns_buffer()) {
        (false, false) => Cached::Tag,
        (false, true) => Cached::Key,
        (true, _) => Cached::Neither,
    };
    let base = match d.shared_tags() {
        Some(tags) => shared.encoded(tags)?,
        None => &EncodedSpanTags::default(),
    };
    wire::write_span_cached(out, base, &line, Some((cacheable, cache)), json)
}
