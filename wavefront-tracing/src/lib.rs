//! A [`tracing-subscriber`](https://docs.rs/tracing-subscriber) layer for
//! Wavefront: `tracing` spans opened while a request is handled become child
//! spans of the request's Wavefront span, in the same trace.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::ApplicationTags;
//! use wavefront_tracing::WavefrontTracingLayer;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let reporter = Reporter::from_env(&ApplicationTags::builder("Ordering", "styling").build()?)?;
//! let subscriber = tracing_subscriber::registry().with(WavefrontTracingLayer::new(&reporter));
//! # let _ = subscriber;
//! // tracing::subscriber::set_global_default(subscriber)?;
//! # reporter.shutdown(std::time::Duration::from_secs(1));
//! # Ok(()) }
//! ```
//!
//! # What becomes what
//!
//! | `tracing` | Wavefront |
//! |---|---|
//! | a span opened inside a request (`info_span!`, `#[instrument]`) | a child span of the request's span (or of the enclosing `tracing` span's), named after the span, its fields as tags |
//! | nested spans, across `.await` and threads | nested child spans: each `tracing` span keeps its Wavefront span |
//! | an event inside such a span (`info!(items = 3, "reserved")`) | a span log: `message` and the fields |
//! | an event at `ERROR` (what `#[instrument(err)]` emits) | the span is marked `error=true`, with its log |
//! | a span outside any request | ignored, or a root span with [`Outside::Root`] |
//! | an entered span | its Wavefront span is [`current_span`], so client calls made inside it are its children |
//!
//! The request's span is the one the adapter's future is polled with
//! ([`wavefront_core::trace::current_span`]); a `tracing` span finds it when it
//! is created. A span outside any request costs a thread-local look-up and
//! nothing else.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::cell::RefCell;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;
use wavefront_core::reporter::Reporter;

use wavefront_core::trace::{current_span, replace_current_span, SpanHandle, Text};

thread_local! {
    /// The current Wavefront spans replaced by entered `tracing` spans, to put
    /// back as they are left (enters and exits nest on a thread).
    static REPLACED: RefCell<Vec<Option<SpanHandle>>> = const { RefCell::new(Vec::new()) };
}

/// What becomes of `tracing` spans opened outside any request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outside {
    /// They are not sent (default): background work stays out of traces.
    #[default]
    Ignore,
    /// Each becomes a root span of a trace of its own.
    Root,
}

/// The layer. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct WavefrontTracingLayer {
    reporter: Reporter,
    outside: Outside,
}

impl WavefrontTracingLayer {
    /// A layer sending through `reporter`'s tracer (and keeping it running).
    #[must_use]
    pub fn new(reporter: &Reporter) -> Self {
        WavefrontTracingLayer {
            reporter: reporter.clone(),
            outside: Outside::Ignore,
        }
    }

    /// What becomes of spans opened outside any request (default
    /// [`Outside::Ignore`]).
    #[must_use]
    pub fn outside_requests(mut self, outside: Outside) -> Self {
        self.outside = outside;
        self
    }
}

/// The Wavefront span of a `tracing` span, in its extensions.
struct WavefrontSpan(SpanHandle);

/// `tracing` spans that have a Wavefront span now. While there are none (no
/// request is being handled with spans of its own), every callback returns
/// at once, without looking the span up.
static LIVE: AtomicUsize = AtomicUsize::new(0);

fn none_live() -> bool {
    LIVE.load(Ordering::Relaxed) == 0
}

/// Records fields as span tags.
struct Tags<'a>(&'a SpanHandle);

impl Visit for Tags<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set_tag(field.name(), Text::from(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .set_tag(field.name(), Text::from(format!("{value:?}")));
    }
}

/// Collects an event's fields for a span log (`message` first).
#[derive(Default)]
struct LogFields(Vec<(Cow<'static, str>, Cow<'static, str>)>);

impl Visit for LogFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .push((Cow::Borrowed(field.name()), Cow::Owned(value.to_owned())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.0.push((Cow::Borrowed(field.name()), Cow::Owned(text)));
    }
}

impl<S> Layer<S> for WavefrontTracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let current = current_span();
        if current.is_none() && none_live() && self.outside == Outside::Ignore {
            return; // outside any request: nothing to do
        }
        let Some(span) = ctx.span(id) else { return };
        let name = attrs.metadata().name();
        // The enclosing `tracing` span's Wavefront span, else the current one.
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<WavefrontSpan>().map(|w| w.0.clone()))
            .or(current);
        let handle = match (parent, self.outside) {
            (Some(parent), _) => parent.child(name),
            (None, Outside::Root) => self.reporter.tracer().span(name).start(),
            (None, Outside::Ignore) => return,
        };
        attrs.record(&mut Tags(&handle));
        LIVE.fetch_add(1, Ordering::Relaxed);
        span.extensions_mut().insert(WavefrontSpan(handle));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if none_live() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            if let Some(wavefront) = span.extensions().get::<WavefrontSpan>() {
                values.record(&mut Tags(&wavefront.0));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let extensions = span.extensions();
        let Some(wavefront) = extensions.get::<WavefrontSpan>() else {
            return;
        };
        let mut fields = LogFields::default();
        event.record(&mut fields);
        if *event.metadata().level() == Level::ERROR {
            wavefront.0.set_error();
        }
        wavefront.0.log(fields.0);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        // While a span is entered, its Wavefront span is the current one, so
        // a client call inside it (`wavefront-reqwest`) is its child.
        if none_live() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            if let Some(wavefront) = span.extensions().get::<WavefrontSpan>() {
                let replaced = replace_current_span(Some(wavefront.0.clone()));
                REPLACED.with(|stack| stack.borrow_mut().push(replaced));
            }
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if none_live() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            if span.extensions().get::<WavefrontSpan>().is_some() {
                if let Some(replaced) = REPLACED.with(|stack| stack.borrow_mut().pop()) {
                    replace_current_span(replaced);
                }
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if none_live() {
            return;
        }
        if let Some(span) = ctx.span(&id) {
            if let Some(wavefront) = span.extensions_mut().remove::<WavefrontSpan>() {
                LIVE.fetch_sub(1, Ordering::Relaxed);
                wavefront.0.finish();
            }
        }
    }
}
