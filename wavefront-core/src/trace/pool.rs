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

/// Boxes a thread keeps for its next spans, in front of the process-wide
/// pool: the boxes of spans that ended on the thread (not sent: sampled
/// out, or sent by the thread itself). Threads serving on several cores
/// then leave the pool alone for those, instead of all updating its two
/// ends, whose cache lines move from core to core at every span. Past
/// [`KEPT_PER_THREAD`], [`MOVED_AT_ONCE`] go back to the pool at once; a
/// thread out of boxes takes the pool's one at a time, so that none hoards
/// what other threads need.
const KEPT_PER_THREAD: usize = 32;
const MOVED_AT_ONCE: usize = KEPT_PER_THREAD / 2;

thread_local! {
    // Boxes, not the data: a span's data stays where it is as it moves
    // between threads and the pool. Only threads that start spans keep any:
    // the reporter, which only ends them, gives every box straight back.
    #[allow(clippy::vec_box)]
    static KEPT: std::cell::RefCell<Option<Vec<Box<SpanData>>>> =
        const { std::cell::RefCell::new(None) };
}

impl SpanBox {
    /// Empty span data, reused when this thread (first) or the pool has
    /// some.
    pub(crate) fn take() -> SpanBox {
        let kept = KEPT.try_with(|kept| {
            let mut kept = kept.try_borrow_mut().ok()?;
            kept.get_or_insert_with(|| Vec::with_capacity(KEPT_PER_THREAD))
                .pop()
        });
        let data = kept
            .ok()
            .flatten()
            .or_else(|| pool().pop())
            .unwrap_or_else(|| Box::new(SpanData::blank(TAG_ROOM)));
        SpanBox(ManuallyDrop::new(data))
    }

    /// Keeps `data` for this thread's next spans, or gives it to the pool
    /// (with the older half of what the thread keeps, when that is full).
    fn give_back(data: Box<SpanData>) {
        let refused = KEPT.try_with(|kept| match kept.try_borrow_mut().as_deref_mut() {
            Ok(Some(kept)) => {
                if kept.len() >= KEPT_PER_THREAD {
                    // A full pool frees the boxes it cannot take.
                    for old in kept.drain(..MOVED_AT_ONCE) {
                        let _ = pool().push(old);
                    }
                }
                kept.push(data);
                None
            }
            // A thread that starts no span keeps nothing (an ending one
            // frees the box with the closure).
            _ => Some(data),
        });
        if let Ok(Some(data)) = refused {
            let _ = pool().push(data);
        }
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
        SpanBox::give_back(data);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn address(span: &SpanBox) -> usize {
        std::ptr::from_ref::<SpanData>(span).addr()
    }

    #[test]
    fn a_thread_that_starts_no_span_keeps_no_box() {
        std::thread::spawn(|| {
            drop(SpanBox(ManuallyDrop::new(Box::new(SpanData::blank(
                TAG_ROOM,
            )))));
            assert!(KEPT.with(|kept| kept.borrow().is_none()));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_thread_reuses_the_boxes_it_gave_back_without_the_pool() {
        std::thread::spawn(|| {
            let first = SpanBox::take();
            let at = address(&first);
            drop(first);
            // The thread's own box, not one of the pool's.
            let again = SpanBox::take();
            assert_eq!(address(&again), at);
            // Kept up to a bound: the rest goes to the pool.
            let many: Vec<SpanBox> = (0..3 * KEPT_PER_THREAD).map(|_| SpanBox::take()).collect();
            drop(many);
            let kept = KEPT.with(|kept| kept.borrow().as_ref().map_or(0, Vec::len));
            assert!(kept <= KEPT_PER_THREAD, "{kept}");
            assert!(kept >= MOVED_AT_ONCE, "{kept}");
        })
        .join()
        .unwrap();
    }
}
