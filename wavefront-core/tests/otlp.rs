//! The OTLP exporter against a real HTTP listener on 127.0.0.1: what it
//! sends (decoded by OpenTelemetry's own protobuf classes), and how it
//! delivers: headers, retries honouring `Retry-After`, refusals counted,
//! everything flushed at shutdown.
#![cfg(feature = "otlp")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use wavefront_core::clock::{Clock, ManualClock};
use wavefront_core::config::{Config, Destination};
use wavefront_core::export::OtlpExporter;
use wavefront_core::export::OtlpNaming;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::DataKind;
use wavefront_core::ApplicationTags;
use wavefront_testkit::otlp;
use wavefront_testkit::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(10);

fn app() -> ApplicationTags {
    ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .custom_tag("env", "prod")
        .build()
        .unwrap()
}

fn reporter(exporter: OtlpExporter, registry: &Registry) -> Reporter {
    Reporter::builder(registry.clone(), exporter, app())
        .source("host-1")
        .interval(Duration::from_secs(3600))
        .red_metrics(false)
        .start()
}

#[test]
fn every_metric_type_arrives_as_its_otlp_kind() {
    let collector = Receiver::start().unwrap();
    let clock = ManualClock::new(1_700_000_040_000);
    let registry = Registry::builder()
        .clock(Clock::Manual(clock.clone()))
        .build();
    let exporter = OtlpExporter::builder(collector.otlp_endpoint())
        .header("api-key", "secret")
        .build()
        .unwrap();
    let reporter = reporter(exporter, &registry);
    registry
        .counter("orders.count", &[("region", "eu")])
        .inc_by(3);
    registry
        .delta_counter("refunds.count", &[("region", "eu")])
        .add(2.0);
    registry.gauge("pool.size", &[("pool", "db")]).set(7.5);
    let latency = registry.histogram("latency", &[("route", "/shirts")]);
    for v in [120, 120, 5_000] {
        latency.record(v);
    }
    clock.advance_ms(60_000);
    let report = reporter.shutdown(WAIT);
    assert_eq!(report.dropped, 0);

    let requests = collector.otlp_requests();
    assert!(requests.iter().all(|r| r
        .headers
        .iter()
        .any(|(k, v)| k == "api-key" && v == "secret")));
    assert!(requests.iter().all(|r| r
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v == "application/x-protobuf")));
    let points = otlp::points(&otlp::decode_requests(&requests, "metrics"));
    let find = |name: &str| {
        points
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {points:#?}"))
    };

    let orders = find("orders.count");
    assert_eq!(
        (
            orders.kind.as_str(),
            orders.temporality.as_str(),
            orders.value
        ),
        ("sum", "AGGREGATION_TEMPORALITY_CUMULATIVE", 3.0)
    );
    assert_eq!(
        orders.attributes.get("region").map(String::as_str),
        Some("eu")
    );
    let refunds = find("refunds.count");
    assert_eq!(
        (
            refunds.kind.as_str(),
            refunds.temporality.as_str(),
            refunds.value
        ),
        ("sum", "AGGREGATION_TEMPORALITY_DELTA", 2.0)
    );
    let pool = find("pool.size");
    assert_eq!((pool.kind.as_str(), pool.value), ("gauge", 7.5));
    let histogram = find("latency");
    assert_eq!(histogram.kind, "exponential_histogram");
    assert_eq!(histogram.count, 3);
    // Centroids of 120, 120 and ~5000 (hdrhistogram's precision).
    assert!(
        (histogram.sum - (240.0 + 5_008.0)).abs() < 1.0,
        "{histogram:?}"
    );
    // The SDK's own diagnostics, under the OTLP transport.
    assert!(points
        .iter()
        .any(|p| p.name == "~sdk.rust.core.sender.otlp.points.queue.size"));
}

#[test]
fn semantic_conventions_name_request_durations_in_seconds() {
    let collector = Receiver::start().unwrap();
    let exporter = OtlpExporter::builder(collector.otlp_endpoint())
        .naming(OtlpNaming::SemanticConventions)
        .build()
        .unwrap();
    let registry = Registry::new();
    let reporter = reporter(exporter, &registry);
    // An instrumented request, as an adapter records it.
    let instrumentation: wavefront_core::lifecycle::Instrumentation =
        reporter.instrumentation("hyper").build();
    let request = Get("/style/blue/make");
    let mut guard = instrumentation.start(&request);
    guard.set_route("/style/{id}/make");
    guard.set_handler("make_shirts");
    std::thread::sleep(Duration::from_millis(2));
    guard.set_status(200);
    drop(guard);
    reporter.shutdown(WAIT);

    let points = otlp::points(&otlp::decode_requests(
        &collector.otlp_requests(),
        "metrics",
    ));
    let duration: Vec<_> = points
        .iter()
        .filter(|p| p.name == "http.server.request.duration")
        .collect();
    assert_eq!(duration.len(), 1, "{points:#?}");
    let d = duration[0];
    assert_eq!((d.unit.as_str(), d.count), ("s", 1));
    assert!(d.sum > 0.002 && d.sum < 1.0, "{d:?}");
    let attr = |k: &str| d.attributes.get(k).map(String::as_str);
    assert_eq!(attr("http.route"), Some("/style/{id}/make"));
    assert_eq!(attr("http.request.method"), Some("GET"));
    assert_eq!(attr("http.response.status_code"), Some("200"));
    // Instead of, not beside, the Wavefront-named latency histogram.
    assert!(
        !points.iter().any(|p| p.name.ends_with(".latency")),
        "{points:#?}"
    );
    // The other series keep their Wavefront names.
    assert!(points
        .iter()
        .any(|p| p.name == "hyper.response.style.id.make.GET.200.cumulative.count"));
}

struct Get(&'static str);

impl wavefront_core::lifecycle::RequestInfo for Get {
    fn method(&self) -> &str {
        "GET"
    }
    fn route(&self) -> Option<&str> {
        None
    }
    fn url(&self) -> std::borrow::Cow<'_, str> {
        self.0.into()
    }
    fn headers(&self) -> &dyn wavefront_core::trace::Headers {
        const NONE: [(&str, &str); 0] = [];
        &NONE
    }
}

#[test]
fn busy_answers_are_retried_after_the_time_asked_and_nothing_is_lost() {
    let collector = Receiver::start().unwrap();
    collector.faults().set_retry_after(Some(1));
    collector.faults().set_http_status_for(2, 503);
    let exporter = OtlpExporter::builder(collector.otlp_endpoint())
        .build()
        .unwrap();
    let registry = Registry::new();
    let reporter = reporter(exporter, &registry);
    registry
        .counter("orders.count", &[] as &[(&str, &str)])
        .inc();
    let started = Instant::now();
    reporter.report_now();
    assert!(collector.wait_until(WAIT, |r| !r.otlp_requests().is_empty()));
    // Two refusals, each asking for a second: the data arrives after them.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let stats = reporter.exporter().stats().kind(DataKind::Points);
    assert_eq!(stats.report_errors(), 2);
    let report = reporter.shutdown(WAIT);
    assert_eq!(report.dropped, 0);
    let points = otlp::points(&otlp::decode_requests(
        &collector.otlp_requests(),
        "metrics",
    ));
    assert!(points
        .iter()
        .any(|p| p.name == "orders.count" && p.value == 1.0));
}

#[test]
fn a_refused_request_is_dropped_and_counted_not_retried() {
    let collector = Receiver::start().unwrap();
    collector.faults().set_http_status(Some(400));
    let exporter = OtlpExporter::builder(collector.otlp_endpoint())
        .build()
        .unwrap();
    let registry = Registry::new();
    let reporter = reporter(exporter, &registry);
    registry
        .counter("orders.count", &[] as &[(&str, &str)])
        .inc();
    reporter.report_now();
    let exporter = Arc::clone(reporter.exporter());
    let deadline = Instant::now() + WAIT;
    // Refused and dropped, with nothing left queued (a batch waiting to be
    // retried still counts as queued): the reporter's first report and
    // this one may go as two requests.
    let points = exporter.stats().kind(DataKind::Points);
    while points.dropped() == 0 || points.queue_size() > 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let requests = collector.http_requests().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        collector.http_requests().len(),
        requests,
        "a 400 is not retried"
    );
    assert!(collector.otlp_requests().is_empty());
    let _ = reporter.shutdown(WAIT);
}

#[test]
fn the_environment_chooses_otlp_when_wavefront_url_is_unset() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        Config::from_vars(move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    let config = vars(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%2C123, team=shop"),
    ])
    .unwrap();
    let Destination::Otlp {
        endpoint, headers, ..
    } = config.destination()
    else {
        panic!("{:?}", config.destination());
    };
    assert_eq!(endpoint, "http://collector:4318");
    assert_eq!(
        headers,
        &[
            ("api-key".to_owned(), "abc,123".to_owned()),
            ("team".to_owned(), "shop".to_owned())
        ]
    );
    // Header values are secrets: never printed.
    assert!(!format!("{config:?}").contains("abc"), "{config:?}");

    // WAVEFRONT_URL wins; its otlp:// form works too.
    let proxy = vars(&[
        ("WAVEFRONT_URL", "proxy://p:2878"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
    ])
    .unwrap();
    assert!(matches!(proxy.destination(), Destination::Proxy { .. }));
    let url = vars(&[("WAVEFRONT_URL", "otlp://collector")]).unwrap();
    assert!(
        matches!(url.destination(), Destination::Otlp { endpoint, .. } if endpoint == "http://collector:4318")
    );
    let tls = vars(&[("WAVEFRONT_URL", "otlps://collector:443")]).unwrap();
    assert!(
        matches!(tls.destination(), Destination::Otlp { endpoint, .. } if endpoint == "https://collector:443")
    );

    // Per-signal endpoints alone are enough; a bad header names the key only.
    let traces_only = vars(&[(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://t:4318/v1/traces",
    )])
    .unwrap();
    assert!(matches!(
        traces_only.destination(),
        Destination::Otlp {
            traces_endpoint: Some(_),
            ..
        }
    ));
    let bad = vars(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=%zz-secret"),
    ])
    .unwrap_err();
    let message = bad.to_string();
    assert!(
        message.contains("OTEL_EXPORTER_OTLP_HEADERS") && !message.contains("secret"),
        "{message}"
    );
}

#[test]
fn a_configured_exporter_delivers_to_the_per_signal_urls() {
    let collector = Receiver::start().unwrap();
    let base = collector.otlp_endpoint();
    let config = Config::from_vars(|name| match name {
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" => Some(format!("{base}/custom/v1/metrics")),
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some(format!("{base}/custom/v1/traces")),
        _ => None,
    })
    .unwrap();
    let reporter = Reporter::builder(Registry::new(), config.exporter().unwrap(), app())
        .interval(Duration::from_secs(3600))
        .start();
    reporter
        .tracer()
        .span("checkout")
        .tag("span.kind", "server")
        .start()
        .finish();
    reporter.shutdown(WAIT);
    let paths: Vec<String> = collector
        .http_requests()
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    assert!(
        paths.contains(&"/custom/v1/metrics".to_owned()),
        "{paths:?}"
    );
    assert!(paths.contains(&"/custom/v1/traces".to_owned()), "{paths:?}");
    let spans = otlp::spans(&otlp::decode_requests(&collector.otlp_requests(), "traces"));
    assert_eq!(spans.len(), 1);
    assert_eq!(
        (spans[0].name.as_str(), spans[0].kind.as_str()),
        ("checkout", "SPAN_KIND_SERVER")
    );
    assert_eq!(spans[0].trace_id.len(), 32);
}
