//! Span storage reused from one span to the next, so that a request's span
//! costs no heap allocation.
//!
//! A span's data lives in a [`SpanBox`]. When a finished span is dropped (on
//! the reporter's thread, once it is sent), its box goes back to a
//! process-wide lock-free pool with its buffers emptied but still allocated:
//! the tag list, the references, the URL's text, the error log's fields. The
//! next span takes it from there. Moving memory from the thread that sends
//! to the threads that serve this way also spares the allocator its most
//! expensive pattern (freeing on one thread what another allocated).

#![allow(unsafe_code)] // `ManuallyDrop::take` in `Drop`, with its SAFETY argument

use std::borrow::Cow;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;
use std::time::Instant;

use crossbeam_queue::ArrayQueue;

use super::{SpanData, SpanHandle, Text};

/// Boxes kept for reuse: several batches of spans on their way to the
/// sender, and the requests in flight meanwhile.
const POOLED: usize = 1_024;

/// A buffer that grew past this (a huge URL) is not kept.
const MAX_KEPT_TEXT: usize = 4 * 1_024;

/// Tags a fresh span has room for: a request span has seven.
const TAG_ROOM: usize = 8;

fn pool() -> &'static ArrayQueue<Box<SpanData>> {
    static POOL: OnceLock<ArrayQueue<Box<SpanData>>> = OnceLock::new();
    POOL.get_or_init(|| ArrayQueue::new(POOLED))
}

/// A span's data on the heap, returned to the pool when dropped. It reads
/// as the [`SpanData`] it holds (a [`FinishedSpan`](super::FinishedSpan)'s
/// `data`):
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wavefront_core::trace::{FinishedSpan, Tracer};
/// use wavefront_core::ApplicationTags;
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let hook = Arc::clone(&seen);
/// let tracer = Tracer::builder(ApplicationTags::builder("Ordering", "styling").build()?)
///     .on_finish(Arc::new(move |span: &FinishedSpan| {
///         let data = &span.data; // a `SpanBox`, read as `SpanData`
///         hook.lock().unwrap().push((data.operation.to_string(), data.tag("order.id").map(str::to_owned)));
///     }))
///     .build();
/// tracer.span("checkout").tag("order.id", "42").start().finish();
/// assert_eq!(*seen.lock().unwrap(), [("checkout".to_owned(), Some("42".to_owned()))]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SpanBox(ManuallyDrop<Box<SpanData>>);

impl SpanBox {
    /// Empty span data, reused when the pool has some.
    pub(crate) fn take() -> SpanBox {
        let data = pool()
            .pop()
            .unwrap_or_else(|| Box::new(SpanData::blank(TAG_ROOM)));
        SpanBox(ManuallyDrop::new(data))
    }
}

impl SpanData {
    /// Empties the data for the next span, keeping what it allocated.
    fn recycle(&mut self) {
        self.operation = Text::EMPTY;
        // The first text of its own (the URL) keeps its buffer.
        if self.spare_text.capacity() == 0 {
            if let Some(text) = self.tags.iter_mut().find_map(|(_, v)| v.take_string()) {
                self.spare_text = text;
            }
        }
        if self.spare_text.capacity() > MAX_KEPT_TEXT {
            self.spare_text = String::new();
        }
        self.tags.clear();
        if self.spare_fields.capacity() == 0 {
            if let Some(log) = self.logs.first_mut() {
                self.spare_fields = std::mem::take(&mut log.fields);
            }
        }
        self.spare_fields.clear();
        self.logs.clear();
        self.parents.clear();
        self.follows_from.clear();
        self.context.baggage.clear();
        self.context.trace_state = None;
        // `base` stays: the next span most likely has the same tracer's
        // tags, and then takes them without touching their count.
    }
}

impl Drop for SpanBox {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once, and nothing reads `self.0` after it.
        let mut data = unsafe { ManuallyDrop::take(&mut self.0) };
        data.recycle();
        // A full pool frees the box.
        let _ = pool().push(data);
    }
}

impl Deref for SpanBox {
    type Target = SpanData;

    fn deref(&self) -> &SpanData {
        &self.0
    }
}

impl DerefMut for SpanBox {
    fn deref_mut(&mut self) -> &mut SpanData {
        &mut self.0
    }
}

impl Clone for SpanBox {
    fn clone(&self) -> Self {
        SpanBox(ManuallyDrop::new(Box::new((**self).clone())))
    }
}

impl fmt::Debug for SpanBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A log's fields, as [`SpanHandle::log`](super::SpanHandle::log) takes them.
pub(crate) type LogFields = Vec<(Cow<'static, str>, Cow<'static, str>)>;

/// The handle of a request's span, held by the request until it ends:
/// dropping it gives the span's shared parts back for the thread's next
/// span when no other handle is left ([`SpanHandle::recycle`]).
pub(crate) struct OwnedSpan(ManuallyDrop<SpanHandle>);

impl OwnedSpan {
    pub(crate) fn new(span: SpanHandle) -> Self {
        OwnedSpan(ManuallyDrop::new(span))
    }

    /// Edits the span's data one last time and finishes it at `at`, without
    /// a lock when this is the span's only handle (nobody kept one).
    pub(crate) fn finish_with(&mut self, at: Instant, edit: impl FnOnce(&mut SpanData)) {
        self.0.finish_unique(at, edit);
    }
}

impl Deref for OwnedSpan {
    type Target = SpanHandle;

    fn deref(&self) -> &SpanHandle {
        &self.0
    }
}

impl Drop for OwnedSpan {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once, and nothing reads `self.0` after it.
        unsafe { ManuallyDrop::take(&mut self.0) }.recycle();
    }
}

impl fmt::Debug for OwnedSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}
