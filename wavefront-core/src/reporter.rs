//! The reporter: every interval, off the request path, it turns the registry
//! into lines and hands them to the sender, with heartbeats and the SDK's own
//! diagnostic metrics.
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
//!   partial minute, flushes the sender and says what was delivered and
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
use crate::histogram::Distribution;
use crate::lifecycle::{Instrumentation, InstrumentationBuilder, Owner};
use crate::red::RedMetrics;
use crate::registry::{Entry, Metric, Registry};
use crate::sender::{DataKind, LineBatch, Sender, ShutdownReport};
use crate::tags::ApplicationTags;
use crate::trace::Text;
use crate::trace::{FinishedSpan, Tracer, TracerBuilder};
use crate::wire::{self, Encoded, EncodedSpanTags, Granularity, MetricTemplate, SpanLine};

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
    sender: Arc<dyn Sender>,
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
            sender: self.sender,
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

/// Reports a [`Registry`] through a [`Sender`] from its own thread.
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
    /// Starts a reporter of `registry` to `sender`, labelled with `tags`.
    pub fn builder(
        registry: Registry,
        sender: Arc<dyn Sender>,
        tags: ApplicationTags,
    ) -> ReporterBuilder {
        ReporterBuilder {
            registry,
            sender,
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
        Ok(Reporter::builder(Registry::new(), config.sender()?, tags)
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

    /// The sender used.
    #[must_use]
    pub fn sender(&self) -> &Arc<dyn Sender> {
        &self.core.state.sender
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
                .sender
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
    sender: Arc<dyn Sender>,
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
    /// Each series' encoded name and tags (series are never removed, so the
    /// entry's address is a stable key while the registry lives).
    templates: HashMap<usize, Result<MetricTemplate, crate::WireError>>,
    /// Diagnostic counters' values at the last report.
    reported: HashMap<String, u64>,
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
            } else {
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
        self.sender.flush(timeout);
    }

    /// Formats and sends the spans finished since the last call.
    fn send_spans(&self) {
        let finished = self.tracer.take_finished();
        if finished.is_empty() {
            return;
        }
        let mut spans = LineBatch::new();
        let mut logs = LineBatch::new();
        let mut invalid = 0;
        let mut line = String::new();
        let mut shared = SharedTags::default();
        for span in &finished {
            if let Some(red) = &self.red {
                red.record(span);
            }
            if !span.sampled {
                continue; // queued for the RED metrics only
            }
            line.clear();
            if write_span(&mut line, span, &self.source, &mut shared).is_err() {
                invalid += 1;
                continue;
            }
            spans.push_line(&line);
            if !span.data.logs.is_empty() {
                let d = &span.data;
                let _ = logs.push_with(|b| {
                    wire::write_span_logs(b, d.context.trace_id, d.context.span_id, &d.logs, &line);
                    Ok(())
                });
            }
        }
        self.sender
            .stats()
            .kind(DataKind::Spans)
            .add_invalid(invalid);
        self.sender.send(DataKind::Spans, spans);
        if !logs.is_empty() {
            self.sender.send(DataKind::SpanLogs, logs);
        }
    }

    fn report(&self, everything: bool) {
        self.send_spans();
        // A panic during an earlier report poisoned the lock: its memory of
        // templates and reported totals is still right, so go on with it.
        let mut cycle = self.cycle.lock().unwrap_or_else(PoisonError::into_inner);
        let now_s = self.registry.clock().now_ms() / 1000;
        let mut points = LineBatch::new();
        let mut histograms = LineBatch::new();
        let mut invalid = (0u64, 0u64);
        // Histogram samples dropped so far, summed in the same pass.
        let mut dropped_samples = 0u64;
        for entry in self.registry.entries() {
            let key = Arc::as_ptr(&entry) as usize;
            let template = cycle
                .templates
                .entry(key)
                .or_insert_with(|| template(&entry, &self.source));
            let Ok(template) = template else {
                // A name or tag the format cannot carry: count it every report.
                match entry.metric() {
                    Metric::Histogram(h) => {
                        invalid.1 += take(h, everything).len() as u64;
                        dropped_samples += h.dropped_samples();
                    }
                    _ => invalid.0 += 1,
                }
                continue;
            };
            let ok = match entry.metric() {
                Metric::Counter(c) => points
                    .push_with(|b| template.write(b, c.count() as f64, Some(now_s)))
                    .is_ok(),
                Metric::Gauge(g) => points
                    .push_with(|b| template.write(b, g.value(), Some(now_s)))
                    .is_ok(),
                // The user's function: a panic in it skips this point only.
                Metric::FunctionGauge(g) => {
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.value())) {
                        Ok(value) => points
                            .push_with(|b| template.write(b, value, Some(now_s)))
                            .is_ok(),
                        Err(panic) => {
                            self.caught(&format!("the function gauge {:?}", entry.name()), &*panic);
                            true
                        }
                    }
                }
                Metric::DeltaCounter(d) => {
                    let value = d.take();
                    points
                        .push_with(|b| template.write_delta(b, value))
                        .map(|_: Encoded| ())
                        .is_ok()
                }
                Metric::Histogram(h) => {
                    for d in take(h, everything) {
                        let written = histograms.push_with(|b| {
                            template.write_histogram(
                                b,
                                Granularity::Minute,
                                Some(d.minute_ms),
                                &d.centroids,
                            )
                        });
                        invalid.1 += u64::from(written.is_err());
                    }
                    dropped_samples += h.dropped_samples();
                    true
                }
            };
            invalid.0 += u64::from(!ok);
        }
        // The SDK's own lines go first, so that when the queue is nearly full
        // it is application lines that are dropped, never the counts of drops.
        let mut own = LineBatch::new();
        self.heartbeats(&mut cycle, &mut own, now_s);
        self.diagnostics(&mut cycle, &mut own, now_s, invalid, dropped_samples);
        self.sender.send(DataKind::Points, own);
        self.sender.send(DataKind::Points, points);
        if !histograms.is_empty() {
            self.sender.send(DataKind::Histograms, histograms);
        }
    }

    /// One `~component.heartbeat` line with `tags`.
    fn heartbeat<T: crate::wire::Tag>(&self, points: &mut LineBatch, now_s: u64, tags: &[T]) {
        let _ = points.push_with(|b| {
            crate::wire::write_metric(b, HEARTBEAT_METRIC, 1.0, Some(now_s), &self.source, tags)
        });
    }

    fn heartbeats(&self, cycle: &mut Cycle, points: &mut LineBatch, now_s: u64) {
        // Each new RED tag set once, at the first report after it appeared.
        for tags in self.red.iter().flat_map(|red| red.take_new_tag_sets()) {
            self.heartbeat(points, now_s, &tags);
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
            self.heartbeat(points, now_s, &tags);
        }
    }

    /// The SDK's own metrics: what the sender delivered, dropped and queued.
    fn diagnostics(
        &self,
        cycle: &mut Cycle,
        points: &mut LineBatch,
        now_s: u64,
        invalid: (u64, u64),
        dropped_samples: u64,
    ) {
        let stats = self.sender.stats();
        stats.kind(DataKind::Points).add_invalid(invalid.0);
        stats.kind(DataKind::Histograms).add_invalid(invalid.1);
        let prefix = format!("~sdk.rust.core.sender.{}", stats.transport());
        let t = &self.tags;
        let tags = [("application", t.application()), ("service", t.service())];
        let source = self.source.as_str();
        let mut delta = |name: String, total: u64| {
            let last = cycle.reported.insert(name.clone(), total).unwrap_or(0);
            let value = total.saturating_sub(last) as f64;
            let _ = points.push_with(|b| crate::wire::write_delta(b, &name, value, source, &tags));
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
            let _ = points.push_with(|b| {
                crate::wire::write_metric(b, &name, value, Some(now_s), source, &tags)
            });
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
        let spans = &self.tracer;
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

fn take(histogram: &crate::histogram::WavefrontHistogram, everything: bool) -> Vec<Distribution> {
    if everything {
        histogram.take_all()
    } else {
        histogram.take_completed()
    }
}

/// One span line, start and duration in microseconds.
/// The encoded form of a tracer's shared span tags, made once per report
/// for each set (spans share one `Arc`, so its address identifies it).
#[derive(Default)]
struct SharedTags(Vec<(usize, Result<EncodedSpanTags, crate::WireError>)>);

impl SharedTags {
    fn encoded(
        &mut self,
        tags: &Arc<[(Text, Text)]>,
    ) -> Result<&EncodedSpanTags, crate::WireError> {
        let key = Arc::as_ptr(tags).cast::<()>() as usize;
        let at = match self.0.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.0.push((key, EncodedSpanTags::new(tags)));
                self.0.len() - 1
            }
        };
        self.0[at].1.as_ref().map_err(Clone::clone)
    }
}

fn write_span(
    out: &mut String,
    span: &FinishedSpan,
    source: &str,
    shared: &mut SharedTags,
) -> Result<(), crate::WireError> {
    let d = &span.data;
    let line = SpanLine {
        operation: &d.operation,
        source,
        trace_id: d.context.trace_id,
        span_id: d.context.span_id,
        parents: &d.parents,
        follows_from: &d.follows_from,
        tags: &d.tags,
        start: d.start_micros,
        duration: span.duration_micros,
        has_logs: !d.logs.is_empty(),
    };
    match d.shared_tags() {
        Some(tags) => wire::write_span_after(out, shared.encoded(tags)?, &line),
        None => wire::write_span(out, &line),
    }
}

fn template(entry: &Entry, source: &str) -> Result<MetricTemplate, crate::WireError> {
    let tags: Vec<(&str, &str)> = entry.tags().iter().map(|(k, v)| (&**k, &**v)).collect();
    match entry.metric() {
        Metric::DeltaCounter(_) => MetricTemplate::delta(entry.name(), source, &tags),
        _ => MetricTemplate::new(entry.name(), source, &tags),
    }
}
