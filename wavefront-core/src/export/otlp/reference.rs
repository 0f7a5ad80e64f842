//! OTLP requests built from `opentelemetry-proto`'s message structs: the
//! model that the direct writer ([`super::proto`]) is tested against.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, ExponentialHistogram, Gauge, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use super::encode::{
    exponential, http_attributes, scope, series_attributes, span, TimedPoint, SEMCONV_DURATION,
};
use super::OtlpNaming;
use crate::export::PointValue;
use crate::registry;
use crate::trace::FinishedSpan;

/// One metrics request, one `Metric` per point, built from the message
/// structs: the model the direct writer ([`super::proto`]) is tested against.
pub(super) fn metrics<'a>(
    resource: &Resource,
    points: impl IntoIterator<Item = TimedPoint<'a>>,
    naming: OtlpNaming,
) -> ExportMetricsServiceRequest {
    let mut metrics = Vec::new();
    for TimedPoint {
        point,
        start_ns,
        time_ns,
    } in points
    {
        let series = &point.series;
        let number = |value: number_data_point::Value, start: u64| {
            vec![NumberDataPoint {
                attributes: series_attributes(series),
                start_time_unix_nano: start,
                time_unix_nano: time_ns,
                value: Some(value),
                ..Default::default()
            }]
        };
        let sum = |data_points, temporality: AggregationTemporality| {
            metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: temporality as i32,
                is_monotonic: true,
            })
        };
        let (name, unit, data) = match &point.value {
            PointValue::Counter(n) => {
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                let points = number(number_data_point::Value::AsInt(n), start_ns);
                (
                    series.name(),
                    "",
                    sum(points, AggregationTemporality::Cumulative),
                )
            }
            PointValue::Delta(v) => {
                let points = number(number_data_point::Value::AsDouble(*v), 0);
                (
                    series.name(),
                    "",
                    sum(points, AggregationTemporality::Delta),
                )
            }
            PointValue::Gauge(v) => {
                let data_points = number(number_data_point::Value::AsDouble(*v), 0);
                (
                    series.name(),
                    "",
                    metric::Data::Gauge(Gauge { data_points }),
                )
            }
            PointValue::Histogram(d) => {
                let start = d.minute_ms.saturating_mul(1_000_000);
                let semconv = match series.metric() {
                    registry::Metric::Histogram(h) if naming == OtlpNaming::SemanticConventions => {
                        h.http_request().map(|http| (http, h.scale()))
                    }
                    _ => None,
                };
                let (name, unit, point) = match semconv {
                    Some((http, scale)) => {
                        let attrs = http_attributes(series, http);
                        (
                            SEMCONV_DURATION,
                            "s",
                            exponential(&d.centroids, attrs, start, 1e-9 / scale),
                        )
                    }
                    None => (
                        series.name(),
                        "",
                        exponential(&d.centroids, series_attributes(series), start, 1.0),
                    ),
                };
                let data = metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![point],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                });
                (name, unit, data)
            }
        };
        metrics.push(Metric {
            name: name.to_owned(),
            unit: unit.to_owned(),
            data: Some(data),
            ..Default::default()
        });
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

/// One traces request built from the message structs (the model the direct
/// writer is tested against); spans without a valid id (all-zero) are left
/// out and counted in the second value.
pub(super) fn traces<'a>(
    resource: &Resource,
    finished: impl IntoIterator<Item = &'a FinishedSpan>,
) -> (ExportTraceServiceRequest, usize) {
    let mut invalid = 0;
    let spans = finished
        .into_iter()
        .filter_map(|finished| {
            let span = span(finished);
            invalid += usize::from(span.is_none());
            span
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
