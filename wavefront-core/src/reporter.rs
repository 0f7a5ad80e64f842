//! The reporter: every interval, off the request path, it takes what the
//! registry recorded and hands it to the [exporter](crate::export), with
//! heartbeats and the SDK's own diagnostic metrics. It alone drains: delta
//! counters, histograms' completed minutes and the tracer's finished spans.
//!
//! * Counters and gauges are sent with a timestamp in epoch seconds, delta
//!   counters (only when positive) without one, histograms as `!M` lines of
//!   their completed minutes, timestamped at the minute start.
//! * `~component.heartbeat` = 1 for each registered component, at start and
//!   every 5 minutes, tagged application, cluster, service, shard, component
//!   and the custom tags.
//! * Diagnostics: `~sdk.rust.core.sender.<transport>.<kind>.{valid,invalid,
//!   dropped,report.errors}.count` and `….report.<status>.count` as delta
//!   counters, `<kind>.queue.size` and `<kind>.queue.remaining_capacity`
//!   gauges, a `version` gauge, the registry's refused and conflicting series,
//!   histogram samples dropped after waiting too long
//!   (`~sdk.rust.core.histograms.dropped_samples.count`) and spans left out of
//!   the RED metrics past their series cap.
//! * Spans finished since the last look are sent every second (span lines to
//!   the tracing endpoint, with their span logs), and the tracer's
//!   `~sdk.rust.opentracing.reporter.spans.{received,dropped}.count`,
//!   `~sdk.rust.opentracing.spans.discarded.count` (not sampled) and queue
//!   gauges are reported with the other diagnostics.
//! * RED metrics ([`crate::red`]) are derived from every finished span,
//!   sampled or not, with a `~component.heartbeat` for
//!   `wavefront-generated` and one for each new RED tag set.
//! * [`Reporter::shutdown`] reports once more, including the current
//!   partial minute, flushes the exporter and says what was delivered and
//!   dropped. Dropping the reporter does the same with a 2 s limit.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::registry::Registry;
//! use wavefront_core::sender::ConsoleSender;
//! use wavefront_core::ApplicationTags;
//!
//! let registry = Registry::new();
//! let tags = ApplicationTags::builder("Ordering", "styling").build()?;
//! let reporter = Reporter::builder(registry.clone(), Arc::new(ConsoleSender::to_writer(std::io::sink())), tags)
//!     .source("host-1")
//!     .interval(Duration::from_secs(60))
//!     .start();
//! registry.counter("orders.count", &[("region", "eu")]).inc();
//! let report = reporter.shutdown(Duration::from_secs(5));
//! assert!(report.delivered >= 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError, DEFAULT_REPORT_INTERVAL};
use crate::export::{Exporter, IntoExporter, MetricPoint, MetricsReport, Origin, PointValue};
use crate::histogram::Distribution;
use crate::lifecycle::{Instrumentation, InstrumentationBuilder, Owner};
use crate::metric::{DeltaCounter, Gauge};
use crate::red::RedMetrics;
use crate::registry::{Entry, Metric, Registry};
use crate::sender::{DataKind, ShutdownReport};
use crate::tags::ApplicationTags;
use crate::trace::{FinishedSpan, Tracer, TracerBuilder};

/// Time between heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(300);
/// The heartbeat metric.
pub const HEARTBEAT_METRIC: &str = "~component.heartbeat";
/// The heartbeat component of SDK-derived data (RED metrics).
pub const WAVEFRONT_GENERATED: &str = "wavefront-generated";
/// How often finished spans are sent.
pub const SPAN_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How long dropping a reporter may spend on its last report.
const DROP_TIMEOUT: Duration = Duration::from_secs(2);

/// Spans handed to the exporter at once: a backlog (a busy core gives the
/// reporter its turn late) goes out in pieces whose lines fit buffers the
/// sender gives back for the next pieces, about 256 KiB, rather than in
/// one buffer of fresh memory (a page fault every 4 KiB written).
const SPANS_PER_EXPORT: usize = 512;
/// The longest wait between reports, whatever interval was asked for (an
/// `Instant` cannot be pushed out without bound).
const MAX_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The version as the diagnostics' `version` gauge encodes it:
/// `major.MMPP` (0.1.0 is 0.0100).
fn version_gauge() -> f64 {
    let part = |s: &str| s.parse::<f64>().unwrap_or(0.0);
    part(env!("CARGO_PKG_VERSION_MAJOR"))
        + part(env!("CARGO_PKG_VERSION_MINOR")) / 100.0
        + part(env!("CARGO_PKG_VERSION_PATCH")) / 10_000.0
}

/// Builds and starts a [`Reporter`].
#[must_use]
pub struct ReporterBuilder {
    registry: Registry,
    exporter: Arc<dyn Exporter>,
    tags: ApplicationTags,
    source: String,
    interval: Duration,
    components: Vec<String>,
    red_metrics: bool,
    red_tag_keys: Vec<String>,
    configure_tracer: Option<Box<dyn FnOnce(TracerBuilder) -> TracerBuilder + Send>>,
}

impl std::fmt::Debug for ReporterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReporterBuilder")
            .field("source", &self.source)
            .field("interval", &self.interval)
            .field("components", &self.components)
            .field("red_metrics", &self.red_metrics)
            .field("red_tag_keys", &self.red_tag_keys)
            .finish_non_exhaustive()
    }
}

impl ReporterBuilder {
    /// The source of every point (default: the host name).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Time between reports (default 60 s, at least 1 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_secs(1));
        self
    }

    /// Adds a component to the heartbeats (e.g. `axum`).
    pub fn component(mut self, name: impl Into<String>) -> Self {
        self.components.push(name.into());
        self
    }

    /// Whether to derive RED metrics from every finished span (default on).
    pub fn red_metrics(mut self, on: bool) -> Self {
        self.red_metrics = on;
        self
    }

    /// Span tag keys copied onto the RED metrics when a span carries them
    /// (like the proxy's `traceDerivedCustomTagKeys`).
    pub fn red_metrics_tag_keys(
        mut self,
        keys: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.red_tag_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Configures the reporter's tracer: propagation formats, samplers,
    /// finish hooks.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use wavefront_core::{reporter::Reporter, registry::Registry, sender::ConsoleSender, ApplicationTags};
    /// use wavefront_core::trace::{sampling::RateSampler, Propagation};
    ///
    /// # let tags = ApplicationTags::builder("a", "s").build()?;
    /// let reporter = Reporter::builder(Registry::new(), Arc::new(ConsoleSender::to_writer(std::io::sink())), tags)
    ///     .tracer(|t| t.propagation([Propagation::W3c, Propagation::B3]).sampler(RateSampler::new(0.1).unwrap()))
    ///     .start();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tracer(
        mut self,
        configure: impl FnOnce(TracerBuilder) -> TracerBuilder + Send + 'static,
    ) -> Self {
        self.configure_tracer = Some(Box::new(configure));
        self
    }

    /// Starts the reporting thread.
    #[must_use]
    pub fn start(self) -> Reporter {
        let (stop, stopped) = mpsc::channel();
        let mut tracer = Tracer::builder(self.tags.clone()).source(self.source.clone());
        let mut components = self.components;
        let red = self.red_metrics.then(|| {
            Arc::new(RedMetrics::new(
                self.registry.clone(),
                self.tags.clone(),
                self.red_tag_keys,
            ))
        });
        if red.is_some() {
            // RED metrics are derived on this reporter's thread from every
            // span it takes, sampled or not: nothing on the request path.
            tracer = tracer.queue_unsampled();
            components.push(WAVEFRONT_GENERATED.to_owned());
        }
        if let Some(configure) = self.configure_tracer {
            tracer = configure(tracer);
        }
        let state = Arc::new(State {
            registry: self.registry,
            exporter: self.exporter,
            tracer: tracer.build(),
            red,
            tags: self.tags,
            source: self.source,
            components: Mutex::new(components),
            cycle: Mutex::new(Cycle::default()),
            panics: AtomicU64::new(0),
        });
        let worker = Arc::clone(&state);
        let interval = self.interval;
        let thread = std::thread::Builder::new()
            .name("wavefront-reporter".into())
            .spawn(move || worker.run(interval, &stopped))
            .ok();
        if let Some(thread) = &thread {
            state.tracer.wake_on_batch(thread.thread().clone());
        }
        Reporter {
            core: Arc::new(Core {
                state,
                stop: Mutex::new(Some(stop)),
                thread: Mutex::new(thread),
                report: Mutex::new(None),
                shutting_down: Mutex::new(()),
            }),
        }
    }
}

/// Reports a [`Registry`] through an [`Exporter`] from its own thread.
///
/// Clones share the one reporter: it runs until [`shutdown`](Self::shutdown)
/// (on any clone), or until every clone and every adapter built from it is
/// gone, when it makes a final report and flushes.
#[derive(Debug, Clone)]
pub struct Reporter {
    core: Arc<Core>,
}

/// The reporter itself, shared by its handle and by every adapter built from
/// it: it stops (with a final report and flush) when the last of them goes,
/// or at [`Reporter::shutdown`].
#[derive(Debug)]
struct Core {
    state: Arc<State>,
    stop: Mutex<Option<mpsc::Sender<Duration>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    report: Mutex<Option<ShutdownReport>>,
    shutting_down: Mutex<()>,
}

impl Reporter {
    /// Starts a reporter of `registry` through `exporter` (an
    /// [`Exporter`], or an `Arc<dyn Sender>` of Wavefront lines), labelled
    /// with `tags`.
    pub fn builder(
        registry: Registry,
        exporter: impl IntoExporter,
        tags: ApplicationTags,
    ) -> ReporterBuilder {
        ReporterBuilder {
            registry,
            exporter: exporter.into_exporter(),
            tags,
            source: crate::config::hostname(),
            interval: DEFAULT_REPORT_INTERVAL,
            components: Vec::new(),
            red_metrics: true,
            red_tag_keys: Vec::new(),
            configure_tracer: None,
        }
    }

    /// A reporter configured by `config`, labelled with its application tags
    /// or, where it sets none, with `defaults`.
    pub fn from_config(
        config: &Config,
        defaults: &ApplicationTags,
    ) -> Result<Reporter, ConfigError> {
        let tags = config.application_tags(defaults)?;
        Ok(Reporter::builder(Registry::new(), config.exporter()?, tags)
            .source(config.source_name())
            .interval(config.interval())
            .start())
    }

    /// A reporter configured from the `WAVEFRONT_*` environment variables
    /// (see [`crate::config`]); unset, it prints to standard output.
    pub fn from_env(defaults: &ApplicationTags) -> Result<Reporter, ConfigError> {
        Self::from_config(&Config::from_env()?, defaults)
    }

    /// The registry reported.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.core.state.registry
    }

    /// A counter of your own, tagged with the application tags
    /// (`application`, `cluster`, `service`, `shard`) and then `tags`, like
    /// the SDK's series. Its handle is cheap to clone; record into it from
    /// anywhere.
    ///
    /// ```
    /// use wavefront_core::reporter::Reporter;
    /// use wavefront_core::ApplicationTags;
    ///
    /// let reporter = Reporter::from_env(&ApplicationTags::builder("Ordering", "styling").build()?)?;
    /// let checked_out = reporter.counter("orders.checked_out", &[("tier", "gold")]);
    /// checked_out.inc();
    /// reporter.gauge("pool.size", &[]).set(8.0);
    /// reporter.histogram("orders.basket_items", &[]).record(3);
    /// # reporter.shutdown(std::time::Duration::from_secs(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn counter(&self, name: &str, tags: &[(&str, &str)]) -> crate::metric::Counter {
        self.registry().counter(
            name,
            &self.application_tags().series_tags(tags.iter().copied()),
        )
    }

    /// A delta counter of your own (a name starting with `∆`), tagged as
    /// [`counter`](Self::counter) is.
    #[must_use]
    pub fn delta_counter(&self, name: &str, tags: &[(&str, &str)]) -> crate::metric::DeltaCounter {
        self.registry().delta_counter(
            name,
            &self.application_tags().series_tags(tags.iter().copied()),
        )
    }

    /// A gauge of your own, tagged as [`counter`](Self::counter) is.
    #[must_use]
    pub fn gauge(&self, name: &str, tags: &[(&str, &str)]) -> crate::metric::Gauge {
        self.registry().gauge(
            name,
            &self.application_tags().series_tags(tags.iter().copied()),
        )
    }

    /// A minute histogram of your own, tagged as [`counter`](Self::counter)
    /// is.
    #[must_use]
    pub fn histogram(
        &self,
        name: &str,
        tags: &[(&str, &str)],
    ) -> crate::histogram::WavefrontHistogram {
        self.registry().histogram(
            name,
            &self.application_tags().series_tags(tags.iter().copied()),
        )
    }

    /// The tracer whose finished spans this reporter sends.
    #[must_use]
    pub fn tracer(&self) -> &Tracer {
        &self.core.state.tracer
    }

    /// The exporter used.
    #[must_use]
    pub fn exporter(&self) -> &Arc<dyn Exporter> {
        &self.core.state.exporter
    }

    /// The application tags.
    #[must_use]
    pub fn application_tags(&self) -> &ApplicationTags {
        &self.core.state.tags
    }

    /// The source of every point.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.core.state.source
    }

    /// Adds a component to the heartbeats (adapters call this); its first
    /// heartbeat goes out with the next report.
    pub fn add_component(&self, name: &str) {
        self.core.state.add_component(name);
    }

    /// What an adapter needs to report requests through this reporter: an
    /// [`Instrumentation`] builder for `component` (or an adapter made from
    /// one) on this reporter's registry, tracer and application tags. Building
    /// it registers the component's heartbeat. The instrumentation keeps the
    /// reporter running: it stops when both this handle and every adapter
    /// built from it are gone (with a final report), or at
    /// [`shutdown`](Self::shutdown).
    ///
    /// ```
    /// use wavefront_core::lifecycle::Instrumentation;
    /// use wavefront_core::reporter::Reporter;
    /// use wavefront_core::ApplicationTags;
    ///
    /// let reporter = Reporter::from_env(&ApplicationTags::builder("Ordering", "styling").build()?)?;
    /// let instrumentation: Instrumentation = reporter.instrumentation("hyper").build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn instrumentation<T: From<Instrumentation>>(
        &self,
        component: impl Into<String>,
    ) -> InstrumentationBuilder<T> {
        // The adapter keeps the reporter running: a `Reporter` dropped right
        // after building a layer (a temporary) does not stop the reporting.
        InstrumentationBuilder::new(
            component.into(),
            self.core.state.registry.clone(),
            self.core.state.tracer.clone(),
            self.core.state.tags.clone(),
            Some(Arc::clone(&self.core) as Arc<dyn Owner>),
        )
    }

    /// Reports now, on the calling thread (completed minutes only).
    pub fn report_now(&self) {
        self.core.state.report(false);
    }

    /// Reports everything, the current partial minute included, flushes the
    /// sender for at most `timeout` and stops. Later calls return the same
    /// report.
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.core.shutdown(timeout)
    }
}

impl Core {
    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        // Held throughout, so a concurrent call waits for the report.
        let _one_at_a_time = self.shutting_down.lock();
        let stop = self.stop.lock().ok().and_then(|mut s| s.take());
        if let Some(stop) = stop {
            let deadline = Instant::now() + timeout;
            let _ = stop.send(timeout);
            let thread = self.thread.lock().ok().and_then(|mut t| t.take());
            if let Some(thread) = &thread {
                thread.thread().unpark();
            }
            match thread {
                Some(thread) => {
                    // Its last report is bounded by `timeout` (formatting,
                    // then a flush with that timeout); joined only once done,
                    // so nothing here can outlast the deadline.
                    while !thread.is_finished() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    if thread.is_finished() {
                        let _ = thread.join();
                    }
                }
                // No thread was started: do its last report here.
                None => self.state.finish(timeout),
            }
            let report = self
                .state
                .exporter
                .shutdown(deadline.saturating_duration_since(Instant::now()));
            if let Ok(mut slot) = self.report.lock() {
                *slot = Some(report);
            }
        }
        self.report.lock().ok().and_then(|r| *r).unwrap_or_default()
    }
}

impl Owner for Core {
    fn add_component(&self, component: &str) {
        self.state.add_component(component);
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.shutdown(DROP_TIMEOUT);
    }
}

/// What the reporting thread and the handle share.
#[derive(Debug)]
struct State {
    registry: Registry,
    exporter: Arc<dyn Exporter>,
    tracer: Tracer,
    red: Option<Arc<RedMetrics>>,
    tags: ApplicationTags,
    source: String,
    components: Mutex<Vec<String>>,
    cycle: Mutex<Cycle>,
    /// Panics caught on the reporting thread.
    panics: AtomicU64,
}

/// Reporter-side memory between reports.
#[derive(Debug, Default)]
struct Cycle {
    /// Diagnostic counters' values at the last report.
    reported: HashMap<String, u64>,
    /// The SDK's own series (heartbeats, diagnostics), made once each: few
    /// and bounded (one per diagnostic and status, one heartbeat per
    /// component and RED tag set).
    own: HashMap<OwnKey, Arc<Entry>>,
    next_heartbeat: Option<Instant>,
}

impl State {
    fn add_component(&self, name: &str) {
        // Lock order is `cycle` then `components` (a report holds `cycle`
        // while it reads the components for the heartbeats), so `components`
        // is released here before `cycle` is taken.
        let added = match self.components.lock() {
            Ok(mut components) if !components.iter().any(|c| c == name) => {
                components.push(name.to_owned());
                true
            }
            _ => false,
        };
        if added {
            if let Ok(mut cycle) = self.cycle.lock() {
                cycle.next_heartbeat = None;
            }
        }
    }

    fn run(&self, interval: Duration, stop: &mpsc::Receiver<Duration>) {
        let later = |from: Instant| from.checked_add(interval).unwrap_or(from + MAX_WAIT);
        let mut next_report = later(Instant::now());
        let mut next_spans = Instant::now() + SPAN_FLUSH_INTERVAL;
        self.guarded(|| self.report(false));
        loop {
            match stop.try_recv() {
                Ok(timeout) => return self.guarded(|| self.finish(timeout)),
                Err(TryRecvError::Disconnected) => {
                    return self.guarded(|| self.finish(DROP_TIMEOUT))
                }
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if now >= next_report {
                self.guarded(|| self.report(false));
                next_report = later(next_report);
                if next_report < now {
                    next_report = later(now); // fell behind: skip, do not burst
                }
                next_spans = now + SPAN_FLUSH_INTERVAL;
            } else if now >= next_spans || self.tracer.batch_ready() {
                // Every second, and whenever a batch of spans is waiting, so
                // a high request rate never fills the tracer's queue.
                self.guarded(|| self.send_spans());
                next_spans = now + SPAN_FLUSH_INTERVAL;
            } else if !self.tracer.ready_or_rearm() {
                // Woken by a full batch of spans, a shutdown, or the time.
                std::thread::park_timeout(next_report.min(next_spans) - now);
            }
        }
    }

    /// Runs one piece of reporting work; a panic in it (a bug, or a user's
    /// code called from a report) is caught, counted in
    /// `~sdk.rust.core.reporter.panics.count`, logged once, and the
    /// reporter goes on.
    fn guarded(&self, work: impl FnOnce()) {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            self.caught("a report", &*panic);
        }
    }

    /// Counts a panic caught on the reporting thread; the first is logged.
    fn caught(&self, what: &str, panic: &(dyn std::any::Any + Send)) {
        if self.panics.fetch_add(1, Ordering::Relaxed) == 0 {
            log::warn!(
                "Wavefront reporter: {what} panicked ({}); reporting goes on",
                crate::panics::panic_message(panic)
            );
        }
    }

    /// The last report: every minute, then flush.
    fn finish(&self, timeout: Duration) {
        self.report(true);
        self.exporter.flush(timeout);
    }

    fn origin(&self) -> Origin<'_> {
        Origin {
            source: &self.source,
            tags: &self.tags,
        }
    }

    /// Hands the spans finished since the last call to the exporter, after
    /// the RED metrics have seen every one of them (a few at a time, as the
    /// exporter reads them: see [`Exporter::export_spans_with`]).
    fn send_spans(&self) {
        let mut finished = self.tracer.take_finished();
        if finished.is_empty() {
            return;
        }
        // Unsampled spans were queued for the RED metrics only: the
        // exporter drops them once they are seen.
        let mut red = self.red.as_ref().map(|red| red.batch());
        let mut red = |chunk: &[FinishedSpan]| {
            if let Some(red) = &mut red {
                red.record(chunk);
            }
        };
        while finished.len() > SPANS_PER_EXPORT {
            let rest = finished.split_off(SPANS_PER_EXPORT);
            self.exporter
                .export_spans_with(self.origin(), finished, &mut red);
            finished = rest;
        }
        self.exporter
            .export_spans_with(self.origin(), finished, &mut red);
    }

    fn report(&self, everything: bool) {
        self.send_spans();
        // A panic during an earlier report poisoned the lock: its memory of
        // reported totals is still right, so go on with it.
        let mut cycle = self.cycle.lock().unwrap_or_else(PoisonError::into_inner);
        let timestamp_s = self.registry.clock().now_ms() / 1000;
        let mut points = Vec::new();
        // Histogram samples dropped so far, summed in the same pass.
        let mut dropped_samples = 0u64;
        for entry in self.registry.entries() {
            let value = match entry.metric() {
                Metric::Counter(c) => PointValue::Counter(c.count()),
                Metric::Gauge(g) => PointValue::Gauge(g.value()),
                // The user's function: a panic in it skips this point only.
                Metric::FunctionGauge(g) => {
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.value())) {
                        Ok(value) => PointValue::Gauge(value),
                        Err(panic) => {
                            self.caught(&format!("the function gauge {:?}", entry.name()), &*panic);
                            continue;
                        }
                    }
                }
                Metric::DeltaCounter(d) => PointValue::Delta(d.take()),
                Metric::Histogram(h) => {
                    for d in take(h, everything) {
                        points.push(MetricPoint {
                            series: Arc::clone(&entry),
                            value: PointValue::Histogram(d),
                        });
                    }
                    dropped_samples += h.dropped_samples();
                    continue;
                }
            };
            points.push(MetricPoint {
                series: entry,
                value,
            });
        }
        // The SDK's own series go first, so that when a queue is nearly full
        // it is application data that is dropped, never the counts of drops.
        // They are read after the application's points were taken, so a
        // panic in a function gauge is counted in this very report.
        let mut own = Vec::with_capacity(64 + points.len());
        self.heartbeats(&mut cycle, &mut own);
        self.diagnostics(&mut cycle, &mut own, dropped_samples);
        own.append(&mut points);
        let points = own;
        drop(cycle);
        self.exporter.export_metrics(
            self.origin(),
            MetricsReport {
                timestamp_s,
                points,
            },
        );
    }

    /// A point of the SDK's own series `name` + `tags` (a delta counter for
    /// a delta, else a gauge), its tags written in the order given, as the
    /// reference SDK writes them.
    fn own_point<T: crate::wire::Tag>(
        cycle: &mut Cycle,
        points: &mut Vec<MetricPoint>,
        name: &str,
        tags: &[T],
        value: PointValue,
    ) {
        let key = OwnKey {
            name: name.to_owned(),
            tags: tags
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        };
        let series = cycle.own.entry(key).or_insert_with(|| {
            let metric = match value {
                PointValue::Delta(_) => Metric::DeltaCounter(DeltaCounter::new()),
                _ => Metric::Gauge(Gauge::new()),
            };
            Arc::new(Entry::in_order(name, tags, metric))
        });
        points.push(MetricPoint {
            series: Arc::clone(series),
            value,
        });
    }

    /// One `~component.heartbeat` = 1 with `tags`.
    fn heartbeat<T: crate::wire::Tag>(
        cycle: &mut Cycle,
        points: &mut Vec<MetricPoint>,
        tags: &[T],
    ) {
        Self::own_point(
            cycle,
            points,
            HEARTBEAT_METRIC,
            tags,
            PointValue::Gauge(1.0),
        );
    }

    fn heartbeats(&self, cycle: &mut Cycle, points: &mut Vec<MetricPoint>) {
        // Each new RED tag set once, at the first report after it appeared.
        for tags in self.red.iter().flat_map(|red| red.take_new_tag_sets()) {
            Self::heartbeat(cycle, points, &tags);
        }
        let now = Instant::now();
        if cycle.next_heartbeat.is_some_and(|at| now < at) {
            return;
        }
        cycle.next_heartbeat = Some(now + HEARTBEAT_INTERVAL);
        let Ok(components) = self.components.lock() else {
            return;
        };
        let t = &self.tags;
        for component in components.iter() {
            let mut tags: Vec<(&str, &str)> = vec![
                ("application", t.application()),
                ("cluster", t.cluster()),
                ("service", t.service()),
                ("shard", t.shard()),
                ("component", component),
            ];
            tags.extend(
                t.custom_tags()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            Self::heartbeat(cycle, points, &tags);
        }
    }

    /// The SDK's own metrics: what the exporter delivered, dropped and
    /// queued, and what the registry, tracer and histograms refused.
    fn diagnostics(&self, cycle: &mut Cycle, points: &mut Vec<MetricPoint>, dropped_samples: u64) {
        let stats = self.exporter.stats();
        let prefix = format!("~sdk.rust.core.sender.{}", stats.transport());
        let t = &self.tags;
        let tags = [("application", t.application()), ("service", t.service())];
        let mut delta = |name: String, total: u64| {
            let last = cycle.reported.insert(name.clone(), total).unwrap_or(0);
            let value = total.saturating_sub(last) as f64;
            Self::own_point(cycle, points, &name, &tags, PointValue::Delta(value));
        };
        for kind in DataKind::ALL {
            let k = stats.kind(kind);
            let base = format!("{prefix}.{}", kind.name());
            delta(format!("{base}.valid.count"), k.valid());
            delta(format!("{base}.invalid.count"), k.invalid());
            delta(format!("{base}.dropped.count"), k.dropped());
            delta(format!("{base}.report.errors.count"), k.report_errors());
            for (status, n) in k.statuses() {
                delta(format!("{base}.report.{status}.count"), n);
            }
        }
        delta(format!("{prefix}.panics.count"), stats.panics());
        delta(
            "~sdk.rust.core.reporter.panics.count".into(),
            self.panics.load(Ordering::Relaxed),
        );
        let spans = &self.tracer;
        delta(
            "~sdk.rust.opentracing.reporter.spans.received.count".into(),
            spans.received(),
        );
        delta(
            "~sdk.rust.opentracing.reporter.spans.dropped.count".into(),
            spans.dropped(),
        );
        delta(
            "~sdk.rust.opentracing.spans.discarded.count".into(),
            spans.discarded(),
        );
        delta(
            "~sdk.rust.core.registry.series.refused.count".into(),
            self.registry.refused(),
        );
        delta(
            "~sdk.rust.core.registry.series.conflicts.count".into(),
            self.registry.conflicts(),
        );
        delta(
            "~sdk.rust.core.histograms.dropped_samples.count".into(),
            dropped_samples,
        );
        let red_refused = self.red.as_ref().map_or(0, |red| red.refused());
        delta(
            "~sdk.rust.opentracing.red.refused.count".into(),
            red_refused,
        );
        let mut gauge = |name: String, value: f64| {
            Self::own_point(cycle, points, &name, &tags, PointValue::Gauge(value));
        };
        for kind in DataKind::ALL {
            let k = stats.kind(kind);
            gauge(
                format!("{prefix}.{}.queue.size", kind.name()),
                k.queue_size() as f64,
            );
            gauge(
                format!("{prefix}.{}.queue.remaining_capacity", kind.name()),
                k.remaining_capacity() as f64,
            );
        }
        gauge(format!("{prefix}.version"), version_gauge());
        gauge(
            "~sdk.rust.opentracing.reporter.queue.size".into(),
            spans.queue_size() as f64,
        );
        gauge(
            "~sdk.rust.opentracing.reporter.queue.remaining_capacity".into(),
            spans.queue_capacity().saturating_sub(spans.queue_size()) as f64,
        );
    }
}

/// An own series' name and tags, in order.
#[derive(Debug, PartialEq, Eq, Hash)]
struct OwnKey {
    name: String,
    tags: Vec<(String, String)>,
}

fn take(histogram: &crate::histogram::WavefrontHistogram, everything: bool) -> Vec<Distribution> {
    if everything {
        histogram.take_all()
    } else {
        histogram.take_completed()
    }
}
