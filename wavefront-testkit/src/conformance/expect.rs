//! What the receiver must have got from the scenario: the Flask SDK's tables
//! with this component's prefix, written out here rather than derived from
//! the SDK's own naming code, so the kit checks the SDK against the contract.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{MAKE_GET_200, PARENTS, SOURCE};
use crate::parse::{Point, Span};
use crate::receiver::Receiver;

/// (route, method, status, handler, requests) of every endpoint the
/// scenario reaches.
fn endpoints() -> [(&'static str, &'static str, u16, &'static str, u64); 6] {
    [
        ("style.id.make", "GET", 200, "make_shirts", MAKE_GET_200),
        ("style.id.make", "HEAD", 200, "make_shirts", 1),
        ("bad_gateway", "GET", 502, "bad_gateway", 1),
        ("orders.order_id.crash", "GET", 500, "crash", 1),
        ("unmatched", "GET", 404, "unmatched", 2),
        ("unmatched", "POST", 404, "unmatched", 1),
    ]
}

const APP: [(&str, &str); 4] = [
    ("application", "Ordering"),
    ("cluster", "us-west-1"),
    ("service", "styling"),
    ("shard", "primary"),
];

/// The tags of a series at an aggregation level (`None`: per source).
fn level_tags(level: Option<&str>) -> Vec<(&'static str, &'static str)> {
    let keep = match level {
        None | Some("shard") => 4,
        Some("service") => 3,
        Some("cluster") => 2,
        _ => 1,
    };
    APP[..keep].to_vec()
}

const LEVELS: [&str; 4] = ["shard", "service", "cluster", "application"];

/// A series' identity: name, sorted tags, source.
type SeriesKey = (String, Vec<(String, String)>, String);

/// Points grouped by series, in arrival order.
struct Series<'a>(BTreeMap<SeriesKey, Vec<&'a Point>>);

impl<'a> Series<'a> {
    fn of(points: &'a [Point]) -> Self {
        let mut series: BTreeMap<_, Vec<&Point>> = BTreeMap::new();
        for point in points {
            let mut tags = point.tags.clone();
            tags.sort();
            series
                .entry((point.name.clone(), tags, point.source.clone()))
                .or_default()
                .push(point);
        }
        Series(series)
    }

    /// The series `name` with exactly `tags`: its points, or a failure.
    fn get(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        source: &str,
        failures: &mut Vec<String>,
    ) -> Option<&Vec<&'a Point>> {
        let mut want: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        let found = self
            .0
            .get(&(name.to_owned(), want.clone(), source.to_owned()));
        if found.is_none() {
            let near: Vec<_> = self
                .0
                .keys()
                .filter(|(n, _, _)| n == name)
                .map(|(_, tags, source)| format!("{tags:?} source={source}"))
                .collect();
            failures.push(format!(
                "missing series {name} {want:?} source={source}; with that name: {near:?}"
            ));
        }
        found
    }

    /// A counter's or gauge's last reported value.
    fn expect_last(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        want: f64,
        failures: &mut Vec<String>,
    ) {
        if let Some(points) = self.get(name, tags, SOURCE, failures) {
            let last = points.last().map(|p| p.value);
            if last != Some(want) {
                failures.push(format!("{name}: last value {last:?}, expected {want}"));
            }
        }
    }

    /// A delta counter's sum (sent with `source=wavefront-provided`).
    fn expect_sum(&self, name: &str, tags: &[(&str, &str)], want: f64, failures: &mut Vec<String>) {
        if let Some(points) = self.get(name, tags, "wavefront-provided", failures) {
            let sum: f64 = points.iter().map(|p| p.value).sum();
            if sum != want {
                failures.push(format!("{name}: sum {sum}, expected {want}"));
            }
        }
    }
}

pub(super) fn check(receiver: &Receiver, c: &str, addr: SocketAddr, failures: &mut Vec<String>) {
    let rejected = receiver.rejected();
    if !rejected.is_empty() {
        failures.push(format!("the strict parser rejected: {rejected:?}"));
    }
    let points = receiver.metrics();
    let series = Series::of(&points);
    check_series(&series, c, failures);
    check_histograms(receiver, c, failures);
    check_spans(receiver, c, addr, failures);
    let beat = points
        .iter()
        .find(|p| p.name == "~component.heartbeat" && p.tag("component") == Some(c));
    match beat {
        Some(beat) if beat.tag("location") == Some("Oregon") && beat.source == SOURCE => {}
        other => failures.push(format!("heartbeat of component={c}: {other:?}")),
    }
}

fn check_series(series: &Series<'_>, c: &str, failures: &mut Vec<String>) {
    let func_key = format!("{c}.func");
    let completed: u64 = endpoints().iter().map(|e| e.4).sum();
    let errors: u64 = endpoints().iter().filter(|e| e.2 >= 400).map(|e| e.4).sum();
    for (route, method, status, func, n) in endpoints() {
        let with_func = |level: Option<&str>| {
            let mut tags = level_tags(level);
            tags.push((func_key.as_str(), func));
            tags
        };
        let n = n as f64;
        series.expect_last(
            &format!("{c}.response.{route}.{method}.{status}.cumulative.count"),
            &with_func(None),
            n,
            failures,
        );
        for level in LEVELS {
            series.expect_sum(
                &format!("∆{c}.response.{route}.{method}.{status}.aggregated_per_{level}.count"),
                &with_func(Some(level)),
                n,
                failures,
            );
        }
        if route != "unmatched" {
            series.expect_last(
                &format!("{c}.request.{route}.{method}.inflight.value"),
                &with_func(None),
                0.0,
                failures,
            );
        }
    }
    series.expect_last(
        &format!("{c}.total_requests.inflight.value"),
        &level_tags(None),
        0.0,
        failures,
    );
    for (what, n) in [("completed", completed), ("errors", errors)] {
        series.expect_last(
            &format!("{c}.response.{what}.aggregated_per_source.count"),
            &level_tags(None),
            n as f64,
            failures,
        );
        for level in LEVELS {
            series.expect_sum(
                &format!("∆{c}.response.{what}.aggregated_per_{level}.count"),
                &level_tags(Some(level)),
                n as f64,
                failures,
            );
        }
    }
    // Nothing else under the prefix: no raw paths, no stray handler names.
    let prefixes = [format!("{c}."), format!("∆{c}.")];
    for (name, tags, _) in series.0.keys() {
        if !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        let known = name.ends_with(".total_requests.inflight.value")
            || name.contains(".response.completed.")
            || name.contains(".response.errors.")
            || endpoints().iter().any(|(route, method, status, func, _)| {
                let on_route = name.contains(&format!(".request.{route}.{method}.inflight."))
                    || name.contains(&format!(".response.{route}.{method}.{status}."));
                on_route && tags.iter().any(|(k, v)| k == &func_key && v == func)
            });
        if !known {
            failures.push(format!("unexpected series {name} {tags:?}"));
        }
    }
}

fn check_histograms(receiver: &Receiver, c: &str, failures: &mut Vec<String>) {
    let histograms = receiver.histograms();
    for (route, method, status, func, n) in endpoints() {
        for what in ["latency", "cpu_ns"] {
            let name = format!("{c}.response.{route}.summary.{method}.{status}.{what}");
            let matching: Vec<_> = histograms.iter().filter(|h| h.name == name).collect();
            let count: i64 = matching.iter().map(|h| h.count()).sum();
            if count != n as i64 {
                failures.push(format!("{name}: {count} samples, expected {n}"));
            }
            for h in matching {
                let mut tags = h.tags.clone();
                tags.sort();
                let mut want: Vec<(String, String)> = level_tags(None)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .chain([(format!("{c}.func"), func.to_owned())])
                    .collect();
                want.sort();
                if tags != want || h.source != SOURCE || h.granularity != "!M" {
                    failures.push(format!("{name}: {} {:?} {tags:?}", h.granularity, h.source));
                }
                if what == "latency"
                    && !h.centroids.iter().all(|&(_, ms)| ms > 0.0 && ms < 10_000.0)
                {
                    failures.push(format!("{name}: latency out of range {:?}", h.centroids));
                }
            }
        }
    }
}

fn check_spans(receiver: &Receiver, c: &str, addr: SocketAddr, failures: &mut Vec<String>) {
    let spans = receiver.spans();
    let completed: u64 = endpoints().iter().map(|e| e.4).sum();
    if spans.len() as u64 != completed {
        failures.push(format!(
            "{} spans, expected one per request: {completed}",
            spans.len()
        ));
    }
    let func_key = format!("{c}.func");
    for span in &spans {
        let (method, status) = (span.tag("http.method"), span.tag("http.status_code"));
        let Some((_, _, _, func, _)) = endpoints().into_iter().find(|(_, m, s, f, _)| {
            span.operation == *f && method == Some(*m) && status == Some(&*s.to_string())
        }) else {
            failures.push(format!(
                "unexpected span {} {method:?} {status:?}",
                span.operation
            ));
            continue;
        };
        let mut keys: Vec<&str> = span.tags.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let mut want = vec![
            "application",
            "service",
            "cluster",
            "shard",
            "location",
            "env",
            "component",
            "span.kind",
            "http.method",
            "http.url",
            &func_key,
            "http.status_code",
        ];
        if status.is_some_and(|s| s.starts_with('4') || s.starts_with('5')) {
            want.extend(["error", "_spanLogs"]);
        }
        want.sort_unstable();
        if keys != want {
            failures.push(format!("span {func}: tag keys {keys:?}, expected {want:?}"));
        }
        for (key, value) in [
            ("component", c),
            ("span.kind", "server"),
            (&func_key, func),
            ("application", "Ordering"),
            ("location", "Oregon"),
        ] {
            if span.tag(key) != Some(value) {
                failures.push(format!(
                    "span {func}: {key}={:?}, expected {value}",
                    span.tag(key)
                ));
            }
        }
        let url = span.tag("http.url").unwrap_or_default();
        let prefix = format!("http://{addr}/");
        if !url.starts_with(&prefix) || url.contains('?') {
            failures.push(format!("span {func}: http.url {url:?}"));
        }
        if span.source != SOURCE {
            failures.push(format!("span {func}: source {}", span.source));
        }
    }
    let urls: Vec<&str> = spans.iter().filter_map(|s| s.tag("http.url")).collect();
    for path in [
        "/style/%E6%97%A5%20x/make",
        "/style/red/green/make",
        "/no/such/path",
    ] {
        let want = format!("http://{addr}{path}");
        if !urls.contains(&want.as_str()) {
            failures.push(format!("no span with http.url {want}"));
        }
    }
    check_parents(&spans, failures);
    check_span_logs(receiver, &spans, failures);
}

fn check_parents(spans: &[Span], failures: &mut Vec<String>) {
    for (headers, trace_id, parent) in PARENTS {
        let found = spans
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .collect::<Vec<_>>();
        match found.as_slice() {
            [span] if span.parents == [parent] && span.operation == "make_shirts" => {}
            other => failures.push(format!(
                "incoming {:?}: spans {:?}",
                headers[0].0,
                other
                    .iter()
                    .map(|s| (&s.operation, &s.parents))
                    .collect::<Vec<_>>()
            )),
        }
    }
    let with_parents = spans.iter().filter(|s| !s.parents.is_empty()).count();
    if with_parents != PARENTS.len() {
        failures.push(format!(
            "{with_parents} spans with a parent, expected {}",
            PARENTS.len()
        ));
    }
}

fn check_span_logs(receiver: &Receiver, spans: &[Span], failures: &mut Vec<String>) {
    let logs = receiver.span_logs();
    let errors: Vec<&Span> = spans
        .iter()
        .filter(|s| s.tag("error") == Some("true"))
        .collect();
    if errors.len() != 5 || logs.len() != errors.len() {
        failures.push(format!(
            "{} error spans and {} span logs, expected 5 of each",
            errors.len(),
            logs.len()
        ));
    }
    for span in errors {
        let status = span.tag("http.status_code").unwrap_or_default();
        let message = if span.operation == "crash" {
            "panic: order 42 cannot be processed".to_owned()
        } else {
            format!("HTTP {status}")
        };
        let want = [
            ("event".to_owned(), "error".to_owned()),
            ("message".to_owned(), message),
        ];
        let found = logs
            .iter()
            .find(|l| l.span_id == span.span_id && l.trace_id == span.trace_id);
        match found.map(|l| l.logs.as_slice()) {
            Some([entry]) if entry.fields == want => {}
            other => failures.push(format!(
                "span log of {} ({status}): {other:?}",
                span.operation
            )),
        }
    }
}
