//! What an OTLP exporter sent, as OpenTelemetry's own protobuf classes read
//! it: the Python package `opentelemetry-proto` (pinned in
//! `interop/otlp-requirements.txt`, installed by `interop/venv.py otlp` into
//! its own virtualenv, [`crate::interop::venv_python`]) decodes each request body, and this module flattens
//! the result into [`OtlpPoint`]s and [`OtlpSpan`]s for tests.
//!
//! A decoder nobody here wrote: if the exporter's bytes were not valid OTLP,
//! the decoding fails and so does the test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::interop::{venv_python, workspace_root};
use crate::receiver::OtlpRequest;

/// One data point of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpPoint {
    /// The metric's name.
    pub name: String,
    /// `sum`, `gauge` or `exponential_histogram`.
    pub kind: String,
    /// `AGGREGATION_TEMPORALITY_CUMULATIVE` or `…_DELTA` (empty for gauges).
    pub temporality: String,
    /// The point's attributes, as text (arrays joined with `,`).
    pub attributes: BTreeMap<String, String>,
    /// The value of a sum or gauge point.
    pub value: f64,
    /// The count of a histogram point.
    pub count: u64,
    /// The sum of a histogram point.
    pub sum: f64,
    /// The metric's unit.
    pub unit: String,
}

/// One span.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSpan {
    /// Its name (the operation).
    pub name: String,
    /// `SPAN_KIND_SERVER`, …
    pub kind: String,
    /// `STATUS_CODE_ERROR`, or empty when unset.
    pub status: String,
    /// Hex.
    pub trace_id: String,
    /// Hex.
    pub span_id: String,
    /// Hex; empty for a root span.
    pub parent_span_id: String,
    /// Attributes as text, in order.
    pub attributes: Vec<(String, String)>,
    /// The events' names.
    pub events: Vec<String>,
}

/// Decodes request bodies of `signal` (`metrics` or `traces`) with
/// `opentelemetry-proto`; one JSON document per body.
///
/// # Panics
///
/// If the decoder cannot run or rejects a body.
#[must_use]
pub fn decode(signal: &str, bodies: &[&[u8]]) -> Vec<Value> {
    if bodies.is_empty() {
        return Vec::new();
    }
    let dir = std::env::temp_dir().join(format!(
        "wavefront-otlp-{}-{signal}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let files: Vec<PathBuf> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let path = dir.join(format!("{i}.pb"));
            std::fs::write(&path, body).expect("write a body");
            path
        })
        .collect();
    let out = Command::new(venv_python(Some("otlp")))
        .arg(workspace_root().join("interop/otlp_decode.py"))
        .arg(signal)
        .args(&files)
        .output()
        .expect("run interop/otlp_decode.py");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "opentelemetry-proto could not decode the {signal}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("the decoder prints JSON"))
        .collect()
}

/// Decodes every request of `signal` the receiver accepted.
#[must_use]
pub fn decode_requests(requests: &[OtlpRequest], signal: &str) -> Vec<Value> {
    let bodies: Vec<&[u8]> = requests
        .iter()
        .filter(|r| r.signal == signal)
        .map(|r| r.body.as_slice())
        .collect();
    decode(signal, &bodies)
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn number(v: &Value, key: &str) -> f64 {
    match v.get(key) {
        Some(Value::String(s)) => s.parse().unwrap_or(f64::NAN),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        _ => 0.0,
    }
}

/// An `AnyValue` as text.
fn any_value(v: &Value) -> String {
    if let Some(array) = v.get("array_value") {
        return array_values(array);
    }
    ["string_value", "int_value", "double_value", "bool_value"]
        .iter()
        .map(|k| text(v, k))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

fn array_values(array_value: &Value) -> String {
    array(array_value, "values")
        .map(any_value)
        .collect::<Vec<_>>()
        .join(",")
}

fn attributes(v: &Value) -> Vec<(String, String)> {
    array(v, "attributes")
        .map(|kv| {
            let value = kv.get("value").map(any_value).unwrap_or_default();
            (text(kv, "key"), value)
        })
        .collect()
}

/// The resource attributes of the first resource of decoded requests.
#[must_use]
pub fn resource(decoded: &[Value]) -> BTreeMap<String, String> {
    decoded
        .iter()
        .flat_map(|d| array(d, "resource_metrics").chain(array(d, "resource_spans")))
        .filter_map(|r| r.get("resource"))
        .map(|r| attributes(r).into_iter().collect())
        .next()
        .unwrap_or_default()
}

/// Every data point of decoded metrics requests, in order.
#[must_use]
pub fn points(decoded: &[Value]) -> Vec<OtlpPoint> {
    let mut out = Vec::new();
    for metric in decoded
        .iter()
        .flat_map(|d| array(d, "resource_metrics"))
        .flat_map(|r| array(r, "scope_metrics"))
        .flat_map(|s| array(s, "metrics"))
    {
        for kind in ["sum", "gauge", "exponential_histogram"] {
            let Some(data) = metric.get(kind) else {
                continue;
            };
            for point in array(data, "data_points") {
                let value = if point.get("as_int").is_some() {
                    number(point, "as_int")
                } else {
                    number(point, "as_double")
                };
                out.push(OtlpPoint {
                    name: text(metric, "name"),
                    kind: kind.to_owned(),
                    temporality: text(data, "aggregation_temporality"),
                    attributes: attributes(point).into_iter().collect(),
                    value,
                    count: number(point, "count") as u64,
                    sum: number(point, "sum"),
                    unit: text(metric, "unit"),
                });
            }
        }
    }
    out
}

/// Every span of decoded traces requests, in order.
#[must_use]
pub fn spans(decoded: &[Value]) -> Vec<OtlpSpan> {
    decoded
        .iter()
        .flat_map(|d| array(d, "resource_spans"))
        .flat_map(|r| array(r, "scope_spans"))
        .flat_map(|s| array(s, "spans"))
        .map(|span| OtlpSpan {
            name: text(span, "name"),
            kind: text(span, "kind"),
            status: span
                .get("status")
                .map(|s| text(s, "code"))
                .unwrap_or_default(),
            trace_id: text(span, "trace_id"),
            span_id: text(span, "span_id"),
            parent_span_id: text(span, "parent_span_id"),
            attributes: attributes(span),
            events: array(span, "events").map(|e| text(e, "name")).collect(),
        })
        .collect()
}
