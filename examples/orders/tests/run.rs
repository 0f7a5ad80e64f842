//! Runs the orders service as a user would, with a payment service to call:
//! one trace with the request, its `tracing` spans and the client call, the
//! trace carried to the payment service, and the `metrics` series.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wavefront_testkit::example;
use wavefront_testkit::receiver::Receiver;

const BINARY: &str = env!("CARGO_BIN_EXE_example-orders");

/// A payment service on 127.0.0.1: answers 200 and keeps each request head.
fn payments() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                head.push_str(&line);
                line.clear();
            }
            seen.lock().unwrap().push(head);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, heads)
}

#[test]
fn one_trace_from_the_request_through_tracing_spans_to_the_payment_call() {
    let receiver = Receiver::start().unwrap();
    let (payments_url, heads) = payments();
    let (mut child, addr, _stderr) = example::spawn(
        BINARY,
        &[
            (
                "WAVEFRONT_URL",
                format!("proxy://127.0.0.1:{}", receiver.metrics_addr().port()),
            ),
            (
                "WAVEFRONT_TRACES_PORT",
                receiver.tracing_addr().port().to_string(),
            ),
            ("WAVEFRONT_REPORT_INTERVAL_SECS", "3600".into()),
            ("PAYMENTS_URL", payments_url),
        ],
    );
    assert_eq!(example::get(&addr, "/orders/7/checkout"), 200);
    let took = example::terminate(&mut child);
    assert!(took < Duration::from_secs(10), "{took:?}");

    assert!(receiver.wait_until(Duration::from_secs(5), |r| r.spans().len() == 4));
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    let spans = receiver.spans();
    let named = |operation: &str| {
        spans
            .iter()
            .find(|s| s.operation == operation)
            .unwrap_or_else(|| panic!("no {operation}: {spans:#?}"))
    };
    let request = named("checkout");
    let charge = named("charge_card");
    let call = named("HTTP GET");
    assert_eq!(
        named("reserve_stock").parents,
        std::slice::from_ref(&request.span_id)
    );
    assert_eq!(charge.parents, std::slice::from_ref(&request.span_id));
    assert_eq!(call.parents, std::slice::from_ref(&charge.span_id));
    assert!(spans.iter().all(|s| s.trace_id == request.trace_id));
    assert_eq!(call.tag("http.status_code"), Some("200"));
    let logs = receiver.span_logs();
    assert!(logs
        .iter()
        .any(|l| l.span_id == named("reserve_stock").span_id
            && l.logs[0]
                .fields
                .contains(&("items".to_owned(), "3".to_owned()))));
    // The payment service continues the trace.
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        head.contains(&format!("wf-ot-traceid: {}", request.trace_id)),
        "{head}"
    );
    assert!(
        head.contains(&format!("wf-ot-spanid: {}", call.span_id)),
        "{head}"
    );
    // The `metrics` facade's series, with the application tags.
    let points = receiver.metrics();
    let checked_out = points
        .iter()
        .rev()
        .find(|p| p.name == "orders.checked_out")
        .unwrap();
    assert_eq!(checked_out.value, 1.0);
    assert_eq!(checked_out.tag("tier"), Some("gold"));
    assert_eq!(checked_out.tag("service"), Some("orders"));
    let basket: i64 = receiver
        .histograms()
        .iter()
        .filter(|h| h.name == "orders.basket_items")
        .map(|h| h.count())
        .sum();
    assert_eq!(basket, 1);
}

#[test]
fn with_nothing_configured_it_prints_the_lines() {
    let (mut child, addr, _stderr) =
        example::spawn(BINARY, &[("WAVEFRONT_REPORT_INTERVAL_SECS", "1".into())]);
    assert_eq!(example::get(&addr, "/orders/1/checkout"), 200);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !(seen.contains("\"orders.checked_out\" 1.0")
        && seen.contains("axum.response.orders.id.checkout.GET.200.cumulative.count"))
    {
        assert!(std::time::Instant::now() < deadline, "{seen}");
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    example::terminate(&mut child);
}
