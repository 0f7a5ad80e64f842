//! Traces assembled from spans and span logs, whichever service sent them
//! and in whatever order they arrived; the most recent [`TRACES`] are kept.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};

use crate::parse::{LogEntry, Span, SpanLogs};

use super::{SPANS_PER_TRACE, TRACES};

/// Starts above this are in microseconds (the SDKs write microseconds; the
/// format's milliseconds would be this large only in the year 5138).
const MICROS_FROM: u64 = 100_000_000_000_000;

#[derive(Debug, Default)]
struct Trace {
    spans: Vec<Span>,
    /// Span logs by span id, in arrival order.
    logs: Vec<(String, LogEntry)>,
    /// When the trace last got a line (an arrival counter, for eviction and
    /// ordering).
    touched: u64,
    /// Spans or logs not kept because the trace was full.
    refused: u64,
}

/// The kept traces.
#[derive(Debug, Default)]
pub(super) struct Traces {
    traces: HashMap<String, Trace>,
    arrivals: u64,
    /// Traces dropped to keep the last [`TRACES`].
    pub(super) evicted: u64,
}

/// A span's start and duration in microseconds.
fn micros(span: &Span) -> (u64, u64) {
    if span.start >= MICROS_FROM {
        (span.start, span.duration)
    } else {
        (
            span.start.saturating_mul(1000),
            span.duration.saturating_mul(1000),
        )
    }
}

fn is_error(span: &Span) -> bool {
    span.tag_values("error").any(|v| v == "true")
}

fn service(span: &Span) -> String {
    span.tag("service").unwrap_or(&span.source).to_owned()
}

impl Traces {
    pub(super) fn span(&mut self, span: &Span) {
        let trace = self.touch(&span.trace_id);
        if trace.spans.iter().any(|s| s.span_id == span.span_id) {
            return; // Already known, e.g. from its span logs.
        }
        if trace.spans.len() >= SPANS_PER_TRACE {
            trace.refused += 1;
            return;
        }
        trace.spans.push(span.clone());
    }

    pub(super) fn span_logs(&mut self, logs: &SpanLogs) {
        if let Some(span) = &logs.span {
            self.span(span);
        }
        let trace = self.touch(&logs.trace_id);
        for entry in &logs.logs {
            if trace.logs.len() >= SPANS_PER_TRACE {
                trace.refused += 1;
                return;
            }
            trace.logs.push((logs.span_id.clone(), entry.clone()));
        }
    }

    /// The trace, created if new (evicting the least recently touched one
    /// when full), marked as just touched.
    fn touch(&mut self, trace_id: &str) -> &mut Trace {
        self.arrivals += 1;
        if !self.traces.contains_key(trace_id) && self.traces.len() >= TRACES {
            let oldest = self
                .traces
                .iter()
                .min_by_key(|(_, t)| t.touched)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                self.traces.remove(&oldest);
                self.evicted += 1;
            }
        }
        let trace = self.traces.entry(trace_id.to_owned()).or_default();
        trace.touched = self.arrivals;
        trace
    }

    /// The kept traces, most recently touched first.
    pub(super) fn list_json(&self) -> Value {
        let mut traces: Vec<(&String, &Trace)> = self.traces.iter().collect();
        traces.sort_by_key(|(_, t)| std::cmp::Reverse(t.touched));
        let list: Vec<Value> = traces
            .into_iter()
            .filter(|(_, t)| !t.spans.is_empty())
            .map(|(id, t)| summary(id, t))
            .collect();
        json!({ "traces": list, "evicted": self.evicted })
    }

    pub(super) fn trace_json(&self, trace_id: &str) -> Option<Value> {
        let trace = self.traces.get(trace_id)?;
        let mut value = summary(trace_id, trace);
        let begin = trace.spans.iter().map(|s| micros(s).0).min().unwrap_or(0);
        let spans: Vec<Value> = waterfall(&trace.spans)
            .into_iter()
            .map(|(depth, span)| {
                let (start, duration) = micros(span);
                let parent = span.parents.first().or(span.follows_from.first());
                let logs: Vec<Value> = trace
                    .logs
                    .iter()
                    .filter(|(id, _)| *id == span.span_id)
                    .map(|(_, log)| {
                        json!({
                            "offset_us": log.timestamp.saturating_sub(i64::try_from(begin).unwrap_or(i64::MAX)),
                            "fields": log.fields,
                        })
                    })
                    .collect();
                json!({
                    "span_id": span.span_id,
                    "parent_id": parent,
                    "depth": depth,
                    "operation": span.operation,
                    "service": service(span),
                    "source": span.source,
                    "component": span.tag("component"),
                    "kind": span.tag("span.kind"),
                    "error": is_error(span),
                    "offset_us": start - begin,
                    "duration_us": duration,
                    "tags": span.tags,
                    "logs": logs,
                })
            })
            .collect();
        value["spans"] = Value::Array(spans);
        value["refused"] = json!(trace.refused);
        Some(value)
    }
}

fn summary(trace_id: &str, trace: &Trace) -> Value {
    let times: Vec<(u64, u64)> = trace.spans.iter().map(micros).collect();
    let begin = times.iter().map(|t| t.0).min().unwrap_or(0);
    let end = times
        .iter()
        .map(|t| t.0.saturating_add(t.1))
        .max()
        .unwrap_or(0);
    let ids: BTreeSet<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    let root = trace
        .spans
        .iter()
        .filter(|s| parent_in(s, &ids).is_none())
        .min_by_key(|s| micros(s).0)
        .map(|s| s.operation.clone());
    // Services in the order they joined the trace.
    let mut by_start: Vec<&Span> = trace.spans.iter().collect();
    by_start.sort_by_key(|s| micros(s).0);
    let mut services = Vec::new();
    for span in by_start {
        let s = service(span);
        if !services.contains(&s) {
            services.push(s);
        }
    }
    json!({
        "trace_id": trace_id,
        "root": root,
        "span_count": trace.spans.len(),
        "services": services,
        "start_us": begin,
        "duration_us": end - begin,
        "error": trace.spans.iter().any(is_error),
    })
}

/// The first of a span's parents (or spans it follows) that is in the
/// trace, other than itself.
fn parent_in<'a>(span: &'a Span, ids: &BTreeSet<&str>) -> Option<&'a str> {
    span.parents
        .iter()
        .chain(&span.follows_from)
        .find(|p| ids.contains(p.as_str()) && **p != span.span_id)
        .map(String::as_str)
}

/// The spans in waterfall order: each root (a span whose parent did not
/// arrive) by start time, each followed by its children, depth first.
fn waterfall(spans: &[Span]) -> Vec<(usize, &Span)> {
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut by_start: Vec<&Span> = spans.iter().collect();
    by_start.sort_by_key(|s| micros(s).0);
    let mut roots = Vec::new();
    let mut children: HashMap<&str, Vec<&Span>> = HashMap::new();
    for span in &by_start {
        match parent_in(span, &ids) {
            Some(parent) => children.entry(parent).or_default().push(span),
            None => roots.push(*span),
        }
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut placed = BTreeSet::new();
    let mut stack: Vec<(usize, &Span)> = roots.iter().rev().map(|s| (0, *s)).collect();
    loop {
        while let Some((depth, span)) = stack.pop() {
            if !placed.insert(span.span_id.as_str()) {
                continue;
            }
            out.push((depth, span));
            if let Some(kids) = children.get(span.span_id.as_str()) {
                stack.extend(kids.iter().rev().map(|c| (depth + 1, *c)));
            }
        }
        // Spans in a parent cycle have no root: start from the earliest.
        match by_start
            .iter()
            .find(|s| !placed.contains(s.span_id.as_str()))
        {
            Some(s) => stack.push((0, s)),
            None => return out,
        }
    }
}
