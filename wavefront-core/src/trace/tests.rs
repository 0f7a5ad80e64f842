use super::*;

fn tracer() -> Tracer {
    Tracer::builder(
        ApplicationTags::builder("Ordering", "styling")
            .custom_tag("env", "Staging")
            .build()
            .unwrap(),
    )
    .source("host-1")
    .queue_capacity(3)
    .build()
}

#[test]
fn extracts_the_reference_request_headers() {
    // R3 of the Flask captures.
    let headers = [
        ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
        ("WF-OT-SPANID", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
        ("wf-ot-sample", "True"),
        ("wf-ot-tenant", "acme"),
        ("uber-trace-id", "abcdef0123456789:0123456789abcdef:0:1"),
    ];
    let ctx = tracer().extract(&headers).unwrap();
    assert_eq!(
        ctx.trace_id.to_string(),
        "11111111-2222-4333-8444-555555555555"
    );
    assert_eq!(
        ctx.span_id.to_string(),
        "66666666-7777-4888-9999-aaaaaaaaaaaa"
    );
    assert_eq!(ctx.sampled, Some(true));
    assert_eq!(ctx.baggage, [("tenant".to_owned(), "acme".to_owned())]);
}

#[test]
fn malformed_headers_start_a_new_trace() {
    let long = "f".repeat(10_000);
    for (trace, span) in [
        ("not-a-uuid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
        ("11111111-2222-4333-8444-555555555555", ""),
        (
            "11111111-2222-4333-8444-55555555555g",
            "66666666-7777-4888-9999-aaaaaaaaaaaa",
        ),
        (long.as_str(), long.as_str()),
        (
            "+1111111222243338444555555555555",
            "66666666777748889999aaaaaaaaaaaa",
        ),
    ] {
        assert!(
            tracer()
                .extract(&[("wf-ot-traceid", trace), ("wf-ot-spanid", span)])
                .is_none(),
            "{trace}"
        );
    }
    assert!(tracer()
        .extract(&[("wf-ot-traceid", "11111111-2222-4333-8444-555555555555")])
        .is_none());
    let ok = tracer().extract(&[
        ("wf-ot-traceid", "11111111222243338444555555555555"),
        ("wf-ot-spanid", "66666666777748889999aaaaaaaaaaaa"),
    ]);
    assert!(ok.is_some(), "32 hex digits without dashes are accepted");
}

#[test]
fn inject_round_trips() {
    let t = tracer();
    let span = t.span("op").start();
    let mut headers: Vec<(String, String)> = Vec::new();
    span.inject(&mut headers);
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ctx = t.extract(borrowed.as_slice()).unwrap();
    assert_eq!(Some(ctx.trace_id), span.context().map(|c| c.trace_id));
}

#[test]
fn children_share_the_trace_and_spans_queue_boundedly() {
    let t = tracer();
    let root = t.span("root").tag("k", "v").start();
    let child = root.child("child");
    let root_ctx = root.context().unwrap();
    child.finish();
    root.set_error();
    root.set_error();
    root.finish();
    root.finish(); // once only
    let spans = t.take_finished();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].data.context.trace_id, root_ctx.trace_id);
    assert_eq!(spans[0].data.parents, [root_ctx.span_id]);
    let keys: Vec<&str> = spans[1].data.all_tags().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "application",
            "service",
            "cluster",
            "shard",
            "env",
            "k",
            "error"
        ]
    );
    for i in 0..5 {
        t.span(format!("s{i}")).start().finish();
    }
    assert_eq!(
        (t.take_finished().len(), t.dropped(), t.received()),
        (3, 2, 7)
    );
}

#[test]
fn ids_are_distinct() {
    let ids: std::collections::HashSet<u128> =
        (0..10_000).map(|_| new_span_id().to_u128()).collect();
    assert_eq!(ids.len(), 10_000);
}
