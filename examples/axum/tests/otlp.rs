//! The Shirts app sends OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and
//! `WAVEFRONT_URL` is not: the same series, histograms and spans as its
//! Wavefront output, decoded by OpenTelemetry's own protobuf classes.

use std::collections::BTreeMap;
use std::time::Duration;

use wavefront_testkit::example::{get_with_headers as get, spawn, terminate};
use wavefront_testkit::otlp::{self, OtlpPoint, OtlpSpan};
use wavefront_testkit::receiver::Receiver;

const BINARY: &str = env!("CARGO_BIN_EXE_example-axum");
/// A W3C caller: its trace continues in the service's spans.
const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID: &str = "b7ad6b7169203331";

/// The Shirts requests; returns the address the app served them on.
fn shirts(envs: &[(&str, String)]) -> String {
    let mut envs = envs.to_vec();
    envs.push(("WAVEFRONT_SOURCE", SOURCE.into()));
    envs.push(("WAVEFRONT_REPORT_INTERVAL_SECS", "3600".into()));
    let (mut child, addr, _stderr) = spawn(BINARY, &envs);
    let traceparent = format!("traceparent: 00-{TRACE_ID}-{PARENT_ID}-01\r\n");
    assert_eq!(get(&addr, "/style/blue/make", &traceparent), 200);
    assert_eq!(get(&addr, "/style/red/make", ""), 200);
    assert_eq!(get(&addr, "/style/red/make", ""), 200);
    assert_eq!(get(&addr, "/bad-gateway", ""), 502);
    assert_eq!(get(&addr, "/orders/42/crash", ""), 500);
    assert_eq!(get(&addr, "/no/such/path", ""), 404);
    terminate(&mut child);
    addr
}

type Series = (String, BTreeMap<String, String>);
/// Operation, kind, error, whether it has a parent, and the other tags.
type SpanKey = (String, String, bool, bool, Vec<(String, String)>);

/// What both outputs must agree on.
#[derive(Debug, Default, PartialEq)]
struct Output {
    /// Counters and gauges: the last value of each series.
    points: BTreeMap<Series, f64>,
    /// Delta counters: the sum of each series (named without `∆`).
    deltas: BTreeMap<Series, f64>,
    /// Histograms: the number of samples of each series.
    histograms: BTreeMap<Series, u64>,
    /// Spans: operation, kind, error, whether it has a parent, and the
    /// other tags (the app's address replaced by `ADDR`), sorted.
    spans: Vec<SpanKey>,
}

const SOURCE: &str = "example-host";

/// Time spent differs from one run to the next: only its presence counts.
fn timeless(name: &str, value: f64) -> f64 {
    if name.contains(".total_time.") {
        1.0
    } else {
        value
    }
}

/// The SDK's own diagnostics differ by transport (`proxy` or `otlp`).
fn compared(name: &str) -> bool {
    !name.starts_with("~sdk.")
}

fn span_key(
    name: &str,
    kind: &str,
    error: bool,
    has_parent: bool,
    tags: impl Iterator<Item = (String, String)>,
    addr: &str,
) -> SpanKey {
    let mut tags: Vec<(String, String)> = tags
        .filter(|(k, _)| k != "span.kind" && k != "error")
        .map(|(k, v)| (k, v.replace(addr, "ADDR")))
        .collect();
    tags.sort();
    (name.to_owned(), kind.to_owned(), error, has_parent, tags)
}

fn wavefront_output(receiver: &Receiver, addr: &str) -> Output {
    let mut out = Output::default();
    for p in receiver.metrics() {
        let mut tags: BTreeMap<String, String> = p.tags.iter().cloned().collect();
        // A series' own `source` tag is the line's source on the wire.
        if p.source != SOURCE {
            tags.insert("source".into(), p.source.clone());
        }
        match p.name.strip_prefix('∆') {
            Some(name) if compared(name) => {
                *out.deltas.entry((name.to_owned(), tags)).or_default() += timeless(name, p.value);
            }
            None if compared(&p.name) => {
                out.points.insert((p.name.clone(), tags), p.value);
            }
            _ => {}
        }
    }
    for h in receiver.histograms() {
        let tags: BTreeMap<String, String> = h.tags.iter().cloned().collect();
        *out.histograms.entry((h.name.clone(), tags)).or_default() += h.count() as u64;
    }
    for s in receiver.spans() {
        let kind = s.tag("span.kind").unwrap_or("internal").to_owned();
        out.spans.push(span_key(
            &s.operation,
            &kind,
            s.tag("error") == Some("true"),
            !s.parents.is_empty(),
            s.tags.iter().cloned(),
            addr,
        ));
    }
    out.spans.sort();
    out
}

fn otlp_output(points: &[OtlpPoint], spans: &[OtlpSpan], addr: &str) -> Output {
    let mut out = Output::default();
    for p in points.iter().filter(|p| compared(&p.name)) {
        let series = (p.name.clone(), p.attributes.clone());
        match (p.kind.as_str(), p.temporality.as_str()) {
            ("exponential_histogram", _) => *out.histograms.entry(series).or_default() += p.count,
            ("sum", "AGGREGATION_TEMPORALITY_DELTA") => {
                *out.deltas.entry(series).or_default() += timeless(&p.name, p.value);
            }
            _ => {
                out.points.insert(series, p.value);
            }
        }
    }
    for s in spans {
        let kind = s.kind.trim_start_matches("SPAN_KIND_").to_ascii_lowercase();
        out.spans.push(span_key(
            &s.name,
            &kind,
            s.status == "STATUS_CODE_ERROR",
            !s.parent_span_id.is_empty(),
            // The wire marks a span with logs; OTLP carries them as events.
            s.attributes
                .iter()
                .cloned()
                .chain((!s.events.is_empty()).then(|| ("_spanLogs".into(), "true".into()))),
            addr,
        ));
    }
    out.spans.sort();
    out
}

/// Equal maps, or a failure that lists only what differs.
fn assert_same<V: PartialEq + std::fmt::Debug>(
    what: &str,
    otlp: &BTreeMap<Series, V>,
    wavefront: &BTreeMap<Series, V>,
) {
    let only_otlp: Vec<_> = otlp
        .iter()
        .filter(|(k, v)| wavefront.get(k) != Some(v))
        .collect();
    let only_wavefront: Vec<_> = wavefront
        .iter()
        .filter(|(k, v)| otlp.get(k) != Some(v))
        .collect();
    assert!(
        only_otlp.is_empty() && only_wavefront.is_empty(),
        "{what} differ:\nOTLP only: {only_otlp:#?}\nWavefront only: {only_wavefront:#?}"
    );
}

#[test]
fn otlp_carries_the_same_series_and_spans_as_the_wavefront_output() {
    // Wavefront lines, through a proxy.
    let proxy = Receiver::start().unwrap();
    let proxy_addr = shirts(&[
        (
            "WAVEFRONT_URL",
            format!("proxy://127.0.0.1:{}", proxy.metrics_addr().port()),
        ),
        (
            "WAVEFRONT_TRACES_PORT",
            proxy.tracing_addr().port().to_string(),
        ),
    ]);
    assert!(proxy.wait_until(Duration::from_secs(5), |r| r.spans().len() == 6));
    assert!(proxy.rejected().is_empty(), "{:?}", proxy.rejected());
    let wavefront = wavefront_output(&proxy, &proxy_addr);

    // The same requests, as OTLP.
    let collector = Receiver::start().unwrap();
    let otlp_addr = shirts(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.otlp_endpoint()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret".into()),
    ]);
    let requests = collector.otlp_requests();
    assert!(!requests.is_empty(), "{:?}", collector.http_requests());
    for request in &requests {
        let api_key = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("api-key"));
        assert_eq!(api_key.map(|(_, v)| v.as_str()), Some("s=cret"));
    }
    let metrics = otlp::decode_requests(&requests, "metrics");
    let traces = otlp::decode_requests(&requests, "traces");
    let points = otlp::points(&metrics);
    let spans = otlp::spans(&traces);
    let otlp = otlp_output(&points, &spans, &otlp_addr);

    // Every series, histogram count and span, identically.
    assert_same("points", &otlp.points, &wavefront.points);
    assert_same("delta counters", &otlp.deltas, &wavefront.deltas);
    assert_same("histograms", &otlp.histograms, &wavefront.histograms);
    assert_eq!(otlp.spans, wavefront.spans);
    // The scenario is all there (not two empty outputs).
    assert_eq!(
        wavefront.points.get(&(
            "axum.response.style.id.make.GET.200.cumulative.count".to_owned(),
            otlp.points
                .keys()
                .find(|(n, _)| n == "axum.response.style.id.make.GET.200.cumulative.count")
                .map(|(_, t)| t.clone())
                .unwrap_or_default()
        )),
        Some(&3.0)
    );
    assert_eq!(wavefront.spans.len(), 6);
    assert!(otlp
        .histograms
        .keys()
        .any(|(n, _)| n == "axum.response.style.id.make.summary.GET.200.latency"));

    // The resource: service, application, cluster, shard, host.
    let resource = otlp::resource(&metrics);
    assert_eq!(
        resource.get("service.name").map(String::as_str),
        Some("styling")
    );
    assert_eq!(
        resource.get("service.namespace").map(String::as_str),
        Some("Ordering")
    );
    assert_eq!(
        resource.get("cluster").map(String::as_str),
        Some("us-west-1")
    );
    assert_eq!(
        resource.get("host.name").map(String::as_str),
        Some("example-host")
    );
    assert_eq!(otlp::resource(&traces), resource);

    // Counters are cumulative sums, delta counters delta sums, and the SDK's
    // own diagnostics name the transport.
    let kind_of = |name: &str| {
        points
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.kind.clone(), p.temporality.clone()))
    };
    assert_eq!(
        kind_of("axum.response.style.id.make.GET.200.cumulative.count"),
        Some(("sum".into(), "AGGREGATION_TEMPORALITY_CUMULATIVE".into()))
    );
    assert!(points
        .iter()
        .any(|p| p.name == "~sdk.rust.core.sender.otlp.spans.queue.size"));

    // The W3C caller's trace goes on: same trace id, the caller as parent.
    let continued: Vec<&OtlpSpan> = spans.iter().filter(|s| s.trace_id == TRACE_ID).collect();
    assert_eq!(continued.len(), 1, "{spans:#?}");
    assert_eq!(continued[0].parent_span_id, PARENT_ID);
    assert_eq!(continued[0].span_id.len(), 16);
    assert_eq!(
        (continued[0].name.as_str(), continued[0].kind.as_str()),
        ("make_shirts", "SPAN_KIND_SERVER")
    );
    // The panicking handler's span is an error; the others are not.
    let crash = spans.iter().find(|s| s.name == "crash").unwrap();
    assert_eq!(crash.status, "STATUS_CODE_ERROR");
    let roots = spans.iter().filter(|s| s.parent_span_id.is_empty()).count();
    assert_eq!(roots, 5);
}
