//! An instrumented axum service calls another over real HTTP through the
//! middleware: a client span, child of the request's, and the trace carried
//! to the called service in the propagation headers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use wavefront_axum::routing::get;
use wavefront_axum::WavefrontLayer;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;
use wavefront_reqwest::WavefrontMiddleware;
use wavefront_testkit::receiver::Receiver;

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

async fn charge(State(seen): State<Seen>, headers: HeaderMap) -> &'static str {
    seen.lock().unwrap().push(headers);
    "charged"
}

async fn broken() -> StatusCode {
    StatusCode::SERVICE_UNAVAILABLE
}

#[derive(Clone)]
struct Orders {
    client: ClientWithMiddleware,
    payments: String,
}

async fn checkout(State(orders): State<Orders>, Path(id): Path<String>) -> String {
    let url = format!("{}/charge/{id}?card=secret", orders.payments);
    let charged = orders
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failed = orders
        .client
        .get(format!("{}/broken", orders.payments))
        .send()
        .await
        .unwrap();
    format!("{charged} {}", failed.status().as_u16())
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_gets_a_client_span_and_carries_the_trace() {
    let receiver = Receiver::start().unwrap();
    let sender = receiver.proxy_sender();
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap();
    let reporter = Reporter::builder(Registry::new(), sender, tags)
        .interval(Duration::from_secs(3600))
        .start();
    let seen: Seen = Arc::default();
    let payments = serve(
        Router::new()
            .route("/charge/{id}", axum::routing::get(charge))
            .route("/broken", axum::routing::get(broken))
            .with_state(Arc::clone(&seen)),
    )
    .await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(WavefrontMiddleware)
        .build();
    // Outside any request: passed through, no span.
    assert!(client
        .get(format!("{payments}/charge/0"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let orders = serve(
        Router::new()
            .route("/orders/{id}/checkout", get(checkout))
            .layer(WavefrontLayer::new(&reporter))
            .with_state(Orders {
                client: client.clone(),
                payments: payments.clone(),
            }),
    )
    .await;
    let body = reqwest::get(format!("{orders}/orders/7/checkout"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "charged 503");

    let report = tokio::task::spawn_blocking(move || reporter.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(receiver.wait_for_lines(report.delivered as usize, Duration::from_secs(10)));
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    let spans = receiver.spans();
    assert_eq!(spans.len(), 3, "{spans:#?}"); // the request and its two calls
    let request = spans.iter().find(|s| s.operation == "checkout").unwrap();
    let calls: Vec<_> = spans.iter().filter(|s| s.operation == "HTTP GET").collect();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.trace_id, request.trace_id);
        assert_eq!(call.parents, std::slice::from_ref(&request.span_id));
        assert_eq!(call.tag("span.kind"), Some("client"));
        assert_eq!(call.tag("http.method"), Some("GET"));
        assert!(!call.tag("http.url").unwrap().contains('?'));
    }
    let charge_span = calls
        .iter()
        .find(|s| s.tag("http.status_code") == Some("200"))
        .unwrap();
    assert_eq!(
        charge_span.tag("http.url"),
        Some(format!("{payments}/charge/7").as_str())
    );
    let broken_span = calls
        .iter()
        .find(|s| s.tag("http.status_code") == Some("503"))
        .unwrap();
    assert_eq!(broken_span.tag("error"), Some("true"));
    // The called service got the trace: the client span is its parent.
    let seen = seen.lock().unwrap();
    let carried = seen.last().unwrap();
    assert_eq!(
        carried.get("wf-ot-traceid").and_then(|v| v.to_str().ok()),
        Some(request.trace_id.as_str())
    );
    assert_eq!(
        carried.get("wf-ot-spanid").and_then(|v| v.to_str().ok()),
        Some(charge_span.span_id.as_str())
    );
    assert!(carried.get("traceparent").is_some());
    assert!(seen[0].get("wf-ot-traceid").is_none(), "outside a request");
}
