//! The mapping from the reporter's data to OpenTelemetry's protobuf
//! messages (the table in the [parent module](super)).

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
#[cfg(test)]
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, ExponentialHistogramDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span::{Event, Link, SpanKind},
    status::StatusCode,
    Span, Status,
};

use crate::export::MetricPoint;
use crate::histogram::HttpRequestDuration;
use crate::registry::Entry;
use crate::tags::ApplicationTags;
use crate::trace::FinishedSpan;
use crate::wire::Centroid;
use crate::SpanId;

/// Most buckets of an exponential histogram (OpenTelemetry SDKs' default).
pub(super) const MAX_BUCKETS: i64 = 160;
/// The finest scale tried (the protocol's limit is 20).
const MAX_SCALE: i32 = 20;
/// The coarsest scale tried: each bucket covers a factor of 2^(2^10).
const MIN_SCALE: i32 = -10;
/// One minute, the span of a Wavefront minute histogram.
pub(super) const MINUTE_NS: u64 = 60_000_000_000;

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
pub(super) fn attributes<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<KeyValue> {
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

pub(super) fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "wavefront-rust-sdk".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

pub(super) fn series_attributes(series: &Entry) -> Vec<KeyValue> {
    attributes(series.tags().iter().map(|(k, v)| (&**k, &**v)))
}

/// A point and its interval.
pub(super) struct TimedPoint<'a> {
    pub(super) point: &'a MetricPoint,
    /// The start of a cumulative sum's interval.
    pub(super) start_ns: u64,
    /// When the report was taken.
    pub(super) time_ns: u64,
}

/// OpenTelemetry's HTTP server duration histogram.
pub(super) const SEMCONV_DURATION: &str = "http.server.request.duration";

/// The semantic conventions' attributes of a request latency series, then
/// the series' application tags and handler (all but its Wavefront-only
/// naming).
pub(super) fn http_attributes(series: &Entry, http: &HttpRequestDuration) -> Vec<KeyValue> {
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
pub(super) fn bucket_index(value: f64, scale: i32) -> i64 {
    let index = (value.log2() * 2f64.powi(scale)).ceil() - 1.0;
    index as i64
}

/// The finest scale at which `low..=high` (both > 0) spans at most
/// [`MAX_BUCKETS`] buckets.
fn scale_for(low: f64, high: f64) -> i32 {
    let fits = |s: i32| bucket_index(high, s) - bucket_index(low, s) < MAX_BUCKETS;
    // Buckets double with each step of scale: start from the estimate, then
    // settle on the exact answer with the index function itself.
    let octaves = high.log2() - low.log2();
    let estimate = if octaves > 0.0 {
        ((MAX_BUCKETS - 1) as f64 / octaves).log2().floor()
    } else {
        f64::from(MAX_SCALE)
    };
    let mut scale = (estimate as i32).clamp(MIN_SCALE, MAX_SCALE);
    while scale > MIN_SCALE && !fits(scale) {
        scale -= 1;
    }
    while scale < MAX_SCALE && fits(scale + 1) {
        scale += 1;
    }
    scale
}

/// Buckets of `values` (> 0, with counts) at `scale`, as a struct (the
/// reference model's; the writer fills them in place).
#[cfg(test)]
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

/// What an exponential histogram point says besides its buckets, from one
/// minute's centroids (values multiplied by a unit change), in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Exponential {
    pub(super) count: u64,
    pub(super) sum: f64,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
    pub(super) zero_count: u64,
    pub(super) scale: i32,
    /// The smallest and largest magnitude of the positive values, if any.
    pub(super) positive: Option<(f64, f64)>,
    /// The same for the negative values.
    pub(super) negative: Option<(f64, f64)>,
}

/// The finite values of `centroids`, times `factor`, with their counts.
pub(super) fn values(
    centroids: &[Centroid],
    factor: f64,
) -> impl Iterator<Item = (f64, u64)> + Clone + '_ {
    centroids
        .iter()
        .filter(|c| c.mean.is_finite())
        .map(move |c| (c.mean * factor, c.count))
}

pub(super) fn summarize(centroids: &[Centroid], factor: f64) -> Exponential {
    let mut e = Exponential {
        count: 0,
        sum: 0.0,
        min: None,
        max: None,
        zero_count: 0,
        scale: 0,
        positive: None,
        negative: None,
    };
    let widen = |range: Option<(f64, f64)>, m: f64| {
        Some(range.map_or((m, m), |(lo, hi)| (f64::min(lo, m), f64::max(hi, m))))
    };
    for (v, n) in values(centroids, factor) {
        e.count += n;
        e.sum += v * n as f64;
        e.min = Some(e.min.map_or(v, |m| m.min(v)));
        e.max = Some(e.max.map_or(v, |m| m.max(v)));
        if v > 0.0 {
            e.positive = widen(e.positive, v);
        } else if v < 0.0 {
            e.negative = widen(e.negative, -v);
        } else {
            e.zero_count += n;
        }
    }
    let magnitudes = match (e.positive, e.negative) {
        (Some(p), Some(n)) => Some((p.0.min(n.0), p.1.max(n.1))),
        (p, n) => p.or(n),
    };
    if let Some((low, high)) = magnitudes {
        e.scale = scale_for(low, high);
    }
    e
}

/// One minute's centroids as an exponential histogram point struct, each
/// value multiplied by `factor` (a unit change): the reference model's.
#[cfg(test)]
pub(super) fn exponential(
    centroids: &[Centroid],
    attributes: Vec<KeyValue>,
    start_ns: u64,
    factor: f64,
) -> ExponentialHistogramDataPoint {
    let e = summarize(centroids, factor);
    let positive: Vec<(f64, u64)> = values(centroids, factor)
        .filter(|(v, _)| *v > 0.0)
        .collect();
    let negative: Vec<(f64, u64)> = values(centroids, factor)
        .filter(|(v, _)| *v < 0.0)
        .map(|(v, n)| (-v, n))
        .collect();
    ExponentialHistogramDataPoint {
        attributes,
        start_time_unix_nano: start_ns,
        time_unix_nano: start_ns.saturating_add(MINUTE_NS),
        count: e.count,
        sum: Some(e.sum),
        scale: e.scale,
        zero_count: e.zero_count,
        positive: buckets(&positive, e.scale),
        negative: buckets(&negative, e.scale),
        min: e.min,
        max: e.max,
        ..Default::default()
    }
}

/// A span id as W3C carries it: 8 bytes (the same folding as the W3C
/// propagator, so an id that came in a `traceparent` goes out unchanged).
fn span_id_bytes(id: SpanId) -> Option<Vec<u8>> {
    crate::trace::span_id_64(id).map(|bits| bits.to_be_bytes().to_vec())
}

pub(super) fn kind(value: &str) -> SpanKind {
    match value {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

pub(super) fn span(finished: &FinishedSpan) -> Option<Span> {
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
        // Unset unless an error: the status is left out.
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
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
