//! What the benchmarks and the allocation tests measure with: a counting
//! global allocator, and a reporter whose output goes nowhere.
//!
//! A test binary installs the allocator, then counts what a thread
//! allocates between two readings:
//!
//! ```
//! use wavefront_testkit::measure::{allocations, CountingAllocator};
//!
//! #[global_allocator]
//! static GLOBAL: CountingAllocator = CountingAllocator;
//!
//! let before = allocations();
//! let boxed = Box::new(7);
//! assert_eq!(allocations() - before, 1);
//! # drop(boxed);
//! ```

#![allow(unsafe_code)] // a global allocator: each call forwards to `System` unchanged

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ConsoleSender;
use wavefront_core::ApplicationTags;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's allocations (and
/// reallocations) for [`allocations`]. Install it with
/// `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

fn count() {
    // Not during the thread's teardown, when its counter may be gone.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call forwards to `System` with its arguments unchanged; the
// counter is a thread-local `Cell`, which allocates nothing.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made so far by this thread, if [`CountingAllocator`] is the
/// global allocator (else 0).
#[must_use]
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// The fewest of up to `tries` counts by `count`, stopping at the first at
/// most `enough`. For allocation counts on the request path: a span's
/// storage comes back to the process's pool from the reporter's thread, and
/// a try during which that thread stalls with a batch (a loaded machine)
/// finds the pool empty and rightly takes fresh storage; what the request
/// path itself allocates shows in every try.
///
/// ```
/// use wavefront_testkit::measure::fewest_of;
///
/// let mut counts = [40, 2, 9].into_iter();
/// assert_eq!(fewest_of(3, 4, || counts.next().unwrap()), 2);
/// ```
pub fn fewest_of(tries: usize, enough: u64, mut count: impl FnMut() -> u64) -> u64 {
    let mut fewest = u64::MAX;
    for _ in 0..tries {
        fewest = fewest.min(count());
        if fewest <= enough {
            break;
        }
    }
    fewest
}

/// A started reporter for the Shirts app (`Ordering`/`styling`) whose lines
/// are encoded and then dropped, and that reports once an hour: spans are
/// still taken and encoded every batch, as in production.
#[must_use]
pub fn reporter_to_nowhere() -> Reporter {
    let tags = ApplicationTags::builder("Ordering", "styling")
        .build()
        .expect("valid application tags");
    Reporter::builder(
        Registry::new(),
        Arc::new(ConsoleSender::to_writer(std::io::sink())),
        tags,
    )
    .interval(Duration::from_secs(3600))
    .start()
}
