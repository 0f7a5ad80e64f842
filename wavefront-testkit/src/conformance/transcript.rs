//! The normalised transcript of a run: what two conforming adapters must
//! have sent alike.

use std::collections::BTreeMap;

use crate::receiver::Receiver;

/// Replaces the component in a series name (`axum.…`, `∆axum.…`) or a tag
/// key (`axum.func`) by `<component>`.
fn normalise(text: &str, c: &str) -> String {
    for prefix in ["", "∆"] {
        if let Some(rest) = text.strip_prefix(&format!("{prefix}{c}.")) {
            return format!("{prefix}<component>.{rest}");
        }
    }
    text.to_owned()
}

fn tags(tags: &[(String, String)], c: &str) -> String {
    let mut tags: Vec<String> = tags
        .iter()
        .map(|(k, v)| {
            let v = if k == "component" && v == c {
                "<component>"
            } else {
                v
            };
            format!("{}={v}", normalise(k, c))
        })
        .collect();
    tags.sort();
    tags.join(" ")
}

/// The path of an `http.url` (its scheme, host and port vary).
fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url)
}

pub(super) fn of(receiver: &Receiver, c: &str) -> Vec<String> {
    let mut lines = Vec::new();
    // Counters and gauges by their last value, delta counters by their sum.
    let mut series: BTreeMap<String, f64> = BTreeMap::new();
    for point in receiver.metrics() {
        if point.name.trim_start_matches('∆').starts_with("~sdk.") {
            continue;
        }
        let key = format!(
            "metric {} source={} {}",
            normalise(&point.name, c),
            point.source,
            tags(&point.tags, c)
        );
        let value = series.entry(key).or_insert(0.0);
        if point.is_delta() {
            *value += point.value;
        } else {
            *value = point.value;
        }
    }
    lines.extend(series.into_iter().map(|(key, value)| {
        // A sum of durations varies from run to run; its series does not.
        if key.contains(".total_time.") {
            key
        } else {
            format!("{key} = {value}")
        }
    }));
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for h in receiver.histograms() {
        let key = format!(
            "histogram {} {} source={} {}",
            h.granularity,
            normalise(&h.name, c),
            h.source,
            tags(&h.tags, c)
        );
        *counts.entry(key).or_insert(0) += h.count();
    }
    lines.extend(
        counts
            .into_iter()
            .map(|(key, n)| format!("{key} samples={n}")),
    );
    let logs = receiver.span_logs();
    for span in receiver.spans() {
        let mut span_tags = span.tags.clone();
        for (k, v) in &mut span_tags {
            if k == "http.url" {
                *v = path_of(v).to_owned();
            }
        }
        let parent = if span.parents.is_empty() {
            "root".to_owned()
        } else {
            format!("trace={} parents={:?}", span.trace_id, span.parents)
        };
        let log: Vec<String> = logs
            .iter()
            .filter(|l| l.span_id == span.span_id)
            .flat_map(|l| l.logs.iter().map(|e| format!("{:?}", e.fields)))
            .collect();
        lines.push(format!(
            "span {} source={} {parent} {} logs={log:?}",
            span.operation,
            span.source,
            tags(&span_tags, c)
        ));
    }
    lines.sort();
    lines
}
