use serde_json::Value;

use super::centroids::Centroids;
use super::routes::{RouteKey, Series};
use super::{Model, MINUTES, PROBLEMS, TRACES};
use crate::parse;
use crate::receiver::{Channel, Received};

/// 2026-12-03 04:00:30 UTC, in milliseconds.
const NOW: u64 = 1_796_270_430_000;
const NOW_S: u64 = NOW / 1000;

fn metrics(line: &str) -> Received {
    Received {
        channel: Channel::MetricsTcp,
        line: line.to_owned(),
        parsed: parse::parse_metrics_port_line(line),
    }
}

fn tracing(line: &str) -> Received {
    Received {
        channel: Channel::TracingTcp,
        line: line.to_owned(),
        parsed: parse::parse_tracing_port_line(line),
    }
}

fn model(lines: &[Received]) -> Model {
    let mut model = Model::new();
    for line in lines {
        model.ingest(line, NOW);
    }
    model
}

fn counter(route: &str, status: u16, func: &str, value: f64, at_s: u64, source: &str) -> Received {
    metrics(&format!(
        "\"axum.response.{route}.GET.{status}.cumulative.count\" {value} {at_s} source=\"{source}\" \
         \"application\"=\"Ordering\" \"axum.func\"=\"{func}\" \"service\"=\"styling\""
    ))
}

fn latency(route: &str, status: u16, func: &str, minute_s: u64, centroids: &str) -> Received {
    metrics(&format!(
        "!M {} {centroids} \"axum.response.{route}.summary.GET.{status}.latency\" source=\"h\" \
         \"axum.func\"=\"{func}\"",
        minute_s / 60 * 60_000
    ))
}

const TRACE: &str = "0af76519-16cd-43dd-8448-eb211c80319c";

fn span(
    op: &str,
    service: &str,
    id: u8,
    parent: Option<u8>,
    start_us: u64,
    tags: &str,
) -> Received {
    let parent = parent.map_or(String::new(), |p| {
        format!("parent=00000000-0000-0000-0000-0000000000{p:02x} ")
    });
    tracing(&format!(
        "\"{op}\" source=\"host-{service}\" traceId={TRACE} spanId=00000000-0000-0000-0000-0000000000{id:02x} \
         {parent}\"service\"=\"{service}\" {tags} {start_us} 1000"
    ))
}

fn route<'a>(routes: &'a Value, handler: &str) -> &'a Value {
    routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["handler"] == handler)
        .unwrap_or_else(|| panic!("no {handler} in {routes}"))
}

#[test]
fn series_names_give_component_route_method_and_handler() {
    let func = |f: &str| vec![("axum.func".to_owned(), f.to_owned())];
    let key = |route: &str, handler: &str| RouteKey {
        component: "axum".into(),
        route: route.into(),
        method: "GET".into(),
        handler: handler.into(),
    };
    assert_eq!(
        Series::parse(
            "axum.response.style.id.make.GET.200.cumulative.count",
            &func("make_shirts")
        ),
        Some(Series::Responses(key("style.id.make", "make_shirts"), 200))
    );
    assert_eq!(
        Series::parse("axum.request.bad_gateway.GET.inflight.value", &func("bg")),
        Some(Series::InFlight(key("bad_gateway", "bg")))
    );
    assert_eq!(
        Series::parse(
            "axum.response.orders.order_id.crash.summary.GET.500.latency",
            &func("crash")
        ),
        Some(Series::Latency(key("orders.order_id.crash", "crash"), 500))
    );
    // A component whose name has dots (a custom server's).
    let dotted = vec![("shop.api.func".to_owned(), "list".to_owned())];
    assert!(matches!(
        Series::parse("shop.api.response.items.GET.200.cumulative.count", &dotted),
        Some(Series::Responses(k, 200)) if k.component == "shop.api" && k.route == "items"
    ));
    // Not route series, or odd ones: ignored.
    for name in [
        "axum.response.style.id.make.GET.200.aggregated_per_shard.count",
        "axum.response.style.id.make.summary.GET.200.cpu_ns",
        "axum.response.GET.200.cumulative.count",
        "axum.response..GET.xx.cumulative.count",
        "axum.response.style.GET.99999.cumulative.count",
        "axum.request.inflight.value",
        "axum.response.latency",
        "other.response.style.GET.200.cumulative.count",
        "axum",
        "",
    ] {
        assert_eq!(Series::parse(name, &func("f")), None, "{name}");
    }
    assert_eq!(
        Series::parse("axum.response.style.GET.200.cumulative.count", &[]),
        None
    );
}

#[test]
fn percentiles_are_nearest_rank_over_merged_centroids() {
    let mut c = Centroids::default();
    assert_eq!(c.quantile(0.5), None);
    for v in 1..=100 {
        c.add(f64::from(v), 1);
    }
    assert_eq!(
        (c.quantile(0.5), c.quantile(0.95), c.quantile(0.99)),
        (Some(50.0), Some(95.0), Some(99.0))
    );
    // Weighted centroids: 90 samples near 1 ms, 10 near 100 ms.
    let mut w = Centroids::default();
    w.add(100.0, 10);
    w.add(1.0, 90);
    assert_eq!(
        (w.quantile(0.5), w.quantile(0.9), w.quantile(0.95)),
        (Some(1.0), Some(1.0), Some(100.0))
    );
    // Odd input is ignored; many centroids stay bounded and ordered.
    w.add(f64::NAN, 5);
    w.add(3.0, 0);
    assert_eq!(w.count(), 100);
    let mut many = Centroids::default();
    for v in 0..100_000 {
        many.add(f64::from(v % 1000), 1);
    }
    assert_eq!(many.count(), 100_000);
    let p50 = many.quantile(0.5).unwrap();
    assert!((490.0..510.0).contains(&p50), "{p50}");
}

#[test]
fn routes_count_requests_errors_and_merge_latency_across_minutes_and_statuses() {
    let m = model(&[
        counter("style.id.make", 200, "make_shirts", 3.0, NOW_S - 61, "a"),
        counter("style.id.make", 200, "make_shirts", 5.0, NOW_S, "a"),
        // Another source of the same route adds up.
        counter("style.id.make", 200, "make_shirts", 2.0, NOW_S, "b"),
        counter("style.id.make", 404, "make_shirts", 1.0, NOW_S, "a"),
        counter("orders.order_id.crash", 500, "crash", 2.0, NOW_S, "a"),
        latency("style.id.make", 200, "make_shirts", NOW_S - 60, "#1 1.0 #1 2.0"),
        latency("style.id.make", 200, "make_shirts", NOW_S, "#2 3.0"),
        latency("style.id.make", 404, "make_shirts", NOW_S, "#1 50.0"),
        metrics(&format!(
            "\"axum.request.style.id.make.GET.inflight.value\" 2.0 {NOW_S} source=\"a\" \"axum.func\"=\"make_shirts\""
        )),
        metrics(&format!(
            "\"axum.total_requests.inflight.value\" 4.0 {NOW_S} source=\"a\""
        )),
    ]);
    let routes = m.routes_json(NOW);
    let make = route(&routes, "make_shirts");
    assert_eq!(
        (&make["component"], &make["route"], &make["method"]),
        (&"axum".into(), &"style.id.make".into(), &"GET".into())
    );
    assert_eq!(
        (make["requests"].as_f64(), make["errors"].as_f64()),
        (Some(8.0), Some(1.0))
    );
    assert_eq!(make["error_rate"].as_f64(), Some(0.125));
    assert_eq!(make["in_flight"].as_f64(), Some(2.0));
    assert_eq!(make["service"], "styling");
    let latency = &make["latency_ms"];
    assert_eq!(
        (
            latency["samples"].as_u64(),
            latency["p50"].as_f64(),
            latency["p99"].as_f64()
        ),
        (Some(5), Some(3.0), Some(50.0))
    );
    // The charts: the last MINUTES minutes, requests as counted per minute.
    let minutes = make["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), MINUTES);
    let last = &minutes[MINUTES - 1];
    let before = &minutes[MINUTES - 2];
    assert_eq!(
        (before["requests"].as_f64(), last["requests"].as_f64()),
        (Some(3.0), Some(5.0))
    );
    assert_eq!(
        (before["p95"].as_f64(), last["p95"].as_f64()),
        (Some(2.0), Some(50.0))
    );
    assert_eq!(last["errors"].as_f64(), Some(1.0));

    let crash = route(&routes, "crash");
    assert_eq!(
        (crash["requests"].as_f64(), crash["errors"].as_f64()),
        (Some(2.0), Some(2.0))
    );
    assert_eq!(crash["latency_ms"]["p50"], Value::Null);
    assert_eq!(routes["components"][0]["in_flight"].as_f64(), Some(4.0));
}

#[test]
fn a_restarted_counter_counts_from_zero_and_old_minutes_are_dropped() {
    let mut m = model(&[
        counter("a", 200, "f", 10.0, NOW_S - 120, "h"),
        counter("a", 200, "f", 4.0, NOW_S, "h"),
    ]);
    let routes = m.routes_json(NOW);
    let minutes = route(&routes, "f")["minutes"].as_array().unwrap().clone();
    assert_eq!(minutes[MINUTES - 1]["requests"].as_f64(), Some(4.0));
    assert_eq!(minutes[MINUTES - 3]["requests"].as_f64(), Some(10.0));
    // Much later, the minutes are gone, the totals are not.
    let later = NOW + 60 * 60_000;
    m.ingest(&counter("b", 200, "g", 1.0, later / 1000, "h"), later);
    let routes = m.routes_json(later);
    let f = route(&routes, "f");
    assert_eq!(f["requests"].as_f64(), Some(4.0));
    assert!(f["minutes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["requests"].as_f64() == Some(0.0)));
}

#[test]
fn a_trace_is_assembled_across_services_whatever_the_arrival_order() {
    let m = model(&[
        // The grandchild first, its logs before it, the root last.
        tracing(&format!(
            "{{\"traceId\": \"{TRACE}\", \"spanId\": \"00000000-0000-0000-0000-000000000003\", \
             \"logs\": [{{\"timestamp\": 1796270400000500, \"fields\": {{\"event\": \"error\", \"message\": \"HTTP 502\"}}}}]}}"
        )),
        span("charge", "payments", 3, Some(2), 1_796_270_400_000_300, "\"error\"=\"true\""),
        span("checkout", "orders", 2, Some(1), 1_796_270_400_000_200, "\"span.kind\"=\"server\""),
        span("GET /checkout", "frontend", 1, None, 1_796_270_400_000_000, "\"span.kind\"=\"client\""),
        // Sent twice (a span-logs record carries its span too): kept once.
        span("checkout", "orders", 2, Some(1), 1_796_270_400_000_200, "\"span.kind\"=\"server\""),
    ]);
    let list = m.traces_json();
    let summary = &list["traces"][0];
    assert_eq!(summary["trace_id"], TRACE);
    assert_eq!(summary["root"], "GET /checkout");
    assert_eq!(summary["span_count"], 3);
    assert_eq!(summary["error"], true);
    assert_eq!(summary["duration_us"], 1300);
    assert_eq!(
        summary["services"],
        serde_json::json!(["frontend", "orders", "payments"])
    );

    let trace = m.trace_json(TRACE).unwrap();
    let spans = trace["spans"].as_array().unwrap();
    let order: Vec<(&str, u64)> = spans
        .iter()
        .map(|s| {
            (
                s["operation"].as_str().unwrap(),
                s["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [("GET /checkout", 0), ("checkout", 1), ("charge", 2)]
    );
    assert_eq!(spans[2]["offset_us"], 300);
    assert_eq!(spans[2]["logs"][0]["offset_us"], 500);
    assert_eq!(
        spans[2]["logs"][0]["fields"][1],
        serde_json::json!(["message", "HTTP 502"])
    );
    assert_eq!(spans[2]["error"], true);
    assert!(m.trace_json("no-such-trace").is_none());
}

#[test]
fn odd_span_graphs_do_not_break_the_waterfall() {
    // A parent that never arrived, a span that is its own parent, a cycle,
    // milliseconds instead of microseconds.
    let m = model(&[
        span("orphan", "s", 1, Some(9), 1_000, ""),
        span("self", "s", 2, Some(2), 1_001, ""),
        span("cycle-a", "s", 3, Some(4), 1_002, ""),
        span("cycle-b", "s", 4, Some(3), 1_003, ""),
    ]);
    let trace = m.trace_json(TRACE).unwrap();
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 4);
    assert_eq!(spans[0]["operation"], "orphan");
    assert_eq!(spans[0]["depth"], 0);
    assert_eq!(spans[3]["offset_us"], 3000);
    // Durations are in the same unit: 1000 ms each.
    assert_eq!(trace["duration_us"], 1_003_000);
}

#[test]
fn traces_are_bounded_least_recently_updated_first() {
    let mut m = Model::new();
    let id = |i: usize| format!("00000000-0000-0000-0000-{i:012x}");
    for i in 0..TRACES + 5 {
        let line = format!(
            "\"op\" source=\"h\" traceId={} spanId={} 1796270400000000 10",
            id(i),
            id(i)
        );
        m.ingest(&tracing(&line), NOW);
        if i == 0 {
            continue;
        }
        // Trace 0 keeps getting spans, so it stays.
        let more = format!(
            "\"op\" source=\"h\" traceId={} spanId={} 1796270400000000 10",
            id(0),
            id(100_000 + i)
        );
        m.ingest(&tracing(&more), NOW);
    }
    let list = m.traces_json();
    let traces = list["traces"].as_array().unwrap();
    assert_eq!(traces.len(), TRACES);
    assert_eq!(list["evicted"], 5);
    assert_eq!(traces[0]["trace_id"], id(0));
    assert!(traces.iter().all(|t| t["trace_id"] != id(1)));
    assert_eq!(m.summary_json()["dropped"]["traces"], 5);
}

#[test]
fn rejected_lines_are_kept_with_their_reason_the_last_ones_only() {
    let mut m = model(&[
        metrics("not a metric"),
        tracing("\"op\" source=\"h\" traceId=nope spanId=nope 1 1"),
        Received {
            channel: Channel::Http {
                format: "wavefront".into(),
            },
            line: "x".repeat(10_000),
            parsed: parse::parse_metric(&"x".repeat(10_000)).map(parse::Line::Metric),
        },
    ]);
    let problems = m.problems_json();
    assert_eq!(problems["rejected"], 3);
    let newest = &problems["problems"][0];
    assert_eq!(newest["channel"], "http f=wavefront");
    assert!(newest["line"].as_str().unwrap().chars().count() < 4100);
    let first = &problems["problems"][2];
    assert_eq!(
        (
            &first["number"],
            &first["code"],
            &first["line"],
            &first["channel"]
        ),
        (
            &1.into(),
            &"syntax".into(),
            &"not a metric".into(),
            &"metrics-tcp".into()
        )
    );
    assert!(first["reason"]
        .as_str()
        .unwrap()
        .contains("not a finite decimal"));
    assert!(problems["problems"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("canonical UUID"));

    for i in 0..PROBLEMS {
        m.ingest(&metrics(&format!("bad {i}")), NOW);
    }
    let problems = m.problems_json();
    assert_eq!(problems["problems"].as_array().unwrap().len(), PROBLEMS);
    assert_eq!(
        problems["problems"][0]["line"],
        format!("bad {}", PROBLEMS - 1)
    );
    assert_eq!(m.summary_json()["dropped"]["problems"], 3);
    assert_eq!(m.summary_json()["rejected"], PROBLEMS + 3);
}

#[test]
fn diagnostics_keep_the_latest_value_and_delta_totals_and_heartbeats_per_component() {
    let m = model(&[
        metrics("\"∆~sdk.rust.core.sender.proxy.points.dropped.count\" 3.0 source=\"h\" \"service\"=\"styling\""),
        metrics("\"∆~sdk.rust.core.sender.proxy.points.dropped.count\" 2.0 source=\"h\" \"service\"=\"styling\""),
        metrics("\"~sdk.rust.core.sender.proxy.points.queue.size\" 7.0 1796270400 source=\"h\" \"service\"=\"styling\""),
        metrics("\"~sdk.rust.core.sender.proxy.points.queue.size\" 1.0 1796270401 source=\"h\" \"service\"=\"styling\""),
        metrics("\"~component.heartbeat\" 1.0 1796270400 source=\"h\" \"application\"=\"Ordering\" \"service\"=\"styling\" \"component\"=\"axum\""),
        metrics("\"~component.heartbeat\" 1.0 1796270410 source=\"h\" \"application\"=\"Ordering\" \"service\"=\"styling\" \"component\"=\"axum\""),
        metrics("\"~component.heartbeat\" 1.0 source=\"h\""),
    ]);
    let d = m.diagnostics_json();
    let diagnostics = d["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 2);
    let dropped = &diagnostics[0];
    assert_eq!(
        dropped["name"],
        "~sdk.rust.core.sender.proxy.points.dropped.count"
    );
    assert_eq!(
        (
            &dropped["delta"],
            dropped["last"].as_f64(),
            dropped["total"].as_f64()
        ),
        (&true.into(), Some(2.0), Some(5.0))
    );
    assert_eq!(diagnostics[1]["last"].as_f64(), Some(1.0));
    assert_eq!(diagnostics[1]["at_ms"], NOW);
    let beats = d["heartbeats"].as_array().unwrap();
    assert_eq!(beats.len(), 2);
    let axum = beats.iter().find(|b| b["component"] == "axum").unwrap();
    assert_eq!(
        (&axum["beats"], &axum["at_ms"], &axum["application"]),
        (&2.into(), &NOW.into(), &"Ordering".into())
    );
    assert_eq!(m.summary_json()["delta_counters"], 2);
}

#[test]
fn timestamps_outside_the_window_count_when_they_arrive() {
    let m = model(&[
        // Milliseconds where seconds belong, and a clock far behind.
        counter("a", 200, "f", 2.0, NOW, "h"),
        counter("b", 200, "g", 3.0, 1_000, "h"),
    ]);
    let routes = m.routes_json(NOW);
    for (handler, count) in [("f", 2.0), ("g", 3.0)] {
        let minutes = route(&routes, handler)["minutes"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            minutes[MINUTES - 1]["requests"].as_f64(),
            Some(count),
            "{handler}"
        );
    }
}

#[test]
fn refused_http_requests_are_problems_without_their_headers() {
    let request = |status: u16| crate::receiver::HttpRequest {
        on_metrics_port: false,
        method: "POST".into(),
        path_and_query: "/report?f=wavefront".into(),
        headers: vec![("Authorization".into(), "Bearer s3cret".into())],
        status_sent: status,
        lines: 0,
    };
    let mut m = Model::new();
    m.ingest_http_request(&request(202), NOW);
    m.ingest_http_request(&request(401), NOW);
    m.ingest(&metrics("bad"), NOW);
    let problems = m.problems_json();
    assert_eq!(
        (&problems["rejected"], &problems["refused_requests"]),
        (&1.into(), &1.into())
    );
    let refused = &problems["problems"][1];
    assert_eq!(
        (
            &refused["number"],
            &refused["code"],
            &refused["line"],
            &refused["channel"]
        ),
        (
            &1.into(),
            &"http".into(),
            &"POST /report?f=wavefront".into(),
            &"http (http port)".into()
        )
    );
    assert!(refused["reason"]
        .as_str()
        .unwrap()
        .starts_with("answered 401: unauthorized"));
    assert!(!problems.to_string().contains("s3cret"));
    assert_eq!(problems["problems"][0]["number"], 2);
}

/// Lines of every kind the SDK sends, for the property below to bend.
const SAMPLES: &[&str] = &[
    "\"axum.response.style.id.make.GET.200.cumulative.count\" 3.0 1796270400 source=\"h\" \"axum.func\"=\"f\"",
    "\"axum.request.style.id.make.GET.inflight.value\" 1.0 1796270400 source=\"h\" \"axum.func\"=\"f\"",
    "\"axum.total_requests.inflight.value\" 1.0 1796270400 source=\"h\"",
    "!M 1796270400000 #2 0.5 #1 7.0 \"axum.response.style.id.make.summary.GET.200.latency\" source=\"h\" \"axum.func\"=\"f\"",
    "\"∆~sdk.rust.core.sender.proxy.points.dropped.count\" 2.0 source=\"h\"",
    "\"~component.heartbeat\" 1.0 1796270400 source=\"h\" \"component\"=\"axum\"",
    "\"op\" source=\"h\" traceId=0af76519-16cd-43dd-8448-eb211c80319c spanId=00000000-0000-0000-0000-000000000001 parent=00000000-0000-0000-0000-000000000002 \"error\"=\"true\" 1796270400000000 10",
    "{\"traceId\": \"0af76519-16cd-43dd-8448-eb211c80319c\", \"spanId\": \"00000000-0000-0000-0000-000000000001\", \"logs\": [{\"timestamp\": 1, \"fields\": {\"k\": \"v\"}}]}",
];

proptest::proptest! {
    /// Whatever arrives, in whatever order, at whatever time: the model
    /// neither panics nor fails to answer.
    #[test]
    fn no_input_breaks_the_model(
        edits in proptest::collection::vec(
            (0..SAMPLES.len(), 0usize..400, "[ -~∆]{0,12}", proptest::bool::ANY),
            1..40,
        ),
        now in 0u64..4_000_000_000_000,
    ) {
        let mut m = Model::new();
        for (sample, at, text, cut) in edits {
            let mut line = SAMPLES[sample].to_owned();
            let at = line.char_indices().map(|(i, _)| i).nth(at).unwrap_or(line.len());
            if cut {
                line.truncate(at);
            }
            line.insert_str(at, &text);
            let received = if sample >= 6 { tracing(&line) } else { metrics(&line) };
            m.ingest(&received, now);
        }
        let traces = m.traces_json();
        for t in traces["traces"].as_array().unwrap() {
            proptest::prop_assert!(m.trace_json(t["trace_id"].as_str().unwrap()).is_some());
        }
        let _ = (m.routes_json(now), m.problems_json(), m.diagnostics_json(), m.summary_json());
    }
}
