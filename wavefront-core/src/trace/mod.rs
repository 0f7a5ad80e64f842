//! Spans: the tracer, span contexts and their propagation in headers.
//!
//! A request's span is started by an adapter (the `lifecycle` module);
//! handlers reach it through a [`SpanHandle`] to add tags and logs or start
//! child spans. A finished span goes into a bounded lock-free queue (default
//! 50,000 spans; overflow is dropped and counted) and the reporter's thread
//! formats and sends it: nothing is formatted on the request path.
//!
//! Start times and durations come from a monotonic clock anchored to wall
//! time, and are sent in **microseconds** (16 digits: the proxy and the
//! service read the unit from the start time's length), so a request faster
//! than a millisecond does not read as a duration of 0.
//!
//! ```
//! use wavefront_core::trace::Tracer;
//! use wavefront_core::ApplicationTags;
//!
//! let tracer = Tracer::builder(ApplicationTags::builder("Ordering", "styling").build()?).source("host-1").build();
//! let span = tracer.span("checkout").tag("order.id", "42").start();
//! let child = span.child("charge_card");
//! child.finish();
//! span.finish();
//! assert_eq!(tracer.queue_size(), 2); // the reporter sends them
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Propagation
//!
//! [`Tracer::extract`] reads a caller's context from request headers, trying
//! each configured [`Propagation`] format in turn (by default Wavefront, W3C
//! Trace Context, B3 single, B3 multi); [`Tracer::inject`] and
//! [`SpanHandle::inject`] write a context in every configured injection
//! format (by default Wavefront and W3C). See
//! [`TracerBuilder::propagation`].
//!
//! # Sampling
//!
//! With no [`Sampler`], every span is sent. Otherwise the [`sampling`]
//! rules decide; dropped spans are counted ([`Tracer::discarded`]) and still
//! reach the [`on_finish`](TracerBuilder::on_finish) hooks.

mod pool;
mod propagation;
pub mod sampling;
mod text;

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crossbeam_queue::ArrayQueue;

pub(crate) use pool::OwnedSpan;
pub use pool::SpanBox;
#[cfg(feature = "otlp")]
pub(crate) use propagation::span_id_64;
pub use propagation::{
    Headers, HeadersMut, ParsePropagationError, Propagation, B3, B3_FLAGS, B3_PARENT_SPAN_ID,
    B3_SAMPLED, B3_SPAN_ID, B3_TRACE_ID, MAX_TRACE_STATE_LEN, TRACEPARENT, TRACESTATE,
    WAVEFRONT_SAMPLE, WAVEFRONT_SPAN_ID, WAVEFRONT_TRACE_ID,
};
pub use sampling::{
    CompositeSampler, ConstantSampler, DurationSampler, InvalidSamplingRate, RateSampler, Sampler,
};
pub use text::Text;

use pool::LogFields;

use crate::id::{SpanId, TraceId};
use crate::metric::Counter;
use crate::tags::ApplicationTags;
use crate::wire::SpanLog;

/// Default capacity of the finished-span queue.
pub const DEFAULT_SPAN_QUEUE_CAPACITY: usize = 50_000;

/// A fresh random 64-bit value from a per-thread generator (no lock).
fn random_u64() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
            h.finish() | 1
        });
    }
    STATE.with(|state| {
        // splitmix64
        let mut z = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A fresh random non-zero 128-bit value.
fn random_u128() -> u128 {
    loop {
        let bits = (u128::from(random_u64()) << 64) | u128::from(random_u64());
        if bits != 0 {
            return bits;
        }
    }
}

/// A new, random (non-zero) trace id.
#[must_use]
pub fn new_trace_id() -> TraceId {
    TraceId::from_u128(random_u128())
}

/// A new, random (non-zero) 128-bit span id.
#[must_use]
pub fn new_span_id() -> SpanId {
    SpanId::from_u128(random_u128())
}

/// A new, random (non-zero) 64-bit span id: the UUID whose upper half is
/// zero, as W3C and B3 carry it (and as the Java SDK makes it with
/// `useSpanId128Bit=false`). A tracer starts its spans with these while it
/// injects W3C or B3, so each of its span ids round-trips exactly.
///
/// ```
/// let id = wavefront_core::trace::new_span_id_64();
/// assert!(id.to_string().starts_with("00000000-0000-0000-"));
/// assert_ne!(id.to_u128(), 0);
/// ```
#[must_use]
pub fn new_span_id_64() -> SpanId {
    loop {
        let bits = random_u64();
        if bits != 0 {
            return SpanId::from_u128(u128::from(bits));
        }
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Wall time from the monotonic clock: one reading of each, taken together,
/// anchors later monotonic readings, so a span needs no wall-clock reading
/// (cheaper, and immune to the wall clock stepping mid-request).
#[derive(Debug, Clone, Copy)]
struct Anchor {
    instant: Instant,
    micros: u64,
}

impl Anchor {
    fn now() -> Self {
        Anchor {
            instant: Instant::now(),
            micros: now_micros(),
        }
    }

    fn micros_at(&self, at: Instant) -> u64 {
        self.micros + at.saturating_duration_since(self.instant).as_micros() as u64
    }
}

/// What identifies a span across processes: its trace, itself, the sampling
/// decision, baggage and W3C trace state.
///
/// ```
/// use wavefront_core::trace::SpanContext;
/// use wavefront_core::{SpanId, TraceId};
///
/// let mut context = SpanContext::new(TraceId::from_u128(1), SpanId::from_u128(2));
/// context.sampled = Some(true);
/// assert!(!context.is_decision_only());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span; zero in a decision-only context (see
    /// [`is_decision_only`](Self::is_decision_only)).
    pub span_id: SpanId,
    /// Whether the trace is sampled, if decided.
    pub sampled: Option<bool>,
    /// Baggage items, passed along to every descendant (Wavefront format).
    pub baggage: Vec<(String, String)>,
    /// The W3C `tracestate` received with the trace (at most
    /// [`MAX_TRACE_STATE_LEN`] bytes), passed along unchanged to every
    /// descendant and injected with `traceparent`.
    pub trace_state: Option<Arc<str>>,
}

impl SpanContext {
    /// A context with these ids, no decision, no baggage, no trace state.
    #[must_use]
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        SpanContext {
            trace_id,
            span_id,
            sampled: None,
            baggage: Vec::new(),
            trace_state: None,
        }
    }

    /// Whether the context carries only a sampling decision and no span (a
    /// `b3: 0` header, or `X-B3-Sampled` without ids): its span id is zero.
    /// A span started as its child begins a trace of the context's (fresh)
    /// trace id with that decision, and has no parent.
    #[must_use]
    pub fn is_decision_only(&self) -> bool {
        self.span_id.to_u128() == 0
    }
}

/// Tags in order; keys may repeat.
pub type Tags = Vec<(Text, Text)>;

/// A span being recorded.
#[derive(Debug, Clone)]
pub struct SpanData {
    /// Operation name.
    pub operation: Text,
    /// Its context.
    pub context: SpanContext,
    /// `childOf` references.
    pub parents: Vec<SpanId>,
    /// `followsFrom` references.
    pub follows_from: Vec<SpanId>,
    /// The tracer's tags (application and custom tags), shared by its spans;
    /// `None` once this span replaced one of them.
    base: Option<Arc<[(Text, Text)]>>,
    /// The span's own tags, written after the tracer's.
    pub tags: Tags,
    /// Logs.
    pub logs: Vec<SpanLog>,
    /// Start, in microseconds since the epoch.
    pub start_micros: u64,
    started: Instant,
    /// The decision forced by a tag (`sampling.priority`, `debug`, `error`).
    forced: Option<bool>,
    /// Once finished, its duration in microseconds (kept here so that the
    /// queue of finished spans holds a pointer a span: half the memory a
    /// full ring cycles through).
    duration_micros: u64,
    /// A buffer kept from an earlier span, for a text of this one's (its URL).
    spare_text: String,
    /// A log's fields kept from an earlier span, for this one's error log.
    spare_fields: LogFields,
}

impl SpanData {
    /// Data for no span yet, with room for what a request's span holds
    /// (`tags` tags, a parent, an error log), so that storage reused from
    /// one span to the next never has to grow for the next request.
    fn blank(tags: usize) -> Self {
        SpanData {
            operation: Text::EMPTY,
            context: SpanContext::new(TraceId::from_u128(0), SpanId::from_u128(0)),
            parents: Vec::with_capacity(1),
            follows_from: Vec::new(),
            base: None,
            tags: Vec::with_capacity(tags),
            logs: Vec::with_capacity(1),
            start_micros: 0,
            started: Instant::now(),
            forced: None,
            duration_micros: 0,
            spare_text: String::new(),
            spare_fields: Vec::with_capacity(2),
        }
    }

    /// Adds a tag whose value `write` appends to an empty buffer (one kept
    /// from an earlier span, so this allocates nothing once warm).
    pub(crate) fn tag_written(&mut self, key: impl Into<Text>, write: impl FnOnce(&mut String)) {
        // Room for most URLs, so that a buffer from a shorter one rarely grows.
        const ROOM: usize = 256;
        let mut text = std::mem::take(&mut self.spare_text);
        text.clear();
        text.reserve(ROOM);
        write(&mut text);
        self.tags.push((key.into(), Text::from(text)));
    }

    /// Applies the sampling rule of tag `key=value`.
    fn force(&mut self, key: &str, value: &str) {
        let forced = sampling::force(key, value, self.forced);
        if forced != self.forced {
            self.forced = forced;
            self.context.sampled = forced;
        }
    }

    /// Adds a tag (see [`SpanHandle::set_tag`]).
    pub(crate) fn set_tag(&mut self, key: Text, value: Text) {
        self.force(&key, &value);
        if matches!(&*key, "application" | "service" | "cluster" | "shard") {
            // Take a copy of the tracer's tags to change one of them.
            if let Some(base) = self.base.take() {
                let own = std::mem::take(&mut self.tags);
                self.tags = base.iter().cloned().chain(own).collect();
            }
            if let Some(slot) = self.tags.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                return;
            }
        }
        self.tags.push((key, value));
    }

    /// Marks the span as an error (see [`SpanHandle::set_error`]).
    pub(crate) fn set_error(&mut self) {
        self.force("error", "true");
        if !self.has_tag("error", "true") {
            self.tags.push(("error".into(), "true".into()));
        }
    }

    /// Whether the span carries the tag `key=value`.
    fn has_tag(&self, key: &str, value: &str) -> bool {
        let is = |(k, v): &(Text, Text)| k == key && v == value;
        // Two plain loops: much cheaper than `all_tags`' chained iterators.
        self.base.iter().any(|base| base.iter().any(is)) || self.tags.iter().any(is)
    }

    /// Whether the span carries `error=true`, and whether it already has a
    /// log with `event=error`.
    pub(crate) fn error_state(&self) -> (bool, bool) {
        let error = self.has_tag("error", "true");
        let logged = self
            .logs
            .iter()
            .any(|l| l.fields.iter().any(|(k, v)| k == "event" && v == "error"));
        (error, logged)
    }

    /// Adds a log entry with these fields, timestamped now.
    pub(crate) fn log(&mut self, fields: LogFields) {
        self.logs.push(SpanLog {
            timestamp_micros: now_micros(),
            fields,
        });
    }

    /// Adds the log of an error (`event=error`, `message=…`), in fields kept
    /// from an earlier span.
    pub(crate) fn log_error(&mut self, message: std::borrow::Cow<'static, str>) {
        let mut fields = std::mem::take(&mut self.spare_fields);
        fields.clear();
        fields.push(("event".into(), "error".into()));
        fields.push(("message".into(), message));
        self.log(fields);
    }

    /// The tracer's tags this span shares (written ahead of its own
    /// [`tags`](Self::tags)), unless a change to one of them gave the span
    /// its own copy among `tags`.
    pub(crate) fn shared_tags(&self) -> Option<&Arc<[(Text, Text)]>> {
        self.base.as_ref()
    }

    /// Every tag in order: the tracer's, then the span's.
    pub fn all_tags(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.base
            .iter()
            .flat_map(|b| b.iter())
            .chain(&self.tags)
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last value of tag `key`.
    #[must_use]
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.all_tags()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .last()
    }
}

/// A finished span, waiting to be sent (or, if not sampled, only shown to
/// the tracer's [`on_finish`](TracerBuilder::on_finish) hooks).
#[derive(Debug, Clone)]
pub struct FinishedSpan {
    /// Everything recorded; `data.context.sampled` holds the final decision.
    pub data: SpanBox,
    /// Duration in microseconds (from a monotonic clock).
    pub duration_micros: u64,
    /// Whether sampling kept the span: only kept spans are queued for
    /// sending.
    pub sampled: bool,
}

impl FinishedSpan {
    /// Whether the span carries `error=true`.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.data.has_tag("error", "true")
    }
}

/// A hook called with every finished span, sampled or not (see
/// [`TracerBuilder::on_finish`]).
pub type FinishHook = Arc<dyn Fn(&FinishedSpan) + Send + Sync>;

struct TracerInner {
    tags: ApplicationTags,
    /// The application and custom tags every span starts with.
    base: Arc<[(Text, Text)]>,
    /// The decision the tracer's own tags force, if any.
    base_forced: Option<bool>,
    extract: Box<[Propagation]>,
    inject: Box<[Propagation]>,
    /// Whether spans get 64-bit span ids (W3C or B3 injection is on).
    span_ids_64: bool,
    samplers: Box<[Arc<dyn Sampler>]>,
    has_late_samplers: bool,
    on_finish: Box<[FinishHook]>,
    /// Counted per thread (no read-modify-write on a request), as `received`.
    discarded: Counter,
    anchor: Anchor,
    source: String,
    /// Finished spans, each one's duration and decision in its data:
    /// bounded and allocated up front, so queueing a span allocates nothing.
    queue: ArrayQueue<SpanBox>,
    capacity: usize,
    received: Counter,
    dropped: AtomicU64,
    /// Woken whenever [`SPAN_BATCH`] spans are queued (the reporter).
    waker: OnceLock<std::thread::Thread>,
    /// Set by the thread that wakes the reporter, cleared when it takes the
    /// spans: one wake-up a batch.
    waking: AtomicBool,
    /// Queue spans sampling dropped as well (not to be sent): the reporter
    /// derives RED metrics from every span, off the request path.
    queue_unsampled: bool,
}

/// Spans that make a batch: the reporter is woken to send them at once
/// rather than at its next one-second tick. Each batch costs the same
/// beside its spans' encoding: two context switches to the reporter and
/// back, one to the sender's worker, a write through the TCP stack, about
/// 15 µs on a busy core, a tenth of a request's cost with 64 spans a batch.
/// A batch holds the core while it is encoded (under 1 µs a span with its
/// RED metrics), so not many more: with 1,000, a busy single-core server's
/// p99 latency doubled; with 256 it did not move (README, loopback
/// benchmark).
pub const SPAN_BATCH: usize = 256;

thread_local! {
    /// The span of the request being polled on this thread.
    static CURRENT: std::cell::Cell<Option<SpanHandle>> = const { std::cell::Cell::new(None) };
}

/// The span of the request whose future is being polled on this thread, if
/// any: what code running inside a handler (a `tracing` bridge, a client
/// wrapper) makes its spans children of.
///
/// ```
/// assert!(wavefront_core::trace::current_span().is_none()); // not in a request
/// ```
#[must_use]
pub fn current_span() -> Option<SpanHandle> {
    with_current_span(SpanHandle::clone)
}

/// Calls `f` with the current span (see [`current_span`]) without taking a
/// handle of it; `None` when no request's span is current. Within `f`, no
/// span is current.
///
/// ```
/// assert_eq!(wavefront_core::trace::with_current_span(|span| span.context()), None);
/// ```
pub fn with_current_span<T>(f: impl FnOnce(&SpanHandle) -> T) -> Option<T> {
    CURRENT
        .try_with(|current| {
            let span = current.take()?;
            let result = f(&span);
            current.set(Some(span));
            Some(result)
        })
        .ok()
        .flatten()
}

/// Makes `span` (or none) the current span on this thread and returns the
/// one it replaces, for code that enters and leaves spans of its own (a
/// `tracing` bridge entering a span makes its Wavefront span current, and puts
/// the previous one back when it leaves).
pub fn replace_current_span(span: Option<SpanHandle>) -> Option<SpanHandle> {
    CURRENT.with(|current| current.replace(span))
}

/// Makes `span` the current span until the returned guard drops, moving the
/// handle kept in `kept` in and back out (no reference count touched), or
/// a new one if `kept` holds none: a request polled many times enters its
/// span with one handle.
pub(crate) fn enter_kept<'a>(
    span: &'a SpanHandle,
    kept: &'a mut Option<SpanHandle>,
) -> CurrentSpanGuard<'a> {
    let handle = kept.take().unwrap_or_else(|| span.clone());
    CurrentSpanGuard {
        previous: CURRENT.with(|current| current.replace(Some(handle))),
        span,
        kept,
    }
}

/// Restores the span that was current before [`enter_kept`], and gives its
/// handle back.
pub(crate) struct CurrentSpanGuard<'a> {
    previous: Option<SpanHandle>,
    span: &'a SpanHandle,
    kept: &'a mut Option<SpanHandle>,
}

impl Drop for CurrentSpanGuard<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let current = CURRENT.with(|current| current.replace(previous));
        // Unless code that ran left another span current (that one is
        // dropped, and the next entry makes a new handle).
        *self.kept = current.filter(|c| Arc::ptr_eq(&c.0, &self.span.0));
    }
}

/// Creates spans and collects them when they finish; cheap to clone.
#[derive(Clone)]
pub struct Tracer(Arc<TracerInner>);

/// Builds a [`Tracer`].
#[derive(Clone)]
#[must_use]
pub struct TracerBuilder {
    tags: ApplicationTags,
    source: String,
    capacity: usize,
    extract: Vec<Propagation>,
    inject: Vec<Propagation>,
    samplers: Vec<Arc<dyn Sampler>>,
    on_finish: Vec<FinishHook>,
    queue_unsampled: bool,
}

impl fmt::Debug for TracerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerBuilder")
            .field("source", &self.source)
            .field("capacity", &self.capacity)
            .field("extract", &self.extract)
            .field("inject", &self.inject)
            .field("samplers", &self.samplers)
            .field("on_finish", &self.on_finish.len())
            .finish_non_exhaustive()
    }
}

/// The formats in order, each once.
fn dedup(formats: impl IntoIterator<Item = Propagation>) -> Vec<Propagation> {
    let mut out = Vec::new();
    for format in formats {
        if !out.contains(&format) {
            out.push(format);
        }
    }
    out
}

impl TracerBuilder {
    /// The formats to both extract (tried in this order) and inject,
    /// replacing the defaults.
    ///
    /// Defaults: extract every format, in the order Wavefront, W3C, B3
    /// single, B3 multi ([`Propagation::DEFAULT_EXTRACT`]), so any caller's
    /// context is understood; inject Wavefront and W3C
    /// ([`Propagation::DEFAULT_INJECT`]): Wavefront for services on the
    /// reference SDKs, W3C for OpenTelemetry, Micrometer and most proxies. B3
    /// is opt-in (both of its forms would be needed to reach every B3
    /// reader, doubling the headers).
    ///
    /// While any injection format carries 64-bit span ids (W3C, B3), spans
    /// get 64-bit span ids (`00000000-0000-0000-xxxx-xxxxxxxxxxxx`, as
    /// Micrometer and the Java SDK with `useSpanId128Bit=false` make them),
    /// so every id this tracer sends round-trips through any format; with
    /// only Wavefront injection, span ids are random 128-bit UUIDs.
    ///
    /// ```
    /// use wavefront_core::trace::{Propagation, Tracer};
    /// use wavefront_core::ApplicationTags;
    ///
    /// let tracer = Tracer::builder(ApplicationTags::builder("Ordering", "styling").build()?)
    ///     .propagation([Propagation::W3c, Propagation::B3])
    ///     .build();
    /// let span = tracer.span("checkout").start();
    /// let mut headers: Vec<(String, String)> = Vec::new();
    /// span.inject(&mut headers);
    /// let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    /// assert_eq!(names, ["traceparent", "b3"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn propagation(self, formats: impl IntoIterator<Item = Propagation>) -> Self {
        let formats = dedup(formats);
        TracerBuilder {
            extract: formats.clone(),
            inject: formats,
            ..self
        }
    }

    /// The formats to extract, tried in this order (the first that yields a
    /// context wins); none disables extraction.
    pub fn extract_formats(mut self, formats: impl IntoIterator<Item = Propagation>) -> Self {
        self.extract = dedup(formats);
        self
    }

    /// The formats to inject (each is written); none disables injection.
    pub fn inject_formats(mut self, formats: impl IntoIterator<Item = Propagation>) -> Self {
        self.inject = dedup(formats);
        self
    }

    /// Adds a sampler; a span is kept if any sampler keeps it (see
    /// [`sampling`]). Without samplers every span is kept.
    pub fn sampler(mut self, sampler: impl Sampler + 'static) -> Self {
        self.samplers.push(Arc::new(sampler));
        self
    }

    /// Adds a hook called with every finished span, sampled or not (see
    /// [`FinishedSpan::sampled`]), before a sampled one is queued: where RED
    /// metrics are derived. Hooks run on the thread finishing the span (the
    /// request path), in the order added; they should be quick and must not
    /// panic.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use wavefront_core::trace::{ConstantSampler, Tracer};
    /// use wavefront_core::ApplicationTags;
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&seen);
    /// let tracer = Tracer::builder(ApplicationTags::builder("Ordering", "styling").build()?)
    ///     .sampler(ConstantSampler::new(false))
    ///     .on_finish(Arc::new(move |_span| {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///     }))
    ///     .build();
    /// tracer.span("checkout").start().finish();
    /// assert_eq!(seen.load(Ordering::Relaxed), 1);
    /// assert_eq!((tracer.discarded(), tracer.queue_size()), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_finish(mut self, hook: FinishHook) -> Self {
        self.on_finish.push(hook);
        self
    }

    /// Queues spans that sampling dropped too, marked unsampled, for a
    /// consumer that needs every span (the reporter's RED metrics).
    pub(crate) fn queue_unsampled(mut self) -> Self {
        self.queue_unsampled = true;
        self
    }

    /// The source of every span (default: the host name).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// How many finished spans may wait to be sent (default 50,000).
    pub fn queue_capacity(mut self, spans: usize) -> Self {
        self.capacity = spans;
        self
    }

    /// The tracer.
    #[must_use]
    pub fn build(self) -> Tracer {
        let app = &self.tags;
        let mut base: Vec<(Text, Text)> = vec![
            ("application".into(), app.application().to_owned().into()),
            ("service".into(), app.service().to_owned().into()),
            ("cluster".into(), app.cluster().to_owned().into()),
            ("shard".into(), app.shard().to_owned().into()),
        ];
        base.extend(
            app.custom_tags()
                .iter()
                .map(|(k, v)| (k.clone().into(), v.clone().into())),
        );
        let base_forced = base
            .iter()
            .fold(None, |forced, (k, v)| sampling::force(k, v, forced));
        let span_ids_64 = self.inject.iter().any(|p| p.has_64_bit_span_ids());
        let has_late_samplers = self.samplers.iter().any(|s| !s.is_early());
        Tracer(Arc::new(TracerInner {
            base: base.into(),
            base_forced,
            extract: self.extract.into(),
            inject: self.inject.into(),
            span_ids_64,
            samplers: self.samplers.into(),
            has_late_samplers,
            on_finish: self.on_finish.into(),
            discarded: Counter::new(),
            anchor: Anchor::now(),
            tags: self.tags,
            source: self.source,
            queue: ArrayQueue::new(self.capacity.max(1)),
            capacity: self.capacity,
            received: Counter::new(),
            dropped: AtomicU64::new(0),
            waker: OnceLock::new(),
            waking: AtomicBool::new(false),
            queue_unsampled: self.queue_unsampled,
        }))
    }
}

impl Tracer {
    /// A tracer for an application.
    pub fn builder(tags: ApplicationTags) -> TracerBuilder {
        TracerBuilder {
            tags,
            source: crate::tags::hostname(),
            capacity: DEFAULT_SPAN_QUEUE_CAPACITY,
            extract: Propagation::DEFAULT_EXTRACT.to_vec(),
            inject: Propagation::DEFAULT_INJECT.to_vec(),
            samplers: Vec::new(),
            on_finish: Vec::new(),
            queue_unsampled: false,
        }
    }

    /// The application tags every span carries.
    #[must_use]
    pub fn application_tags(&self) -> &ApplicationTags {
        &self.0.tags
    }

    /// The source of every span.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.0.source
    }

    /// Starts building a span.
    pub fn span(&self, operation: impl Into<Text>) -> SpanBuilder<'_> {
        let mut data = SpanBox::take();
        data.operation = operation.into();
        SpanBuilder {
            tracer: self,
            data,
            parent: None,
            cause: None,
            started: None,
        }
    }

    /// The span context carried by incoming request headers, if any: each
    /// extraction format is tried in turn and the first valid context wins
    /// (malformed headers yield none, so the request starts a new trace).
    ///
    /// ```
    /// use wavefront_core::trace::Tracer;
    /// use wavefront_core::ApplicationTags;
    ///
    /// let tracer = Tracer::builder(ApplicationTags::builder("Ordering", "styling").build()?).build();
    /// let headers = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
    /// let parent = tracer.extract(&headers).unwrap();
    /// assert_eq!(parent.trace_id.to_string(), "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    /// assert_eq!(parent.span_id.to_string(), "00000000-0000-0000-00f0-67aa0ba902b7");
    /// assert_eq!(parent.sampled, Some(true));
    /// let span = tracer.span("request").child_of(&parent).start();
    /// assert_eq!(span.context().unwrap().trace_id, parent.trace_id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn extract(&self, headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
        propagation::extract(&self.0.extract, headers)
    }

    /// Writes `context` into outgoing request headers in every injection
    /// format; the sampling decision travels in each format's flag.
    pub fn inject(&self, context: &SpanContext, headers: &mut (impl HeadersMut + ?Sized)) {
        for format in self.0.inject.iter() {
            format.inject(context, headers);
        }
    }

    /// The formats [`extract`](Self::extract) tries, in order.
    #[must_use]
    pub fn extract_formats(&self) -> &[Propagation] {
        &self.0.extract
    }

    /// The formats [`inject`](Self::inject) writes.
    #[must_use]
    pub fn inject_formats(&self) -> &[Propagation] {
        &self.0.inject
    }

    /// Shows a finished span to the hooks, then queues it if sampled.
    fn finished(&self, span: FinishedSpan) {
        let inner = &*self.0;
        for hook in inner.on_finish.iter() {
            hook(&span);
        }
        if span.sampled {
            inner.received.inc();
            self.push(span.data);
        } else {
            inner.discarded.inc();
            if inner.queue_unsampled {
                self.push(span.data);
            }
        }
    }

    /// Queues a span, and wakes the reporter once a batch waits. No atomic
    /// read-modify-write but the queue's own, while the reporter keeps up.
    fn push(&self, span: SpanBox) {
        let inner = &*self.0;
        if inner.capacity == 0 || inner.queue.push(span).is_err() {
            inner.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // One of the threads that see a batch waiting wakes the reporter,
        // which clears the flag before it sleeps ([`Self::ready_or_rearm`]).
        // The fence pairs with that one: either the reporter sees this span
        // queued, or this thread sees the flag cleared.
        if inner.queue.len() >= SPAN_BATCH
            && {
                std::sync::atomic::fence(Ordering::SeqCst);
                !inner.waking.load(Ordering::Relaxed)
            }
            && !inner.waking.swap(true, Ordering::AcqRel)
        {
            if let Some(reporter) = inner.waker.get() {
                reporter.unpark();
            }
        }
    }

    /// Wakes `thread` whenever a batch of spans is waiting.
    pub(crate) fn wake_on_batch(&self, thread: std::thread::Thread) {
        let _ = self.0.waker.set(thread);
    }

    /// Whether a batch of spans is waiting.
    pub(crate) fn batch_ready(&self) -> bool {
        self.0.queue.len() >= SPAN_BATCH
    }

    /// Lets the next batch wake the reporter again, and says whether one is
    /// waiting already. The reporter calls it before it sleeps: a thread
    /// may have spent its wake-up on spans the reporter then took with the
    /// rest, and with the flag left set no batch would wake it until its
    /// next tick (a full queue meanwhile at a high request rate).
    pub(crate) fn ready_or_rearm(&self) -> bool {
        self.0.waking.store(false, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.batch_ready()
    }

    /// Takes every finished span waiting to be sent (the reporter does this).
    #[must_use]
    pub(crate) fn take_finished(&self) -> Vec<FinishedSpan> {
        let mut spans = Vec::with_capacity(self.0.queue.len());
        while let Some(data) = self.0.queue.pop() {
            spans.push(FinishedSpan {
                duration_micros: data.duration_micros,
                sampled: data.context.sampled == Some(true),
                data,
            });
        }
        spans
    }

    /// Sampled spans finished so far (queued or dropped); every finished
    /// span is counted either here or in [`discarded`](Self::discarded).
    #[must_use]
    pub fn received(&self) -> u64 {
        self.0.received.count()
    }

    /// Spans not sent because sampling dropped them (the reference's
    /// `spans.discarded`).
    #[must_use]
    pub fn discarded(&self) -> u64 {
        self.0.discarded.count()
    }

    /// Spans dropped because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Spans waiting to be sent.
    #[must_use]
    pub fn queue_size(&self) -> usize {
        self.0.queue.len()
    }

    /// The queue's capacity.
    #[must_use]
    pub fn queue_capacity(&self) -> usize {
        self.0.capacity
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("source", &self.0.source)
            .field("queue_size", &self.queue_size())
            .field("dropped", &self.dropped())
            .field("discarded", &self.discarded())
            .field("extract", &self.0.extract)
            .field("inject", &self.0.inject)
            .field("samplers", &self.0.samplers)
            .finish_non_exhaustive()
    }
}

/// Builds a span.
#[derive(Debug)]
#[must_use]
pub struct SpanBuilder<'t> {
    tracer: &'t Tracer,
    /// Operation, tags, references and baggage, written as they are given.
    data: SpanBox,
    /// What the first parent passes on (trace, decision, trace state).
    parent: Option<Inherited>,
    /// The same, from the first `followsFrom` reference.
    cause: Option<Inherited>,
    started: Option<Instant>,
}

/// What a span inherits from the context it starts from.
#[derive(Debug)]
struct Inherited {
    trace_id: TraceId,
    sampled: Option<bool>,
    trace_state: Option<Arc<str>>,
}

impl SpanBuilder<'_> {
    /// Makes the span a child of `parent` (same trace).
    pub fn child_of(mut self, parent: &SpanContext) -> Self {
        self.refer(parent, true);
        self
    }

    /// Makes the span follow from `cause`.
    pub fn follows_from(mut self, cause: &SpanContext) -> Self {
        self.refer(cause, false);
        self
    }

    fn refer(&mut self, context: &SpanContext, child_of: bool) {
        let data = &mut *self.data;
        let (first, ids) = if child_of {
            (&mut self.parent, &mut data.parents)
        } else {
            (&mut self.cause, &mut data.follows_from)
        };
        first.get_or_insert_with(|| Inherited {
            trace_id: context.trace_id,
            sampled: context.sampled,
            trace_state: context.trace_state.clone(),
        });
        if !context.is_decision_only() {
            ids.push(context.span_id);
        }
        for item in &context.baggage {
            if !data.context.baggage.contains(item) {
                data.context.baggage.push(item.clone());
            }
        }
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.add_tag(key, value);
        self
    }

    /// [`tag`](Self::tag) in place: the request path builds its span
    /// without moving the builder at each step.
    pub(crate) fn add_tag(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        self.data.tags.push((key.into(), value.into()));
    }

    /// Adds a tag whose value `write` appends to an empty buffer, reused
    /// from an earlier span rather than allocated (a request's URL).
    pub(crate) fn add_tag_written(
        &mut self,
        key: impl Into<Text>,
        write: impl FnOnce(&mut String),
    ) {
        self.data.tag_written(key, write);
    }

    /// Starts the span at `at` rather than now (a request's arrival).
    pub fn started_at(mut self, at: Instant) -> Self {
        self.started = Some(at);
        self
    }

    /// A child of `parent` when there is one (in place).
    pub(crate) fn add_parent(&mut self, parent: Option<&SpanContext>) {
        if let Some(parent) = parent {
            self.refer(parent, true);
        }
    }

    /// Starts the span: the trace, its sampling decision and its W3C trace
    /// state come from the first parent (else the first `followsFrom`), else
    /// a new trace begins; a span without an inherited decision gets the
    /// samplers' head decision, and tags can force one (see [`sampling`]).
    /// The tracer's tags come first, then the builder's.
    pub fn start(self) -> SpanHandle {
        let SpanBuilder {
            tracer,
            mut data,
            parent,
            cause,
            started,
        } = self;
        let inner = &*tracer.0;
        let first = parent.or(cause);
        let trace_id = first.as_ref().map_or_else(new_trace_id, |p| p.trace_id);
        let forced = data.tags.iter().fold(inner.base_forced, |forced, (k, v)| {
            sampling::force(k, v, forced)
        });
        let sampled = forced
            .or_else(|| first.as_ref().and_then(|p| p.sampled))
            .unwrap_or_else(|| sampling::head(&inner.samplers, &data.operation, trace_id));
        let started = started.unwrap_or_else(Instant::now);
        data.context.trace_id = trace_id;
        data.context.span_id = if inner.span_ids_64 {
            new_span_id_64()
        } else {
            new_span_id()
        };
        data.context.sampled = Some(sampled);
        data.context.trace_state = first.and_then(|p| p.trace_state);
        if !data
            .base
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, &inner.base))
        {
            data.base = Some(Arc::clone(&inner.base));
        }
        data.start_micros = inner.anchor.micros_at(started);
        data.started = started;
        data.forced = forced;
        SpanHandle(Shared::new(tracer, data))
    }
}

/// The names the server's routing gave a request, announced while it runs
/// and read when it ends (see [`RouteSlot`](crate::lifecycle::RouteSlot)).
#[derive(Debug, Default)]
pub(crate) struct RouteNames {
    pub(crate) route: OnceLock<std::borrow::Cow<'static, str>>,
    pub(crate) handler: OnceLock<std::borrow::Cow<'static, str>>,
}

struct Shared {
    tracer: Tracer,
    route: RouteNames,
    /// `None` once finished.
    data: Mutex<Option<SpanBox>>,
}

thread_local! {
    /// Spans' shared parts whose last handle was given back on this thread
    /// ([`SpanHandle::recycle`]), for the thread's next spans.
    static SPARE: std::cell::RefCell<Vec<Arc<Shared>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Shared parts kept per thread: a server thread has a few requests ending
/// between two starting.
const SPARE_PER_THREAD: usize = 16;

impl Shared {
    /// Shared parts for a new span, reused from this thread's spare ones.
    fn new(tracer: &Tracer, data: SpanBox) -> Arc<Shared> {
        let spare = SPARE
            .try_with(|spare| spare.try_borrow_mut().ok().and_then(|mut s| s.pop()))
            .ok()
            .flatten();
        if let Some(mut shared) = spare {
            // Only this thread held it, and it kept no other handle.
            if let Some(parts) = Arc::get_mut(&mut shared) {
                if !Arc::ptr_eq(&parts.tracer.0, &tracer.0) {
                    parts.tracer = tracer.clone();
                }
                *parts.data.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(data);
                return shared;
            }
        }
        Arc::new(Shared {
            tracer: tracer.clone(),
            route: RouteNames::default(),
            data: Mutex::new(Some(data)),
        })
    }
}

/// A started span; clones refer to the same span. Handlers get the
/// request's span from the adapter (as the [current span](current_span)
/// while the request is polled, or a framework's extractor built on it).
///
/// The span's data sits behind a mutex that only this request's code
/// touches, so it is never contended; after [`finish`](Self::finish) every
/// method does nothing.
#[derive(Clone)]
pub struct SpanHandle(Arc<Shared>);

impl SpanHandle {
    fn with<T>(&self, f: impl FnOnce(&mut SpanData) -> T) -> Option<T> {
        self.0.data.lock().ok()?.as_deref_mut().map(f)
    }

    /// Adds a tag (keys may repeat; `application`, `service`, `cluster` and
    /// `shard` replace the existing value instead). `sampling.priority`,
    /// `debug=true` and `error=true` force the sampling decision (see
    /// [`sampling`]); spans started from this one afterwards inherit it.
    pub fn set_tag(&self, key: impl Into<Text>, value: impl Into<Text>) {
        let (key, value) = (key.into(), value.into());
        self.with(|d| d.set_tag(key, value));
    }

    /// Marks the span as an error (`error=true`), which keeps it unless a
    /// sampling decision was already forced.
    pub fn set_error(&self) {
        self.with(SpanData::set_error);
    }

    /// Whether the span carries `error=true`, and whether it already has a
    /// log with `event=error`.
    #[must_use]
    pub fn error_state(&self) -> (bool, bool) {
        self.with(|d| d.error_state()).unwrap_or((false, false))
    }

    /// Adds a log entry with these fields, timestamped now.
    pub fn log(
        &self,
        fields: Vec<(
            std::borrow::Cow<'static, str>,
            std::borrow::Cow<'static, str>,
        )>,
    ) {
        self.with(|d| d.log(fields));
    }

    /// Renames the operation.
    pub fn set_operation(&self, operation: impl Into<Text>) {
        let operation = operation.into();
        self.with(|d| d.operation = operation);
    }

    /// The span's context (for a child span or outgoing headers); `None`
    /// after it finished.
    #[must_use]
    pub fn context(&self) -> Option<SpanContext> {
        self.with(|d| d.context.clone())
    }

    /// Starts a child span of this one.
    #[must_use]
    pub fn child(&self, operation: impl Into<Text>) -> SpanHandle {
        let builder = self.0.tracer.span(operation);
        match self.context() {
            Some(context) => builder.child_of(&context).start(),
            None => builder.start(),
        }
    }

    /// Writes this span's context into outgoing request headers, so the
    /// called service continues the trace.
    pub fn inject(&self, headers: &mut (impl HeadersMut + ?Sized)) {
        if let Some(context) = self.context() {
            self.0.tracer.inject(&context, headers);
        }
    }

    /// Finishes the span: it is shown to the tracer's hooks and, if
    /// sampling keeps it, queued for sending; later calls do nothing.
    pub fn finish(&self) {
        self.finish_at(Instant::now());
    }

    /// Finishes the span at `at`, a time the caller already read.
    pub fn finish_at(&self, at: Instant) {
        self.finish_with(at, |_| ());
    }

    /// The names routing announced for the request of this span.
    pub(crate) fn route_names(&self) -> &RouteNames {
        &self.0.route
    }

    /// Edits the span's data one last time, then finishes it at `at`: one
    /// lock for everything a request sets when it ends.
    pub(crate) fn finish_with(&self, at: Instant, edit: impl FnOnce(&mut SpanData)) {
        let data = self.0.data.lock().ok().and_then(|mut d| d.take());
        self.finish_data(data, at, edit);
    }

    /// [`finish_with`](Self::finish_with) from the span's only handle: its
    /// data is this handle's alone, so no lock is taken.
    fn finish_unique(&mut self, at: Instant, edit: impl FnOnce(&mut SpanData)) {
        match Arc::get_mut(&mut self.0) {
            Some(shared) => {
                let data = shared
                    .data
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner);
                let data = data.take();
                self.finish_data(data, at, edit);
            }
            None => self.finish_with(at, edit),
        }
    }

    fn finish_data(&self, data: Option<SpanBox>, at: Instant, edit: impl FnOnce(&mut SpanData)) {
        if let Some(mut data) = data {
            edit(&mut data);
            let duration = at.saturating_duration_since(data.started);
            let inner = &*self.0.tracer.0;
            let sampled = data.forced.unwrap_or_else(|| {
                data.context.sampled == Some(true)
                    || (inner.has_late_samplers
                        && sampling::late(
                            &inner.samplers,
                            &data.operation,
                            data.context.trace_id,
                            duration,
                        ))
            });
            data.context.sampled = Some(sampled);
            data.duration_micros = duration.as_micros() as u64;
            self.0.tracer.finished(FinishedSpan {
                duration_micros: data.duration_micros,
                data,
                sampled,
            });
        }
    }

    /// Gives back a finished span's handle: if it was the last one, the
    /// span's shared parts are kept for this thread's next span.
    pub(crate) fn recycle(self) {
        let mut shared = self.0;
        let Some(parts) = Arc::get_mut(&mut shared) else {
            return;
        };
        let finished = parts.data.get_mut().is_ok_and(|data| data.is_none());
        if !finished {
            return;
        }
        parts.route = RouteNames::default();
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < SPARE_PER_THREAD {
                    spare.push(shared);
                }
            }
        });
    }
}

impl fmt::Debug for SpanHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operation = self.with(|d| d.operation.clone());
        f.debug_struct("SpanHandle")
            .field("operation", &operation)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
