//! The mapping from the reporter's data to OpenTelemetry's protobuf
//! messages (the table in the [parent module](super)).

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, number_data_point, AggregationTemporality,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span::{Event, Link, SpanKind},
    status::StatusCode,
    ResourceSpans, ScopeSpans, Span, Status,
};

use super::{OtlpNaming, Record};
use crate::export::PointValue;
use crate::histogram::HttpRequestDuration;
use crate::registry::{self, Entry};
use crate::tags::ApplicationTags;
use crate::trace::FinishedSpan;
use crate::wire::Centroid;
use crate::SpanId;

/// Most buckets of an exponential histogram (OpenTelemetry SDKs' default).
const MAX_BUCKETS: i64 = 160;
/// The finest scale tried (the protocol's limit is 20).
const MAX_SCALE: i32 = 20;
/// The coarsest scale tried: each bucket covers a factor of 2^(2^10).
const MIN_SCALE: i32 = -10;
/// One minute, the span of a Wavefront minute histogram.
const MINUTE_NS: u64 = 60_000_000_000;

fn text(value: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(value.to_owned())),
    }
}

fn key_value(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(text(value)),
        ..Default::default()
    }
}

/// Attributes from tags, in order; a key given more than once (Wavefront
/// allows it) becomes one attribute whose value is the array of its values.
fn attributes<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = Vec::new();
    for (key, value) in tags {
        let Some(existing) = out.iter_mut().find(|kv| kv.key == key) else {
            out.push(key_value(key, value));
            continue;
        };
        let previous = existing.value.take();
        let values = match previous.and_then(|v| v.value) {
            Some(any_value::Value::ArrayValue(mut array)) => {
                array.values.push(text(value));
                array.values
            }
            Some(single) => vec![
                AnyValue {
                    value: Some(single),
                },
                text(value),
            ],
            None => vec![text(value)],
        };
        existing.value = Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
        });
    }
    out
}

/// The resource of everything a reporter sends.
pub(super) fn resource(source: &str, tags: &ApplicationTags) -> Resource {
    let mut attrs = vec![
        key_value("service.name", tags.service()),
        key_value("service.namespace", tags.application()),
        key_value("cluster", tags.cluster()),
        key_value("shard", tags.shard()),
        key_value("host.name", source),
        key_value("telemetry.sdk.name", "wavefront-rust-sdk"),
        key_value("telemetry.sdk.language", "rust"),
        key_value("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ];
    attrs.extend(tags.custom_tags().iter().map(|(k, v)| key_value(k, v)));
    Resource {
        attributes: attrs,
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "wavefront-rust-sdk".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

fn series_attributes(series: &Entry) -> Vec<KeyValue> {
    attributes(series.tags().iter().map(|(k, v)| (&**k, &**v)))
}

/// The kind of metric a point belongs to, which with its name identifies
/// one OTLP `Metric`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Cumulative,
    Delta,
    Gauge,
    Histogram,
}

/// One metrics request: the points grouped into one `Metric` per name and
/// shape, in the order they first appear.
pub(super) fn metrics(
    resource: &Resource,
    records: &[Record],
    naming: OtlpNaming,
) -> ExportMetricsServiceRequest {
    let mut metrics: Vec<Metric> = Vec::new();
    let mut index: HashMap<(String, Shape), usize> = HashMap::new();
    let mut metric_for = |name: &str, shape: Shape, unit: &str| -> usize {
        *index.entry((name.to_owned(), shape)).or_insert_with(|| {
            let data = match shape {
                Shape::Cumulative | Shape::Delta => metric::Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: if shape == Shape::Cumulative {
                        AggregationTemporality::Cumulative
                    } else {
                        AggregationTemporality::Delta
                    } as i32,
                    is_monotonic: true,
                }),
                Shape::Gauge => metric::Data::Gauge(Gauge {
                    data_points: Vec::new(),
                }),
                Shape::Histogram => metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: Vec::new(),
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                }),
            };
            metrics.push(Metric {
                name: name.to_owned(),
                unit: unit.to_owned(),
                data: Some(data),
                ..Default::default()
            });
            metrics.len() - 1
        })
    };
    // Each metric's points, added once every metric exists (the closure
    // above holds `metrics` mutably).
    let mut numbers: Vec<(usize, NumberDataPoint)> = Vec::new();
    let mut histograms: Vec<(usize, ExponentialHistogramDataPoint)> = Vec::new();
    for record in records {
        let Record::Point {
            point,
            start_ns,
            time_ns,
        } = record
        else {
            continue;
        };
        let series = &point.series;
        let number = |value: number_data_point::Value, start: u64| NumberDataPoint {
            attributes: series_attributes(series),
            start_time_unix_nano: start,
            time_unix_nano: *time_ns,
            value: Some(value),
            ..Default::default()
        };
        match &point.value {
            PointValue::Counter(n) => {
                let at = metric_for(series.name(), Shape::Cumulative, "");
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                numbers.push((at, number(number_data_point::Value::AsInt(n), *start_ns)));
            }
            PointValue::Delta(v) => {
                let at = metric_for(series.name(), Shape::Delta, "");
                numbers.push((at, number(number_data_point::Value::AsDouble(*v), 0)));
            }
            PointValue::Gauge(v) => {
                let at = metric_for(series.name(), Shape::Gauge, "");
                numbers.push((at, number(number_data_point::Value::AsDouble(*v), 0)));
            }
            PointValue::Histogram(d) => {
                let start = d.minute_ms.saturating_mul(1_000_000);
                let semconv = match series.metric() {
                    registry::Metric::Histogram(h) if naming == OtlpNaming::SemanticConventions => {
                        h.http_request().map(|http| (http, h.scale()))
                    }
                    _ => None,
                };
                let point = match semconv {
                    // Recorded in nanoseconds, reported scaled: back to seconds.
                    Some((http, scale)) => {
                        let at = metric_for(SEMCONV_DURATION, Shape::Histogram, "s");
                        let attrs = http_attributes(series, http);
                        (at, exponential(&d.centroids, attrs, start, 1e-9 / scale))
                    }
                    None => {
                        let at = metric_for(series.name(), Shape::Histogram, "");
                        (
                            at,
                            exponential(&d.centroids, series_attributes(series), start, 1.0),
                        )
                    }
                };
                histograms.push(point);
            }
        }
    }
    for (at, point) in numbers {
        match &mut metrics[at].data {
            Some(metric::Data::Sum(sum)) => sum.data_points.push(point),
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.push(point),
            _ => {}
        }
    }
    for (at, point) in histograms {
        if let Some(metric::Data::ExponentialHistogram(h)) = &mut metrics[at].data {
            h.data_points.push(point);
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource.clone()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// OpenTelemetry's HTTP server duration histogram.
pub(super) const SEMCONV_DURATION: &str = "http.server.request.duration";

/// The semantic conventions' attributes of a request latency series, then
/// the series' application tags and handler (all but its Wavefront-only
/// naming).
fn http_attributes(series: &Entry, http: &HttpRequestDuration) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(series.tags().len() + 3);
    if let Some(route) = &http.route {
        attrs.push(key_value("http.route", route));
    }
    attrs.push(key_value("http.request.method", http.method));
    attrs.push(KeyValue {
        key: "http.response.status_code".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(i64::from(http.status))),
        }),
        ..Default::default()
    });
    attrs.extend(series_attributes(series));
    attrs
}

/// The bucket of `value` (> 0) at `scale`: bucket `i` holds
/// `(base^i, base^(i+1)]`, `base = 2^(2^-scale)`.
fn bucket_index(value: f64, scale: i32) -> i64 {
    let index = (value.log2() * 2f64.powi(scale)).ceil() - 1.0;
    index as i64
}

/// The finest scale at which `low..=high` (both > 0) spans at most
/// [`MAX_BUCKETS`] buckets.
fn scale_for(low: f64, high: f64) -> i32 {
    (MIN_SCALE..=MAX_SCALE)
        .rev()
        .find(|&s| bucket_index(high, s) - bucket_index(low, s) < MAX_BUCKETS)
        .unwrap_or(MIN_SCALE)
}

/// Buckets of `values` (> 0, with counts) at `scale`.
fn buckets(values: &[(f64, u64)], scale: i32) -> Option<Buckets> {
    let low = values.iter().map(|(v, _)| bucket_index(*v, scale)).min()?;
    let high = values.iter().map(|(v, _)| bucket_index(*v, scale)).max()?;
    let mut counts = vec![0u64; usize::try_from(high - low + 1).ok()?];
    for (v, count) in values {
        let at = usize::try_from(bucket_index(*v, scale) - low).ok()?;
        counts[at] += count;
    }
    Some(Buckets {
        offset: i32::try_from(low).ok()?,
        bucket_counts: counts,
    })
}

/// One minute's centroids as an exponential histogram point, each value
/// multiplied by `factor` (a unit change).
fn exponential(
    centroids: &[Centroid],
    attributes: Vec<KeyValue>,
    start_ns: u64,
    factor: f64,
) -> ExponentialHistogramDataPoint {
    let values: Vec<(f64, u64)> = centroids
        .iter()
        .filter(|c| c.mean.is_finite())
        .map(|c| (c.mean * factor, c.count))
        .collect();
    let count = values.iter().map(|(_, n)| n).sum();
    let sum = values.iter().map(|(v, n)| v * *n as f64).sum();
    let min = values.iter().map(|(v, _)| *v).reduce(f64::min);
    let max = values.iter().map(|(v, _)| *v).reduce(f64::max);
    let positive: Vec<(f64, u64)> = values.iter().copied().filter(|(v, _)| *v > 0.0).collect();
    let negative: Vec<(f64, u64)> = values
        .iter()
        .filter(|(v, _)| *v < 0.0)
        .map(|(v, n)| (-v, *n))
        .collect();
    let zero_count = values
        .iter()
        .filter(|(v, _)| *v == 0.0)
        .map(|(_, n)| n)
        .sum();
    let magnitudes = || positive.iter().chain(&negative).map(|(v, _)| *v);
    let scale = match (magnitudes().reduce(f64::min), magnitudes().reduce(f64::max)) {
        (Some(low), Some(high)) => scale_for(low, high),
        _ => 0,
    };
    ExponentialHistogramDataPoint {
        attributes,
        start_time_unix_nano: start_ns,
        time_unix_nano: start_ns.saturating_add(MINUTE_NS),
        count,
        sum: Some(sum),
        scale,
        zero_count,
        positive: buckets(&positive, scale),
        negative: buckets(&negative, scale),
        min,
        max,
        ..Default::default()
    }
}

/// A span id as W3C carries it: 8 bytes (the same folding as the W3C
/// propagator, so an id that came in a `traceparent` goes out unchanged).
fn span_id_bytes(id: SpanId) -> Option<Vec<u8>> {
    crate::trace::span_id_64(id).map(|bits| bits.to_be_bytes().to_vec())
}

fn kind(value: &str) -> SpanKind {
    match value {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn span(finished: &FinishedSpan) -> Option<Span> {
    let d = &finished.data;
    let trace_id = d.context.trace_id.to_u128().to_be_bytes().to_vec();
    let span_id = span_id_bytes(d.context.span_id)?;
    let mut parents = d.parents.iter().filter_map(|&p| span_id_bytes(p));
    let parent_span_id = parents.next().unwrap_or_default();
    let links = parents
        .chain(d.follows_from.iter().filter_map(|&p| span_id_bytes(p)))
        .map(|span_id| Link {
            trace_id: trace_id.clone(),
            span_id,
            ..Default::default()
        })
        .collect();
    let mut span_kind = SpanKind::Internal;
    let mut error = false;
    let tags = d.all_tags().filter(|(k, v)| match *k {
        "span.kind" => {
            span_kind = kind(v);
            false
        }
        "error" if v.eq_ignore_ascii_case("true") => {
            error = true;
            false
        }
        _ => true,
    });
    let attributes = attributes(tags.collect::<Vec<_>>());
    let start = d.start_micros.saturating_mul(1_000);
    let events = d
        .logs
        .iter()
        .map(|log| {
            let name = log
                .fields
                .iter()
                .find(|(k, _)| k == "event")
                .map_or("log", |(_, v)| &**v);
            Event {
                time_unix_nano: log.timestamp_micros.saturating_mul(1_000),
                name: name.to_owned(),
                attributes: attributes_of_log(&log.fields),
                ..Default::default()
            }
        })
        .collect();
    Some(Span {
        trace_id,
        span_id,
        parent_span_id,
        // W3C trace flags: sampled (only sampled spans are exported).
        flags: 1,
        name: d.operation.to_string(),
        kind: span_kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(finished.duration_micros.saturating_mul(1_000)),
        attributes,
        events,
        links,
        status: Some(Status {
            code: if error {
                StatusCode::Error
            } else {
                StatusCode::Unset
            } as i32,
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn attributes_of_log(
    fields: &[(
        std::borrow::Cow<'static, str>,
        std::borrow::Cow<'static, str>,
    )],
) -> Vec<KeyValue> {
    attributes(fields.iter().map(|(k, v)| (&**k, &**v)))
}

/// One traces request; spans without a valid id (all-zero) are left out and
/// counted in the second value.
pub(super) fn traces(
    resource: &Resource,
    records: &[Record],
) -> (ExportTraceServiceRequest, usize) {
    let mut invalid = 0;
    let spans = records
        .iter()
        .filter_map(|record| match record {
            Record::Span(finished) => {
                let span = span(finished);
                invalid += usize::from(span.is_none());
                span
            }
            Record::Point { .. } => None,
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    (request, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_every_value_within_the_scale_error() {
        let values = [(0.8, 3), (1.0, 1), (120.0, 5), (5_000.0, 2)];
        let low = 0.8;
        let high = 5_000.0;
        let scale = scale_for(low, high);
        assert!(bucket_index(high, scale) - bucket_index(low, scale) < MAX_BUCKETS);
        assert!(bucket_index(high, scale + 1) - bucket_index(low, scale + 1) >= MAX_BUCKETS);
        let b = buckets(&values, scale).unwrap();
        assert_eq!(b.bucket_counts.iter().sum::<u64>(), 11);
        let base = 2f64.powf(2f64.powi(-scale));
        for (v, _) in values {
            let i = bucket_index(v, scale);
            // (base^i, base^(i+1)]
            assert!(
                base.powi(i as i32) < v * (1.0 + 1e-9)
                    && v <= base.powi(i as i32 + 1) * (1.0 + 1e-9)
            );
        }
    }

    #[test]
    fn one_value_gets_the_finest_scale() {
        assert_eq!(scale_for(42.0, 42.0), MAX_SCALE);
        let point = exponential(
            &[
                Centroid {
                    mean: 42.0,
                    count: 7,
                },
                Centroid {
                    mean: 0.0,
                    count: 1,
                },
                Centroid {
                    mean: -2.0,
                    count: 2,
                },
            ],
            Vec::new(),
            60_000_000_000,
            1.0,
        );
        assert_eq!((point.count, point.zero_count), (10, 1));
        assert_eq!(point.sum, Some(42.0 * 7.0 - 4.0));
        assert_eq!((point.min, point.max), (Some(-2.0), Some(42.0)));
        assert_eq!(point.positive.unwrap().bucket_counts.iter().sum::<u64>(), 7);
        assert_eq!(point.negative.unwrap().bucket_counts.iter().sum::<u64>(), 2);
        assert_eq!(point.time_unix_nano - point.start_time_unix_nano, MINUTE_NS);
    }

    #[test]
    fn a_repeated_tag_key_becomes_an_array() {
        let attrs = attributes([("a", "1"), ("b", "2"), ("a", "3"), ("a", "4")]);
        assert_eq!(attrs.len(), 2);
        let Some(any_value::Value::ArrayValue(array)) =
            attrs[0].value.as_ref().and_then(|v| v.value.clone())
        else {
            panic!("{attrs:?}");
        };
        assert_eq!(array.values, vec![text("1"), text("3"), text("4")]);
    }
}
