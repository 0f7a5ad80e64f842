//! The routes table: one row per component, route, method and handler, read
//! from the framework series of the naming scheme (`wavefront_core::naming`):
//! cumulative response counts, in-flight gauges and minute latency
//! histograms.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::parse::{Distribution, Point};

use super::centroids::Centroids;
use super::{MINUTES, ROUTES};

/// What identifies a row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RouteKey {
    pub(super) component: String,
    /// The route in its dotted series form, e.g. `style.id.make`.
    pub(super) route: String,
    pub(super) method: String,
    pub(super) handler: String,
}

/// A framework series, recognised by its name and its `<component>.func`
/// tag.
#[derive(Debug, PartialEq)]
pub(super) enum Series {
    /// `<p>.response.<r>.<m>.<s>.cumulative.count`
    Responses(RouteKey, u16),
    /// `<p>.request.<r>.<m>.inflight.value`
    InFlight(RouteKey),
    /// `<p>.response.<r>.summary.<m>.<s>.latency`
    Latency(RouteKey, u16),
}

impl Series {
    /// Reads a series name; `None` for anything else (aggregated levels,
    /// other metrics, odd names).
    pub(super) fn parse(name: &str, tags: &[(String, String)]) -> Option<Series> {
        // The component is the prefix its `.func` tag names.
        let (component, handler, rest) = tags.iter().find_map(|(k, v)| {
            let component = k.strip_suffix(".func")?;
            let rest = name.strip_prefix(component)?.strip_prefix('.')?;
            Some((component, v.as_str(), rest))
        })?;
        let key = |route: &str, method: &str| {
            (!route.is_empty() && !method.is_empty()).then(|| RouteKey {
                component: component.to_owned(),
                route: route.to_owned(),
                method: method.to_owned(),
                handler: handler.to_owned(),
            })
        };
        if let Some(rest) = rest.strip_prefix("request.") {
            let (route, method) = rest.strip_suffix(".inflight.value")?.rsplit_once('.')?;
            return key(route, method).map(Series::InFlight);
        }
        let rest = rest.strip_prefix("response.")?;
        if let Some(rest) = rest.strip_suffix(".cumulative.count") {
            let (route, method, status) = route_method_status(rest)?;
            return key(route, method).map(|k| Series::Responses(k, status));
        }
        let (route, method, status) = route_method_status(rest.strip_suffix(".latency")?)?;
        let route = route.strip_suffix(".summary")?;
        key(route, method).map(|k| Series::Latency(k, status))
    }
}

/// Splits `<r>.<m>.<s>`.
fn route_method_status(s: &str) -> Option<(&str, &str, u16)> {
    let (rest, status) = s.rsplit_once('.')?;
    let (route, method) = rest.rsplit_once('.')?;
    Some((route, method, status.parse().ok()?))
}

/// The sum of `values`, `0.0` when empty (`Sum` for floats gives `-0.0`).
fn total<'a>(values: impl Iterator<Item = &'a f64>) -> f64 {
    values.fold(0.0, |sum, v| sum + v)
}

/// One minute of a route.
#[derive(Debug, Default)]
struct Minute {
    requests: f64,
    errors: f64,
    latency: Centroids,
}

#[derive(Debug, Default)]
struct Route {
    application: String,
    service: String,
    /// The latest cumulative count per source and status.
    counts: BTreeMap<(String, u16), f64>,
    /// The latest in-flight gauge per source.
    in_flight: BTreeMap<String, f64>,
    /// Keyed by minute since the epoch.
    minutes: BTreeMap<i64, Minute>,
}

/// The routes table, bounded to [`ROUTES`] rows and [`MINUTES`] minutes.
#[derive(Debug, Default)]
pub(super) struct Routes {
    rows: BTreeMap<RouteKey, Route>,
    /// The latest `<p>.total_requests.inflight.value` per component and
    /// source.
    components: BTreeMap<String, BTreeMap<String, f64>>,
    /// Series not kept because the table was full.
    pub(super) refused: u64,
}

/// The minute (since the epoch) a line counts in: its timestamp's, unless
/// it has none or it lies outside the window (a skewed clock, another
/// unit), then the minute it arrived.
fn minute_of(timestamp_s: Option<i64>, now_ms: u64) -> i64 {
    let now = i64::try_from(now_ms / 60_000).unwrap_or(i64::MAX);
    match timestamp_s.map(|s| s.div_euclid(60)) {
        Some(m) if m <= now && m > now - MINUTES as i64 => m,
        _ => now,
    }
}

impl Routes {
    pub(super) fn point(&mut self, point: &Point, now_ms: u64) {
        if let Some(component) = point.name.strip_suffix(".total_requests.inflight.value") {
            if self.components.len() < ROUTES || self.components.contains_key(component) {
                let sources = self.components.entry(component.to_owned()).or_default();
                sources.insert(point.source.clone(), point.value);
            }
            return;
        }
        let Some(series) = Series::parse(&point.name, &point.tags) else {
            return;
        };
        let minute = minute_of(point.timestamp, now_ms);
        match series {
            Series::Responses(key, status) => {
                let Some(route) = self.row(key, &point.tags) else {
                    return;
                };
                let last = route
                    .counts
                    .insert((point.source.clone(), status), point.value);
                // A counter that went down was restarted: all of it is new.
                let new = match last {
                    Some(last) if last <= point.value => point.value - last,
                    _ => point.value,
                };
                if new > 0.0 {
                    let m = route.minutes.entry(minute).or_default();
                    m.requests += new;
                    if wavefront_core::naming::is_error_status(status) {
                        m.errors += new;
                    }
                }
            }
            Series::InFlight(key) => {
                if let Some(route) = self.row(key, &point.tags) {
                    route.in_flight.insert(point.source.clone(), point.value);
                }
            }
            Series::Latency(..) => {}
        }
        self.prune(now_ms);
    }

    pub(super) fn histogram(&mut self, histogram: &Distribution, now_ms: u64) {
        let Some(Series::Latency(key, _)) = Series::parse(&histogram.name, &histogram.tags) else {
            return;
        };
        let Some(route) = self.row(key, &histogram.tags) else {
            return;
        };
        // Histogram timestamps are in milliseconds (the minute's start).
        let minute = minute_of(histogram.timestamp.map(|ms| ms.div_euclid(1000)), now_ms);
        let latency = &mut route.minutes.entry(minute).or_default().latency;
        for &(count, mean) in &histogram.centroids {
            latency.add(mean, u64::try_from(count).unwrap_or(0));
        }
        self.prune(now_ms);
    }

    fn row(&mut self, key: RouteKey, tags: &[(String, String)]) -> Option<&mut Route> {
        if self.rows.len() >= ROUTES && !self.rows.contains_key(&key) {
            self.refused += 1;
            return None;
        }
        let route = self.rows.entry(key).or_default();
        let tag = |k: &str| tags.iter().rev().find(|(t, _)| t == k).map(|(_, v)| v);
        if let Some(v) = tag("application") {
            route.application.clone_from(v);
        }
        if let Some(v) = tag("service") {
            route.service.clone_from(v);
        }
        Some(route)
    }

    /// Drops minutes older than the window.
    fn prune(&mut self, now_ms: u64) {
        let oldest = minute_of(None, now_ms) - MINUTES as i64 + 1;
        for route in self.rows.values_mut() {
            route.minutes.retain(|&m, _| m >= oldest);
        }
    }

    pub(super) fn to_json(&self, now_ms: u64) -> Value {
        let last = minute_of(None, now_ms);
        let window: Vec<i64> = (last - MINUTES as i64 + 1..=last).collect();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|(key, route)| {
                let requests = total(route.counts.values());
                let errors = total(
                    route
                        .counts
                        .iter()
                        .filter(|((_, s), _)| wavefront_core::naming::is_error_status(*s))
                        .map(|(_, v)| v),
                );
                let mut statuses: BTreeMap<u16, f64> = BTreeMap::new();
                for ((_, status), v) in &route.counts {
                    *statuses.entry(*status).or_default() += v;
                }
                let mut latency = Centroids::default();
                for m in route.minutes.values() {
                    latency.merge(&m.latency);
                }
                let minutes: Vec<Value> = window
                    .iter()
                    .map(|m| {
                        let minute = route.minutes.get(m);
                        json!({
                            "minute": m * 60_000,
                            "requests": minute.map_or(0.0, |x| x.requests),
                            "errors": minute.map_or(0.0, |x| x.errors),
                            "p95": minute.and_then(|x| x.latency.quantile(0.95)),
                        })
                    })
                    .collect();
                json!({
                    "component": key.component,
                    "route": key.route,
                    "method": key.method,
                    "handler": key.handler,
                    "application": route.application,
                    "service": route.service,
                    "requests": requests,
                    "errors": errors,
                    "error_rate": if requests > 0.0 { errors / requests } else { 0.0 },
                    "statuses": statuses.iter().map(|(s, v)| json!([s, v])).collect::<Vec<_>>(),
                    "in_flight": total(route.in_flight.values()),
                    "latency_ms": {
                        "samples": latency.count(),
                        "p50": latency.quantile(0.5),
                        "p95": latency.quantile(0.95),
                        "p99": latency.quantile(0.99),
                    },
                    "minutes": minutes,
                })
            })
            .collect();
        let components: Vec<Value> = self
            .components
            .iter()
            .map(|(c, sources)| json!({"component": c, "in_flight": total(sources.values())}))
            .collect();
        json!({ "routes": rows, "components": components, "refused_series": self.refused })
    }
}
