use super::*;
use std::time::Duration;

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

fn app() -> ApplicationTags {
    ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap()
}

fn owned_to_borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// A trace id whose low 64 bits are `low`.
fn trace_with_low(low: u64) -> SpanContext {
    SpanContext::new(
        TraceId::from_u128(0xabcd << 64 | u128::from(low)),
        SpanId::from_u128(7),
    )
}

#[test]
fn default_propagation_extracts_all_and_injects_wavefront_and_w3c() {
    let t = tracer();
    assert_eq!(t.extract_formats(), Propagation::DEFAULT_EXTRACT);
    assert_eq!(
        t.inject_formats(),
        [Propagation::Wavefront, Propagation::W3c]
    );
    let parent = t
        .extract(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )])
        .unwrap();
    let span = t.span("request").child_of(&parent).start();
    let ctx = span.context().unwrap();
    assert_eq!(ctx.span_id.to_u128() >> 64, 0, "64-bit span ids");
    let mut headers = Vec::new();
    span.inject(&mut headers);
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "wf-ot-traceid",
            "wf-ot-spanid",
            "wf-ot-sample",
            "traceparent"
        ]
    );
    assert_eq!(
        headers[3].1,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{:016x}-01",
            ctx.span_id.to_u128()
        )
    );
    // Every format gives back the span's own ids.
    for format in Propagation::ALL {
        let got = format
            .extract(owned_to_borrowed(&headers).as_slice())
            .or_else(|| {
                let mut more = Vec::new();
                format.inject(&ctx, &mut more);
                format.extract(owned_to_borrowed(&more).as_slice())
            })
            .unwrap();
        assert_eq!((got.trace_id, got.span_id), (ctx.trace_id, ctx.span_id));
    }
    span.finish();
    assert_eq!(t.take_finished()[0].data.parents, [parent.span_id]);
}

#[test]
fn configured_propagation() {
    let t = Tracer::builder(app())
        .propagation([Propagation::B3Multi, Propagation::B3, Propagation::B3Multi])
        .build();
    assert_eq!(t.extract_formats(), [Propagation::B3Multi, Propagation::B3]);
    let wf = [
        ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
        ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
    ];
    assert!(t.extract(&wf).is_none(), "Wavefront is not extracted");
    let span = t.span("op").start();
    let mut headers = Vec::new();
    span.inject(&mut headers);
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "b3"]);

    // Wavefront only: 128-bit span ids.
    let t = Tracer::builder(app())
        .inject_formats([Propagation::Wavefront])
        .extract_formats([])
        .build();
    assert!(t.extract(&wf).is_none());
    let high = (0..64)
        .map(|_| t.span("op").start().context().unwrap().span_id.to_u128() >> 64)
        .filter(|&h| h != 0)
        .count();
    assert!(high > 0);
}

#[test]
fn trace_state_and_decision_pass_to_children() {
    let t = tracer();
    let parent = t
        .extract(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            ),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ])
        .unwrap();
    let server = t.span("request").child_of(&parent).start();
    let client = server.child("call");
    let ctx = client.context().unwrap();
    assert_eq!(ctx.sampled, Some(false));
    assert_eq!(ctx.trace_state.as_deref(), Some("rojo=00f067aa0ba902b7"));
    let mut headers = Vec::new();
    client.inject(&mut headers);
    let headers = owned_to_borrowed(&headers);
    assert!(headers.contains(&("wf-ot-sample", "False")));
    assert!(headers.contains(&("tracestate", "rojo=00f067aa0ba902b7")));
    assert!(headers
        .iter()
        .any(|(k, v)| *k == "traceparent" && v.ends_with("-00")));
}

#[test]
fn decision_only_context_starts_a_new_trace_with_its_decision() {
    let t = tracer();
    let parent = t.extract(&[("b3", "0")]).unwrap();
    let span = t.span("request").child_of(&parent).start();
    assert_eq!(span.context().unwrap().sampled, Some(false));
    span.finish();
    assert!(t.take_finished().is_empty());
    assert_eq!(t.discarded(), 1);
    let parent = t.extract(&[("b3", "d")]).unwrap();
    t.span("request").child_of(&parent).start().finish();
    let spans = t.take_finished();
    assert_eq!(spans[0].data.context.trace_id, parent.trace_id);
    assert!(spans[0].data.parents.is_empty(), "no parent span");
}

fn sampled_tracer(sampler: impl Sampler + 'static) -> Tracer {
    Tracer::builder(app()).sampler(sampler).build()
}

/// Starts a root span in a trace whose low 64 bits are `low` (by making it
/// follow from a context without a decision), finishes it, and tells
/// whether it was kept.
fn kept(t: &Tracer, low: u64, tags: &[(&'static str, &'static str)]) -> bool {
    let mut builder = t.span("op").follows_from(&trace_with_low(low));
    for &(k, v) in tags {
        builder = builder.tag(k, v);
    }
    let before = t.discarded();
    builder.start().finish();
    let kept = !t.take_finished().is_empty();
    assert_eq!(t.discarded() - before, u64::from(!kept));
    kept
}

#[test]
fn no_samplers_keep_everything() {
    let t = Tracer::builder(app()).build();
    for low in [0, 1, 9_999, u64::MAX] {
        assert!(kept(&t, low, &[]));
    }
    let span = t.span("root").start();
    assert_eq!(span.context().unwrap().sampled, Some(true));
}

#[test]
fn rate_sampler_at_its_boundaries() {
    let zero = sampled_tracer(RateSampler::new(0.0).unwrap());
    assert!(kept(&zero, 10_000, &[]));
    assert!(kept(&zero, 0, &[]));
    assert!(!kept(&zero, 1, &[]));
    assert!(!kept(&zero, 9_999, &[]));
    assert!(!kept(&zero, u64::MAX, &[]), "|-1 mod 10000| = 1");
    let one = sampled_tracer(RateSampler::new(1.0).unwrap());
    for low in [0, 1, 9_999, 10_001, u64::MAX, i64::MIN as u64] {
        assert!(kept(&one, low, &[]));
    }
    let half = sampled_tracer(RateSampler::new(0.5).unwrap());
    assert!(kept(&half, 5_000, &[]));
    assert!(!kept(&half, 5_001, &[]));
}

#[test]
fn head_decision_is_inherited_not_retaken() {
    let drop_all = sampled_tracer(ConstantSampler::new(false));
    let root = drop_all.span("root").start();
    assert_eq!(root.context().unwrap().sampled, Some(false));
    // A sampled parent (ours or a caller's) keeps the child.
    let mut parent = trace_with_low(1);
    parent.sampled = Some(true);
    let child = drop_all.span("child").child_of(&parent).start();
    assert_eq!(child.context().unwrap().sampled, Some(true));
    let grandchild = child.child("grandchild");
    grandchild.finish();
    child.finish();
    root.finish();
    assert_eq!(drop_all.take_finished().len(), 2);
    assert_eq!(drop_all.discarded(), 1);

    // An unsampled parent drops the child even when the samplers would keep it.
    let keep_all = Tracer::builder(app()).build();
    parent.sampled = Some(false);
    let child = keep_all.span("child").child_of(&parent).start();
    child.child("grandchild").finish();
    child.finish();
    assert!(keep_all.take_finished().is_empty());
    assert_eq!(keep_all.discarded(), 2);

    // The incoming flag, through headers.
    let headers = [
        ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
        ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
        ("wf-ot-sample", "true"),
    ];
    let incoming = drop_all.extract(&headers).unwrap();
    drop_all
        .span("request")
        .child_of(&incoming)
        .start()
        .finish();
    assert_eq!(drop_all.take_finished().len(), 1);
    // No flag: the head decision is taken.
    let incoming = drop_all.extract(&headers[..2]).unwrap();
    assert_eq!(incoming.sampled, None);
    drop_all
        .span("request")
        .child_of(&incoming)
        .start()
        .finish();
    assert!(drop_all.take_finished().is_empty());
}

#[test]
fn duration_sampler_decides_at_finish() {
    let t = Tracer::builder(app())
        .sampler(ConstantSampler::new(false))
        .sampler(DurationSampler::new(Duration::from_millis(10)))
        .build();
    let started = Instant::now();
    let slow = t.span("slow").started_at(started).start();
    assert_eq!(slow.context().unwrap().sampled, Some(false), "head: drop");
    slow.finish_at(started + Duration::from_millis(11));
    let fast = t.span("fast").started_at(started).start();
    fast.finish_at(started + Duration::from_millis(10));
    let spans = t.take_finished();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].data.operation, "slow");
    assert!(spans[0].sampled);
    assert_eq!(spans[0].data.context.sampled, Some(true));
    assert_eq!(t.discarded(), 1);
    // A span inheriting "not sampled" is still kept when slow.
    let mut parent = trace_with_low(1);
    parent.sampled = Some(false);
    let child = t
        .span("child")
        .child_of(&parent)
        .started_at(started)
        .start();
    child.finish_at(started + Duration::from_secs(1));
    assert_eq!(t.take_finished().len(), 1);
}

#[test]
fn composite_sampler() {
    let either = || {
        CompositeSampler::new()
            .with(RateSampler::new(0.0).unwrap())
            .with(DurationSampler::new(Duration::from_millis(10)))
    };
    let t = sampled_tracer(either());
    let started = Instant::now();
    let finish = |low: u64, ms: u64| {
        let span = t
            .span("op")
            .follows_from(&trace_with_low(low))
            .started_at(started)
            .start();
        span.finish_at(started + Duration::from_millis(ms));
        !t.take_finished().is_empty()
    };
    assert!(finish(10_000, 0), "rate keeps");
    assert!(finish(1, 11), "duration keeps");
    assert!(!finish(1, 10), "neither");
    // All early: decided at start.
    let early = sampled_tracer(
        CompositeSampler::new()
            .with(ConstantSampler::new(false))
            .with(RateSampler::new(0.0).unwrap()),
    );
    let span = early
        .span("op")
        .follows_from(&trace_with_low(20_000))
        .start();
    assert_eq!(span.context().unwrap().sampled, Some(true));
}

#[test]
fn forcing_tags() {
    let drop_all = sampled_tracer(ConstantSampler::new(false));
    let keep_all = Tracer::builder(app()).build();
    assert!(kept(&drop_all, 1, &[("sampling.priority", "1")]));
    assert!(kept(&drop_all, 1, &[("debug", "true")]));
    assert!(kept(&drop_all, 1, &[("error", "true")]));
    assert!(!kept(&drop_all, 1, &[("debug", "false")]));
    assert!(!kept(&drop_all, 1, &[("error", "false")]));
    assert!(!kept(&keep_all, 1, &[("sampling.priority", "0")]));
    assert!(!kept(&keep_all, 1, &[("sampling.priority", "-1")]));
    assert!(kept(&keep_all, 1, &[("sampling.priority", "high")]));
    // sampling.priority overrides; debug and error do not override it.
    assert!(!kept(
        &keep_all,
        1,
        &[
            ("sampling.priority", "0"),
            ("debug", "true"),
            ("error", "true")
        ]
    ));
    assert!(kept(
        &drop_all,
        1,
        &[
            ("debug", "true"),
            ("sampling.priority", "0"),
            ("sampling.priority", "5")
        ]
    ));
    assert!(!kept(
        &drop_all,
        1,
        &[("error", "true"), ("sampling.priority", "0")]
    ));

    // On a started span, and inherited by children started afterwards.
    let span = drop_all.span("op").start();
    let before = span.child("before");
    span.set_tag("sampling.priority", "1");
    let after = span.child("after");
    assert_eq!(after.context().unwrap().sampled, Some(true));
    for s in [&before, &after, &span] {
        s.finish();
    }
    let ops: Vec<String> = drop_all
        .take_finished()
        .iter()
        .map(|s| s.data.operation.to_string())
        .collect();
    assert_eq!(ops, ["after", "op"]);

    // set_error keeps, unless already forced to drop.
    let span = drop_all.span("failing").start();
    span.set_error();
    span.finish();
    let span = drop_all.span("dropped").start();
    span.set_tag("sampling.priority", "0");
    span.set_error();
    span.finish();
    let spans = drop_all.take_finished();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].is_error());

    // A forced decision overrides an inherited one.
    let mut parent = trace_with_low(1);
    parent.sampled = Some(true);
    let span = keep_all
        .span("op")
        .child_of(&parent)
        .tag("sampling.priority", "0")
        .start();
    assert_eq!(span.context().unwrap().sampled, Some(false));
    // Forcing beats the late samplers.
    let t = Tracer::builder(app())
        .sampler(DurationSampler::new(Duration::ZERO))
        .build();
    let started = Instant::now();
    let span = t
        .span("op")
        .tag("sampling.priority", "0")
        .started_at(started)
        .start();
    span.finish_at(started + Duration::from_secs(1));
    assert!(t.take_finished().is_empty());
}

#[test]
fn tracer_tags_can_force() {
    let t = Tracer::builder(
        ApplicationTags::builder("Ordering", "styling")
            .custom_tag("debug", "true")
            .build()
            .unwrap(),
    )
    .sampler(ConstantSampler::new(false))
    .build();
    t.span("op").start().finish();
    assert_eq!(t.take_finished().len(), 1);
}

#[test]
fn every_finished_span_reaches_the_hooks() {
    use std::sync::atomic::AtomicUsize;
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (s, c) = (Arc::clone(&seen), Arc::clone(&calls));
    let t = Tracer::builder(app())
        .sampler(RateSampler::new(0.0).unwrap())
        .queue_capacity(1)
        .on_finish(Arc::new(move |span: &FinishedSpan| {
            s.lock()
                .unwrap()
                .push((span.data.operation.to_string(), span.sampled));
        }))
        .on_finish(Arc::new(move |_: &FinishedSpan| {
            c.fetch_add(1, Ordering::Relaxed);
        }))
        .build();
    t.span("kept")
        .follows_from(&trace_with_low(0))
        .start()
        .finish();
    t.span("discarded")
        .follows_from(&trace_with_low(1))
        .start()
        .finish();
    t.span("overflow")
        .follows_from(&trace_with_low(0))
        .start()
        .finish();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("kept".to_owned(), true),
            ("discarded".to_owned(), false),
            ("overflow".to_owned(), true)
        ]
    );
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!((t.received(), t.dropped(), t.discarded()), (2, 1, 1));
    let queued = t.take_finished();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].sampled);
    let debug = format!("{t:?}");
    assert!(debug.contains("discarded: 1"), "{debug}");
}

#[test]
fn span_ids_64_are_distinct_and_nonzero() {
    let ids: std::collections::HashSet<u128> =
        (0..10_000).map(|_| new_span_id_64().to_u128()).collect();
    assert_eq!(ids.len(), 10_000);
    assert!(ids.iter().all(|&id| id != 0 && id >> 64 == 0));
}

#[test]
fn a_wake_up_spent_on_spans_already_taken_does_not_silence_the_next_batch() {
    let t = Tracer::builder(
        ApplicationTags::builder("Ordering", "styling")
            .build()
            .unwrap(),
    )
    .build();
    let batch = |t: &Tracer| (0..SPAN_BATCH).for_each(|_| t.span("s").start().finish());
    // A batch sets the wake-up flag, and the reporter takes those spans
    // (as it does when they arrive while it takes the ones before).
    batch(&t);
    while t.0.queue.pop().is_some() {}
    // Before it sleeps, it sees no batch and lets the next one wake it.
    assert!(!t.ready_or_rearm());
    let (woken, wait) = std::sync::mpsc::channel();
    let reporter = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        std::thread::park_timeout(Duration::from_secs(20));
        let _ = woken.send(started.elapsed());
    });
    t.wake_on_batch(reporter.thread().clone());
    batch(&t);
    let slept = wait.recv().unwrap();
    reporter.join().unwrap();
    assert!(slept < Duration::from_secs(10), "not woken: {slept:?}");
    assert!(t.batch_ready());
}

#[test]
fn an_owned_span_finishes_once_whether_or_not_other_handles_are_alive() {
    let t = tracer();
    // Its only handle: finished without the lock.
    let mut alone = pool::OwnedSpan::new(t.span("alone").start());
    alone.finish_with(Instant::now(), |d| d.set_tag("k".into(), "1".into()));
    // A handle kept elsewhere (a handler's): finished under the lock, and
    // the other handle can no longer change it.
    let mut shared = pool::OwnedSpan::new(t.span("shared").start());
    let kept = SpanHandle::clone(&shared);
    shared.finish_with(Instant::now(), |d| d.set_tag("k".into(), "2".into()));
    kept.set_tag("late", "ignored");
    kept.finish();
    alone.finish_with(Instant::now(), |d| d.set_tag("k".into(), "again".into()));
    let finished = t.take_finished();
    let seen: Vec<(String, Option<&str>, Option<&str>)> = finished
        .iter()
        .map(|s| {
            (
                s.data.operation.to_string(),
                s.data.tag("k"),
                s.data.tag("late"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("alone".to_owned(), Some("1"), None),
            ("shared".to_owned(), Some("2"), None)
        ]
    );
}
