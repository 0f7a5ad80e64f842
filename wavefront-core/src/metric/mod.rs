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
#[derive(Clone)]
pub struct Gauge(Arc<GaugeValue>);

enum GaugeValue {
    /// One atomic `f64`: every change is a compare-and-swap.
    Atomic(AtomicU64),
    /// Counted up and down per thread, for a gauge that many threads move
    /// by one (requests in flight): no read-modify-write, no contended cache
    /// line. It reads as `up - down + offset`, `down` read first so that it
    /// lags `up` and the gauge never reads below `offset`.
    UpDown {
        up: Counter,
        down: Counter,
        /// What [`Gauge::set`] and fractional [`Gauge::add`]s contribute.
        offset: AtomicU64,
    },
}

impl Default for Gauge {
    fn default() -> Self {
        Gauge(Arc::new(GaugeValue::Atomic(AtomicU64::new(0))))
    }
}

impl Gauge {
    /// A gauge at zero, not registered anywhere.
    #[must_use]
    pub fn new() -> Self {
        Gauge::default()
    }

    /// A gauge at zero for many threads that move it by one (requests in
    /// flight): [`inc`](Self::inc) and [`dec`](Self::dec) update a cell of
    /// the calling thread's and take no atomic read-modify-write; a value
    /// read while threads move it may lag by the moves in progress, never
    /// below zero for a gauge only moved by one.
    ///
    /// ```
    /// use wavefront_core::metric::Gauge;
    ///
    /// let inflight = Gauge::up_down();
    /// inflight.inc();
    /// inflight.inc();
    /// inflight.dec();
    /// assert_eq!(inflight.value(), 1.0);
    /// inflight.set(5.0);
    /// assert_eq!(inflight.value(), 5.0);
    /// ```
    #[must_use]
    pub fn up_down() -> Self {
        Gauge(Arc::new(GaugeValue::UpDown {
            up: Counter::new(),
            down: Counter::new(),
            offset: AtomicU64::new(0f64.to_bits()),
        }))
    }

    /// Sets the value.
    pub fn set(&self, value: f64) {
        match &*self.0 {
            GaugeValue::Atomic(v) => v.store(value.to_bits(), Ordering::Relaxed),
            GaugeValue::UpDown { up, down, offset } => {
                let moved = up.count().wrapping_sub(down.count()) as i64 as f64;
                offset.store((value - moved).to_bits(), Ordering::Relaxed);
            }
        }
    }

    /// Adds `delta` (may be negative).
    pub fn add(&self, delta: f64) {
        match &*self.0 {
            GaugeValue::Atomic(v) => add_f64_atomic(v, delta),
            GaugeValue::UpDown { up, down, offset } => {
                if delta == 1.0 {
                    up.inc();
                } else if delta == -1.0 {
                    down.inc();
                } else {
                    add_f64_atomic(offset, delta);
                }
            }
        }
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
        match &*self.0 {
            GaugeValue::Atomic(v) => f64::from_bits(v.load(Ordering::Relaxed)),
            GaugeValue::UpDown { up, down, offset } => {
                let down = down.count();
                let moved = up.count().wrapping_sub(down) as i64;
                let offset = f64::from_bits(offset.load(Ordering::Relaxed));
                // A count only moved by one never reads below zero, even
                // while a decrement shows before its increment.
                let moved = if offset == 0.0 { moved.max(0) } else { moved };
                moved as f64 + offset
            }
        }
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
    fn an_up_down_gauge_counts_requests_that_end_on_other_threads() {
        let gauge = Gauge::up_down();
        // Each request starts on one thread and ends on another, while a
        // reader keeps reading: never below zero, and zero at the end.
        let (started, ended) = std::sync::mpsc::channel::<()>();
        let ended = std::sync::Mutex::new(ended);
        let done = std::sync::atomic::AtomicBool::new(false);
        thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    assert!(gauge.value() >= 0.0);
                    reads += 1;
                }
            });
            let mut workers = Vec::new();
            for _ in 0..2 {
                let g = gauge.clone();
                let started = started.clone();
                workers.push(s.spawn(move || {
                    for _ in 0..5_000 {
                        g.inc();
                        started.send(()).unwrap();
                    }
                }));
            }
            drop(started);
            let g = gauge.clone();
            let ending = s.spawn(move || {
                while ended.lock().unwrap().recv().is_ok() {
                    g.dec();
                }
            });
            for worker in workers {
                worker.join().unwrap();
            }
            ending.join().unwrap();
            done.store(true, Ordering::Relaxed);
            reader.join().unwrap();
        });
        assert_eq!(gauge.value(), 0.0);
        gauge.add(0.5);
        gauge.inc();
        assert_eq!(gauge.value(), 1.5);
        gauge.set(7.25);
        assert_eq!(gauge.value(), 7.25);
        gauge.dec();
        assert_eq!(gauge.value(), 6.25);
        for _ in 0..8 {
            gauge.dec();
        }
        assert_eq!(gauge.value(), -1.75);
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
