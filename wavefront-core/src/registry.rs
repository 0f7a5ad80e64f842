//! The metric registry: series keyed by name and tag set, found and added
//! without locks.
//!
//! The registry is split into shards. Each shard is an immutable table behind
//! a crossbeam-epoch pointer: a lookup pins the epoch, loads the table and
//! searches it (no lock, no allocation); an insert copies the shard's table
//! with the new series and swaps it in with a compare-and-swap, retrying
//! (after looking again) if another thread got there first, so concurrent
//! registrations of one key give one series. Old tables are freed once no
//! reader can see them. Series are added rarely and looked up once per
//! handle: adapters keep the handles they get.
//!
//! Tags are a set: their order does not matter, and they are kept sorted by
//! key, which is also the order they are written in (as the reference SDK
//! does).
//!
//! ```
//! use wavefront_core::registry::Registry;
//!
//! let registry = Registry::new();
//! let a = registry.counter("requests", &[("env", "prod"), ("region", "eu")]);
//! let b = registry.counter("requests", &[("region", "eu"), ("env", "prod")]);
//! a.inc();
//! b.inc();
//! assert_eq!(a.count(), 2); // one series
//! assert_eq!(registry.len(), 1);
//! ```

#![allow(unsafe_code)]

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_epoch::{self as epoch, Atomic, Owned};

use crate::clock::Clock;
use crate::histogram::{HistogramBuilder, WavefrontHistogram};
use crate::metric::{Counter, DeltaCounter, FunctionGauge, Gauge, Padded};
use crate::wire::Tag;

const SHARDS: usize = 32;
/// Default cap on the number of series.
pub const DEFAULT_MAX_SERIES: usize = 50_000;

/// A registered metric.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Metric {
    /// A cumulative counter.
    Counter(Counter),
    /// A delta counter.
    DeltaCounter(DeltaCounter),
    /// A gauge.
    Gauge(Gauge),
    /// A gauge computed at report time.
    FunctionGauge(FunctionGauge),
    /// A minute-binned histogram.
    Histogram(WavefrontHistogram),
}

/// One series: name, tags (sorted by key) and its metric.
#[derive(Debug)]
pub struct Entry {
    hash: u64,
    name: Box<str>,
    tags: Box<[(Box<str>, Box<str>)]>,
    metric: Metric,
}

impl Entry {
    /// The series name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tags, sorted by key (then value).
    #[must_use]
    pub fn tags(&self) -> &[(Box<str>, Box<str>)] {
        &self.tags
    }

    /// The metric.
    #[must_use]
    pub fn metric(&self) -> &Metric {
        &self.metric
    }

    fn matches<T: Tag>(&self, hash: u64, name: &str, tags: &[T]) -> bool {
        self.hash == hash
            && *self.name == *name
            && distinct(tags) == self.tags.len()
            && tags.iter().all(|t| {
                self.tags
                    .binary_search_by(|(k, v)| (&**k, &**v).cmp(&(t.key(), t.value())))
                    .is_ok()
            })
    }
}

/// Number of distinct `(key, value)` pairs (tags are few: quadratic is fine).
fn distinct<T: Tag>(tags: &[T]) -> usize {
    (0..tags.len())
        .filter(|&i| {
            !tags[..i]
                .iter()
                .any(|t| t.key() == tags[i].key() && t.value() == tags[i].value())
        })
        .count()
}

/// One shard's series, sorted by hash.
#[derive(Default)]
struct Table(Vec<Arc<Entry>>);

impl Table {
    fn find<T: Tag>(&self, hash: u64, name: &str, tags: &[T]) -> Option<&Arc<Entry>> {
        let start = self.0.partition_point(|e| e.hash < hash);
        self.0[start..]
            .iter()
            .take_while(|e| e.hash == hash)
            .find(|e| e.matches(hash, name, tags))
    }

    fn with(&self, entry: Arc<Entry>) -> Table {
        let mut entries = Vec::with_capacity(self.0.len() + 1);
        let at = self.0.partition_point(|e| e.hash <= entry.hash);
        entries.extend_from_slice(&self.0[..at]);
        entries.push(entry);
        entries.extend_from_slice(&self.0[at..]);
        Table(entries)
    }
}

struct Inner {
    shards: Box<[Padded<Atomic<Table>>]>,
    hasher: RandomState,
    len: AtomicUsize,
    max_series: usize,
    clock: Clock,
    refused: AtomicU64,
    conflicts: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for shard in self.shards.iter() {
            // SAFETY: the last handle to the registry is gone; nothing can
            // reach the tables any more.
            unsafe {
                let table = shard.0.load(Ordering::Relaxed, epoch::unprotected());
                if !table.is_null() {
                    drop(table.into_owned());
                }
            }
        }
    }
}

/// The metric registry; cheap to clone (a handle).
#[derive(Clone)]
pub struct Registry(Arc<Inner>);

/// Builds a [`Registry`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RegistryBuilder {
    max_series: usize,
    clock: Clock,
}

impl RegistryBuilder {
    /// Most series the registry holds (default [`DEFAULT_MAX_SERIES`]); past
    /// it, new series are refused and counted ([`Registry::refused`]).
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// The clock of the registry's histograms (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The registry.
    #[must_use]
    pub fn build(self) -> Registry {
        Registry(Arc::new(Inner {
            shards: (0..SHARDS)
                .map(|_| Padded(Atomic::new(Table::default())))
                .collect(),
            hasher: RandomState::new(),
            len: AtomicUsize::new(0),
            max_series: self.max_series,
            clock: self.clock,
            refused: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
        }))
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry with default settings.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts a registry with settings.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            max_series: DEFAULT_MAX_SERIES,
            clock: Clock::System,
        }
    }

    /// The clock the registry's histograms use.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    fn hash<T: Tag>(&self, name: &str, tags: &[T]) -> u64 {
        let mut h = self.0.hasher.build_hasher();
        name.hash(&mut h);
        // Order-independent: the sum of the distinct tags' own hashes.
        let tag_sum = (0..tags.len())
            .filter(|&i| {
                !tags[..i]
                    .iter()
                    .any(|t| t.key() == tags[i].key() && t.value() == tags[i].value())
            })
            .map(|i| self.0.hasher.hash_one((tags[i].key(), tags[i].value())))
            .fold(0u64, u64::wrapping_add);
        tag_sum.hash(&mut h);
        h.finish()
    }

    /// The series `name` + `tags`, registering it with `make` if it is new.
    /// `None` when the registry is full.
    fn entry<T: Tag>(
        &self,
        name: &str,
        tags: &[T],
        make: impl FnOnce() -> Metric,
    ) -> Option<Arc<Entry>> {
        let hash = self.hash(name, tags);
        let shard = &self.0.shards[(hash as usize) % SHARDS].0;
        let guard = epoch::pin();
        let mut make = Some(make);
        let mut fresh: Option<Arc<Entry>> = None;
        loop {
            let current = shard.load(Ordering::Acquire, &guard);
            // SAFETY: tables are freed only through `defer_destroy` after being
            // swapped out, so one loaded under `guard` lives until it drops.
            let table = unsafe { current.as_ref() }?;
            if let Some(found) = table.find(hash, name, tags) {
                return Some(Arc::clone(found));
            }
            if self.0.len.load(Ordering::Relaxed) >= self.0.max_series {
                self.0.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            let entry = match (&fresh, make.take()) {
                (Some(entry), _) => Arc::clone(entry),
                (None, Some(make)) => {
                    Arc::clone(fresh.insert(Arc::new(new_entry(hash, name, tags, make()))))
                }
                (None, None) => return None, // unreachable: `make` is taken with the first entry
            };
            let next = Owned::new(table.with(entry));
            if shard
                .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire, &guard)
                .is_ok()
            {
                self.0.len.fetch_add(1, Ordering::Relaxed);
                // SAFETY: `current` is no longer reachable from the shard;
                // readers that loaded it are pinned and keep it alive until
                // they unpin.
                unsafe { guard.defer_destroy(current) };
                return fresh;
            }
        }
    }

    fn typed<M>(
        &self,
        name: &str,
        tags: &[impl Tag],
        make: impl FnOnce() -> Metric,
        pick: impl Fn(&Metric) -> Option<M>,
        detached: impl FnOnce() -> M,
    ) -> M {
        match self.entry(name, tags, make) {
            Some(entry) => pick(&entry.metric).unwrap_or_else(|| {
                self.0.conflicts.fetch_add(1, Ordering::Relaxed);
                detached()
            }),
            None => detached(),
        }
    }

    /// The counter `name` + `tags`, registered on first use.
    ///
    /// If the series exists as another kind, or the registry is full, the
    /// handle returned is not registered (its counts are not reported) and
    /// the problem is counted ([`Registry::conflicts`], [`Registry::refused`]).
    pub fn counter(&self, name: &str, tags: &[impl Tag]) -> Counter {
        self.typed(
            name,
            tags,
            || Metric::Counter(Counter::new()),
            |m| {
                if let Metric::Counter(c) = m {
                    Some(c.clone())
                } else {
                    None
                }
            },
            Counter::new,
        )
    }

    /// The delta counter `name` + `tags` (give the name without `∆`).
    pub fn delta_counter(&self, name: &str, tags: &[impl Tag]) -> DeltaCounter {
        self.typed(
            name,
            tags,
            || Metric::DeltaCounter(DeltaCounter::new()),
            |m| {
                if let Metric::DeltaCounter(c) = m {
                    Some(c.clone())
                } else {
                    None
                }
            },
            DeltaCounter::new,
        )
    }

    /// The gauge `name` + `tags`.
    pub fn gauge(&self, name: &str, tags: &[impl Tag]) -> Gauge {
        self.typed(
            name,
            tags,
            || Metric::Gauge(Gauge::new()),
            |m| {
                if let Metric::Gauge(g) = m {
                    Some(g.clone())
                } else {
                    None
                }
            },
            Gauge::new,
        )
    }

    /// Registers a gauge computed by `f` at each report; an existing series
    /// of that key keeps its function.
    pub fn function_gauge(
        &self,
        name: &str,
        tags: &[impl Tag],
        f: impl Fn() -> f64 + Send + Sync + 'static,
    ) {
        let gauge = FunctionGauge::new(f);
        self.typed(
            name,
            tags,
            || Metric::FunctionGauge(gauge.clone()),
            |m| matches!(m, Metric::FunctionGauge(_)).then_some(()),
            || (),
        );
    }

    /// The histogram `name` + `tags`, on the registry's clock.
    pub fn histogram(&self, name: &str, tags: &[impl Tag]) -> WavefrontHistogram {
        self.histogram_with(name, tags, |b| b)
    }

    /// The histogram `name` + `tags`, configured by `configure` when it is
    /// created (the builder starts on the registry's clock).
    ///
    /// ```
    /// # use wavefront_core::registry::Registry;
    /// let registry = Registry::new();
    /// // Recorded in nanoseconds, reported in milliseconds.
    /// let latency = registry.histogram_with("latency", &[("route", "home")], |b| b.scale(1e-6));
    /// latency.record(1_250_000);
    /// ```
    pub fn histogram_with(
        &self,
        name: &str,
        tags: &[impl Tag],
        configure: impl FnOnce(HistogramBuilder) -> HistogramBuilder,
    ) -> WavefrontHistogram {
        let clock = self.0.clock.clone();
        self.typed(
            name,
            tags,
            move || {
                Metric::Histogram(configure(WavefrontHistogram::builder().clock(clock)).build())
            },
            |m| {
                if let Metric::Histogram(h) = m {
                    Some(h.clone())
                } else {
                    None
                }
            },
            WavefrontHistogram::new,
        )
    }

    /// Every series, as a snapshot (series added later are not in it).
    #[must_use]
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        let guard = epoch::pin();
        let mut all = Vec::with_capacity(self.len());
        for shard in self.0.shards.iter() {
            // SAFETY: as in `entry`: the table lives while `guard` is pinned.
            if let Some(table) = unsafe { shard.0.load(Ordering::Acquire, &guard).as_ref() } {
                all.extend(table.0.iter().cloned());
            }
        }
        all
    }

    /// Number of series.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len.load(Ordering::Relaxed)
    }

    /// Whether no series is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registrations refused because the registry was full.
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }

    /// Requests for a series under a kind other than the one it has.
    #[must_use]
    pub fn conflicts(&self) -> u64 {
        self.0.conflicts.load(Ordering::Relaxed)
    }
}

fn new_entry<T: Tag>(hash: u64, name: &str, tags: &[T], metric: Metric) -> Entry {
    let mut sorted: Vec<(Box<str>, Box<str>)> = tags
        .iter()
        .map(|t| (t.key().into(), t.value().into()))
        .collect();
    sorted.sort();
    sorted.dedup();
    Entry {
        hash,
        name: name.into(),
        tags: sorted.into_boxed_slice(),
        metric,
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("series", &self.len())
            .field("max_series", &self.0.max_series)
            .field("refused", &self.refused())
            .field("conflicts", &self.conflicts())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
