//! Arbitrary header pairs given to `Tracer::extract` (every format, in the
//! default order) and to each `Propagation::extract`: none may panic, and a
//! context, when there is one, must be valid (non-zero trace id; a span id,
//! or only a sampling decision; baggage and `tracestate` within their caps).
//! A full context injected back (Wavefront and W3C, the defaults) and
//! extracted again must keep its trace id, span id and decision.
//!
//! Input layout: the bytes are split at `0xff` into fields, taken in pairs
//! as (name, value), each read as UTF-8 lossily. A name field whose first
//! byte is below 0x20 is replaced by one of the headers the formats read
//! (chosen by that byte), so the fuzzer reaches the parsers quickly.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wavefront_core::trace::{Propagation, SpanContext, Tracer, MAX_TRACE_STATE_LEN};
use wavefront_core::ApplicationTags;

const NAMES: &[&str] = &[
    "wf-ot-traceid",
    "wf-ot-spanid",
    "wf-ot-sample",
    "wf-ot-baggage",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-b3-parentspanid",
    "WF-OT-TRACEID",
    "TraceParent",
    "B3",
    "wf-ot-",
];

fn tracer() -> &'static Tracer {
    static TRACER: OnceLock<Tracer> = OnceLock::new();
    TRACER.get_or_init(|| {
        let tags = ApplicationTags::builder("fuzz", "extract")
            .build()
            .expect("valid application tags");
        Tracer::builder(tags).source("fuzz").build()
    })
}

fn check(context: &SpanContext, headers: &[(&str, &str)]) {
    assert_ne!(context.trace_id.to_u128(), 0, "{headers:?}");
    if context.is_decision_only() {
        assert!(context.sampled.is_some(), "{headers:?}");
        assert!(
            context.baggage.is_empty() && context.trace_state.is_none(),
            "{headers:?}"
        );
    }
    assert!(context.baggage.len() <= 32, "{headers:?}");
    for (key, value) in &context.baggage {
        assert!(
            !key.is_empty() && key.len() + value.len() <= 1024,
            "{headers:?}"
        );
    }
    if let Some(state) = &context.trace_state {
        assert!(
            !state.is_empty() && state.len() <= MAX_TRACE_STATE_LEN,
            "{headers:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let fields: Vec<String> = data
        .split(|&b| b == 0xff)
        .map(|f| match f.first() {
            Some(&b) if b < 0x20 => {
                NAMES[usize::from(b) % NAMES.len()].to_owned() + &String::from_utf8_lossy(&f[1..])
            }
            _ => String::from_utf8_lossy(f).into_owned(),
        })
        .collect();
    let headers: Vec<(&str, &str)> = fields
        .chunks(2)
        .map(|pair| (pair[0].as_str(), pair.get(1).map_or("", String::as_str)))
        .collect();

    let tracer = tracer();
    let context = tracer.extract(headers.as_slice());
    if let Some(context) = &context {
        check(context, &headers);
    }
    for format in Propagation::ALL {
        if let Some(context) = format.extract(headers.as_slice()) {
            check(&context, &headers);
        }
    }

    // Inject a full context and read it back.
    if let Some(context) = context.filter(|c| !c.is_decision_only()) {
        let mut injected: Vec<(String, String)> = Vec::new();
        tracer.inject(&context, &mut injected);
        let pairs: Vec<(&str, &str)> = injected
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let again = tracer
            .extract(pairs.as_slice())
            .unwrap_or_else(|| panic!("injected {injected:?} from {headers:?} does not extract"));
        assert_eq!(
            (again.trace_id, again.span_id, again.sampled),
            (context.trace_id, context.span_id, context.sampled),
            "{headers:?} -> {injected:?}"
        );
    }
});
