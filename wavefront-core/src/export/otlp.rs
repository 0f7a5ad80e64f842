//! [`OtlpExporter`]: OTLP/HTTP with protobuf, to any OpenTelemetry backend.
//!
//! The same series, histograms and spans as the Wavefront output, under the
//! same names and tags, as OpenTelemetry's own messages (`opentelemetry-proto`):
//!
//! | Wavefront | OTLP |
//! |---|---|
//! | application tags, source | resource: `service.name` = service, `service.namespace` = application, `cluster`, `shard`, custom tags, `host.name` = source |
//! | counter | cumulative monotonic `Sum` (start: when the exporter started) |
//! | delta counter (`∆name`) | delta monotonic `Sum` named `name` (zeros are not sent, as on the wire) |
//! | gauge | `Gauge` |
//! | minute histogram (`!M`) | delta `ExponentialHistogram`, one point per minute |
//! | span | span: trace id = the trace UUID's 16 bytes, span id = its 8 W3C bytes, first parent = parent, other parents and `followsFrom` = links |
//! | `span.kind` tag | span kind |
//! | `error=true` | status `ERROR` |
//! | span logs | span events (`event` field as the name) |
//! | other tags | attributes (a key given twice: an array of its values) |
//!
//! Histograms are exponential because a Wavefront histogram's centroids
//! carry any unit (seconds, milliseconds, CPU nanoseconds) over any range:
//! explicit buckets would need boundaries chosen per series and would flatten
//! everything between two of them, whereas an exponential histogram keeps
//! every centroid within a bounded relative error (at most 160 buckets; the
//! scale is the finest that fits: buckets 2.2 % wide for a decade of latencies).
//! Count, sum, min and max are exact.
//!
//! Delivery: `POST {endpoint}/v1/metrics` and `/v1/traces`, gzip, headers
//! such as API keys (never printed); `408`, `429`, `5xx`, timeouts and
//! connection errors are retried with exponential backoff and jitter,
//! honouring `Retry-After`; other statuses drop the batch (counted, warned
//! once). Queues, diagnostics (`~sdk.rust.core.sender.otlp.*`), flush and
//! shutdown are those of the other senders.
//!
//! ```no_run
//! use std::time::Duration;
//! use wavefront_core::export::OtlpExporter;
//! use wavefront_core::registry::Registry;
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::ApplicationTags;
//!
//! let exporter = OtlpExporter::builder("http://otel-collector:4318")
//!     .header("api-key", "secret")
//!     .build()?;
//! let tags = ApplicationTags::builder("Ordering", "styling").build()?;
//! let reporter = Reporter::builder(Registry::new(), exporter, tags).start();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod encode;
mod proto;
#[cfg(test)]
mod reference;
mod transport;

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Exporter, IntoExporter, MetricPoint, MetricsReport, Origin, PointValue};
use crate::sender::http::MIN_REQUEST_TIMEOUT;
use crate::sender::queue::Batch;
use crate::sender::worker::Shared;
use crate::sender::{DataKind, SenderStats, ShutdownReport, DEFAULT_QUEUE_CAPACITY};
use crate::trace::FinishedSpan;
use crate::url::{ConfigError, UrlSetting};
use transport::OtlpTransport;

/// The OTLP/HTTP port.
pub const DEFAULT_OTLP_PORT: u16 = 4318;
/// Default time one request may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most records (points or spans) per request.
pub(crate) const MAX_RECORDS_PER_REQUEST: usize = 5_000;

/// Which names the HTTP request series take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpNaming {
    /// The Wavefront output's names and tags, so a Wavefront proxy's OTLP
    /// receiver and existing dashboards see the same series.
    #[default]
    Wavefront,
    /// Also OpenTelemetry's HTTP semantic conventions: each response
    /// latency histogram again as `http.server.request.duration` (seconds)
    /// with `http.route`, `http.request.method` and
    /// `http.response.status_code`, for backends that expect them.
    SemanticConventions,
}

/// Sends a reporter's data as OTLP/HTTP protobuf. See the
/// [module documentation](self).
#[derive(Debug, Clone)]
pub struct OtlpExporter {
    shared: Arc<Shared<Records>>,
    /// The resource and scope, encoded at the first export.
    frame: Arc<OnceLock<proto::Frame>>,
    /// For [`OtlpExporter::encode_metrics`] (the delivery thread has its own).
    metrics: Arc<Mutex<proto::MetricWriter>>,
    /// When the exporter started, the start of every cumulative sum.
    start_ns: u64,
}

/// Builds an [`OtlpExporter`].
#[derive(Clone)]
#[must_use]
pub struct OtlpExporterBuilder {
    endpoint: String,
    metrics_endpoint: Option<String>,
    traces_endpoint: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    queue_capacity: usize,
    naming: OtlpNaming,
}

impl fmt::Debug for OtlpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OtlpExporterBuilder")
            .field("endpoint", &self.endpoint)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("headers", &header_names) // values may be API keys
            .field("timeout", &self.timeout)
            .field("queue_capacity", &self.queue_capacity)
            .field("naming", &self.naming)
            .finish()
    }
}

impl OtlpExporter {
    /// An exporter to `endpoint`, the base URL of an OTLP/HTTP receiver
    /// (`http://collector:4318`): metrics go to `{endpoint}/v1/metrics`,
    /// spans to `{endpoint}/v1/traces`.
    pub fn builder(endpoint: impl Into<String>) -> OtlpExporterBuilder {
        OtlpExporterBuilder {
            endpoint: endpoint.into(),
            metrics_endpoint: None,
            traces_endpoint: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            naming: OtlpNaming::default(),
        }
    }
}

impl OtlpExporterBuilder {
    /// The full URL for metrics, used as given (as
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is).
    pub fn metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metrics_endpoint = Some(url.into());
        self
    }

    /// The full URL for spans, used as given (as
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is).
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces_endpoint = Some(url.into());
        self
    }

    /// A header sent with every request, such as an API key. Values are
    /// never printed (`Debug` shows the names only).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The longest one request may take (default 10 s; at least 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(MIN_REQUEST_TIMEOUT);
        self
    }

    /// Points (or spans) each kind's queue holds (default 50,000).
    pub fn queue_capacity(mut self, records: usize) -> Self {
        self.queue_capacity = records;
        self
    }

    /// Which names the HTTP request series take (default: Wavefront's).
    pub fn naming(mut self, naming: OtlpNaming) -> Self {
        self.naming = naming;
        self
    }

    /// Checks the endpoints and headers and starts the exporter's delivery
    /// threads (one for metrics, one for spans).
    ///
    /// ```
    /// use wavefront_core::config::ConfigError;
    /// use wavefront_core::export::OtlpExporter;
    ///
    /// let err = OtlpExporter::builder("collector:4318").build().unwrap_err();
    /// assert!(matches!(err, ConfigError::InvalidUrl { .. }));
    /// ```
    pub fn build(self) -> Result<OtlpExporter, ConfigError> {
        let metrics_url = match &self.metrics_endpoint {
            Some(url) => check_url(url)?,
            None => signal_url(&self.endpoint, "metrics")?,
        };
        let traces_url = match &self.traces_endpoint {
            Some(url) => check_url(url)?,
            None => signal_url(&self.endpoint, "traces")?,
        };
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            let bad = |reason: &str| ConfigError::InvalidVar {
                name: "OTEL_EXPORTER_OTLP_HEADERS",
                value: format!("{name}=<redacted>"),
                reason: reason.into(),
            };
            let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| bad("the header name is not a valid HTTP header name"))?;
            let mut value = reqwest::header::HeaderValue::from_str(value.trim())
                .map_err(|_| bad("the header value has characters HTTP does not allow"))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        let frame = Arc::new(OnceLock::new());
        let worker = |url: reqwest::Url, kinds: Vec<DataKind>, signal: &'static str| {
            let transport = OtlpTransport::new(
                url,
                headers.clone(),
                self.timeout,
                Arc::clone(&frame),
                self.naming,
                signal,
            );
            (transport, kinds)
        };
        // Metrics and spans each get a thread (and connection), so a slow
        // trace backend does not hold up metrics, nor the reverse.
        let workers = vec![
            worker(
                metrics_url,
                vec![DataKind::Points, DataKind::Histograms],
                "metrics",
            ),
            worker(traces_url, vec![DataKind::Spans], "traces"),
        ];
        let shared = Shared::new("otlp", self.queue_capacity);
        shared.spawn("wavefront-otlp-exporter", workers, Duration::from_secs(1));
        Ok(OtlpExporter {
            shared,
            frame,
            metrics: Arc::default(),
            start_ns: now_ns(),
        })
    }
}

/// `{endpoint}/v1/{signal}`, as the OpenTelemetry specification builds the
/// per-signal URL from `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn signal_url(endpoint: &str, signal: &str) -> Result<reqwest::Url, ConfigError> {
    let base = check_url(endpoint)?;
    let path = format!("{}/v1/{signal}", base.path().trim_end_matches('/'));
    let mut url = base;
    url.set_path(&path);
    Ok(url)
}

/// An `http` or `https` URL with a host and no user-info.
fn check_url(url: &str) -> Result<reqwest::Url, ConfigError> {
    let bad = |reason: &str| ConfigError::InvalidUrl {
        setting: UrlSetting::OtlpEndpoint,
        url: crate::url::redact(url),
        reason: reason.into(),
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad("it is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme is not http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("there is no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("credentials belong in a header, not in the URL"));
    }
    Ok(parsed)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl OtlpExporter {
    fn frame(&self, origin: Origin<'_>) -> &proto::Frame {
        self.frame
            .get_or_init(|| proto::Frame::new(&encode::resource(origin.source, origin.tags)))
    }

    /// The protobuf body (before gzip) of the request that carries
    /// `report`'s points, as [`export_metrics`](Exporter::export_metrics)
    /// sends it (zero deltas included here): to measure the encoding, or to
    /// ship the bytes by other means. Each series' name and tags are encoded
    /// once and remembered.
    #[must_use]
    pub fn encode_metrics(
        &self,
        origin: Origin<'_>,
        report: &MetricsReport,
        naming: OtlpNaming,
    ) -> OtlpBody {
        let time_ns = report.timestamp_s.saturating_mul(1_000_000_000);
        let points = report.points.iter().map(|point| encode::TimedPoint {
            point,
            start_ns: self.start_ns,
            time_ns,
        });
        let frame = self.frame(origin);
        let mut writer = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        OtlpBody(writer.write(frame, points, naming))
    }

    /// The protobuf body (before gzip) of the request that carries `spans`,
    /// as [`export_spans`](Exporter::export_spans) sends it.
    #[must_use]
    pub fn encode_spans(&self, origin: Origin<'_>, spans: &[FinishedSpan]) -> OtlpBody {
        let mut writer = proto::SpanWriter::new(self.frame(origin), spans.len());
        for span in spans {
            writer.push(span);
        }
        OtlpBody(writer.finish())
    }
}

/// The protobuf body of one OTLP request (before gzip).
#[derive(Debug)]
pub struct OtlpBody(proto::Body);

impl OtlpBody {
    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.bytes()
    }

    /// The bytes, owned.
    #[must_use]
    pub fn into_vec(self) -> Vec<u8> {
        self.0.into_vec()
    }
}

impl AsRef<[u8]> for OtlpBody {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Exporter for OtlpExporter {
    fn export_metrics(&self, origin: Origin<'_>, report: MetricsReport) {
        self.frame(origin);
        let time_ns = report.timestamp_s.saturating_mul(1_000_000_000);
        let mut points = Records::default();
        let mut histograms = Records::default();
        for point in report.points {
            let batch = match point.value {
                PointValue::Histogram(_) => &mut histograms,
                // Nothing counted: not sent, as on the Wavefront wire.
                PointValue::Delta(0.0) => continue,
                _ => &mut points,
            };
            batch.push(Record::Point {
                point,
                start_ns: self.start_ns,
                time_ns,
            });
        }
        self.shared.send(DataKind::Points, points);
        if !histograms.is_empty() {
            self.shared.send(DataKind::Histograms, histograms);
        }
    }

    fn export_spans(&self, origin: Origin<'_>, spans: Vec<FinishedSpan>) {
        self.frame(origin);
        let mut batch = Records::default();
        for span in spans {
            batch.push(Record::Span(Box::new(span)));
        }
        self.shared.send(DataKind::Spans, batch);
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.shared.flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.shared.shutdown(timeout)
    }

    fn stats(&self) -> &SenderStats {
        &self.shared.stats
    }
}

impl IntoExporter for OtlpExporter {
    fn into_exporter(self) -> Arc<dyn Exporter> {
        Arc::new(self)
    }
}

/// What the exporter queues: structured points and spans, encoded on the
/// delivery thread.
#[derive(Debug)]
pub(crate) enum Record {
    Point {
        point: MetricPoint,
        /// The start of the point's interval (cumulative sums).
        start_ns: u64,
        /// When the report was taken.
        time_ns: u64,
    },
    Span(Box<FinishedSpan>),
}

impl Record {
    /// About what it takes in memory, for the queue's byte budget.
    fn size(&self) -> usize {
        match self {
            Record::Point { point, .. } => {
                let tags: usize = point
                    .series
                    .tags()
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 32)
                    .sum();
                let centroids = match &point.value {
                    PointValue::Histogram(d) => d.centroids.len() * 16,
                    _ => 0,
                };
                128 + point.series.name().len() + tags + centroids
            }
            Record::Span(span) => {
                let d = &span.data;
                let tags: usize = d.tags.iter().map(|(k, v)| k.len() + v.len() + 32).sum();
                let logs: usize = d
                    .logs
                    .iter()
                    .flat_map(|l| &l.fields)
                    .map(|(k, v)| k.len() + v.len() + 32)
                    .sum();
                256 + d.operation.len() + tags + logs
            }
        }
    }
}

/// A batch of records, with their estimated size.
#[derive(Debug, Default)]
pub(crate) struct Records {
    items: Vec<Record>,
    bytes: usize,
}

impl Records {
    fn push(&mut self, record: Record) {
        self.bytes += record.size();
        self.items.push(record);
    }
}

impl Batch for Records {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn bytes(&self) -> usize {
        self.bytes
    }
    fn len_within(&self, bytes: usize) -> usize {
        let mut total = 0;
        self.items
            .iter()
            .take_while(|r| {
                total += r.size();
                total <= bytes
            })
            .count()
    }
    fn split_front(&mut self, n: usize) -> Self {
        let rest = self.items.split_off(n.min(self.items.len()));
        let head = std::mem::replace(&mut self.items, rest);
        self.bytes = self.items.iter().map(Record::size).sum();
        let bytes = head.iter().map(Record::size).sum();
        Records { items: head, bytes }
    }
    fn append(&mut self, mut other: Self) {
        self.bytes += other.bytes;
        self.items.append(&mut other.items);
    }
}
