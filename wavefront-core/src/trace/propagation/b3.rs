//! B3 (Zipkin): the single `b3` header and the `X-B3-*` headers.
//!
//! Ids are lowercase hex: a trace id of 16 or 32 digits (a 64-bit one is
//! zero-extended to 128 bits), a span id of 16; all-zero ids are invalid. A
//! repeated id header is invalid. The sampling state is `1` (accept), `0`
//! (deny) or `d` (debug, which samples); in `X-B3-Sampled` also `true` and
//! `false`, and `X-B3-Flags: 1` is debug. The parent span id, when present,
//! is checked in `b3` and ignored otherwise: the context names the caller's
//! span, which becomes the parent.

use super::{
    context, decision_only, lower_hex, single, span_id_64, Headers, HeadersMut, SpanContext,
};

/// The single B3 header: `{traceid}-{spanid}[-{sampled}[-{parentspanid}]]`,
/// or just a sampling state.
pub const B3: &str = "b3";
/// B3 multi-header: the trace id (16 or 32 hex digits).
pub const B3_TRACE_ID: &str = "x-b3-traceid";
/// B3 multi-header: the caller's span id (16 hex digits).
pub const B3_SPAN_ID: &str = "x-b3-spanid";
/// B3 multi-header: the caller's parent span id (read by nothing here).
pub const B3_PARENT_SPAN_ID: &str = "x-b3-parentspanid";
/// B3 multi-header: the sampling decision (`1`/`0`, `true`/`false`).
pub const B3_SAMPLED: &str = "x-b3-sampled";
/// B3 multi-header: `1` for debug (sampled).
pub const B3_FLAGS: &str = "x-b3-flags";

/// Longest valid `b3` value: 32 + 1 + 16 + 1 + 1 + 1 + 16.
const MAX_B3_LEN: usize = 68;

fn trace_id(s: &str) -> Option<u128> {
    match s.len() {
        16 | 32 => lower_hex(s, s.len()).filter(|&id| id != 0),
        _ => None,
    }
}

fn span_id(s: &str) -> Option<u128> {
    lower_hex(s, 16).filter(|&id| id != 0)
}

fn sampling_state(s: &str) -> Option<bool> {
    match s {
        "0" => Some(false),
        "1" | "d" => Some(true),
        _ => None,
    }
}

pub(super) fn extract_single(headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
    let value = single(headers, B3)?.trim();
    if value.len() == 1 {
        return sampling_state(value).map(decision_only);
    }
    if value.len() > MAX_B3_LEN {
        return None;
    }
    let mut parts = value.split('-');
    let trace = trace_id(parts.next()?)?;
    let span = span_id(parts.next()?)?;
    let sampled = match parts.next() {
        Some(state) => Some(sampling_state(state)?),
        None => None,
    };
    if let Some(parent) = parts.next() {
        span_id(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(context(trace, span, sampled))
}

pub(super) fn extract_multi(headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
    let debug = headers.get(B3_FLAGS).map(str::trim) == Some("1");
    let sampled = if debug {
        Some(true)
    } else {
        headers.get(B3_SAMPLED).and_then(|v| match v.trim() {
            "1" => Some(true),
            "0" => Some(false),
            v if v.eq_ignore_ascii_case("true") => Some(true),
            v if v.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        })
    };
    if headers.get(B3_TRACE_ID).is_none() && headers.get(B3_SPAN_ID).is_none() {
        return sampled.map(decision_only);
    }
    let trace = trace_id(single(headers, B3_TRACE_ID)?.trim())?;
    let span = span_id(single(headers, B3_SPAN_ID)?.trim())?;
    Some(context(trace, span, sampled))
}

/// The trace id in 16 digits if it fits in 64 bits, else 32.
fn trace_hex(trace_id: u128) -> String {
    if trace_id >> 64 == 0 {
        format!("{trace_id:016x}")
    } else {
        format!("{trace_id:032x}")
    }
}

fn flag(sampled: bool) -> &'static str {
    if sampled {
        "1"
    } else {
        "0"
    }
}

/// The ids to inject, if the context has valid ones.
fn ids(context: &SpanContext) -> Option<(u128, u64)> {
    let trace_id = context.trace_id.to_u128();
    if trace_id == 0 || context.is_decision_only() {
        return None;
    }
    Some((trace_id, span_id_64(context.span_id)?))
}

pub(super) fn inject_single(context: &SpanContext, headers: &mut (impl HeadersMut + ?Sized)) {
    let Some((trace_id, span_id)) = ids(context) else {
        if context.is_decision_only() {
            if let Some(sampled) = context.sampled {
                headers.set(B3, flag(sampled));
            }
        }
        return;
    };
    let mut value = trace_hex(trace_id);
    value.push('-');
    value.push_str(&format!("{span_id:016x}"));
    if let Some(sampled) = context.sampled {
        value.push('-');
        value.push_str(flag(sampled));
    }
    headers.set(B3, &value);
}

pub(super) fn inject_multi(context: &SpanContext, headers: &mut (impl HeadersMut + ?Sized)) {
    let ids = ids(context);
    if let Some((trace_id, span_id)) = ids {
        headers.set(B3_TRACE_ID, &trace_hex(trace_id));
        headers.set(B3_SPAN_ID, &format!("{span_id:016x}"));
    }
    if ids.is_some() || context.is_decision_only() {
        if let Some(sampled) = context.sampled {
            headers.set(B3_SAMPLED, flag(sampled));
        }
    }
}
