//! Span contexts in HTTP headers: the Wavefront/OpenTracing format
//! (`wf-ot-traceid`, `wf-ot-spanid`, `wf-ot-sample`, `wf-ot-<key>` baggage),
//! as the Python and Java OpenTracing SDKs read and write it.
//!
//! Malformed or hostile headers never panic and never allocate without
//! bound: a bad id means no context (the request starts a new trace), and
//! baggage is capped.

use crate::id::{SpanId, TraceId};

use super::SpanContext;

/// Header carrying the trace id.
pub const WAVEFRONT_TRACE_ID: &str = "wf-ot-traceid";
/// Header carrying the parent span id.
pub const WAVEFRONT_SPAN_ID: &str = "wf-ot-spanid";
/// Header carrying the sampling decision.
pub const WAVEFRONT_SAMPLE: &str = "wf-ot-sample";
const BAGGAGE_PREFIX: &str = "wf-ot-";
/// Most baggage items read from a request.
const MAX_BAGGAGE_ITEMS: usize = 32;
/// Longest baggage key plus value read from a request.
const MAX_BAGGAGE_ITEM_LEN: usize = 1024;

/// Read access to request headers, implemented by adapters for their
/// framework's header map.
///
/// Contract: `get` matches names case-insensitively (callers pass lowercase
/// names) and returns the first value; `for_each` visits every header whose
/// value is text.
pub trait Headers {
    /// The first value of header `name`.
    fn get(&self, name: &str) -> Option<&str>;
    /// Calls `f` with each header's name and value.
    fn for_each(&self, f: &mut dyn FnMut(&str, &str));
}

/// Write access to outgoing request headers.
pub trait HeadersMut {
    /// Sets header `name` (lowercase) to `value`, replacing any value.
    fn set(&mut self, name: &str, value: &str);
}

impl<T: Headers + ?Sized> Headers for &T {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        (**self).for_each(f);
    }
}

impl Headers for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        self.iter().for_each(|(k, v)| f(k, v));
    }
}

impl<const N: usize> Headers for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        Headers::get(self.as_slice(), name)
    }
    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
        Headers::for_each(self.as_slice(), f);
    }
}

impl HeadersMut for Vec<(String, String)> {
    fn set(&mut self, name: &str, value: &str) {
        self.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value.to_owned()));
    }
}

#[cfg(feature = "http")]
mod http_impls {
    use super::{Headers, HeadersMut};

    impl Headers for http::HeaderMap {
        fn get(&self, name: &str) -> Option<&str> {
            http::HeaderMap::get(self, name).and_then(|v| v.to_str().ok())
        }
        fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
            for (name, value) in self {
                if let Ok(value) = value.to_str() {
                    f(name.as_str(), value);
                }
            }
        }
    }

    impl HeadersMut for http::HeaderMap {
        fn set(&mut self, name: &str, value: &str) {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                self.insert(name, value);
            }
        }
    }
}

/// A UUID in canonical form, or 32 hex digits without dashes.
fn parse_id(s: &str) -> Option<u128> {
    let s = s.trim();
    if s.len() == 32 {
        return u128::from_str_radix(s, 16)
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    s.parse::<TraceId>().ok().map(TraceId::to_u128)
}

pub(super) fn extract(headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
    let trace_id = parse_id(headers.get(WAVEFRONT_TRACE_ID)?)?;
    let span_id = parse_id(headers.get(WAVEFRONT_SPAN_ID)?)?;
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
    Some(SpanContext {
        trace_id: TraceId::from_u128(trace_id),
        span_id: SpanId::from_u128(span_id),
        sampled,
        baggage,
    })
}

pub(super) fn inject(context: &SpanContext, headers: &mut impl HeadersMut) {
    headers.set(WAVEFRONT_TRACE_ID, &context.trace_id.to_string());
    headers.set(WAVEFRONT_SPAN_ID, &context.span_id.to_string());
    if let Some(sampled) = context.sampled {
        headers.set(WAVEFRONT_SAMPLE, if sampled { "true" } else { "false" });
    }
    for (key, value) in &context.baggage {
        headers.set(&format!("{BAGGAGE_PREFIX}{key}"), value);
    }
}
