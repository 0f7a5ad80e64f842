//! A [`metrics`](https://docs.rs/metrics) facade recorder for Wavefront: a
//! library that records through `metrics::counter!`, `gauge!` and
//! `histogram!` reports to Wavefront without knowing about it.
//!
//! ```
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::ApplicationTags;
//! use wavefront_metrics::WavefrontRecorder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let reporter = Reporter::from_env(&ApplicationTags::builder("Ordering", "styling").build()?)?;
//! WavefrontRecorder::new(&reporter).install()?; // the process's `metrics` recorder
//!
//! metrics::counter!("orders.checked_out", "tier" => "gold").increment(1);
//! metrics::histogram!("orders.basket_items").record(3.0);
//! # reporter.shutdown(std::time::Duration::from_secs(1));
//! # Ok(()) }
//! ```
//!
//! # What is reported
//!
//! Every series carries the application tags (`application`, `cluster`,
//! `service`, `shard`) and the metric's labels as point tags, and goes
//! through the reporter's registry, so its series cap, sanitising and
//! diagnostics apply as to the SDK's own series:
//!
//! | `metrics` | Wavefront |
//! |---|---|
//! | counter | a cumulative counter (`name`), its total at each report |
//! | gauge | a gauge (`name`), its value at each report |
//! | histogram | a minute histogram (`name`, `!M`), recorded with six decimal places; negative values are counted in `~sdk.rust.metrics.histogram.negative.count` and left out |
//!
//! Labels whose key is an application tag's (`application`, `service`,
//! `cluster`, `shard`) give way to the application's. Descriptions and units
//! are not reported: the Wavefront formats carry neither.
//!
//! The recorder writes into the reporter's registry, and keeps the reporter
//! running for as long as it lives (an installed recorder: the process's).

#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::Arc;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
    SharedString, Unit,
};
use wavefront_core::histogram::WavefrontHistogram;
use wavefront_core::metric;
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;

/// Histogram values are kept in millionths: `record(0.000_5)` keeps 500.
const HISTOGRAM_SCALE: f64 = 1e6;

/// [`WavefrontRecorder::install`] found a `metrics` recorder installed
/// already: a process has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyInstalled;

impl std::fmt::Display for AlreadyInstalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a `metrics` recorder is already installed in this process; install the Wavefront recorder first, or once")
    }
}

impl std::error::Error for AlreadyInstalled {}

/// A `metrics::Recorder` reporting through a Wavefront [`Reporter`].
#[derive(Debug, Clone)]
pub struct WavefrontRecorder {
    /// Keeps the reporter running for as long as the recorder is installed.
    _reporter: Reporter,
    registry: Registry,
    app: ApplicationTags,
    negative: metric::Counter,
}

impl WavefrontRecorder {
    /// A recorder writing into `reporter`'s registry, with its application
    /// tags.
    #[must_use]
    pub fn new(reporter: &Reporter) -> Self {
        let app = reporter.application_tags().clone();
        let registry = reporter.registry().clone();
        let negative = registry.counter(
            "~sdk.rust.metrics.histogram.negative.count",
            &[
                ("application", app.application()),
                ("service", app.service()),
            ],
        );
        WavefrontRecorder {
            _reporter: reporter.clone(),
            registry,
            app,
            negative,
        }
    }

    /// Makes this the process's `metrics` recorder (there can be one).
    pub fn install(self) -> Result<(), AlreadyInstalled> {
        metrics::set_global_recorder(self).map_err(|_| AlreadyInstalled)
    }

    /// The application tags, then the labels, as the SDK's series carry
    /// them.
    fn tags<'a>(&'a self, key: &'a Key) -> Vec<(&'a str, &'a str)> {
        self.app
            .series_tags(key.labels().map(|label| (label.key(), label.value())))
    }
}

/// A counter behind the facade.
struct CounterHandle(metric::Counter);

impl CounterFn for CounterHandle {
    fn increment(&self, value: u64) {
        self.0.inc_by(value);
    }

    fn absolute(&self, value: u64) {
        // Counters only grow: raise it to `value` if it is below.
        let count = self.0.count();
        if value > count {
            self.0.inc_by(value - count);
        }
    }
}

/// A gauge behind the facade.
struct GaugeHandle(metric::Gauge);

impl GaugeFn for GaugeHandle {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    fn decrement(&self, value: f64) {
        self.0.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

/// A histogram behind the facade.
struct HistogramHandle {
    histogram: WavefrontHistogram,
    negative: metric::Counter,
}

impl HistogramFn for HistogramHandle {
    fn record(&self, value: f64) {
        if value.is_nan() || value < 0.0 {
            self.negative.inc();
            return;
        }
        // `as` saturates: +inf and huge values are kept at u64::MAX.
        self.histogram.record((value * HISTOGRAM_SCALE) as u64);
    }
}

impl metrics::Recorder for WavefrontRecorder {
    fn describe_counter(&self, _key: KeyName, _unit: Option<Unit>, _description: SharedString) {}

    fn describe_gauge(&self, _key: KeyName, _unit: Option<Unit>, _description: SharedString) {}

    fn describe_histogram(&self, _key: KeyName, _unit: Option<Unit>, _description: SharedString) {}

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        let counter = self.registry.counter(key.name(), &self.tags(key));
        Counter::from_arc(Arc::new(CounterHandle(counter)))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        let gauge = self.registry.gauge(key.name(), &self.tags(key));
        Gauge::from_arc(Arc::new(GaugeHandle(gauge)))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let histogram = self
            .registry
            .histogram_with(key.name(), &self.tags(key), |b| {
                b.scale(1.0 / HISTOGRAM_SCALE)
            });
        Histogram::from_arc(Arc::new(HistogramHandle {
            histogram,
            negative: self.negative.clone(),
        }))
    }
}
