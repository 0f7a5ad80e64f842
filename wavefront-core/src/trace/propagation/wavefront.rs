//! The Wavefront/OpenTracing format (`wf-ot-*`), as the Python and Java
//! OpenTracing SDKs read and write it.

use crate::id::TraceId;

use super::{context, single, Headers, HeadersMut, SpanContext};

/// Header carrying the trace id.
pub const WAVEFRONT_TRACE_ID: &str = "wf-ot-traceid";
/// Header carrying the parent span id.
pub const WAVEFRONT_SPAN_ID: &str = "wf-ot-spanid";
/// Header carrying the sampling decision.
pub const WAVEFRONT_SAMPLE: &str = "wf-ot-sample";
const BAGGAGE_PREFIX: &str = "wf-ot-";
/// Most baggage items read from a request.
pub(in crate::trace) const MAX_BAGGAGE_ITEMS: usize = 32;
/// Longest baggage key plus value read from a request.
pub(in crate::trace) const MAX_BAGGAGE_ITEM_LEN: usize = 1024;

/// A UUID in canonical form (hex digits in either case, as the reference
/// SDKs accept), or 32 hex digits without dashes; never the all-zero id.
fn parse_id(s: &str) -> Option<u128> {
    let s = s.trim();
    let id = if s.len() == 32 {
        u128::from_str_radix(s, 16)
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_hexdigit()))?
    } else {
        s.parse::<TraceId>().ok()?.to_u128()
    };
    (id != 0).then_some(id)
}

pub(super) fn extract(headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
    let trace_id = parse_id(single(headers, WAVEFRONT_TRACE_ID)?)?;
    let span_id = parse_id(single(headers, WAVEFRONT_SPAN_ID)?)?;
    let sampled = headers.get(WAVEFRONT_SAMPLE).and_then(|v| match v.trim() {
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    });
    let mut baggage = Vec::new();
    headers.for_each(&mut |name, value| {
        let Some(key) = name
            .get(..BAGGAGE_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(BAGGAGE_PREFIX))
            .map(|_| &name[BAGGAGE_PREFIX.len()..])
        else {
            return;
        };
        let reserved = [WAVEFRONT_TRACE_ID, WAVEFRONT_SPAN_ID, WAVEFRONT_SAMPLE]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name));
        if !reserved
            && !key.is_empty()
            && baggage.len() < MAX_BAGGAGE_ITEMS
            && key.len() + value.len() <= MAX_BAGGAGE_ITEM_LEN
        {
            baggage.push((key.to_ascii_lowercase(), value.to_owned()));
        }
    });
    let mut context = context(trace_id, span_id, sampled);
    context.baggage = baggage;
    Some(context)
}

pub(super) fn inject(context: &SpanContext, headers: &mut (impl HeadersMut + ?Sized)) {
    if context.is_decision_only() {
        return;
    }
    headers.set(WAVEFRONT_TRACE_ID, &context.trace_id.to_string());
    headers.set(WAVEFRONT_SPAN_ID, &context.span_id.to_string());
    if let Some(sampled) = context.sampled {
        // Python's SDK reads only `True` as sampled (it compares with
        // `str(True)`); Java and Go parse case-insensitively. `True`/`False`
        // therefore work with all three.
        headers.set(WAVEFRONT_SAMPLE, if sampled { "True" } else { "False" });
    }
    for (key, value) in &context.baggage {
        headers.set(&format!("{BAGGAGE_PREFIX}{key}"), value);
    }
}
