use super::*;
use crate::metric::Gauge;
use crate::registry::{Entry, Metric};
use crate::trace::FinishedSpan;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

struct Req {
    method: &'static str,
    route: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
}

impl RequestInfo for Req {
    fn method(&self) -> &str {
        self.method
    }
    fn route(&self) -> Option<&str> {
        self.route
    }
    fn url(&self) -> Cow<'_, str> {
        Cow::Borrowed("http://127.0.0.1:8080/style/blue/make")
    }
    fn headers(&self) -> &dyn Headers {
        &self.headers
    }
}

fn get(route: Option<&'static str>) -> Req {
    Req {
        method: "GET",
        route,
        headers: &[],
    }
}

fn setup() -> (Registry, Tracer, Instrumentation) {
    let app = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .build()
        .unwrap();
    let registry = Registry::new();
    let tracer = Tracer::builder(app.clone()).source("host-1").build();
    let inst = Instrumentation::builder("axum", registry.clone(), tracer.clone(), app)
        .max_routes(3)
        .build();
    (registry, tracer, inst)
}

fn find<'a>(entries: &'a [Arc<Entry>], name: &str) -> Option<&'a Arc<Entry>> {
    entries.iter().find(|e| e.name() == name)
}

fn count(entries: &[Arc<Entry>], name: &str) -> f64 {
    match find(entries, name).map(|e| e.metric()) {
        Some(Metric::Counter(c)) => c.count() as f64,
        Some(Metric::DeltaCounter(d)) => d.peek(),
        Some(Metric::Gauge(g)) => g.value(),
        other => panic!("{name}: {other:?}"),
    }
}

fn names(entries: &[Arc<Entry>]) -> Vec<&str> {
    let mut names: Vec<&str> = entries.iter().map(|e| e.name()).collect();
    names.sort_unstable();
    names
}

/// Polls a future to completion on this thread, returning how many times it
/// was pending.
fn block_on<F: Future>(future: F) -> (F::Output, usize) {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    let mut pending = 0;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return (out, pending);
        }
        pending += 1;
    }
}

/// A future that is pending `n` times, then ready.
struct PendingFor(usize);
impl Future for PendingFor {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn spans(tracer: &Tracer) -> Vec<FinishedSpan> {
    tracer.take_finished()
}

#[test]
fn a_named_request_records_every_series_of_the_tables() {
    let (registry, tracer, inst) = setup();
    let mut guard = inst.start(&get(Some("/style/{id}/make")));
    guard.set_handler("make_shirts");
    let inflight = "axum.request.style.id.make.GET.inflight.value";
    assert_eq!(count(&registry.entries(), inflight), 1.0);
    assert_eq!(
        count(&registry.entries(), "axum.total_requests.inflight.value"),
        1.0
    );
    guard.set_status(200);
    drop(guard);

    let e = registry.entries();
    assert_eq!(count(&e, inflight), 0.0);
    assert_eq!(count(&e, "axum.total_requests.inflight.value"), 0.0);
    assert_eq!(
        count(&e, "axum.response.style.id.make.GET.200.cumulative.count"),
        1.0
    );
    for level in ["shard", "service", "cluster", "application"] {
        assert_eq!(
            count(
                &e,
                &format!("axum.response.style.id.make.GET.200.aggregated_per_{level}.count")
            ),
            1.0
        );
        assert_eq!(
            count(
                &e,
                &format!("axum.response.completed.aggregated_per_{level}.count")
            ),
            1.0
        );
        assert_eq!(
            count(
                &e,
                &format!("axum.response.errors.aggregated_per_{level}.count")
            ),
            0.0
        );
    }
    assert_eq!(
        count(&e, "axum.response.completed.aggregated_per_source.count"),
        1.0
    );
    let Some(Metric::Histogram(latency)) =
        find(&e, "axum.response.style.id.make.summary.GET.200.latency").map(|e| e.metric())
    else {
        panic!("latency histogram")
    };
    assert_eq!(latency.take_all()[0].count(), 1);
    assert!(find(&e, "axum.response.style.id.make.summary.GET.200.cpu_ns").is_some());
    let func_tag = find(&e, inflight)
        .unwrap()
        .tags()
        .iter()
        .find(|(k, _)| &**k == "axum.func")
        .map(|(_, v)| v.to_string());
    assert_eq!(func_tag.as_deref(), Some("make_shirts"));

    let spans = spans(&tracer);
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.data.operation, "make_shirts");
    let tags: Vec<(&str, &str)> = span.data.all_tags().collect();
    assert_eq!(
        tags,
        [
            ("application", "Ordering"),
            ("service", "styling"),
            ("cluster", "us-west-1"),
            ("shard", "primary"),
            ("component", "axum"),
            ("span.kind", "server"),
            ("http.method", "GET"),
            ("http.url", "http://127.0.0.1:8080/style/blue/make"),
            ("axum.func", "make_shirts"),
            ("http.status_code", "200"),
        ]
    );
    assert!(span.data.logs.is_empty());
}

#[test]
fn a_span_takes_its_route_texts_without_a_reference_count() {
    // Every server thread copies these into every span: a reference count
    // would be one cache line all of them write.
    let (_registry, tracer, inst) = setup();
    for status in [200, 200, 1042] {
        let mut guard = inst.start(&get(Some("/style/{id}/make")));
        guard.set_handler("make_shirts");
        guard.set_status(status);
    }
    let spans = spans(&tracer);
    assert_eq!(spans.len(), 3);
    for span in &spans {
        let d = &span.data;
        assert!(d.operation.is_static(), "operation");
        for (key, value) in &d.tags {
            if key != "http.url" {
                assert!(key.is_static() && value.is_static(), "{key}={value}");
            }
        }
    }
    let status = |span: &FinishedSpan| span.data.tag("http.status_code").map(str::as_ptr);
    assert_eq!(status(&spans[0]), status(&spans[1]));
    assert_eq!(spans[2].data.tag("http.status_code"), Some("1042"));
}

#[test]
fn an_incoming_context_becomes_the_parent() {
    let (_, tracer, inst) = setup();
    let mut req = get(Some("/x"));
    req.headers = &[
        ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
        ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
    ];
    let mut guard = inst.start(&req);
    guard.set_status(200);
    drop(guard);
    let span = spans(&tracer).remove(0);
    assert_eq!(
        span.data.context.trace_id.to_string(),
        "11111111-2222-4333-8444-555555555555"
    );
    assert_eq!(
        span.data.parents[0].to_string(),
        "66666666-7777-4888-9999-aaaaaaaaaaaa"
    );
}

#[test]
fn unmatched_and_method_not_allowed_share_one_route() {
    let (registry, tracer, inst) = setup();
    for (route, status) in [(None, 404), (None, 404), (Some("/style/{id}/make"), 405)] {
        let mut guard = inst.start(&Req {
            method: "POST",
            route,
            headers: &[],
        });
        guard.set_status(status);
    }
    let e = registry.entries();
    assert_eq!(
        count(&e, "axum.response.unmatched.POST.404.cumulative.count"),
        2.0
    );
    assert_eq!(
        count(&e, "axum.response.unmatched.POST.405.cumulative.count"),
        1.0
    );
    assert!(
        names(&e).iter().all(|n| !n.contains("style")),
        "{:?}",
        names(&e)
    );
    assert_eq!(
        count(&e, "axum.response.errors.aggregated_per_source.count"),
        3.0
    );
    let spans = spans(&tracer);
    assert!(spans
        .iter()
        .all(|s| s.data.operation == "unmatched" && s.is_error()));
    assert_eq!(spans[0].data.logs[0].fields[1].1, "HTTP 404");
}

#[test]
fn unnamed_handlers_use_the_fallback_name_and_count_in_flight_while_pending() {
    let (registry, _, inst) = setup();
    let guard = inst.start(&get(Some("/orders/{id}")));
    let gauge = || {
        count(
            &registry.entries(),
            "axum.request.orders.id.GET.inflight.value",
        )
    };
    let future = guard.instrument(PendingFor(1));
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    assert_eq!(gauge(), 1.0);
    let Poll::Ready(((), mut guard)) = future.as_mut().poll(&mut cx) else {
        panic!("ready")
    };
    guard.set_status(201);
    drop(guard);
    assert_eq!(gauge(), 0.0);
    let entry = find(
        &registry.entries(),
        "axum.response.orders.id.GET.201.cumulative.count",
    )
    .cloned()
    .unwrap();
    assert!(entry
        .tags()
        .iter()
        .any(|(k, v)| &**k == "axum.func" && &**v == "GET /orders/{id}"));
}

#[test]
fn a_handler_naming_itself_late_takes_over_the_count() {
    let (registry, _, inst) = setup();
    let mut guard = inst.start(&get(Some("/late")));
    guard.resolve(true); // pending before the name is known
    let slot = guard.route_slot();
    slot.set_handler("late_handler");
    guard.resolve(true);
    let by_func: Vec<(String, f64)> = registry
        .entries()
        .iter()
        .filter(|e| e.name() == "axum.request.late.GET.inflight.value")
        .map(|e| {
            let func = e
                .tags()
                .iter()
                .find(|(k, _)| &**k == "axum.func")
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            let value = if let Metric::Gauge(g) = e.metric() {
                g.value()
            } else {
                f64::NAN
            };
            (func, value)
        })
        .collect();
    assert!(
        by_func.contains(&("late_handler".to_owned(), 1.0)),
        "{by_func:?}"
    );
    assert!(
        by_func.contains(&("GET /late".to_owned(), 0.0)),
        "{by_func:?}"
    );
    drop(guard);
}

#[test]
fn dropped_without_a_response_is_499_and_panics_are_500() {
    let (registry, tracer, inst) = setup();
    drop(inst.start(&get(Some("/gone"))));
    let guard = inst.start(&get(Some("/crash")));
    let crashing = guard.instrument(async { panic!("boom") });
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(crashing)));
    assert!(unwound.is_err(), "the panic continues");
    let e = registry.entries();
    assert_eq!(
        count(&e, "axum.response.gone.GET.499.cumulative.count"),
        1.0
    );
    assert_eq!(
        count(&e, "axum.response.crash.GET.500.cumulative.count"),
        1.0
    );
    assert_eq!(count(&e, "axum.total_requests.inflight.value"), 0.0);
    let crash = spans(&tracer)
        .into_iter()
        .find(|s| s.data.operation == "GET /crash")
        .unwrap();
    assert!(crash.is_error());
    assert_eq!(crash.data.logs[0].fields[1].1, "panic: boom");
}

#[test]
fn routes_past_the_cap_share_the_overflow_route() {
    let (registry, _, inst) = setup(); // max_routes(3)
    let templates: Vec<String> = (0..10).map(|i| format!("/r{i}")).collect();
    for t in &templates {
        struct Owned<'a>(&'a str);
        impl RequestInfo for Owned<'_> {
            fn method(&self) -> &str {
                "GET"
            }
            fn route(&self) -> Option<&str> {
                Some(self.0)
            }
            fn url(&self) -> Cow<'_, str> {
                Cow::Borrowed("http://h/")
            }
            fn headers(&self) -> &dyn Headers {
                &(&[] as &[(&str, &str)])
            }
        }
        let mut guard = inst.start(&Owned(t));
        guard.set_status(200);
    }
    let e = registry.entries();
    assert_eq!(
        count(&e, "axum.response.overflow.GET.200.cumulative.count"),
        7.0
    );
    assert_eq!(count(&e, "~sdk.rust.axum.routes.overflow.count"), 7.0);
    assert_eq!(
        names(&e)
            .iter()
            .filter(|n| n.ends_with("GET.200.cumulative.count"))
            .count(),
        4
    );
}

#[test]
fn in_flight_gauges_balance_under_concurrency_and_never_go_negative() {
    let (registry, _, inst) = setup();
    let total = registry.gauge(
        "axum.total_requests.inflight.value",
        &[
            ("application", "Ordering"),
            ("cluster", "us-west-1"),
            ("service", "styling"),
            ("shard", "primary"),
        ],
    );
    let watch: Gauge = total.clone();
    std::thread::scope(|s| {
        for t in 0..4 {
            let inst = inst.clone();
            s.spawn(move || {
                for i in 0..2_000 {
                    let mut guard = inst.start(&get(Some("/hot")));
                    if (i + t) % 3 == 0 {
                        guard.set_handler("hot");
                    }
                    if i % 5 != 0 {
                        guard.set_status(200);
                    }
                }
            });
        }
        s.spawn(move || {
            for _ in 0..2_000 {
                assert!(watch.value() >= 0.0);
            }
        });
    });
    let e = registry.entries();
    assert_eq!(total.value(), 0.0);
    let sum: f64 = e
        .iter()
        .filter(|e| e.name() == "axum.request.hot.GET.inflight.value")
        .map(|e| match e.metric() {
            Metric::Gauge(g) => g.value(),
            _ => f64::NAN,
        })
        .sum();
    assert_eq!(sum, 0.0);
    assert_eq!(
        count(&e, "axum.response.completed.aggregated_per_source.count"),
        8_000.0
    );
}

#[test]
fn a_handler_marking_an_error_gets_one_error_log() {
    let (_, tracer, inst) = setup();
    let mut guard = inst.start(&get(Some("/soft")));
    guard.span().set_error();
    guard.set_status(200);
    drop(guard);
    let mut guard = inst.start(&get(Some("/logged")));
    guard.span().log(vec![
        ("event".into(), "error".into()),
        ("message".into(), "card declined".into()),
    ]);
    guard.span().set_error();
    guard.set_status(402);
    drop(guard);
    let spans = spans(&tracer);
    let soft = spans
        .iter()
        .find(|s| s.data.operation == "GET /soft")
        .unwrap();
    assert!(soft.is_error());
    assert_eq!(soft.data.logs.len(), 1);
    assert_eq!(
        soft.data.logs[0].fields[1].1,
        "marked as an error by the handler"
    );
    let logged = spans
        .iter()
        .find(|s| s.data.operation == "GET /logged")
        .unwrap();
    assert_eq!(
        logged.data.logs.len(),
        1,
        "the handler's own error log is kept, not doubled"
    );
    assert_eq!(logged.data.logs[0].fields[1].1, "card declined");
}

fn gauge_value(entries: &[Arc<Entry>], name: &str, func: &str) -> Option<f64> {
    entries
        .iter()
        .filter(|e| e.name() == name)
        .find(|e| {
            e.tags()
                .iter()
                .any(|(k, v)| &**k == "axum.func" && &**v == func)
        })
        .map(|e| match e.metric() {
            Metric::Gauge(g) => g.value(),
            other => panic!("{name}: {other:?}"),
        })
}

#[test]
fn a_route_bound_after_the_start_moves_the_in_flight_count_onto_it() {
    let (registry, tracer, inst) = setup();
    let mut guard = inst.start(&get(None));
    let e = registry.entries();
    assert_eq!(count(&e, "axum.total_requests.inflight.value"), 1.0);
    assert!(
        !names(&e).iter().any(|n| n.starts_with("axum.request.")),
        "no route yet: {:?}",
        names(&e)
    );
    // The router matched: handler first, then the route, as rocket does.
    guard.set_handler("make_shirts");
    guard.set_route("/style/{id}/make");
    guard.set_route("/somewhere/else"); // the first route bound wins
    let inflight = "axum.request.style.id.make.GET.inflight.value";
    assert_eq!(
        gauge_value(&registry.entries(), inflight, "make_shirts"),
        Some(1.0)
    );
    assert_eq!(
        gauge_value(&registry.entries(), inflight, "GET /style/{id}/make"),
        None,
        "no fallback series when the handler was named first"
    );
    guard.set_status(200);
    drop(guard);
    let e = registry.entries();
    assert_eq!(gauge_value(&e, inflight, "make_shirts"), Some(0.0));
    assert_eq!(count(&e, "axum.total_requests.inflight.value"), 0.0);
    assert_eq!(
        count(&e, "axum.response.style.id.make.GET.200.cumulative.count"),
        1.0
    );
    let span = &spans(&tracer)[0];
    assert_eq!(span.data.operation, "make_shirts");
}

#[test]
fn a_route_announced_in_the_slot_while_polled_is_bound() {
    let (registry, _, inst) = setup();
    let guard = inst.start(&get(None));
    let span = guard.span().clone();
    let future = guard.instrument(async move {
        // What a route marker inside the framework's routing does.
        let slot = RouteSlot::of(&span);
        slot.set_handler("list_orders");
        slot.set_route("/orders");
        PendingFor(1).await;
    });
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    let inflight = "axum.request.orders.GET.inflight.value";
    assert_eq!(
        gauge_value(&registry.entries(), inflight, "list_orders"),
        Some(1.0)
    );
    let Poll::Ready(((), mut guard)) = future.as_mut().poll(&mut cx) else {
        panic!("ready")
    };
    guard.set_status(200);
    drop(guard);
    let e = registry.entries();
    assert_eq!(gauge_value(&e, inflight, "list_orders"), Some(0.0));
    assert_eq!(
        count(&e, "axum.response.orders.GET.200.cumulative.count"),
        1.0
    );
}

#[test]
fn a_route_never_bound_is_unmatched() {
    let (registry, _, inst) = setup();
    let mut guard = inst.start(&get(None));
    guard.set_status(404);
    drop(guard);
    assert_eq!(
        count(
            &registry.entries(),
            "axum.response.unmatched.GET.404.cumulative.count"
        ),
        1.0
    );
}

#[test]
fn cpu_time_is_sent_only_when_measured() {
    let (registry, _, inst) = setup();
    // A server that uses the guard alone: no CPU time, no cpu_ns sample,
    // but the latency and the per-route in-flight gauge are there.
    let mut guard = inst.start(&get(None));
    guard.set_route("/plain");
    assert_eq!(
        gauge_value(
            &registry.entries(),
            "axum.request.plain.GET.inflight.value",
            "GET /plain"
        ),
        Some(1.0)
    );
    guard.set_status(200);
    drop(guard);
    // Through `Instrumented`: CPU time measured.
    let guard = inst.start(&get(Some("/measured")));
    let ((), mut guard) = block_on(guard.instrument(async {})).0;
    guard.set_status(200);
    drop(guard);
    let samples = |name: &str| match find(&registry.entries(), name).map(|e| e.metric()) {
        Some(Metric::Histogram(h)) => h.take_all().iter().map(|d| d.count()).sum::<u64>(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(samples("axum.response.plain.summary.GET.200.latency"), 1);
    assert_eq!(samples("axum.response.plain.summary.GET.200.cpu_ns"), 0);
    assert_eq!(samples("axum.response.measured.summary.GET.200.cpu_ns"), 1);
}

#[test]
fn urls_are_capped_at_a_character_boundary() {
    struct At(String);
    impl RequestInfo for At {
        fn method(&self) -> &str {
            "GET"
        }
        fn route(&self) -> Option<&str> {
            None
        }
        fn url(&self) -> Cow<'_, str> {
            Cow::Borrowed(&self.0)
        }
        fn headers(&self) -> &dyn Headers {
            &[("", ""); 0]
        }
    }
    let capped = |url: &str| {
        let mut out = String::new();
        write_span_url(&At(url.to_owned()), &mut out);
        out
    };
    assert_eq!(capped("http://h/a"), "http://h/a");
    for pad in 0..4 {
        let long = format!("http://h/{}{}", "x".repeat(pad), "日".repeat(2_000));
        let cut = capped(&long);
        assert!(cut.len() <= MAX_URL_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));
    }
}

#[test]
fn statuses_per_handler_are_capped_and_the_rest_counted() {
    let (registry, _, inst) = setup();
    for status in 200..240u16 {
        let mut guard = inst.start(&get(Some("/teapot")));
        guard.set_handler("brew");
        guard.set_status(status);
        drop(guard);
    }
    let e = registry.entries();
    let per_status = e
        .iter()
        .filter(|e| {
            e.name().starts_with("axum.response.teapot.GET.")
                && e.name().ends_with(".cumulative.count")
        })
        .count();
    assert_eq!(per_status, routes::MAX_STATUSES_PER_HANDLER);
    assert_eq!(count(&e, "~sdk.rust.axum.statuses.overflow.count"), 8.0);
    assert_eq!(
        count(&e, "axum.response.completed.aggregated_per_source.count"),
        40.0
    );
}

#[test]
fn a_request_ending_with_its_response_ends_when_its_future_completed() {
    let (_, tracer, inst) = setup();
    let pause = std::time::Duration::from_millis(30);
    let measured = |at_response: bool| {
        let guard = inst.start(&get(Some("/made")));
        let ((), mut guard) = block_on(guard.instrument(async {})).0;
        guard.set_status(200);
        // The response leaves late; which end counts is the guard's choice.
        std::thread::sleep(pause);
        if at_response {
            guard.finish_at_response();
        } else {
            drop(guard);
        }
        let spans = spans(&tracer);
        assert_eq!(spans.len(), 1);
        spans[0].duration_micros
    };
    let at_response = measured(true);
    let at_drop = measured(false);
    assert!(at_response < 20_000, "{at_response} µs");
    assert!(at_drop >= 30_000, "{at_drop} µs");
    // Without CPU time the future's end was not read: the end is now.
    let (_, tracer, _) = setup();
    let app = ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap();
    let inst = Instrumentation::builder("axum", Registry::new(), tracer.clone(), app)
        .cpu_time(false)
        .build();
    let guard = inst.start(&get(Some("/made")));
    let ((), guard) = block_on(guard.instrument(async {})).0;
    std::thread::sleep(pause);
    guard.finish_at_response();
    assert!(spans(&tracer)[0].duration_micros >= 30_000);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_guard_fits_two_cache_lines() {
    // The guard moves with the request's future and its response: up to
    // 128 bytes, those moves are inline copies rather than `memcpy` calls
    // (six more a request at 160 bytes, callgrind).
    assert!(std::mem::size_of::<RequestGuard>() <= 128);
}

#[test]
fn methods_are_named_as_the_series_name_them() {
    for (method, name) in [
        ("GET", "GET"),
        ("get", "GET"),
        ("PATCH", "PATCH"),
        ("TRACE", "TRACE"),
        ("PURGE", "OTHER"),
        ("", "OTHER"),
    ] {
        assert_eq!(MethodName::of(method).as_str(), name, "{method}");
    }
}
