//! Per-thread stripes: a metric that many threads update keeps one cell per
//! stripe, each on its own cache line, so threads do not contend; readers sum
//! the stripes.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A value alone on its cache line (128 bytes covers adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// Number of stripes: the machine's parallelism rounded up to a power of two,
/// at most 16.
pub(crate) fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        cores.next_power_of_two().min(16)
    })
}

/// This thread's stripe, assigned round robin on first use, so the worker
/// threads of a runtime spread over the stripes.
pub(crate) fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX.with(|index| {
        let mut i = index.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed);
            index.set(i);
        }
        i & (stripe_count() - 1)
    })
}

/// One cell per stripe.
pub(crate) fn stripes<T: Default>() -> Box<[Padded<T>]> {
    (0..stripe_count()).map(|_| Padded::default()).collect()
}
