//! `tracing` spans and events inside a real axum handler reach the strict
//! receiver as children and logs of the request's Wavefront span.

use std::time::Duration;

use axum::extract::Path;
use axum::Router;
use tracing_subscriber::layer::SubscriberExt;
use wavefront_axum::routing::get;
use wavefront_axum::WavefrontLayer;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;
use wavefront_testkit::receiver::Receiver;
use wavefront_tracing::WavefrontTracingLayer;

#[tracing::instrument]
async fn charge_card(order: String) -> u32 {
    tokio::time::sleep(Duration::from_millis(5)).await; // across an await
    tracing::info_span!("lookup_card").in_scope(|| tracing::info!("found"));
    tracing::info!(amount = 42, "charged");
    42
}

#[tracing::instrument(err)]
async fn notify(order: String) -> Result<(), String> {
    Err(format!("mail server refused order {order}"))
}

async fn checkout(Path(id): Path<String>) -> String {
    {
        let _reserve = tracing::info_span!("reserve_stock", items = 3).entered();
        tracing::info!(items = 3, "reserved");
    }
    let amount = charge_card(id.clone()).await;
    let _ = notify(id.clone()).await;
    format!("order {id} checked out for {amount}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_in_a_handler_are_children_of_the_request_span() {
    let receiver = Receiver::start().unwrap();
    let sender = receiver.proxy_sender();
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap();
    let reporter = Reporter::builder(Registry::new(), sender, tags)
        .interval(Duration::from_secs(3600))
        .start();
    let subscriber = tracing_subscriber::registry().with(WavefrontTracingLayer::new(&reporter));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    // Outside any request: ignored by default.
    tracing::info_span!("background_job").in_scope(|| tracing::info!("tick"));

    let app = Router::new()
        .route("/orders/{id}/checkout", get(checkout))
        .layer(WavefrontLayer::new(&reporter));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let response = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /orders/7/checkout HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap();
    assert!(
        response.ends_with("order 7 checked out for 42"),
        "{response}"
    );

    let report = tokio::task::spawn_blocking(move || reporter.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(receiver.wait_for_lines(report.delivered as usize, Duration::from_secs(10)));
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    let spans = receiver.spans();
    let by_name = |name: &str| {
        spans
            .iter()
            .find(|s| s.operation == name)
            .unwrap_or_else(|| panic!("no span {name}: {spans:#?}"))
    };
    let request = by_name("checkout");
    for child in ["reserve_stock", "charge_card", "notify"] {
        let span = by_name(child);
        assert_eq!(span.trace_id, request.trace_id, "{child}");
        assert_eq!(
            span.parents,
            std::slice::from_ref(&request.span_id),
            "{child}"
        );
    }
    // Nested: a span inside `charge_card` is its child.
    assert_eq!(
        by_name("lookup_card").parents,
        std::slice::from_ref(&by_name("charge_card").span_id)
    );
    assert_eq!(by_name("lookup_card").trace_id, request.trace_id);
    assert_eq!(by_name("reserve_stock").tag("items"), Some("3"));
    assert_eq!(by_name("charge_card").tag("order"), Some("7"));
    assert_eq!(by_name("notify").tag("error"), Some("true"));
    assert!(spans.iter().all(|s| s.operation != "background_job"));
    let logs = receiver.span_logs();
    let reserve_logs = logs
        .iter()
        .find(|l| l.span_id == by_name("reserve_stock").span_id)
        .expect("a span log for reserve_stock");
    let fields = &reserve_logs.logs[0].fields;
    assert!(
        fields.contains(&("message".to_owned(), "reserved".to_owned())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("items".to_owned(), "3".to_owned())),
        "{fields:?}"
    );
    assert!(logs.iter().any(|l| l.span_id == by_name("notify").span_id));
}
