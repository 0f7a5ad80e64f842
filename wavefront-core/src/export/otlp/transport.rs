//! Delivery of OTLP/HTTP requests: protobuf, gzip, retries on 408, 429 and
//! every 5xx (a superset of the OpenTelemetry specification's 429, 502,
//! 503, 504: a 500 from an overloaded collector is worth another try),
//! honouring `Retry-After`.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::encode::TimedPoint;
use super::proto::{Frame, MetricWriter, SpanWriter};
use super::{OtlpNaming, Record, Records, MAX_RECORDS_PER_REQUEST};
use crate::sender::health::{self, Health};
use crate::sender::http;
use crate::sender::worker::{Backoff, Delivery, Transport};
use crate::sender::{DataKind, SenderStats};

/// The longest `Retry-After` honoured: a server asking for more gets the
/// backoff's own maximum instead, so a bad header cannot stop delivery.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

pub(super) struct OtlpTransport {
    /// Built on the delivery thread, never inside a caller's async runtime.
    client: Option<reqwest::blocking::Client>,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    timeout: Duration,
    frame: Arc<OnceLock<Frame>>,
    naming: OtlpNaming,
    /// Each series' encoded name and attributes.
    metrics: MetricWriter,
    backoff: Backoff,
    /// The server's `Retry-After`, used once for the next pause.
    retry_after: Option<Duration>,
    /// The last pause was the server's `Retry-After`.
    asked: bool,
    /// A non-retryable status was warned about.
    refusal_warned: bool,
    health: Health,
}

impl OtlpTransport {
    pub(super) fn new(
        url: reqwest::Url,
        headers: reqwest::header::HeaderMap,
        timeout: Duration,
        frame: Arc<OnceLock<Frame>>,
        naming: OtlpNaming,
        signal: &str,
    ) -> Self {
        let health = Health::new(format!("the OTLP {signal} endpoint {url}"));
        OtlpTransport {
            client: None,
            url,
            headers,
            timeout,
            frame,
            naming,
            metrics: MetricWriter::default(),
            backoff: Backoff::default(),
            retry_after: None,
            asked: false,
            refusal_warned: false,
            health,
        }
    }

    /// The request body for `batch`, protobuf then gzip; spans that cannot
    /// be expressed (an all-zero id) are counted invalid and left out.
    fn body(&mut self, kind: DataKind, batch: &Records, stats: &SenderStats) -> Option<Vec<u8>> {
        let unknown;
        let frame = match self.frame.get() {
            Some(frame) => frame,
            None => {
                unknown = Frame::unknown();
                &unknown
            }
        };
        let encoded = match kind {
            DataKind::Spans => {
                let mut writer = SpanWriter::new(frame, batch.items.len());
                for record in &batch.items {
                    if let Record::Span(span) = record {
                        writer.push(span);
                    }
                }
                stats.kind(kind).add_invalid(writer.invalid as u64);
                writer.finish()
            }
            _ => {
                let points = batch.items.iter().filter_map(|r| match r {
                    Record::Point {
                        point,
                        start_ns,
                        time_ns,
                    } => Some(TimedPoint {
                        point,
                        start_ns: *start_ns,
                        time_ns: *time_ns,
                    }),
                    Record::Span(_) => None,
                });
                self.metrics.write(frame, points, self.naming)
            }
        };
        http::gzip(encoded.bytes()).ok()
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not honoured: the
/// backoff applies).
fn retry_after(response: &reqwest::blocking::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds)).filter(|d| *d <= MAX_RETRY_AFTER)
}

const RETRY: Delivery = Delivery::Retry {
    delivered: 0,
    in_flight: 0,
};

impl Transport<Records> for OtlpTransport {
    fn max_batch(&self) -> usize {
        MAX_RECORDS_PER_REQUEST
    }

    fn deliver(
        &mut self,
        kind: DataKind,
        batch: &Records,
        stats: &SenderStats,
        deadline: Option<Instant>,
    ) -> Delivery {
        let timeout = http::request_timeout(self.timeout, deadline);
        let Some(body) = self.body(kind, batch, stats) else {
            return RETRY;
        };
        if self.client.is_none() {
            self.client = http::client(self.timeout, false, &[], "OTLP export");
        }
        let Some(client) = &self.client else {
            return RETRY;
        };
        let request = client
            .post(self.url.clone())
            .timeout(timeout)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(body);
        let Some(response) = http::send(request, &mut self.health) else {
            return RETRY;
        };
        let status = response.status().as_u16();
        stats.kind(kind).add_status(status);
        match status {
            200..=299 => {
                self.health.recovered();
                Delivery::Done
            }
            408 | 429 | 500..=599 => {
                self.retry_after = retry_after(&response);
                self.health
                    .failed(&format_args!("answered {status}, asking to retry later"));
                RETRY
            }
            _ => {
                stats.kind(kind).add_report_error();
                if !std::mem::replace(&mut self.refusal_warned, true) {
                    health::warn(format_args!(
                        "Wavefront: the OTLP endpoint {} answered {status} for {}: the data is not accepted \
                         (a wrong path, a refused API key, or a malformed request) and is dropped; \
                         check OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS",
                        self.url,
                        kind.name()
                    ));
                }
                Delivery::Refused
            }
        }
    }

    fn backoff(&mut self, _kind: DataKind) -> Duration {
        let pause = self.backoff.next();
        let asked = self.retry_after.take();
        self.asked = asked.is_some();
        asked.map_or(pause, |asked| asked.max(pause / 2))
    }

    fn pause_was_asked(&self, _kind: DataKind) -> bool {
        self.asked
    }

    fn recovered(&mut self, _kind: DataKind) {
        self.backoff.reset();
    }
}
