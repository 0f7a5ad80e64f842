//! Wavefront histograms: distributions binned by minute and sent as `!M`
//! centroid lines (spec §1.3).
//!
//! # Recording, without locks
//!
//! Each thread records into the current minute's bin of its own stripe. A bin
//! counts samples in atomic buckets laid out exactly as an `hdrhistogram`
//! with two significant figures: values below 256 exactly, then 128 buckets
//! per power of two, so a bucket's midpoint is within 0.4 % of any value in
//! it (the 1 % the format needs). No lock, and no allocation except for the
//! first sample of a bin or of a power of two.
//!
//! A thread with a slot of its own (see [`crate::metric`]) is the only writer
//! of its stripe: it marks its stripe busy with a plain store (a sequence
//! number made odd), loads the bin, counts with a plain load and store, and
//! marks it idle. The reporter, after unlinking such a bin, makes every
//! thread run a full fence with one `membarrier` system call and then waits
//! for the stripe's sequence to be even or to change, so no sample is lost
//! and no bin is freed while written (the asymmetric-fence technique of
//! userspace RCU). Threads beyond the slots share a stripe protected by a
//! crossbeam-epoch pin, as do all stripes where `membarrier` is not
//! available.
//!
//! # Reporting
//!
//! When a minute ends, its bins are unlinked and handed to the reporter
//! only once no thread can still be recording into them (by the fence above,
//! or through crossbeam-epoch), so no sample is lost or read half-written. The reporter merges the stripes of each minute into an
//! `hdrhistogram::Histogram` and emits its buckets as `(mean, count)`
//! centroids, timestamped at the minute start.
//!
//! * Only completed minutes are reported; the current one at shutdown.
//! * At most [`MAX_UNREPORTED_MINUTES`] minutes wait to be reported; older
//!   ones are dropped and their samples counted
//!   ([`WavefrontHistogram::dropped_samples`]).
//! * A minute with more than `max_centroids` (default
//!   [`DEFAULT_MAX_CENTROIDS`]) distinct buckets has neighbouring buckets
//!   merged (weighted mean) down to that many.
//!
//! ```
//! use std::io::Write;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use wavefront_core::clock::{Clock, ManualClock};
//! use wavefront_core::registry::Registry;
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::sender::ConsoleSender;
//! use wavefront_core::ApplicationTags;
//!
//! #[derive(Clone, Default)]
//! struct Lines(Arc<Mutex<Vec<u8>>>);
//! impl Write for Lines {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//!
//! let clock = ManualClock::new(1_700_000_040_000);
//! let registry = Registry::builder().clock(Clock::Manual(clock.clone())).build();
//! let latency = registry.histogram("latency", &[("route", "/shirts")]);
//! latency.record(120);
//! latency.record(120);
//! latency.record(5_000);
//!
//! let lines = Lines::default();
//! let console = Arc::new(ConsoleSender::to_writer(lines.clone()));
//! let app = ApplicationTags::builder("Ordering", "styling").build()?;
//! let reporter = Reporter::builder(registry, console, app).source("host-1").red_metrics(false).start();
//! clock.advance_ms(60_000); // the minute is over: the next report sends it
//! reporter.shutdown(Duration::from_secs(5));
//! let text = String::from_utf8(lines.0.lock().unwrap().clone())?;
//! // The minute (epoch ms), then count and value of each centroid.
//! assert!(text.contains("!M 1700000040000 #2 120.0 #1 5008.0 \"latency\" source=\"host-1\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{compiler_fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned, Shared};
use crossbeam_queue::SegQueue;

use crate::clock::Clock;
use crate::metric::{is_owned, stripe_count, stripe_index, stripes, Padded};
use crate::wire::Centroid;

/// How many completed minutes a histogram keeps for the reporter.
pub const MAX_UNREPORTED_MINUTES: usize = 10;
/// Default cap on centroids per distribution line.
pub const DEFAULT_MAX_CENTROIDS: usize = 100;
/// Larger values are recorded as this (about 146 years in nanoseconds).
pub const MAX_VALUE: u64 = u64::MAX >> 2;

/// Values below this are counted exactly.
const EXACT: usize = 256;
/// Buckets per power of two above [`EXACT`].
const PER_OCTAVE: usize = 128;
/// Octave 0 (exact values) and one per power of two up to 2^63.
const OCTAVES: usize = 57;

/// The bucket of `value`: (octave, slot).
fn locate(value: u64) -> (usize, usize) {
    if value < EXACT as u64 {
        return (0, value as usize);
    }
    let shift = 56 - value.leading_zeros() as usize; // highest bit minus 7
    (shift, (value >> shift) as usize - PER_OCTAVE)
}

/// The lowest value of a bucket.
fn lowest(octave: usize, slot: usize) -> u64 {
    if octave == 0 {
        slot as u64
    } else {
        ((slot + PER_OCTAVE) as u64) << octave
    }
}

// ===== Bin =====

/// The counts of one power of two.
struct Block(Box<[AtomicU64]>);

/// One stripe's samples of one minute.
struct Bin {
    minute_ms: u64,
    blocks: [Atomic<Block>; OCTAVES],
}

impl Bin {
    fn new(minute_ms: u64) -> Self {
        Bin {
            minute_ms,
            blocks: std::array::from_fn(|_| Atomic::null()),
        }
    }

    /// Counts `value`. `exclusive`: this thread is the bin's only writer
    /// (its stripe is an owned slot), so a plain load and store suffices.
    fn record(&self, value: u64, exclusive: bool, guard: &Guard) {
        let (octave, slot) = locate(value);
        let cell = &self.blocks[octave];
        let mut block = cell.load(Ordering::Acquire, guard);
        if block.is_null() {
            let len = if octave == 0 { EXACT } else { PER_OCTAVE };
            let fresh = Owned::new(Block((0..len).map(|_| AtomicU64::new(0)).collect()));
            block = match cell.compare_exchange(
                Shared::null(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
                guard,
            ) {
                Ok(installed) => installed,
                Err(race) => race.current,
            };
        }
        // SAFETY: a block, once installed, lives as long as its bin, and the
        // bin is kept alive by `guard` (see `WavefrontHistogram::record`).
        if let Some(block) = unsafe { block.as_ref() } {
            let count = &block.0[slot];
            if exclusive {
                count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            } else {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// `(lowest value, count)` of every bucket with samples. `&mut self`:
    /// the caller owns the bin and nothing else can reach it.
    fn buckets(&mut self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for (octave, cell) in self.blocks.iter().enumerate() {
            // SAFETY: exclusive access (`&mut self`), so no concurrent writer
            // or reclaimer exists and the unprotected guard is sound.
            let block = unsafe { cell.load(Ordering::Acquire, epoch::unprotected()).as_ref() };
            for (slot, count) in block.into_iter().flat_map(|b| b.0.iter().enumerate()) {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    out.push((lowest(octave, slot), count));
                }
            }
        }
        out
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        for cell in &self.blocks {
            // SAFETY: `&mut self` in drop: nothing else references the blocks.
            unsafe {
                let block = cell.load(Ordering::Relaxed, epoch::unprotected());
                if !block.is_null() {
                    drop(block.into_owned());
                }
            }
        }
    }
}

// ===== WavefrontHistogram =====

/// One stripe: its current bin and, for an owned stripe, the owner's
/// sequence number (odd while it records).
#[derive(Default)]
struct Stripe {
    bin: Atomic<Bin>,
    seq: AtomicU64,
}

struct Core {
    /// The current minute's bin of each stripe.
    current: Box<[Padded<Stripe>]>,
    /// Owned stripes use the sequence-and-fence protocol (`membarrier` works).
    fenced: bool,
    /// Held while taking minutes: one reporter at a time.
    taking: Mutex<Limbo>,
    /// Bins of ended minutes that no recorder can reach any more.
    /// Bounded by `retired_len` (at most [`MAX_UNREPORTED_MINUTES`] per
    /// stripe); a queue that allocates only while minutes wait, so an idle
    /// series costs no memory for it.
    retired: SegQueue<Box<Bin>>,
    retired_len: AtomicUsize,
    /// Bins unlinked but not yet handed over (waiting for the epoch).
    in_flight: AtomicUsize,
    dropped_samples: AtomicU64,
    clock: Clock,
    scale: f64,
    max_centroids: usize,
    /// Read by the OTLP exporter only.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    http: Option<HttpRequestDuration>,
}

/// What an HTTP server's latency histogram measures, so that an exporter can
/// also name it by OpenTelemetry's conventions (`http.server.request.duration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpRequestDuration {
    /// The route template as the framework gave it; `None` for requests that
    /// matched no route (or past the route cap).
    pub(crate) route: Option<Arc<str>>,
    pub(crate) method: &'static str,
    pub(crate) status: u16,
}

/// Bins unlinked from owned stripes whose owner was still recording when
/// last checked: `(stripe, the odd sequence seen, the bin)`.
#[derive(Default)]
struct Limbo(Vec<(usize, u64, Box<Bin>)>);

impl Drop for Core {
    fn drop(&mut self) {
        for slot in self.current.iter() {
            // SAFETY: the last handle is gone, so no recorder can reach the bins.
            unsafe {
                let bin = slot.0.bin.load(Ordering::Relaxed, epoch::unprotected());
                if !bin.is_null() {
                    drop(bin.into_owned());
                }
            }
        }
    }
}

/// A minute-binned distribution; cheap to clone (a handle).
///
/// Values are unsigned integers in the unit the caller chooses (latency in
/// nanoseconds, say); [`HistogramBuilder::scale`] converts them to the unit
/// reported (milliseconds: `1e-6`).
#[derive(Clone)]
pub struct WavefrontHistogram(Arc<Core>);

/// Builds a [`WavefrontHistogram`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HistogramBuilder {
    clock: Clock,
    scale: f64,
    max_centroids: usize,
    fenced: bool,
    http: Option<HttpRequestDuration>,
}

impl HistogramBuilder {
    /// The clock that decides the minute (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Multiplies every value when reported (default 1). For values recorded
    /// in nanoseconds and reported in milliseconds, `1e-6`.
    pub fn scale(mut self, scale: f64) -> Self {
        if scale.is_finite() && scale > 0.0 {
            self.scale = scale;
        }
        self
    }

    /// Most centroids per line (default [`DEFAULT_MAX_CENTROIDS`], at least 1).
    pub fn max_centroids(mut self, max: usize) -> Self {
        self.max_centroids = max.max(1);
        self
    }

    /// Marks the histogram as an HTTP server's request latency.
    pub(crate) fn http_request(mut self, http: HttpRequestDuration) -> Self {
        self.http = Some(http);
        self
    }

    /// Uses the epoch protocol on every stripe (tests the fallback path).
    #[cfg(test)]
    pub(crate) fn without_fence(mut self) -> Self {
        self.fenced = false;
        self
    }

    /// The histogram.
    #[must_use]
    pub fn build(self) -> WavefrontHistogram {
        WavefrontHistogram(Arc::new(Core {
            current: stripes(),
            fenced: self.fenced && crate::membarrier::available(),
            taking: Mutex::new(Limbo::default()),
            retired: SegQueue::new(),
            retired_len: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            dropped_samples: AtomicU64::new(0),
            clock: self.clock,
            scale: self.scale,
            http: self.http,
            max_centroids: self.max_centroids,
        }))
    }
}

/// One minute's distribution, ready to be written as a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// Start of the minute, in epoch milliseconds (the line's timestamp).
    pub minute_ms: u64,
    /// Centroids in ascending order of mean.
    pub centroids: Vec<Centroid>,
}

impl Distribution {
    /// Number of samples.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.centroids.iter().map(|c| c.count).sum()
    }
}

impl Default for WavefrontHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl WavefrontHistogram {
    /// A histogram on the system clock, scale 1.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts a histogram with settings.
    pub fn builder() -> HistogramBuilder {
        HistogramBuilder {
            clock: Clock::System,
            scale: 1.0,
            max_centroids: DEFAULT_MAX_CENTROIDS,
            fenced: true,
            http: None,
        }
    }

    /// Records one sample in the current minute.
    pub fn record(&self, value: u64) {
        let core = &*self.0;
        let value = value.min(MAX_VALUE);
        let minute = core.clock.minute_ms();
        let index = stripe_index();
        let Some(stripe) = core.current.get(index).map(|s| &s.0) else {
            return;
        };
        if core.fenced && is_owned(index) {
            // This thread is the stripe's only writer: mark it busy (odd)
            // with a plain store; the reporter's `membarrier` orders it.
            let seq = stripe.seq.load(Ordering::Relaxed);
            stripe.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            // SAFETY: a bin of an owned stripe is freed only by the reporter,
            // after unlinking it, fencing every thread and seeing this
            // stripe's sequence even or changed, so never during this record.
            let guard = unsafe { epoch::unprotected() };
            self.record_in(stripe, minute, value, true, guard);
            compiler_fence(Ordering::SeqCst);
            stripe.seq.store(seq.wrapping_add(2), Ordering::Release);
        } else {
            let guard = epoch::pin();
            self.record_in(stripe, minute, value, is_owned(index), &guard);
        }
    }

    /// Counts `value` in `stripe`'s bin for `minute`, starting a new bin
    /// (and retiring the old) when the minute has moved on.
    fn record_in(&self, stripe: &Stripe, minute: u64, value: u64, exclusive: bool, guard: &Guard) {
        let mut bin = stripe.bin.load(Ordering::Acquire, guard);
        loop {
            // SAFETY: the bin is protected by `guard` (epoch) or, on an owned
            // stripe, by the sequence-and-fence protocol (see `record`).
            if let Some(current) = unsafe { bin.as_ref() } {
                if current.minute_ms >= minute {
                    current.record(value, exclusive, guard);
                    return;
                }
            }
            let fresh = Owned::new(Bin::new(minute));
            match stripe.bin.compare_exchange(
                bin,
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
                guard,
            ) {
                Ok(installed) => {
                    if !bin.is_null() {
                        if self.0.fenced && exclusive {
                            // The owner unlinked it itself: nobody else writes it.
                            // SAFETY: unlinked by this CAS; only this thread wrote it.
                            self.hand_over(unsafe { bin.into_owned() }.into_box());
                        } else {
                            self.retire(bin, guard);
                        }
                    }
                    bin = installed;
                }
                Err(race) => bin = race.current,
            }
        }
    }

    /// Gives a bin no recorder can reach to the reporter.
    fn hand_over(&self, bin: Box<Bin>) {
        let core = &*self.0;
        core.retired.push(bin);
        let cap = MAX_UNREPORTED_MINUTES * (stripe_count() + 1);
        if core.retired_len.fetch_add(1, Ordering::AcqRel) >= cap {
            // The reporter is not keeping up: the oldest minute goes.
            if let Some(mut oldest) = core.retired.pop() {
                core.retired_len.fetch_sub(1, Ordering::AcqRel);
                let samples = oldest.buckets().iter().map(|&(_, n)| n).sum();
                core.dropped_samples.fetch_add(samples, Ordering::Relaxed);
            }
        }
    }

    /// Hands an unlinked bin to the reporter once no recorder can use it.
    fn retire(&self, bin: Shared<'_, Bin>, guard: &Guard) {
        let core = Arc::clone(&self.0);
        core.in_flight.fetch_add(1, Ordering::AcqRel);
        // SAFETY: the caller unlinked `bin` from `current` with a successful
        // compare-exchange, so nobody can newly reach it; the closure runs
        // after all threads pinned now have unpinned, when it is the bin's
        // only owner.
        unsafe {
            guard.defer_unchecked(move || {
                WavefrontHistogram(Arc::clone(&core)).hand_over(bin.into_owned().into_box());
                core.in_flight.fetch_sub(1, Ordering::AcqRel);
            });
        }
        // Publish the hand-off now rather than when this thread's local
        // garbage fills up.
        guard.flush();
    }

    /// Distributions of the minutes that have ended, oldest first; each is
    /// returned once.
    #[must_use]
    pub(crate) fn take_completed(&self) -> Vec<Distribution> {
        self.take(false)
    }

    /// Distributions of every minute, the current one included (at
    /// shutdown).
    #[must_use]
    pub(crate) fn take_all(&self) -> Vec<Distribution> {
        self.take(true)
    }

    /// Samples dropped because their minute waited behind more than
    /// [`MAX_UNREPORTED_MINUTES`] others.
    #[must_use]
    pub fn dropped_samples(&self) -> u64 {
        self.0.dropped_samples.load(Ordering::Relaxed)
    }

    /// The factor from recorded to reported values.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn scale(&self) -> f64 {
        self.0.scale
    }

    /// What it measures, if it is an HTTP server's request latency.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn http_request(&self) -> Option<&HttpRequestDuration> {
        self.0.http.as_ref()
    }

    fn take(&self, include_current: bool) -> Vec<Distribution> {
        let core = &*self.0;
        let Ok(mut limbo) = core.taking.lock() else {
            return Vec::new();
        };
        let now = core.clock.minute_ms();
        let mut fenced: Vec<(usize, Box<Bin>)> = Vec::new();
        {
            let guard = epoch::pin();
            for (index, stripe) in core.current.iter().enumerate() {
                let stripe = &stripe.0;
                let bin = stripe.bin.load(Ordering::Acquire, &guard);
                // SAFETY: as in `record`; and bins of owned stripes are freed
                // only by this function, which holds `taking`.
                let Some(current) = (unsafe { bin.as_ref() }) else {
                    continue;
                };
                let due = include_current || current.minute_ms < now;
                if !due
                    || stripe
                        .bin
                        .compare_exchange(
                            bin,
                            Shared::null(),
                            Ordering::AcqRel,
                            Ordering::Acquire,
                            &guard,
                        )
                        .is_err()
                {
                    continue;
                }
                if core.fenced && is_owned(index) {
                    // SAFETY: unlinked by this CAS; its owner may still be
                    // writing it, which `settle` waits out before use.
                    fenced.push((index, unsafe { bin.into_owned() }.into_box()));
                } else {
                    self.retire(bin, &guard);
                }
            }
        }
        self.settle(fenced, &mut limbo);
        self.await_hand_offs();
        let mut minutes: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
        while let Some(mut bin) = core.retired.pop() {
            core.retired_len.fetch_sub(1, Ordering::AcqRel);
            minutes
                .entry(bin.minute_ms)
                .or_default()
                .extend(bin.buckets());
        }
        while minutes.len() > MAX_UNREPORTED_MINUTES {
            if let Some((_, oldest)) = minutes.pop_first() {
                let samples = oldest.iter().map(|&(_, n)| n).sum();
                core.dropped_samples.fetch_add(samples, Ordering::Relaxed);
            }
        }
        minutes
            .into_iter()
            .filter_map(|(minute_ms, buckets)| {
                let centroids = centroids(&buckets, core.scale, core.max_centroids);
                (!centroids.is_empty()).then_some(Distribution {
                    minute_ms,
                    centroids,
                })
            })
            .collect()
    }

    /// Hands over bins unlinked from owned stripes (freshly, or left in
    /// limbo before) once their owners are not recording into them; what is
    /// still busy after 50 ms waits in limbo for the next take.
    fn settle(&self, fresh: Vec<(usize, Box<Bin>)>, limbo: &mut Limbo) {
        if fresh.is_empty() && limbo.0.is_empty() {
            return;
        }
        // (stripe, the odd sequence seen while busy, bin)
        let mut waiting: Vec<(usize, Option<u64>, Box<Bin>)> = limbo
            .0
            .drain(..)
            .map(|(i, seq, bin)| (i, Some(seq), bin))
            .collect();
        if !fresh.is_empty() {
            // Every thread runs a full fence: an owner that had not marked
            // itself busy yet will load the unlinked (null) pointer; one that
            // had is seen busy below.
            if !crate::membarrier::fence_all_threads() {
                // Registered at start, membarrier does not fail; if it ever
                // does, give every core's store buffer (drained within
                // microseconds) ample time before reading the owners'
                // sequence numbers below.
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    log::warn!(
                        "Wavefront histograms: membarrier failed; waiting 10 ms per report instead"
                    );
                });
                std::thread::sleep(Duration::from_millis(10));
            }
            waiting.extend(fresh.into_iter().map(|(i, bin)| (i, None, bin)));
        }
        let deadline = std::time::Instant::now() + Duration::from_millis(50);
        loop {
            let mut busy = Vec::new();
            for (index, odd_seen, bin) in waiting {
                let seq = self.0.current[index].0.seq.load(Ordering::Acquire);
                // Busy: odd, and (if seen before) still the same record.
                if seq % 2 == 1 && odd_seen.is_none_or(|odd| odd == seq) {
                    busy.push((index, Some(seq), bin));
                } else {
                    self.hand_over(bin);
                }
            }
            waiting = busy;
            if waiting.is_empty() || std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::yield_now();
        }
        limbo.0.extend(
            waiting
                .into_iter()
                .map(|(i, seq, bin)| (i, seq.unwrap_or(1), bin)),
        );
    }

    /// Drives the epoch until every unlinked bin is handed over (bounded:
    /// recorders are pinned for nanoseconds, so this takes microseconds).
    fn await_hand_offs(&self) {
        for _ in 0..2_000 {
            if self.0.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            epoch::pin().flush();
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Merges bucket counts in an `hdrhistogram` of the same layout and emits
/// its buckets as centroids at their midpoints, at most `max` of them.
fn centroids(buckets: &[(u64, u64)], scale: f64, max: usize) -> Vec<Centroid> {
    let Ok(mut merged) = hdrhistogram::Histogram::<u64>::new(2) else {
        return Vec::new();
    };
    for &(value, count) in buckets {
        // Cannot fail: the histogram resizes itself, and values are capped.
        let _ = merged.record_n(value, count);
    }
    let all: Vec<Centroid> = merged
        .iter_recorded()
        .map(|v| Centroid {
            mean: merged.median_equivalent(v.value_iterated_to()) as f64 * scale,
            count: v.count_at_value(),
        })
        .collect();
    if all.len() <= max {
        return all;
    }
    // Merge runs of neighbouring buckets into weighted means.
    let run = all.len().div_ceil(max);
    all.chunks(run)
        .map(|chunk| {
            let count: u64 = chunk.iter().map(|c| c.count).sum();
            let sum: f64 = chunk.iter().map(|c| c.mean * c.count as f64).sum();
            Centroid {
                mean: sum / count as f64,
                count,
            }
        })
        .collect()
}

impl fmt::Debug for WavefrontHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WavefrontHistogram")
            .field("clock", &self.0.clock)
            .field("scale", &self.0.scale)
            .field("max_centroids", &self.0.max_centroids)
            .field("dropped_samples", &self.dropped_samples())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
