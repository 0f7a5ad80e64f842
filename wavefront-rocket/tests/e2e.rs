//! A real rocket server on 127.0.0.1, real HTTP requests, and what the strict
//! receiver got over real TCP from the SDK's proxy sender.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rocket::config::{LogLevel, Shutdown};
use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::response::stream::TextStream;
use rocket::{get, routes, Build, Config, Rocket};
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::{ProxySender, Sender};
use wavefront_core::ApplicationTags;
use wavefront_rocket::{CurrentSpan, WavefrontFairing};
use wavefront_testkit::parse::{Point, Span};
use wavefront_testkit::receiver::Receiver;

#[get("/style/<id>/make")]
fn make_shirts(id: &str, span: CurrentSpan) -> String {
    span.set_tag("shirt.id", id.to_owned());
    format!("Shirts {id} made.")
}

#[get("/bad-gateway")]
fn bad_gateway() -> Status {
    Status::BadGateway
}

#[get("/orders/<order_id>/crash")]
fn crash(order_id: u64) -> &'static str {
    panic!("order {order_id} cannot be processed")
}

/// A body streamed over ~300 ms.
#[get("/slow")]
fn slow() -> TextStream![&'static str] {
    TextStream! {
        for _ in 0..3 {
            rocket::tokio::time::sleep(Duration::from_millis(100)).await;
            yield "chunk";
        }
    }
}

#[get("/items/<id>")]
fn item(id: u32) -> String {
    format!("item {id}")
}

#[get("/empty")]
fn empty() {}

#[get("/plain")]
fn unwrapped() -> &'static str {
    "not wrapped"
}

#[get("/plain/<n>")]
fn unwrapped_number(n: u64) -> String {
    n.to_string()
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

fn config() -> Config {
    Config {
        address: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: LogLevel::Off,
        shutdown: Shutdown {
            ctrlc: false,
            #[cfg(unix)]
            signals: std::collections::HashSet::new(),
            grace: 1,
            mercy: 1,
            ..Default::default()
        },
        ..Config::debug_default()
    }
}

struct App {
    receiver: Receiver,
    reporter: Arc<Reporter>,
    base: String,
    shutdown: rocket::Shutdown,
    server: tokio::task::JoinHandle<()>,
}

/// Launches `rocket` on a free port.
async fn launch(rocket: Rocket<Build>) -> (String, rocket::Shutdown, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let rocket = rocket.attach(AdHoc::on_liftoff("port", move |rocket| {
        Box::pin(async move {
            let _ = tx.send(rocket.config().port);
        })
    }));
    let rocket = rocket.ignite().await.unwrap();
    let shutdown = rocket.shutdown();
    let server = tokio::spawn(async move {
        rocket.launch().await.unwrap();
    });
    let port = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .unwrap()
        .unwrap();
    (format!("http://127.0.0.1:{port}"), shutdown, server)
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
    let rocket = rocket::custom(config())
        .mount(
            "/",
            wavefront_rocket::wrap(routes![make_shirts, bad_gateway, crash, slow, empty]),
        )
        .mount("/api", wavefront_rocket::wrap(routes![item]))
        .mount("/", routes![unwrapped, unwrapped_number])
        .attach(WavefrontFairing::new(&reporter));
    let (base, shutdown, server) = launch(rocket).await;
    App {
        receiver,
        reporter,
        base,
        shutdown,
        server,
    }
}

impl App {
    /// Stops the server, flushes everything, and waits for the receiver.
    async fn finish(self) -> Receiver {
        self.shutdown.notify();
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("rocket stops within 10 s")
            .unwrap();
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

fn metric_sum(points: &[Point], name: &str) -> f64 {
    points
        .iter()
        .filter(|p| p.name == name)
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
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.base);
    let get = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let mut request = client.get(url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    let r1 = get("/style/blue/make", &[]).await.unwrap();
    assert_eq!(r1.status(), 200);
    assert_eq!(r1.text().await.unwrap(), "Shirts blue made.");
    let parent: &[(&str, &str)] = &[
        ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
        ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
        ("wf-ot-sample", "True"),
    ];
    assert_eq!(get("/style/blue/make", parent).await.unwrap().status(), 200);
    assert_eq!(
        get("/style/blue/make?size=L", &[]).await.unwrap().status(),
        200
    );
    assert_eq!(get("/bad-gateway", &[]).await.unwrap().status(), 502);
    assert_eq!(get("/orders/42/crash", &[]).await.unwrap().status(), 500);
    assert_eq!(get("/no/such/path", &[]).await.unwrap().status(), 404);
    // `<order_id: u64>` does not parse: the route forwards, a catcher answers.
    assert_eq!(get("/orders/abc/crash", &[]).await.unwrap().status(), 422);
    assert_eq!(
        client
            .post(url("/style/blue/make"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let head = client.head(url("/style/blue/make")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some("17"),
        "a sized body stays sized"
    );
    let sized = get("/style/red/make", &[]).await.unwrap();
    assert_eq!(
        sized
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some("16")
    );
    let slow = get("/slow", &[]).await.unwrap();
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.text().await.unwrap(), "chunkchunkchunk");
    assert_eq!(get("/empty", &[]).await.unwrap().status(), 200);
    assert_eq!(get("/api/items/7", &[]).await.unwrap().status(), 200);
    assert_eq!(get("/plain", &[]).await.unwrap().status(), 200);
    assert_eq!(get("/plain/abc", &[]).await.unwrap().status(), 422);
    // Concurrent requests.
    let concurrent: Vec<_> = (0..20)
        .map(|i| client.get(url(&format!("/style/c{i}/make"))).send())
        .collect();
    for response in futures_join(concurrent).await {
        assert_eq!(response.unwrap().status(), 200);
    }

    let receiver = app.finish().await;
    let points = receiver.metrics();
    let p = "rocket.response.style.id.make";
    let route_200 = 24.0; // 3 + red + 20 concurrent
    assert_eq!(
        last(&points, &format!("{p}.GET.200.cumulative.count")),
        Some(route_200)
    );
    assert_eq!(
        metric_sum(&points, &format!("∆{p}.GET.200.aggregated_per_shard.count")),
        route_200
    );
    assert_eq!(
        last(&points, &format!("{p}.HEAD.200.cumulative.count")),
        Some(1.0)
    );
    for (name, value) in [
        ("rocket.response.bad_gateway.GET.502.cumulative.count", 1.0),
        (
            "rocket.response.orders.order_id.crash.GET.500.cumulative.count",
            1.0,
        ),
        ("rocket.response.unmatched.GET.404.cumulative.count", 1.0),
        ("rocket.response.unmatched.GET.422.cumulative.count", 1.0),
        ("rocket.response.unmatched.POST.404.cumulative.count", 1.0),
        ("rocket.response.slow.GET.200.cumulative.count", 1.0),
        ("rocket.response.empty.GET.200.cumulative.count", 1.0),
        ("rocket.response.api.items.id.GET.200.cumulative.count", 1.0),
        ("rocket.response.plain.GET.200.cumulative.count", 1.0),
        // Not wrapped: the catcher's 422 is recorded under the route tried.
        ("rocket.response.plain.n.GET.422.cumulative.count", 1.0),
        (
            "rocket.response.completed.aggregated_per_source.count",
            route_200 + 11.0,
        ),
        ("rocket.response.errors.aggregated_per_source.count", 6.0),
        ("rocket.total_requests.inflight.value", 0.0),
    ] {
        assert_eq!(last(&points, name), Some(value), "{name}");
    }
    // In flight: back to zero, per route and in total.
    let inflight: Vec<&Point> = points
        .iter()
        .filter(|p| p.name.ends_with(".inflight.value"))
        .collect();
    assert!(inflight.len() > 5, "{inflight:?}");
    assert!(inflight.iter().all(|p| p.value == 0.0), "{inflight:?}");
    // rocket.func = the handler's function name.
    for (series, func) in [
        (format!("{p}.GET.200.cumulative.count"), "make_shirts"),
        (
            "rocket.response.bad_gateway.GET.502.cumulative.count".to_owned(),
            "bad_gateway",
        ),
        (
            "rocket.response.orders.order_id.crash.GET.500.cumulative.count".to_owned(),
            "crash",
        ),
        (
            "rocket.response.api.items.id.GET.200.cumulative.count".to_owned(),
            "item",
        ),
        (
            "rocket.response.plain.GET.200.cumulative.count".to_owned(),
            "unwrapped",
        ),
    ] {
        let point = points.iter().find(|point| point.name == series).unwrap();
        assert_eq!(point.tag("rocket.func"), Some(func), "{series}");
        assert_eq!(point.source, "host-1");
    }
    // Minute histograms: one sample per request; cpu_ns for wrapped routes.
    let histograms = receiver.histograms();
    let count = |name: &str| {
        histograms
            .iter()
            .filter(|h| h.name == name)
            .map(|h| h.count())
            .sum::<i64>()
    };
    assert_eq!(count(&format!("{p}.summary.GET.200.latency")), 24);
    assert_eq!(count(&format!("{p}.summary.GET.200.cpu_ns")), 24);
    assert_eq!(count(&format!("{p}.summary.HEAD.200.cpu_ns")), 1);
    assert_eq!(
        count("rocket.response.orders.order_id.crash.summary.GET.500.cpu_ns"),
        1
    );
    assert_eq!(
        count("rocket.response.bad_gateway.summary.GET.502.cpu_ns"),
        1
    );
    assert_eq!(count("rocket.response.plain.summary.GET.200.latency"), 1);
    // Not wrapped: the fairing's own callbacks are measured.
    assert_eq!(count("rocket.response.plain.summary.GET.200.cpu_ns"), 1);
    assert_eq!(
        count("rocket.response.unmatched.summary.GET.404.latency"),
        1
    );
    let slow = histograms
        .iter()
        .find(|h| h.name == "rocket.response.slow.summary.GET.200.latency")
        .unwrap();
    assert!(
        slow.centroids
            .iter()
            .all(|&(_, mean)| (250.0..5_000.0).contains(&mean)),
        "the streamed body is timed: {slow:?}"
    );
    let beat = points
        .iter()
        .find(|p| p.name == "~component.heartbeat" && p.tag("component") == Some("rocket"))
        .unwrap();
    assert_eq!(beat.tag("location"), Some("Oregon"));

    // One span per request.
    let spans = receiver.spans();
    assert_eq!(
        spans.len(),
        35,
        "{:#?}",
        spans.iter().map(|s| &s.operation).collect::<Vec<_>>()
    );
    let with_parent: Vec<&Span> = spans.iter().filter(|s| !s.parents.is_empty()).collect();
    assert_eq!(with_parent.len(), 1);
    let child = with_parent[0];
    assert_eq!(child.trace_id, "11111111-2222-4333-8444-555555555555");
    assert_eq!(child.parents, ["66666666-7777-4888-9999-aaaaaaaaaaaa"]);
    assert_eq!(child.operation, "make_shirts");
    for (key, value) in [
        ("component", "rocket"),
        ("span.kind", "server"),
        ("http.method", "GET"),
        ("shirt.id", "blue"),
        ("rocket.func", "make_shirts"),
        ("http.status_code", "200"),
        ("location", "Oregon"),
    ] {
        assert_eq!(child.tag(key), Some(value), "{key}");
    }
    let url_tag = child.tag("http.url").unwrap();
    assert!(
        url_tag.starts_with("http://127.0.0.1:") && url_tag.ends_with("/style/blue/make"),
        "{url_tag}"
    );
    assert!(spans
        .iter()
        .all(|s| s.tag("http.url").is_some_and(|u| !u.contains('?'))));
    let head = spans
        .iter()
        .find(|s| s.tag("http.method") == Some("HEAD"))
        .unwrap();
    assert_eq!(head.operation, "make_shirts");
    // Error spans and their logs.
    let crash = spans.iter().find(|s| s.operation == "crash").unwrap();
    assert_eq!(
        (crash.tag("error"), crash.tag("http.status_code")),
        (Some("true"), Some("500"))
    );
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
        6
    );
    assert_eq!(logs.len(), 6);
    let unmatched = spans.iter().filter(|s| s.operation == "unmatched").count();
    assert_eq!(unmatched, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wrap_the_route_tried_is_recorded() {
    let receiver = Receiver::start().unwrap();
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap();
    let reporter = Reporter::builder(Registry::new(), proxy_to(&receiver), tags)
        .interval(Duration::from_secs(3600))
        .start();
    let rocket = rocket::custom(config())
        .mount("/", routes![make_shirts, crash])
        .attach(
            WavefrontFairing::builder(&reporter)
                .component("rocket_plain")
                .build(),
        );
    let (base, shutdown, server) = launch(rocket).await;
    let client = reqwest::Client::new();
    for (path, status) in [
        ("/style/blue/make", 200),
        ("/orders/42/crash", 500),
        ("/nothing", 404),
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
    shutdown.notify();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    let reporter = Arc::new(reporter);
    let r = Arc::clone(&reporter);
    let report = tokio::task::spawn_blocking(move || r.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(receiver.wait_for_lines(report.delivered as usize, Duration::from_secs(10)));
    let points = receiver.metrics();
    for name in [
        "rocket_plain.response.style.id.make.GET.200.cumulative.count",
        "rocket_plain.response.orders.order_id.crash.GET.500.cumulative.count",
        "rocket_plain.response.unmatched.GET.404.cumulative.count",
    ] {
        assert_eq!(last(&points, name), Some(1.0), "{name}");
    }
    let shirts = points
        .iter()
        .find(|p| p.name == "rocket_plain.response.style.id.make.GET.200.cumulative.count")
        .unwrap();
    assert_eq!(shirts.tag("rocket_plain.func"), Some("make_shirts"));
    // The panic is a 500 without its message, and nothing measured CPU time.
    let logs = receiver.span_logs();
    let crash = receiver
        .spans()
        .into_iter()
        .find(|s| s.operation == "crash")
        .unwrap();
    let crash_log = logs.iter().find(|l| l.span_id == crash.span_id).unwrap();
    assert!(crash_log.logs[0]
        .fields
        .contains(&("message".to_owned(), "HTTP 500".to_owned())));
    assert!(receiver.rejected().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_during_the_body_keeps_the_gauges_balanced() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = start().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        drop(stream); // gone before the body's end
    }
    // Let the server notice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let receiver = app.finish().await;
    let points = receiver.metrics();
    assert_eq!(
        last(&points, "rocket.response.slow.GET.200.cumulative.count"),
        Some(3.0)
    );
    let inflight: Vec<&Point> = points
        .iter()
        .filter(|p| p.name.ends_with(".inflight.value"))
        .collect();
    assert!(!inflight.is_empty());
    assert!(inflight.iter().all(|p| p.value == 0.0), "{inflight:?}");
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
