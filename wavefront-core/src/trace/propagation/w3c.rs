//! W3C Trace Context: `traceparent: 00-<trace id>-<parent id>-<flags>` and
//! `tracestate`.
//!
//! Parsing follows the Trace Context recommendation: lowercase hex only,
//! exact field lengths, all-zero ids invalid, version `ff` invalid, version
//! `00` exactly 55 characters, later versions parsed by their version-00
//! prefix (what follows it must start with `-`), only the sampled bit of the
//! flags used. A repeated `traceparent` is invalid. `tracestate` is read only
//! with a valid `traceparent`, checked (at most 32 list members, valid keys
//! and values, no duplicate keys, at most [`MAX_TRACE_STATE_LEN`] bytes
//! across all its headers; otherwise dropped) and passed on unchanged.

use std::sync::Arc;

use super::{context, lower_hex, single, span_id_64, Headers, HeadersMut, SpanContext};

/// Header carrying the trace id, the parent span id and the sampled flag.
pub const TRACEPARENT: &str = "traceparent";
/// Header carrying vendor-specific trace state, passed on unchanged.
pub const TRACESTATE: &str = "tracestate";
/// Longest `tracestate` kept (all its headers joined with `,`); a longer one
/// is dropped. The recommendation asks vendors to pass on at least 512.
pub const MAX_TRACE_STATE_LEN: usize = 512;
const MAX_TRACE_STATE_MEMBERS: usize = 32;
/// Length of a version-00 `traceparent`.
const TRACEPARENT_LEN: usize = 55;

/// A parsed `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TraceParent {
    pub(super) trace_id: u128,
    pub(super) parent_id: u64,
    pub(super) sampled: bool,
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

pub(super) fn parse_traceparent(value: &str) -> Option<TraceParent> {
    let v = trim_ows(value);
    let b = v.as_bytes();
    if b.len() < TRACEPARENT_LEN {
        return None;
    }
    let version = lower_hex(v.get(0..2)?, 2)?;
    if version == 0xff
        || (version == 0 && b.len() != TRACEPARENT_LEN)
        || (b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-')
        || b[2] != b'-'
        || b[35] != b'-'
        || b[52] != b'-'
    {
        return None;
    }
    let trace_id = lower_hex(v.get(3..35)?, 32)?;
    let parent_id = lower_hex(v.get(36..52)?, 16)? as u64;
    let flags = lower_hex(v.get(53..55)?, 2)?;
    (trace_id != 0 && parent_id != 0).then_some(TraceParent {
        trace_id,
        parent_id,
        sampled: flags & 1 == 1,
    })
}

fn key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'*' | b'/')
}

/// `simple-key` or `tenant-id@system-id`.
fn valid_key(key: &str) -> bool {
    let all = |s: &[u8]| s.iter().all(|&c| key_char(c));
    match key.split_once('@') {
        None => {
            let k = key.as_bytes();
            (1..=256).contains(&k.len()) && k[0].is_ascii_lowercase() && all(k)
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            (1..=241).contains(&t.len())
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && all(t)
                && (1..=14).contains(&s.len())
                && s[0].is_ascii_lowercase()
                && all(s)
        }
    }
}

/// Printable ASCII but `,` and `=`, not ending in a space, 1 to 256 bytes.
fn valid_value(value: &str) -> bool {
    let v = value.as_bytes();
    (1..=256).contains(&v.len())
        && v.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && v.last() != Some(&b' ')
}

pub(super) fn valid_trace_state(state: &str) -> bool {
    let mut keys = [""; MAX_TRACE_STATE_MEMBERS];
    let mut n = 0;
    for member in state.split(',').map(trim_ows).filter(|m| !m.is_empty()) {
        let Some((key, value)) = member.split_once('=') else {
            return false;
        };
        if n == MAX_TRACE_STATE_MEMBERS
            || !valid_key(key)
            || !valid_value(value)
            || keys[..n].contains(&key)
        {
            return false;
        }
        keys[n] = key;
        n += 1;
    }
    n > 0
}

/// Every `tracestate` header joined with `,`, if valid and not too long.
fn read_trace_state(headers: &(impl Headers + ?Sized)) -> Option<Arc<str>> {
    let mut joined = String::new();
    let mut too_long = false;
    headers.for_each(&mut |name, value| {
        if too_long || !name.eq_ignore_ascii_case(TRACESTATE) {
            return;
        }
        let value = trim_ows(value);
        if value.is_empty() {
            return;
        }
        let comma = usize::from(!joined.is_empty());
        if joined.len() + comma + value.len() > MAX_TRACE_STATE_LEN {
            too_long = true;
            return;
        }
        if comma == 1 {
            joined.push(',');
        }
        joined.push_str(value);
    });
    (!too_long && valid_trace_state(&joined)).then(|| joined.into())
}

pub(super) fn extract(headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
    let parent = parse_traceparent(single(headers, TRACEPARENT)?)?;
    let mut context = context(
        parent.trace_id,
        u128::from(parent.parent_id),
        Some(parent.sampled),
    );
    context.trace_state = read_trace_state(headers);
    Some(context)
}

pub(super) fn inject(context: &SpanContext, headers: &mut (impl HeadersMut + ?Sized)) {
    let trace_id = context.trace_id.to_u128();
    if trace_id == 0 || context.is_decision_only() {
        return;
    }
    let Some(span_id) = span_id_64(context.span_id) else {
        return;
    };
    let flags = if context.sampled == Some(true) {
        "01"
    } else {
        "00"
    };
    headers.set(
        TRACEPARENT,
        &format!("00-{trace_id:032x}-{span_id:016x}-{flags}"),
    );
    if let Some(state) = &context.trace_state {
        headers.set(TRACESTATE, state);
    }
}
