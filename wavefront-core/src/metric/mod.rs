//! Metric types: [`Counter`], [`DeltaCounter`], [`Gauge`] and
//! [`FunctionGauge`]. Histograms live in [`crate::histogram`].
//!
//! Every handle is a cheap clone of an `Arc`; recording is a few atomic
//! operations on a per-thread stripe, with no lock and no allocation.
//!
//! ```
//! use wavefront_core::metric::{Counter, DeltaCounter, Gauge};
//!
//! let requests = Counter::new();
//! requests.inc();
//! requests.inc_by(2);
//! assert_eq!(requests.count(), 3);
//!
//! let delta = DeltaCounter::new();
//! delta.add(1.5);
//! assert_eq!(delta.peek(), 1.5); // what the next report sends (then it resets)
//!
//! let inflight = Gauge::new();
//! inflight.inc();
//! inflight.dec();
//! assert_eq!(inflight.value(), 0.0);
//! ```

mod stripe;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use stripe::MAX_STRIPES;
use stripe::{add_f64, add_f64_atomic, add_u64};
pub(crate) use stripe::{is_owned, stripe_count, stripe_index, stripes, Padded};

// ===== Counter =====

/// A cumulative counter: it only goes up, and is reported as its running
/// total (`….count`).
#[derive(Clone, Default)]
pub struct Counter(Arc<[Padded<AtomicU64>]>);

impl Counter {
    /// A counter at zero, not registered anywhere.
    #[must_use]
    pub fn new() -> Self {
        Counter(stripes().into())
    }

    /// Adds one.
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        add_u64(&self.0, n);
    }

    /// The total so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.0
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Counter").field(&self.count()).finish()
    }
}

// ===== DeltaCounter =====

/// A delta counter: increments since the last report are sent (as a `∆`
/// line) and the counter starts again from zero.
///
/// Each thread adds to its own cell; the cells only ever grow, and the
/// reporter's take returns their total minus the total it returned up to
/// last time, moving that mark with one compare-and-swap. So no increment
/// is lost or counted twice, and recording never contends with reporting.
#[derive(Clone, Default)]
pub struct DeltaCounter(Arc<DeltaCells>);

#[derive(Default)]
struct DeltaCells {
    cells: Box<[Padded<AtomicU64>]>,
    /// The total already taken, as `f64` bits.
    taken: AtomicU64,
}

impl DeltaCounter {
    /// A delta counter at zero, not registered anywhere.
    #[must_use]
    pub fn new() -> Self {
        DeltaCounter(Arc::new(DeltaCells {
            cells: stripes(),
            taken: AtomicU64::new(0),
        }))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Adds `value` (may be fractional, e.g. milliseconds). Non-finite values
    /// are ignored, so one bad sample cannot poison the series.
    pub fn add(&self, value: f64) {
        if value.is_finite() {
            add_f64(&self.0.cells, value);
        }
    }

    fn total(&self) -> f64 {
        self.0
            .cells
            .iter()
            .map(|c| f64::from_bits(c.0.load(Ordering::Relaxed)))
            .sum()
    }

    /// The total since the last report took it, without resetting.
    #[must_use]
    pub fn peek(&self) -> f64 {
        self.total() - f64::from_bits(self.0.taken.load(Ordering::Acquire))
    }

    /// Takes the total since the last call and resets to zero (the
    /// reporter does this, once per report).
    #[must_use]
    pub(crate) fn take(&self) -> f64 {
        let mut taken = self.0.taken.load(Ordering::Acquire);
        loop {
            let total = self.total();
            match self.0.taken.compare_exchange(
                taken,
                total.to_bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return total - f64::from_bits(taken),
                Err(actual) => taken = actual,
            }
        }
    }
}

impl fmt::Debug for DeltaCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DeltaCounter").field(&self.peek()).finish()
    }
}

// ===== Gauge =====

/// A gauge: a value that is set, or moved up and down, and reported as is.
#[derive(Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// A gauge at zero, not registered anywhere.
    #[must_use]
    pub fn new() -> Self {
        Gauge::default()
    }

    /// Sets the value.
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta` (may be negative).
    pub fn add(&self, delta: f64) {
        add_f64_atomic(&self.0, delta);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    #[must_use]
    pub fn value(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gauge").field(&self.value()).finish()
    }
}

// ===== FunctionGauge =====

/// A gauge whose value is computed when it is reported, by a function the
/// application provides (a queue length, a pool size, …). The function runs
/// on the reporter's thread, never on a request.
#[derive(Clone)]
pub struct FunctionGauge(Arc<dyn Fn() -> f64 + Send + Sync>);

impl FunctionGauge {
    /// A gauge that reports `f()`.
    ///
    /// ```
    /// use wavefront_core::metric::FunctionGauge;
    /// let gauge = FunctionGauge::new(|| 42.0);
    /// assert_eq!(gauge.value(), 42.0);
    /// ```
    pub fn new(f: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        FunctionGauge(Arc::new(f))
    }

    /// Calls the function.
    #[must_use]
    pub fn value(&self) -> f64 {
        (self.0)()
    }
}

impl fmt::Debug for FunctionGauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FunctionGauge")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn counters_add_up_across_threads() {
        let counter = Counter::new();
        thread::scope(|s| {
            for _ in 0..8 {
                let c = counter.clone();
                s.spawn(move || (0..10_000).for_each(|_| c.inc()));
            }
        });
        assert_eq!(counter.count(), 80_000);
    }

    #[test]
    fn delta_takes_never_lose_or_double_count() {
        // Eight writers add while a reader takes repeatedly; the sum of all
        // takes plus what is left must equal everything added.
        let delta = DeltaCounter::new();
        let taken = thread::scope(|s| {
            let writers: Vec<_> = (0..8)
                .map(|_| {
                    let d = delta.clone();
                    s.spawn(move || (0..20_000).for_each(|_| d.inc()))
                })
                .collect();
            let mut taken = 0.0;
            while writers.iter().any(|w| !w.is_finished()) {
                taken += delta.take();
            }
            taken
        });
        assert_eq!(taken + delta.take(), 160_000.0);
    }

    #[test]
    fn delta_ignores_non_finite() {
        let delta = DeltaCounter::new();
        delta.add(f64::NAN);
        delta.add(f64::INFINITY);
        delta.add(2.5);
        assert_eq!(delta.take(), 2.5);
        assert_eq!(delta.take(), 0.0);
    }

    #[test]
    fn gauge_moves_both_ways() {
        let gauge = Gauge::new();
        thread::scope(|s| {
            for _ in 0..4 {
                let g = gauge.clone();
                s.spawn(move || {
                    for _ in 0..5_000 {
                        g.inc();
                        g.dec();
                    }
                });
            }
        });
        assert_eq!(gauge.value(), 0.0);
        gauge.set(7.25);
        assert_eq!(gauge.value(), 7.25);
    }
}
