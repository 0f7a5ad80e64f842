//! Spans: the tracer, span contexts and their propagation in headers.
//!
//! A request's span is started by an adapter ([`crate::lifecycle`]);
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
//! assert_eq!(tracer.take_finished().len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod propagation;
mod text;

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crossbeam_queue::SegQueue;

pub use propagation::{
    Headers, HeadersMut, WAVEFRONT_SAMPLE, WAVEFRONT_SPAN_ID, WAVEFRONT_TRACE_ID,
};
pub use text::Text;

use crate::id::{SpanId, TraceId};
use crate::tags::ApplicationTags;
use crate::wire::SpanLog;

/// Default capacity of the finished-span queue.
pub const DEFAULT_SPAN_QUEUE_CAPACITY: usize = 50_000;

/// A fresh random 128-bit value from a per-thread generator (no lock).
fn random_u128() -> u128 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
            h.finish() | 1
        });
    }
    STATE.with(|state| {
        // splitmix64, twice.
        let next = || {
            let mut z = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            state.set(z);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (u128::from(next()) << 64) | u128::from(next())
    })
}

/// A new, random trace id.
#[must_use]
pub fn new_trace_id() -> TraceId {
    TraceId::from_u128(random_u128())
}

/// A new, random span id.
#[must_use]
pub fn new_span_id() -> SpanId {
    SpanId::from_u128(random_u128())
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
/// decision, and baggage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
    /// Whether the trace is sampled, if decided.
    pub sampled: Option<bool>,
    /// Baggage items, passed along to every descendant.
    pub baggage: Vec<(String, String)>,
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
}

impl SpanData {
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

/// A finished span, waiting to be sent.
#[derive(Debug, Clone)]
pub struct FinishedSpan {
    /// Everything recorded.
    pub data: SpanData,
    /// Duration in microseconds (from a monotonic clock).
    pub duration_micros: u64,
}

impl FinishedSpan {
    /// Whether the span carries `error=true`.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.data
            .all_tags()
            .any(|(k, v)| k == "error" && v == "true")
    }
}

struct TracerInner {
    tags: ApplicationTags,
    /// The application and custom tags every span starts with.
    base: Arc<[(Text, Text)]>,
    anchor: Anchor,
    source: String,
    queue: SegQueue<FinishedSpan>,
    queued: AtomicUsize,
    capacity: usize,
    received: AtomicU64,
    dropped: AtomicU64,
}

/// Creates spans and collects them when they finish; cheap to clone.
#[derive(Clone)]
pub struct Tracer(Arc<TracerInner>);

/// Builds a [`Tracer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TracerBuilder {
    tags: ApplicationTags,
    source: String,
    capacity: usize,
}

impl TracerBuilder {
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
        Tracer(Arc::new(TracerInner {
            base: base.into(),
            anchor: Anchor::now(),
            tags: self.tags,
            source: self.source,
            queue: SegQueue::new(),
            queued: AtomicUsize::new(0),
            capacity: self.capacity,
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }))
    }
}

impl Tracer {
    /// A tracer for an application.
    pub fn builder(tags: ApplicationTags) -> TracerBuilder {
        TracerBuilder {
            tags,
            source: crate::config::hostname(),
            capacity: DEFAULT_SPAN_QUEUE_CAPACITY,
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
    pub fn span(&self, operation: impl Into<Text>) -> SpanBuilder {
        SpanBuilder {
            tracer: self.clone(),
            operation: operation.into(),
            parents: Vec::new(),
            follows_from: Vec::new(),
            tags: Vec::with_capacity(8),
            started: None,
        }
    }

    /// The span context carried by incoming request headers, if any.
    pub fn extract(&self, headers: &(impl Headers + ?Sized)) -> Option<SpanContext> {
        propagation::extract(headers)
    }

    /// Writes `context` into outgoing request headers.
    pub fn inject(&self, context: &SpanContext, headers: &mut impl HeadersMut) {
        propagation::inject(context, headers);
    }

    fn push(&self, span: FinishedSpan) {
        let inner = &*self.0;
        inner.received.fetch_add(1, Ordering::Relaxed);
        if inner.queued.fetch_add(1, Ordering::AcqRel) >= inner.capacity {
            inner.queued.fetch_sub(1, Ordering::AcqRel);
            inner.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        inner.queue.push(span);
    }

    /// Takes every finished span waiting to be sent (the reporter does this).
    #[must_use]
    pub fn take_finished(&self) -> Vec<FinishedSpan> {
        let mut spans = Vec::new();
        while let Some(span) = self.0.queue.pop() {
            self.0.queued.fetch_sub(1, Ordering::AcqRel);
            spans.push(span);
        }
        spans
    }

    /// Spans finished so far.
    #[must_use]
    pub fn received(&self) -> u64 {
        self.0.received.load(Ordering::Relaxed)
    }

    /// Spans dropped because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Spans waiting to be sent.
    #[must_use]
    pub fn queue_size(&self) -> usize {
        self.0.queued.load(Ordering::Relaxed)
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
            .finish_non_exhaustive()
    }
}

/// Builds a span.
#[derive(Debug)]
#[must_use]
pub struct SpanBuilder {
    tracer: Tracer,
    operation: Text,
    parents: Vec<SpanContext>,
    follows_from: Vec<SpanContext>,
    tags: Tags,
    started: Option<Instant>,
}

impl SpanBuilder {
    /// Makes the span a child of `parent` (same trace).
    pub fn child_of(mut self, parent: &SpanContext) -> Self {
        self.parents.push(parent.clone());
        self
    }

    /// Makes the span follow from `cause`.
    pub fn follows_from(mut self, cause: &SpanContext) -> Self {
        self.follows_from.push(cause.clone());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Starts the span at `at` rather than now (a request's arrival).
    pub fn started_at(mut self, at: Instant) -> Self {
        self.started = Some(at);
        self
    }

    /// Starts the span: the trace comes from the first parent (else the
    /// first `followsFrom`), else a new trace begins. The tracer's tags come
    /// first, then the builder's.
    pub fn start(self) -> SpanHandle {
        let first = self.parents.first().or(self.follows_from.first());
        let trace_id = first.map_or_else(new_trace_id, |p| p.trace_id);
        let sampled = first.and_then(|p| p.sampled);
        let mut baggage: Vec<(String, String)> = Vec::new();
        for item in self
            .parents
            .iter()
            .chain(&self.follows_from)
            .flat_map(|p| &p.baggage)
        {
            if !baggage.contains(item) {
                baggage.push(item.clone());
            }
        }
        let started = self.started.unwrap_or_else(Instant::now);
        let inner = &*self.tracer.0;
        let data = SpanData {
            operation: self.operation,
            context: SpanContext {
                trace_id,
                span_id: new_span_id(),
                sampled,
                baggage,
            },
            parents: self.parents.iter().map(|p| p.span_id).collect(),
            follows_from: self.follows_from.iter().map(|p| p.span_id).collect(),
            base: Some(Arc::clone(&inner.base)),
            tags: self.tags,
            logs: Vec::new(),
            start_micros: inner.anchor.micros_at(started),
            started,
        };
        SpanHandle(Arc::new(Shared {
            tracer: self.tracer,
            data: Mutex::new(Some(data)),
        }))
    }
}

struct Shared {
    tracer: Tracer,
    /// `None` once finished.
    data: Mutex<Option<SpanData>>,
}

/// A started span; clones refer to the same span. Handlers get one for the
/// request's span from the adapter (a request extension).
///
/// The span's data sits behind a mutex that only this request's code
/// touches, so it is never contended; after [`finish`](Self::finish) every
/// method does nothing.
#[derive(Clone)]
pub struct SpanHandle(Arc<Shared>);

impl SpanHandle {
    fn with<T>(&self, f: impl FnOnce(&mut SpanData) -> T) -> Option<T> {
        self.0.data.lock().ok()?.as_mut().map(f)
    }

    /// Adds a tag (keys may repeat; `application`, `service`, `cluster` and
    /// `shard` replace the existing value instead).
    pub fn set_tag(&self, key: impl Into<Text>, value: impl Into<Text>) {
        let (key, value) = (key.into(), value.into());
        self.with(|d| {
            if matches!(&*key, "application" | "service" | "cluster" | "shard") {
                // Take a copy of the tracer's tags to change one of them.
                if let Some(base) = d.base.take() {
                    let own = std::mem::take(&mut d.tags);
                    d.tags = base.iter().cloned().chain(own).collect();
                }
                if let Some(slot) = d.tags.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = value;
                    return;
                }
            }
            d.tags.push((key, value));
        });
    }

    /// Marks the span as an error (`error=true`).
    pub fn set_error(&self) {
        self.with(|d| {
            if !d.all_tags().any(|(k, v)| k == "error" && v == "true") {
                d.tags.push(("error".into(), "true".into()));
            }
        });
    }

    /// Adds a log entry with these fields, timestamped now.
    pub fn log(
        &self,
        fields: Vec<(
            std::borrow::Cow<'static, str>,
            std::borrow::Cow<'static, str>,
        )>,
    ) {
        let log = SpanLog {
            timestamp_micros: now_micros(),
            fields,
        };
        self.with(|d| d.logs.push(log));
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
    pub fn inject(&self, headers: &mut impl HeadersMut) {
        if let Some(context) = self.context() {
            self.0.tracer.inject(&context, headers);
        }
    }

    /// Finishes the span and queues it for sending; later calls do nothing.
    pub fn finish(&self) {
        self.finish_at(Instant::now());
    }

    /// Finishes the span at `at`, a time the caller already read.
    pub fn finish_at(&self, at: Instant) {
        let data = self.0.data.lock().ok().and_then(|mut d| d.take());
        if let Some(data) = data {
            let duration_micros = at.saturating_duration_since(data.started).as_micros() as u64;
            self.0.tracer.push(FinishedSpan {
                data,
                duration_micros,
            });
        }
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
