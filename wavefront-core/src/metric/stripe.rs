//! Per-thread cells: a metric that many threads update keeps one cell per
//! thread slot, each on its own cache line, and readers sum the cells.
//!
//! A thread claims a slot of its own the first time it records (a bit in a
//! process-wide bitmap) and gives it back when it exits. A cell written only
//! by its slot's owner needs no atomic read-modify-write: a relaxed load and
//! store is enough, and costs about a nanosecond where a `fetch_add` costs
//! ten or more. Threads beyond the number of slots share one last cell,
//! updated with atomic read-modify-writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A value alone on its cache line (128 bytes covers adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// Most owned slots. Every striped metric takes 128 bytes per slot, so this
/// bounds a counter at about 2 KB however many cores the host has (threads
/// past the slots share one cell, with an atomic add).
pub const MAX_STRIPES: usize = 16;

/// Number of owned slots: twice the machine's parallelism rounded up to a
/// power of two (runtimes often run a few more threads than cores), at most
/// [`MAX_STRIPES`]. Every striped metric has this many cells plus a shared
/// one.
pub(crate) fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cores * 2).next_power_of_two().clamp(2, MAX_STRIPES)
    })
}

/// The claimed slots, one bit each.
static CLAIMED: AtomicU64 = AtomicU64::new(0);

/// A thread's slot; released when the thread ends.
struct SlotGuard(usize);

/// Claims the lowest free bit of `bitmap` below `slots`; `slots` when all
/// are taken.
fn claim(bitmap: &AtomicU64, slots: usize) -> usize {
    let mut claimed = bitmap.load(Ordering::Relaxed);
    loop {
        let Some(i) = (0..slots).find(|&i| claimed & (1 << i) == 0) else {
            return slots;
        };
        // Acquire: see the cells as the slot's previous owner left them.
        match bitmap.compare_exchange_weak(
            claimed,
            claimed | (1 << i),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return i,
            Err(actual) => claimed = actual,
        }
    }
}

/// Gives back slot `i` of `bitmap`.
fn release(bitmap: &AtomicU64, i: usize) {
    // Release: the next owner sees this thread's last writes.
    bitmap.fetch_and(!(1 << i), Ordering::Release);
}

impl SlotGuard {
    fn claim() -> Self {
        SlotGuard(claim(&CLAIMED, stripe_count()))
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if self.0 < stripe_count() {
            release(&CLAIMED, self.0);
        }
    }
}

thread_local! {
    static SLOT: SlotGuard = SlotGuard::claim();
}

/// This thread's cell index: an owned slot below [`stripe_count`], or the
/// shared cell [`stripe_count`] itself.
pub(crate) fn stripe_index() -> usize {
    // During thread teardown the slot may be gone: use the shared cell.
    SLOT.try_with(|slot| slot.0)
        .unwrap_or_else(|_| stripe_count())
}

/// Whether the cell at `index` has a single writer (this thread).
pub(crate) fn is_owned(index: usize) -> bool {
    index < stripe_count()
}

/// One cell per slot, plus the shared one.
pub(crate) fn stripes<T: Default>() -> Box<[Padded<T>]> {
    (0..=stripe_count()).map(|_| Padded::default()).collect()
}

/// Adds `n` to this thread's cell of `cells`.
pub(crate) fn add_u64(cells: &[Padded<AtomicU64>], n: u64) {
    let index = stripe_index();
    let Some(cell) = cells.get(index) else { return };
    if is_owned(index) {
        cell.0.store(
            cell.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    } else {
        cell.0.fetch_add(n, Ordering::Relaxed);
    }
}

/// Adds `delta` to this thread's `f64` cell (stored as bits) of `cells`.
pub(crate) fn add_f64(cells: &[Padded<AtomicU64>], delta: f64) {
    let index = stripe_index();
    let Some(cell) = cells.get(index) else { return };
    if is_owned(index) {
        let sum = f64::from_bits(cell.0.load(Ordering::Relaxed)) + delta;
        cell.0.store(sum.to_bits(), Ordering::Relaxed);
    } else {
        add_f64_atomic(&cell.0, delta);
    }
}

/// Adds `delta` to an `f64` stored as bits, from any thread.
pub(crate) fn add_f64_atomic(cell: &AtomicU64, delta: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + delta).to_bits();
        match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_claimed_once_and_given_back() {
        let bitmap = AtomicU64::new(0);
        let slots: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6).map(|_| s.spawn(|| claim(&bitmap, 4))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut owned: Vec<usize> = slots.iter().copied().filter(|&i| i < 4).collect();
        owned.sort_unstable();
        assert_eq!(owned, [0, 1, 2, 3], "each slot once");
        assert_eq!(
            slots.iter().filter(|&&i| i == 4).count(),
            2,
            "the rest share"
        );
        release(&bitmap, 2);
        assert_eq!(claim(&bitmap, 4), 2);
    }

    #[test]
    fn this_thread_has_a_cell() {
        assert!(stripe_index() <= stripe_count());
    }
}
