//! The metric registry: series keyed by name and tag set, found and added
//! without locks.
//!
//! Series live in a sharded copy-on-write map on crossbeam-epoch: a lookup
//! pins the epoch and searches one immutable table (no lock, no allocation);
//! an insert swaps in a copy of the shard's table with a compare-and-swap,
//! looking again if another thread got there first, so concurrent
//! registrations of one key give one series. Series are added rarely and
//! looked up once per handle: adapters keep the handles they get.
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

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::clock::Clock;
use crate::cow_map::CowMap;
use crate::histogram::{HistogramBuilder, WavefrontHistogram};
use crate::metric::{Counter, DeltaCounter, FunctionGauge, Gauge};
use crate::wire::Tag;

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

    /// The tags: sorted by key (then value) in a registry; the SDK's own
    /// series (heartbeats, diagnostics) keep the reference SDK's order.
    #[must_use]
    pub fn tags(&self) -> &[(Box<str>, Box<str>)] {
        &self.tags
    }

    /// The metric.
    #[must_use]
    pub fn metric(&self) -> &Metric {
        &self.metric
    }

    /// A series outside any registry whose tags keep the order given (the
    /// reporter's own series, written in the reference SDK's order).
    pub(crate) fn in_order<T: Tag>(name: &str, tags: &[T], metric: Metric) -> Entry {
        Entry {
            hash: 0,
            name: name.into(),
            tags: tags
                .iter()
                .map(|t| (t.key().into(), t.value().into()))
                .collect(),
            metric,
        }
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

struct Inner {
    series: CowMap<Entry>,
    hasher: RandomState,
    max_series: usize,
    clock: Clock,
    refused: AtomicU64,
    conflicts: AtomicU64,
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
            series: CowMap::new(),
            hasher: RandomState::new(),
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
        let found = self.0.series.get_or_insert(
            hash,
            |e| e.matches(hash, name, tags),
            || new_entry(hash, name, tags, make()),
            self.0.max_series,
        );
        if found.is_err() {
            self.0.refused.fetch_add(1, Ordering::Relaxed);
        }
        found.ok()
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
        self.gauge_made(name, tags, Gauge::new)
    }

    /// The gauge `name` + `tags`, made with [`Gauge::up_down`] if it is new:
    /// for a gauge many threads move by one.
    pub fn up_down_gauge(&self, name: &str, tags: &[impl Tag]) -> Gauge {
        self.gauge_made(name, tags, Gauge::up_down)
    }

    fn gauge_made(&self, name: &str, tags: &[impl Tag], make: fn() -> Gauge) -> Gauge {
        self.typed(
            name,
            tags,
            || Metric::Gauge(make()),
            |m| {
                if let Metric::Gauge(g) = m {
                    Some(g.clone())
                } else {
                    None
                }
            },
            make,
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
        self.0.series.values()
    }

    /// Number of series.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.series.len()
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
