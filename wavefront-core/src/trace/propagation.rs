//! Span contexts in HTTP headers, in three formats:
//!
//! * [`Propagation::Wavefront`]: `wf-ot-traceid`, `wf-ot-spanid`,
//!   `wf-ot-sample` and `wf-ot-<key>` baggage, as the Python and Java
//!   OpenTracing SDKs read and write them;
//! * [`Propagation::W3c`]: W3C Trace Context (`traceparent`, `tracestate`);
//! * [`Propagation::B3`] (the single `b3` header) and
//!   [`Propagation::B3Multi`] (`X-B3-TraceId`, `X-B3-SpanId`, ...).
//!
//! W3C and B3 ids map onto Wavefront's UUIDs as Micrometer's Wavefront span
//! handler maps them: a 128-bit trace id is the UUID with the same 32 hex
//! digits (a 64-bit B3 trace id is zero-extended), and a 64-bit span id is
//! the UUID whose upper half is zero (`00000000-0000-0000-xxxx-xxxxxxxxxxxx`).
//! Injection reverses both.
//!
//! Malformed or hostile headers (wrong lengths, non-hex digits, huge values,
//! a repeated id header) never panic and never allocate without bound: they
//! yield no context, so the request starts a new trace. Baggage and
//! `tracestate` are capped.

mod b3;
mod w3c;
mod wavefront;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::id::{SpanId, TraceId};

pub use b3::{B3, B3_FLAGS, B3_PARENT_SPAN_ID, B3_SAMPLED, B3_SPAN_ID, B3_TRACE_ID};
pub use w3c::{MAX_TRACE_STATE_LEN, TRACEPARENT, TRACESTATE};
pub use wavefront::{WAVEFRONT_SAMPLE, WAVEFRONT_SPAN_ID, WAVEFRONT_TRACE_ID};

use super::SpanContext;

/// Read access to request headers, implemented by adapters for their
/// framework's header map.
///
/// Contract: `get` matches names case-insensitively (callers pass lowercase
/// names) and returns the first value; `for_each` visits every header whose
/// value is text.
///
/// ```
/// use wavefront_core::trace::Headers;
///
/// let headers = [("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
/// assert!(Headers::get(&headers, "traceparent").is_some());
/// assert_eq!(Headers::count(&headers, "traceparent"), 1);
/// ```
pub trait Headers {
    /// The first value of header `name`.
    fn get(&self, name: &str) -> Option<&str>;
    /// Calls `f` with each header's name and value.
    fn for_each(&self, f: &mut dyn FnMut(&str, &str));
    /// How many values header `name` has; implementations may stop counting
    /// at 2 (extraction only needs to know whether a header is repeated).
    /// The default visits every header with [`for_each`](Self::for_each).
    fn count(&self, name: &str) -> usize {
        let mut n = 0;
        self.for_each(&mut |k, _| {
            if k.eq_ignore_ascii_case(name) {
                n += 1;
            }
        });
        n
    }
    /// Calls `f` with each header's name (a name may come more than once).
    /// The default visits every header with [`for_each`](Self::for_each);
    /// maps that can list names without reading values do so.
    fn for_each_name(&self, f: &mut dyn FnMut(&str)) {
        self.for_each(&mut |k, _| f(k));
    }
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
    fn count(&self, name: &str) -> usize {
        (**self).count(name)
    }
    fn for_each_name(&self, f: &mut dyn FnMut(&str)) {
        (**self).for_each_name(f);
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

    use http::HeaderName;

    use super::b3::{B3, B3_FLAGS, B3_PARENT_SPAN_ID, B3_SAMPLED, B3_SPAN_ID, B3_TRACE_ID};
    use super::w3c::{TRACEPARENT, TRACESTATE};
    use super::wavefront::{WAVEFRONT_SAMPLE, WAVEFRONT_SPAN_ID, WAVEFRONT_TRACE_ID};

    /// The propagation headers, parsed once: looking one up by `&str` would
    /// validate and lower-case its name on every request.
    static KNOWN: [HeaderName; 11] = [
        HeaderName::from_static(WAVEFRONT_TRACE_ID),
        HeaderName::from_static(WAVEFRONT_SPAN_ID),
        HeaderName::from_static(WAVEFRONT_SAMPLE),
        HeaderName::from_static(TRACEPARENT),
        HeaderName::from_static(TRACESTATE),
        HeaderName::from_static(B3),
        HeaderName::from_static(B3_TRACE_ID),
        HeaderName::from_static(B3_SPAN_ID),
        HeaderName::from_static(B3_PARENT_SPAN_ID),
        HeaderName::from_static(B3_SAMPLED),
        HeaderName::from_static(B3_FLAGS),
    ];

    fn known(name: &str) -> Option<&'static HeaderName> {
        KNOWN.iter().find(|known| known.as_str() == name)
    }

    impl Headers for http::HeaderMap {
        fn get(&self, name: &str) -> Option<&str> {
            let value = match known(name) {
                Some(known) => http::HeaderMap::get(self, known),
                None => http::HeaderMap::get(self, name),
            };
            value.and_then(|v| v.to_str().ok())
        }
        fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
            for (name, value) in self {
                if let Ok(value) = value.to_str() {
                    f(name.as_str(), value);
                }
            }
        }
        fn count(&self, name: &str) -> usize {
            match known(name) {
                Some(known) => self.get_all(known).iter().take(2).count(),
                None => self.get_all(name).iter().take(2).count(),
            }
        }
        fn for_each_name(&self, f: &mut dyn FnMut(&str)) {
            for name in self.keys() {
                f(name.as_str());
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

/// A format for span contexts in headers. A tracer extracts with each of its
/// extraction formats in turn (the first that yields a context wins) and
/// injects with every one of its injection formats; see
/// [`TracerBuilder::propagation`](super::TracerBuilder::propagation).
///
/// ```
/// use wavefront_core::trace::Propagation;
///
/// let headers = [("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")];
/// let context = Propagation::B3.extract(&headers).unwrap();
/// assert_eq!(context.trace_id.to_string(), "80f198ee-5634-3ba8-64fe-8b2a57d3eff7");
/// assert_eq!(context.span_id.to_string(), "00000000-0000-0000-e457-b5a2e4d86bd1");
/// assert_eq!(context.sampled, Some(true));
/// assert!(Propagation::W3c.extract(&headers).is_none());
/// assert_eq!("b3multi".parse(), Ok(Propagation::B3Multi));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Propagation {
    /// Wavefront/OpenTracing headers: `wf-ot-traceid`, `wf-ot-spanid`,
    /// `wf-ot-sample` (`True`/`False`, as the Python SDK requires) and `wf-ot-<key>` baggage.
    Wavefront,
    /// W3C Trace Context: `traceparent` and `tracestate`.
    W3c,
    /// B3, single header: `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]`
    /// (or just `0`, `1` or `d`).
    B3,
    /// B3, multiple headers: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`,
    /// `X-B3-Flags`.
    B3Multi,
}

impl Propagation {
    /// Every format, in the default extraction order.
    pub const ALL: [Propagation; 4] = [
        Propagation::Wavefront,
        Propagation::W3c,
        Propagation::B3,
        Propagation::B3Multi,
    ];

    /// The formats a tracer extracts by default: all of them, in the order of
    /// [`ALL`](Self::ALL).
    pub const DEFAULT_EXTRACT: [Propagation; 4] = Propagation::ALL;

    /// The formats a tracer injects by default: Wavefront (what the
    /// reference SDKs read) and W3C Trace Context (what OpenTelemetry,
    /// Micrometer and most proxies read).
    pub const DEFAULT_INJECT: [Propagation; 2] = [Propagation::Wavefront, Propagation::W3c];

    /// The format's name, as [`FromStr`] reads it: `wavefront`, `w3c`, `b3`,
    /// `b3multi`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Propagation::Wavefront => "wavefront",
            Propagation::W3c => "w3c",
            Propagation::B3 => "b3",
            Propagation::B3Multi => "b3multi",
        }
    }

    /// The span context these headers carry in this format, if they carry a
    /// valid one.
    ///
    /// A B3 header with only a sampling decision (`b3: 0`, or `X-B3-Sampled`
    /// without ids) yields a context with a new trace id and no span (see
    /// [`SpanContext::is_decision_only`]): a span started as its child
    /// begins a new trace that keeps the decision.
    pub fn extract(self, headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
        match self {
            Propagation::Wavefront => wavefront::extract(headers),
            Propagation::W3c => w3c::extract(headers),
            Propagation::B3 => b3::extract_single(headers),
            Propagation::B3Multi => b3::extract_multi(headers),
        }
    }

    /// Writes `context` into `headers` in this format; the sampling
    /// decision travels in the format's flag.
    pub fn inject(self, context: &SpanContext, headers: &mut (impl HeadersMut + ?Sized)) {
        match self {
            Propagation::Wavefront => wavefront::inject(context, headers),
            Propagation::W3c => w3c::inject(context, headers),
            Propagation::B3 => b3::inject_single(context, headers),
            Propagation::B3Multi => b3::inject_multi(context, headers),
        }
    }

    /// Whether the format carries 64-bit span ids (W3C and B3 do).
    #[must_use]
    pub fn has_64_bit_span_ids(self) -> bool {
        !matches!(self, Propagation::Wavefront)
    }
}

impl fmt::Display for Propagation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text names no [`Propagation`] format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsePropagationError;

impl fmt::Display for ParsePropagationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown propagation format (expected wavefront, w3c, b3 or b3multi)")
    }
}

impl std::error::Error for ParsePropagationError {}

impl FromStr for Propagation {
    type Err = ParsePropagationError;

    /// Reads `wavefront`, `w3c` (or `tracecontext`), `b3` and `b3multi`,
    /// in any case.
    fn from_str(s: &str) -> Result<Self, ParsePropagationError> {
        let s = s.trim();
        [
            ("wavefront", Propagation::Wavefront),
            ("w3c", Propagation::W3c),
            ("tracecontext", Propagation::W3c),
            ("b3", Propagation::B3),
            ("b3multi", Propagation::B3Multi),
        ]
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, p)| p)
        .ok_or(ParsePropagationError)
    }
}

/// Extraction with several formats: the first full context wins; a
/// decision-only context (B3 `0`/`1`/`d`) is kept only if no format gives
/// a full one.
pub(super) fn extract(
    formats: &[Propagation],
    headers: &(impl Headers + ?Sized),
) -> Option<SpanContext> {
    // Most requests carry no context: one pass over the header names is
    // cheaper than looking up each format's headers in turn.
    if !may_carry_context(headers) {
        return None;
    }
    let mut decision_only = None;
    for format in formats {
        match format.extract(headers) {
            Some(context) if !context.is_decision_only() => return Some(context),
            Some(context) => decision_only = decision_only.or(Some(context)),
            None => {}
        }
    }
    decision_only
}

/// Whether some header is one a known format reads: `traceparent`, `b3`,
/// `x-b3-*` or `wf-ot-*` (any case).
fn may_carry_context(headers: &(impl Headers + ?Sized)) -> bool {
    let prefixed = |name: &[u8], prefix: &str| {
        name.len() > prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    let mut found = false;
    headers.for_each_name(&mut |name| {
        found = found
            || name.eq_ignore_ascii_case(w3c::TRACEPARENT)
            || name.eq_ignore_ascii_case(b3::B3)
            || prefixed(name.as_bytes(), "x-b3-")
            || prefixed(name.as_bytes(), "wf-ot-");
    });
    found
}

/// `s` as exactly `digits` lowercase hex digits (at most 32).
fn lower_hex(s: &str, digits: usize) -> Option<u128> {
    if s.len() != digits || digits > 32 {
        return None;
    }
    s.bytes().try_fold(0u128, |acc, b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some((acc << 4) | u128::from(d))
    })
}

/// The value of header `name` if it appears exactly once.
fn single<'h>(headers: &'h (impl Headers + ?Sized), name: &str) -> Option<&'h str> {
    let value = headers.get(name)?;
    (headers.count(name) <= 1).then_some(value)
}

/// The 64-bit form of a span id, for W3C and B3.
///
/// Exact when the id's upper half is zero, as it is for every span a tracer
/// starts while it injects W3C or B3 (see
/// [`TracerBuilder::propagation`](super::TracerBuilder::propagation)). A
/// 128-bit id (only from a Wavefront-format caller whose context is
/// re-injected as is) is folded to its low half, or its high half if the low
/// half is zero; `None` for the invalid all-zero id.
pub(crate) fn span_id_64(id: SpanId) -> Option<u64> {
    let bits = id.to_u128();
    let (high, low) = ((bits >> 64) as u64, bits as u64);
    [low, high].into_iter().find(|&half| half != 0)
}

/// A context with only a sampling decision: a new trace, no span.
fn decision_only(sampled: bool) -> SpanContext {
    SpanContext {
        trace_id: super::new_trace_id(),
        span_id: SpanId::from_u128(0),
        sampled: Some(sampled),
        baggage: Vec::new(),
        trace_state: None,
    }
}

/// A context from ids already checked to be non-zero.
fn context(trace_id: u128, span_id: u128, sampled: Option<bool>) -> SpanContext {
    SpanContext {
        trace_id: TraceId::from_u128(trace_id),
        span_id: SpanId::from_u128(span_id),
        sampled,
        baggage: Vec::new(),
        trace_state: None,
    }
}
