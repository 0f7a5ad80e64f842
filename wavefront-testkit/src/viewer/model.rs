//! What the viewer shows, aggregated line by line as they arrive.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use crate::parse::{Line, Point};
use crate::receiver::{HttpRequest, Received};

use super::routes::Routes;
use super::traces::Traces;
use super::{MINUTES, PROBLEMS, SERIES, SPANS_PER_TRACE, TRACES};

/// The longest part of a rejected line (or its reason) that is kept.
const MAX_LINE: usize = 4096;

/// The aggregation behind the page and its JSON: routes, traces, problems
/// and diagnostics, each bounded (see the [module documentation](super)).
///
/// ```
/// use wavefront_testkit::parse;
/// use wavefront_testkit::receiver::{Channel, Received};
/// use wavefront_testkit::viewer::Model;
///
/// let line = "\"axum.response.style.id.make.GET.200.cumulative.count\" 3.0 source=\"h\" \"axum.func\"=\"make_shirts\"";
/// let mut model = Model::new();
/// model.ingest(&Received {
///     channel: Channel::MetricsTcp,
///     line: line.to_owned(),
///     parsed: parse::parse_metrics_port_line(line),
/// }, 0);
/// let routes = model.routes_json(0);
/// assert_eq!(routes["routes"][0]["handler"], "make_shirts");
/// assert_eq!(routes["routes"][0]["requests"], 3.0);
/// ```
#[derive(Debug, Default)]
pub struct Model {
    routes: Routes,
    traces: Traces,
    problems: VecDeque<Problem>,
    diagnostics: BTreeMap<SeriesKey, Diagnostic>,
    heartbeats: BTreeMap<SeriesKey, Heartbeat>,
    counts: Counts,
}

#[derive(Debug)]
struct Problem {
    number: u64,
    at_ms: u64,
    channel: String,
    /// The parser's code (`WF-4xx`, `syntax`), or `http` for a request
    /// the receiver refused.
    code: &'static str,
    reason: String,
    line: String,
}

/// A diagnostic or heartbeat series: name (or component), source and
/// service.
type SeriesKey = (String, String, String);

#[derive(Debug)]
struct Diagnostic {
    delta: bool,
    last: f64,
    /// For delta counters, the sum of every report seen.
    total: f64,
    at_ms: u64,
}

#[derive(Debug)]
struct Heartbeat {
    application: String,
    at_ms: u64,
    beats: u64,
}

#[derive(Debug, Default)]
struct Counts {
    lines: u64,
    metrics: u64,
    delta_counters: u64,
    histograms: u64,
    spans: u64,
    span_logs: u64,
    rejected: u64,
    /// HTTP requests not accepted.
    refused_requests: u64,
    /// Problems seen (rejected lines and refused requests), kept or not.
    problems: u64,
    /// Diagnostic and heartbeat series not kept because the tables were full.
    refused_series: u64,
}

impl Model {
    /// An empty model.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in one received line; `now_ms` (milliseconds since the epoch)
    /// dates lines that carry no timestamp and moves the minutes window.
    pub fn ingest(&mut self, received: &Received, now_ms: u64) {
        let counts = &mut self.counts;
        counts.lines += 1;
        match &received.parsed {
            Err(e) => {
                counts.rejected += 1;
                self.problem(Problem {
                    number: 0,
                    at_ms: now_ms,
                    channel: received.channel.to_string(),
                    code: e.code,
                    reason: truncate(&e.reason, MAX_LINE),
                    line: truncate(&received.line, MAX_LINE),
                });
            }
            Ok(Line::Metric(point)) => {
                if point.is_delta() {
                    counts.delta_counters += 1;
                } else {
                    counts.metrics += 1;
                }
                self.routes.point(point, now_ms);
                self.sdk_point(point, now_ms);
            }
            Ok(Line::Histogram(histogram)) => {
                counts.histograms += 1;
                self.routes.histogram(histogram, now_ms);
            }
            Ok(Line::Span(span)) => {
                counts.spans += 1;
                self.traces.span(span);
            }
            Ok(Line::SpanLogs(logs)) => {
                counts.span_logs += 1;
                self.traces.span_logs(logs);
            }
        }
    }

    /// Takes in one HTTP request the receiver answered: one it did not
    /// accept is a problem (its lines, if any, were not read).
    pub fn ingest_http_request(&mut self, request: &HttpRequest, now_ms: u64) {
        if request.status_sent == 202 {
            return;
        }
        self.counts.refused_requests += 1;
        let why = match request.status_sent {
            400 => "bad request: an unknown format, a bad gzip body or an unreadable head",
            401 => "unauthorized: the token is missing or wrong",
            404 => "not found: direct ingestion posts to …/report",
            405 => "method not allowed: POST only",
            411 => "length required: send Content-Length",
            413 => "the body is too large",
            415 => "unsupported Content-Encoding",
            431 => "the request head is too large",
            _ => "refused (a fault switched on in the receiver?)",
        };
        let port = if request.on_metrics_port {
            "metrics port"
        } else {
            "http port"
        };
        self.problem(Problem {
            number: 0,
            at_ms: now_ms,
            channel: format!("http ({port})"),
            code: "http",
            reason: format!("answered {}: {why}", request.status_sent),
            // Not the headers: they may carry the token.
            line: truncate(
                &format!("{} {}", request.method, request.path_and_query),
                MAX_LINE,
            ),
        });
    }

    /// Keeps `problem`, numbered, dropping the oldest beyond [`PROBLEMS`].
    fn problem(&mut self, mut problem: Problem) {
        self.counts.problems += 1;
        problem.number = self.counts.problems;
        if self.problems.len() >= PROBLEMS {
            self.problems.pop_front();
        }
        self.problems.push_back(problem);
    }

    /// Diagnostics (`~sdk.*`) and heartbeats (`~component.heartbeat`),
    /// dated when they arrived (a sender's clock may be off).
    fn sdk_point(&mut self, point: &Point, at_ms: u64) {
        let service = point.tag("service").unwrap_or_default().to_owned();
        let name = point
            .name
            .trim_start_matches(['\u{2206}', '\u{0394}'])
            .to_owned();
        if name == "~component.heartbeat" {
            let component = point.tag("component").unwrap_or_default().to_owned();
            let key = (component, point.source.clone(), service);
            if !self.heartbeats.contains_key(&key) && self.heartbeats.len() >= SERIES {
                self.counts.refused_series += 1;
                return;
            }
            let beat = self.heartbeats.entry(key).or_insert(Heartbeat {
                application: String::new(),
                at_ms,
                beats: 0,
            });
            beat.application = point.tag("application").unwrap_or_default().to_owned();
            beat.at_ms = at_ms;
            beat.beats += 1;
        } else if name.starts_with("~sdk.") {
            let key = (name, point.source.clone(), service);
            if !self.diagnostics.contains_key(&key) && self.diagnostics.len() >= SERIES {
                self.counts.refused_series += 1;
                return;
            }
            let diagnostic = self.diagnostics.entry(key).or_insert(Diagnostic {
                delta: point.is_delta(),
                last: 0.0,
                total: 0.0,
                at_ms,
            });
            diagnostic.last = point.value;
            diagnostic.total += point.value;
            diagnostic.at_ms = at_ms;
        }
    }

    /// `/api/summary`: line counts, the bounds and what they dropped.
    #[must_use]
    pub fn summary_json(&self) -> Value {
        let c = &self.counts;
        json!({
            "lines": c.lines,
            "metrics": c.metrics,
            "delta_counters": c.delta_counters,
            "histograms": c.histograms,
            "spans": c.spans,
            "span_logs": c.span_logs,
            "rejected": c.rejected,
            "refused_requests": c.refused_requests,
            "limits": {
                "minutes": MINUTES,
                "traces": TRACES,
                "spans_per_trace": SPANS_PER_TRACE,
                "problems": PROBLEMS,
                "series": SERIES,
            },
            "dropped": {
                "traces": self.traces.evicted,
                "problems": c.problems.saturating_sub(self.problems.len() as u64),
                "route_series": self.routes.refused,
                "diagnostic_series": c.refused_series,
            },
        })
    }

    /// `/api/routes`: the routes table with its per-minute charts, and the
    /// in-flight total per component.
    #[must_use]
    pub fn routes_json(&self, now_ms: u64) -> Value {
        self.routes.to_json(now_ms)
    }

    /// `/api/traces`: the kept traces, most recent first.
    #[must_use]
    pub fn traces_json(&self) -> Value {
        self.traces.list_json()
    }

    /// `/api/traces/{id}`: one trace with its spans in waterfall order.
    #[must_use]
    pub fn trace_json(&self, trace_id: &str) -> Option<Value> {
        self.traces.trace_json(trace_id)
    }

    /// `/api/problems`: the last rejected lines and refused requests, newest
    /// first.
    #[must_use]
    pub fn problems_json(&self) -> Value {
        let items: Vec<Value> = self
            .problems
            .iter()
            .rev()
            .map(|p| {
                json!({
                    "number": p.number,
                    "at_ms": p.at_ms,
                    "channel": p.channel,
                    "code": p.code,
                    "reason": p.reason,
                    "line": p.line,
                })
            })
            .collect();
        json!({
            "rejected": self.counts.rejected,
            "refused_requests": self.counts.refused_requests,
            "problems": items,
        })
    }

    /// `/api/diagnostics`: the latest value of each `~sdk.*` series and the
    /// last heartbeat of each component.
    #[must_use]
    pub fn diagnostics_json(&self) -> Value {
        let diagnostics: Vec<Value> = self
            .diagnostics
            .iter()
            .map(|((name, source, service), d)| {
                json!({
                    "name": name,
                    "source": source,
                    "service": service,
                    "delta": d.delta,
                    "last": d.last,
                    "total": d.total,
                    "at_ms": d.at_ms,
                })
            })
            .collect();
        let heartbeats: Vec<Value> = self
            .heartbeats
            .iter()
            .map(|((component, source, service), h)| {
                json!({
                    "component": component,
                    "source": source,
                    "service": service,
                    "application": h.application,
                    "at_ms": h.at_ms,
                    "beats": h.beats,
                })
            })
            .collect();
        json!({ "diagnostics": diagnostics, "heartbeats": heartbeats })
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}
