//! A real axum server on 127.0.0.1, real HTTP requests, and what the strict
//! receiver got over real TCP from the SDK's proxy sender.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use wavefront_axum::routing::get;
use wavefront_axum::{CurrentSpan, WavefrontLayer};
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::{ProxySender, Sender};
use wavefront_core::ApplicationTags;
use wavefront_testkit::parse::{Point, Span};
use wavefront_testkit::receiver::Receiver;

async fn make_shirts(Path(id): Path<String>, span: CurrentSpan) -> String {
    span.set_tag("shirt.id", id.clone());
    format!("Shirts {id} made.")
}

async fn bad_gateway() -> StatusCode {
    StatusCode::BAD_GATEWAY
}

async fn crash(Path(order_id): Path<u64>) -> &'static str {
    panic!("order {order_id} cannot be processed")
}

async fn unnamed() -> &'static str {
    "plain axum routing"
}

/// How long [`download`]'s body takes after its headers.
const STREAMED_FOR: Duration = Duration::from_millis(300);

/// A body of unknown length: a first chunk now, the last one later.
struct SlowBody {
    later: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    first: bool,
}

impl http_body::Body for SlowBody {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if std::mem::take(&mut self.first) {
            return Poll::Ready(Some(Ok(http_body::Frame::data("first,".into()))));
        }
        let Some(later) = self.later.as_mut() else {
            return Poll::Ready(None);
        };
        std::task::ready!(std::future::Future::poll(later.as_mut(), cx));
        self.later = None;
        Poll::Ready(Some(Ok(http_body::Frame::data("last".into()))))
    }
}

async fn download() -> axum::body::Body {
    axum::body::Body::new(SlowBody {
        later: Some(Box::pin(tokio::time::sleep(STREAMED_FOR))),
        first: true,
    })
}

/// A proxy sender to the receiver's ports.
fn proxy_to(receiver: &Receiver) -> Arc<dyn Sender> {
    Arc::new(
        ProxySender::builder("127.0.0.1")
            .metrics_port(receiver.metrics_addr().port())
            .tracing_port(receiver.tracing_addr().port())
            .build(),
    )
}

struct App {
    receiver: Receiver,
    reporter: Arc<Reporter>,
    base: String,
    server: tokio::task::JoinHandle<()>,
}

async fn start() -> App {
    let receiver = Receiver::start().unwrap();
    let sender = proxy_to(&receiver);
    let tags = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .custom_tag("location", "Oregon")
        .custom_tag("env", "Staging")
        .build()
        .unwrap();
    let reporter = Arc::new(
        Reporter::builder(Registry::new(), sender, tags)
            .source("host-1")
            .interval(Duration::from_secs(3600))
            .start(),
    );
    let app = Router::new()
        .route("/style/{id}/make", get(make_shirts))
        .route("/bad-gateway", get(bad_gateway))
        .route("/orders/{order_id}/crash", get(crash))
        .route("/plain", axum::routing::get(unnamed))
        .route("/download", get(download))
        .layer(WavefrontLayer::new(&reporter))
        .layer(CatchPanicLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    App {
        receiver,
        reporter,
        base,
        server,
    }
}

impl App {
    /// Stops the server, flushes everything, and waits for the receiver.
    async fn finish(self) -> Receiver {
        self.server.abort();
        let reporter = Arc::clone(&self.reporter);
        let report =
            tokio::task::spawn_blocking(move || reporter.shutdown(Duration::from_secs(10)))
                .await
                .unwrap();
        assert_eq!(report.dropped, 0);
        let expected = report.delivered as usize;
        assert!(
            self.receiver
                .wait_for_lines(expected, Duration::from_secs(10)),
            "{} of {expected}",
            self.receiver.line_count()
        );
        let rejected = self.receiver.rejected();
        assert!(rejected.is_empty(), "{rejected:#?}");
        self.receiver
    }
}

fn metric_sum(points: &[Point], name: &str, tags: &[(&str, &str)]) -> f64 {
    points
        .iter()
        .filter(|p| p.name == name && tags.iter().all(|(k, v)| p.tag(k) == Some(*v)))
        .map(|p| p.value)
        .sum()
}

/// The value of a cumulative series at its last report.
fn last(points: &[Point], name: &str) -> Option<f64> {
    points
        .iter()
        .rev()
        .find(|p| p.name == name)
        .map(|p| p.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_request_sequence() {
    let app = start().await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", app.base);
    let get = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let mut request = client.get(url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    // The captured sequence (shared/reference/flask-captures/*/requests.json).
    let r1 = get("/style/blue/make", &[]).await.unwrap();
    assert_eq!(r1.status(), 200);
    assert_eq!(r1.text().await.unwrap(), "Shirts blue made.");
    // Flask's <path:id> spans slashes; axum's {id} does not: a 404 here.
    assert_eq!(
        get("/style/red/green/make", &[]).await.unwrap().status(),
        404
    );
    let parent: &[(&str, &str)] = &[
        ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
        ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
        ("wf-ot-sample", "True"),
        ("wf-ot-tenant", "acme"),
    ];
    assert_eq!(get("/style/blue/make", parent).await.unwrap().status(), 200);
    assert_eq!(
        get(
            "/style/blue/make",
            &[("uber-trace-id", "abcdef0123456789:0123456789abcdef:0:1")]
        )
        .await
        .unwrap()
        .status(),
        200
    );
    assert_eq!(get("/bad-gateway", &[]).await.unwrap().status(), 502);
    assert_eq!(get("/orders/42/crash", &[]).await.unwrap().status(), 500);
    assert_eq!(get("/no/such/path", &[]).await.unwrap().status(), 404);
    assert_eq!(
        client
            .post(url("/style/blue/make"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        get(
            "/style/blue/make",
            &[("wf-ot-traceid", "not-a-uuid"), ("wf-ot-spanid", "x")]
        )
        .await
        .unwrap()
        .status(),
        200
    );
    // Query strings, percent-encoded and non-ASCII paths, HEAD, plain routing.
    assert_eq!(
        get("/style/blue/make?size=L&color=%22red%22", &[])
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get("/style/%E6%97%A5%20x/make", &[])
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .head(url("/style/blue/make"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(get("/plain", &[]).await.unwrap().status(), 200);
    // Concurrent requests.
    let concurrent: Vec<_> = (0..40)
        .map(|i| client.get(url(&format!("/style/c{i}/make"))).send())
        .collect();
    for response in futures_join(concurrent).await {
        assert_eq!(response.unwrap().status(), 200);
    }

    let receiver = app.finish().await;
    let points = receiver.metrics();
    let p = "axum.response.style.id.make";
    // 200s on the route: R1, R3, R4, R9, query, percent-encoded, 40 concurrent.
    let route_200 = 46.0;
    assert_eq!(
        last(&points, &format!("{p}.GET.200.cumulative.count")),
        Some(route_200)
    );
    for level in ["shard", "service", "cluster", "application"] {
        let name = format!("∆{p}.GET.200.aggregated_per_{level}.count");
        assert_eq!(metric_sum(&points, &name, &[]), route_200, "{name}");
        assert!(
            points
                .iter()
                .filter(|p| p.name == name)
                .all(|p| p.source == "wavefront-provided"),
            "{name}"
        );
    }
    assert_eq!(
        last(&points, &format!("{p}.HEAD.200.cumulative.count")),
        Some(1.0)
    );
    assert_eq!(
        last(
            &points,
            "axum.response.bad_gateway.GET.502.cumulative.count"
        ),
        Some(1.0)
    );
    assert_eq!(
        last(
            &points,
            "axum.response.orders.order_id.crash.GET.500.cumulative.count"
        ),
        Some(1.0)
    );
    assert_eq!(
        last(&points, "axum.response.unmatched.GET.404.cumulative.count"),
        Some(2.0)
    );
    assert_eq!(
        last(&points, "axum.response.unmatched.POST.405.cumulative.count"),
        Some(1.0)
    );
    assert_eq!(
        last(&points, "axum.response.plain.GET.200.cumulative.count"),
        Some(1.0)
    );
    assert_eq!(
        last(
            &points,
            "axum.response.completed.aggregated_per_source.count"
        ),
        Some(route_200 + 1.0 + 1.0 + 1.0 + 2.0 + 1.0 + 1.0)
    );
    assert_eq!(
        last(&points, "axum.response.errors.aggregated_per_source.count"),
        Some(5.0)
    );
    assert_eq!(
        metric_sum(
            &points,
            "∆axum.response.errors.aggregated_per_application.count",
            &[]
        ),
        5.0
    );
    // In flight: back to zero, per route and in total.
    assert_eq!(
        last(&points, "axum.total_requests.inflight.value"),
        Some(0.0)
    );
    let inflight: Vec<&Point> = points
        .iter()
        .filter(|p| p.name.ends_with(".inflight.value"))
        .collect();
    assert!(inflight.iter().all(|p| p.value == 0.0), "{inflight:?}");
    let named = points
        .iter()
        .find(|point| point.name == format!("{p}.GET.200.cumulative.count"))
        .unwrap();
    assert_eq!(named.tag("axum.func"), Some("make_shirts"));
    assert_eq!(named.source, "host-1");
    let plain = points
        .iter()
        .find(|p| p.name == "axum.response.plain.GET.200.cumulative.count")
        .unwrap();
    assert_eq!(plain.tag("axum.func"), Some("GET /plain"));
    // Minute histograms: one sample per request, latency in milliseconds.
    let histograms = receiver.histograms();
    let count = |name: &str| {
        histograms
            .iter()
            .filter(|h| h.name == name)
            .map(|h| h.count())
            .sum::<i64>()
    };
    assert_eq!(count(&format!("{p}.summary.GET.200.latency")), 46);
    assert_eq!(count(&format!("{p}.summary.GET.200.cpu_ns")), 46);
    assert_eq!(count("axum.response.unmatched.summary.GET.404.latency"), 2);
    let latency = histograms
        .iter()
        .find(|h| h.name == format!("{p}.summary.GET.200.latency"))
        .unwrap();
    assert!(
        latency
            .centroids
            .iter()
            .all(|&(_, mean)| mean > 0.0 && mean < 5_000.0),
        "{latency:?}"
    );
    assert_eq!(latency.timestamp.map(|t| t % 60_000), Some(0));
    // Heartbeat.
    let beat = points
        .iter()
        .find(|p| p.name == "~component.heartbeat" && p.tag("component") == Some("axum"))
        .unwrap();
    assert_eq!(beat.tag("location"), Some("Oregon"));

    // One span per request.
    let spans = receiver.spans();
    assert_eq!(
        spans.len(),
        53,
        "{:#?}",
        spans.iter().map(|s| &s.operation).collect::<Vec<_>>()
    );
    let with_parent: Vec<&Span> = spans.iter().filter(|s| !s.parents.is_empty()).collect();
    assert_eq!(with_parent.len(), 1);
    let child = with_parent[0];
    assert_eq!(child.trace_id, "11111111-2222-4333-8444-555555555555");
    assert_eq!(child.parents, ["66666666-7777-4888-9999-aaaaaaaaaaaa"]);
    assert_eq!(child.operation, "make_shirts");
    let keys: Vec<&str> = child.tags.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
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
            "shirt.id",
            "axum.func",
            "http.status_code",
        ]
    );
    for (key, value) in [
        ("component", "axum"),
        ("span.kind", "server"),
        ("http.method", "GET"),
        ("shirt.id", "blue"),
        ("axum.func", "make_shirts"),
        ("http.status_code", "200"),
        ("location", "Oregon"),
    ] {
        assert_eq!(child.tag(key), Some(value), "{key}");
    }
    assert!(child.tag("http.url").unwrap().ends_with("/style/blue/make"));
    assert!(
        child.start > 1_000_000_000_000_000,
        "start in microseconds: {}",
        child.start
    );
    let query = spans
        .iter()
        .filter(|s| s.tag("http.url").is_some_and(|u| u.contains('?')))
        .count();
    assert_eq!(query, 0, "http.url carries no query");
    // Error spans and their logs.
    let crash = spans.iter().find(|s| s.operation == "crash").unwrap();
    assert_eq!(
        (crash.tag("error"), crash.tag("http.status_code")),
        (Some("true"), Some("500"))
    );
    assert_eq!(crash.tag("_spanLogs"), Some("true"));
    let logs = receiver.span_logs();
    let crash_log = logs.iter().find(|l| l.span_id == crash.span_id).unwrap();
    let fields = &crash_log.logs[0].fields;
    assert!(fields.contains(&("event".to_owned(), "error".to_owned())));
    assert!(
        fields.contains(&(
            "message".to_owned(),
            "panic: order 42 cannot be processed".to_owned()
        )),
        "{fields:?}"
    );
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.tag("error") == Some("true"))
            .count(),
        5
    );
    assert_eq!(logs.len(), 5);
    let unmatched = spans.iter().filter(|s| s.operation == "unmatched").count();
    assert_eq!(unmatched, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_ends_its_request_when_sent_an_answer_made_when_ready() {
    let app = start().await;
    let client = reqwest::Client::new();
    for (path, expected) in [
        ("/download", "first,last"),
        ("/style/9/make", "Shirts 9 made."),
    ] {
        let url = format!("{}{path}", app.base);
        let body = client.get(url).send().await.unwrap().text().await.unwrap();
        assert_eq!(body, expected);
    }
    let receiver = app.finish().await;
    let spans = receiver.spans();
    let duration = |operation: &str| {
        let span = spans.iter().find(|s| s.operation == operation);
        span.unwrap_or_else(|| panic!("no {operation} span in {spans:#?}"))
            .duration
    };
    // Microseconds: the streamed body's whole time, the made answer's none.
    let streamed_for = STREAMED_FOR.as_micros() as u64;
    assert!(duration("download") >= streamed_for, "{spans:#?}");
    assert!(duration("make_shirts") < streamed_for, "{spans:#?}");
    let points = receiver.metrics();
    for route in ["download", "style.id.make"] {
        let name = format!("axum.request.{route}.GET.inflight.value");
        assert_eq!(last(&points, &name), Some(0.0), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_unknown_paths_make_one_series() {
    let app = start().await;
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (client, base) = (client.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..1_250 {
                let status = client
                    .get(format!("{base}/scan/{worker}/{i}/x{i}"))
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, 404);
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .unwrap()
            .unwrap();
    }
    let receiver = app.finish().await;
    let points = receiver.metrics();
    assert_eq!(
        last(&points, "axum.response.unmatched.GET.404.cumulative.count"),
        Some(10_000.0)
    );
    let mut names: Vec<&str> = points
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| n.starts_with("axum.") || n.starts_with("∆axum."))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.iter().all(|n| !n.contains("scan")), "{names:?}");
    assert!(names.len() < 30, "{names:?}");
}

/// Awaits all futures (a tiny join_all without a futures dependency).
async fn futures_join<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn get_item(Path((_, _)): Path<(String, String)>) -> &'static str {
    "item"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_routers_and_route_layer() {
    let receiver = Receiver::start().unwrap();
    let sender = proxy_to(&receiver);
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap();
    let reporter = Reporter::builder(Registry::new(), sender, tags)
        .interval(Duration::from_secs(3600))
        .start();
    // A nested router under /api/v1 with the layer outside: the template is
    // the joined one. A second app uses route_layer: only matched routes.
    let api = Router::new().route("/shops/{shop}/items/{item}", get(get_item));
    let layered = Router::new()
        .nest("/api/v1", api)
        .layer(WavefrontLayer::new(&reporter));
    let route_layered = Router::new().route("/only", get(unnamed)).route_layer(
        WavefrontLayer::builder(&reporter)
            .component("axum_rl")
            .build(),
    );
    let mut bases = Vec::new();
    for app in [layered, route_layered] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        bases.push(format!("http://{}", listener.local_addr().unwrap()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let client = reqwest::Client::new();
    for (path, status) in [
        (format!("{}/api/v1/shops/3/items/9", bases[0]), 200),
        (format!("{}/api/v1/nope", bases[0]), 404),
        (format!("{}/only", bases[1]), 200),
        (format!("{}/missing", bases[1]), 404),
    ] {
        assert_eq!(client.get(path).send().await.unwrap().status(), status);
    }
    let reporter = Arc::new(reporter);
    let r = Arc::clone(&reporter);
    let report = tokio::task::spawn_blocking(move || r.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(receiver.wait_for_lines(report.delivered as usize, Duration::from_secs(10)));
    let points = receiver.metrics();
    assert_eq!(
        last(
            &points,
            "axum.response.api.v1.shops.shop.items.item.GET.200.cumulative.count"
        ),
        Some(1.0)
    );
    let item = points
        .iter()
        .find(|p| p.name == "axum.response.api.v1.shops.shop.items.item.GET.200.cumulative.count")
        .unwrap();
    assert_eq!(item.tag("axum.func"), Some("get_item"));
    assert_eq!(
        last(&points, "axum.response.unmatched.GET.404.cumulative.count"),
        Some(1.0)
    );
    // route_layer: the matched route is recorded, the 404 is not seen at all.
    assert_eq!(
        last(&points, "axum_rl.response.only.GET.200.cumulative.count"),
        Some(1.0)
    );
    assert!(points
        .iter()
        .all(|p| !p.name.starts_with("axum_rl.response.unmatched")));
    assert!(points
        .iter()
        .any(|p| p.name == "~component.heartbeat" && p.tag("component") == Some("axum_rl")));
    assert!(receiver.rejected().is_empty());
}
