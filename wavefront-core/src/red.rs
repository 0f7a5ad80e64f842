//! RED metrics (rate, errors, duration) derived from every finished span,
//! sampled or not (spec §5.4), as the Wavefront tracers report them:
//!
//! | series | kind |
//! |---|---|
//! | `∆tracing.derived.<application>.<service>.<operation>.invocation.count` | delta counter, one per span |
//! | `∆tracing.derived.<…>.error.count` | delta counter, one per error span |
//! | `∆tracing.derived.<…>.total_time.millis.count` | delta counter, the duration in ms |
//! | `!M tracing.derived.<…>.duration.micros` | minute histogram of durations in µs; error spans in their own series tagged `error=true` |
//!
//! Tags: the application tags (cluster and shard `none` when unset) and
//! custom tags, `operationName`, `component` and `span.kind` (`none` when the
//! span has none), `http.status_code` when it has one, and any configured
//! extra tag key the span carries. Each new tag set also gets one
//! `~component.heartbeat` (the same tags without `operationName`), so the
//! service discovers the application's components.
//!
//! A span's series are looked up by borrowed data in a lock-free cache: once
//! seen, recording a span allocates nothing.
//!
//! ```
//! use std::sync::Arc;
//! use wavefront_core::registry::Registry;
//! use wavefront_core::reporter::Reporter;
//! use wavefront_core::sender::ConsoleSender;
//! use wavefront_core::ApplicationTags;
//!
//! let app = ApplicationTags::builder("Ordering", "styling").build()?;
//! let registry = Registry::new();
//! let sink = Arc::new(ConsoleSender::to_writer(std::io::sink()));
//! let reporter = Reporter::builder(registry.clone(), sink, app).start(); // RED metrics on
//! reporter.tracer().span("checkout").tag("span.kind", "server").start().finish();
//! reporter.report_now(); // derives them from the spans it takes
//! assert!(registry.entries().iter().any(|e| e.name() == "tracing.derived.Ordering.styling.checkout.invocation.count"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crossbeam_queue::SegQueue;

use crate::cow_map::{hash_parts, AddressHasher, CowMap};
use crate::histogram::WavefrontHistogram;
use crate::metric::DeltaCounter;
use crate::registry::Registry;
use crate::tags::ApplicationTags;
use crate::trace::{FinishedSpan, Text};

/// Most distinct RED tag sets (operation, status, component, … : each makes
/// up to five series); further ones are not recorded (counted in
/// [`RedMetrics::refused`]). With the registry's default cap of 50,000
/// series, RED metrics can take at most a tenth of it, so they can never
/// crowd out the request series.
pub const MAX_RED_SERIES: usize = 1_000;

/// What identifies a span's RED series, borrowed from the span.
struct Key<'a> {
    application: &'a str,
    service: &'a str,
    operation: &'a str,
    component: &'a str,
    kind: &'a str,
    status: Option<&'a str>,
    extras: Vec<(&'a str, &'a str)>,
}

impl Key<'_> {
    fn hash(&self) -> u64 {
        let parts = [
            self.application,
            self.service,
            self.operation,
            self.component,
            self.kind,
            self.status.unwrap_or("\u{0}"),
        ];
        hash_parts(
            parts
                .into_iter()
                .chain(self.extras.iter().flat_map(|(k, v)| [*k, *v])),
        )
    }

    fn matches(&self, s: &Series) -> bool {
        *s.application == *self.application
            && *s.service == *self.service
            && *s.operation == *self.operation
            && *s.component == *self.component
            && *s.kind == *self.kind
            && s.status.as_deref() == self.status
            && s.extras.len() == self.extras.len()
            && s.extras
                .iter()
                .zip(&self.extras)
                .all(|((k, v), (k2, v2))| **k == **k2 && **v == **v2)
    }
}

/// The series of one tag set.
struct Series {
    application: Box<str>,
    service: Box<str>,
    operation: Box<str>,
    component: Box<str>,
    kind: Box<str>,
    status: Option<Box<str>>,
    extras: Vec<(Box<str>, Box<str>)>,
    invocations: DeltaCounter,
    errors: DeltaCounter,
    total_millis: DeltaCounter,
    durations: WavefrontHistogram,
    error_durations: WavefrontHistogram,
}

impl Series {
    /// Counts one span of this series.
    fn count(&self, span: &FinishedSpan, error: bool) {
        self.invocations.inc();
        self.total_millis.add(span.duration_micros as f64 / 1000.0);
        if error {
            self.errors.inc();
            self.error_durations.record(span.duration_micros);
        } else {
            self.durations.record(span.duration_micros);
        }
    }
}

/// Derives RED metrics from finished spans into a registry.
pub struct RedMetrics {
    registry: Registry,
    app: ApplicationTags,
    extra_keys: Vec<String>,
    series: CowMap<Series>,
    /// Tag sets seen for the first time, for one heartbeat each.
    new_tag_sets: SegQueue<Vec<(String, String)>>,
    refused: std::sync::atomic::AtomicU64,
}

impl RedMetrics {
    /// RED metrics into `registry`, labelled with `app`; `extra_keys` are span
    /// tag keys copied onto the RED series when a span carries them.
    #[must_use]
    pub fn new(registry: Registry, app: ApplicationTags, extra_keys: Vec<String>) -> Self {
        RedMetrics {
            registry,
            app,
            extra_keys,
            series: CowMap::new(),
            new_tag_sets: SegQueue::new(),
            refused: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Records one finished span (sampled or not).
    pub fn record(&self, span: &FinishedSpan) {
        let found = SpanTags::of(&span.data);
        self.count(self.series_of(&found, span).as_deref(), span, found.error);
    }

    /// Records a batch of finished spans: spans whose tags share their
    /// texts (those of one route and status) find their series once.
    pub fn record_all(&self, spans: &[FinishedSpan]) {
        self.batch().record(spans);
    }

    /// A batch of spans to record a few at a time (see [`RedBatch`]).
    pub(crate) fn batch(&self) -> RedBatch<'_> {
        RedBatch {
            red: self,
            known: HashMap::default(),
            last: None,
        }
    }

    /// Counts `span` in its series, or as refused when it has none.
    fn count(&self, series: Option<&Series>, span: &FinishedSpan, error: bool) {
        match series {
            Some(series) => series.count(span, error),
            None => {
                self.refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// The series of a span with these tags, made at its first span;
    /// `None` past [`MAX_RED_SERIES`] tag sets.
    fn series_of(&self, found: &SpanTags<'_>, span: &FinishedSpan) -> Option<Arc<Series>> {
        let d = &span.data;
        let key = Key {
            application: found.application.unwrap_or(self.app.application()),
            service: found.service.unwrap_or(self.app.service()),
            operation: &d.operation,
            component: found.component.unwrap_or(crate::tags::NONE),
            kind: found.kind.unwrap_or(crate::tags::NONE),
            status: found.status,
            extras: self
                .extra_keys
                .iter()
                .filter_map(|k| d.tag(k).map(|v| (k.as_str(), v)))
                .collect(),
        };
        self.series
            .get_or_insert(
                key.hash(),
                |s| key.matches(s),
                || self.create(&key, d),
                MAX_RED_SERIES,
            )
            .ok()
    }

    fn create(&self, key: &Key<'_>, span: &crate::trace::SpanData) -> Series {
        let app = &self.app;
        let cluster = span.tag("cluster").unwrap_or(app.cluster());
        let shard = span.tag("shard").unwrap_or(app.shard());
        let mut tags: Vec<(&str, &str)> = vec![
            ("application", key.application),
            ("service", key.service),
            ("cluster", cluster),
            ("shard", shard),
        ];
        tags.extend(
            app.custom_tags()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        tags.extend([("component", key.component), ("span.kind", key.kind)]);
        if let Some(status) = key.status {
            tags.push(("http.status_code", status));
        }
        tags.extend(key.extras.iter().copied());
        // The heartbeat carries the tag set without the operation name.
        self.new_tag_sets.push(
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        tags.push(("operationName", key.operation));

        let prefix = format!(
            "tracing.derived.{}.{}.{}",
            key.application, key.service, key.operation
        );
        let delta = |what: &str| {
            self.registry
                .delta_counter(&format!("{prefix}.{what}"), &tags)
        };
        let durations = self
            .registry
            .histogram(&format!("{prefix}.duration.micros"), &tags);
        let mut error_tags = tags.clone();
        error_tags.push(("error", "true"));
        let error_durations = self
            .registry
            .histogram(&format!("{prefix}.duration.micros"), &error_tags);
        Series {
            application: key.application.into(),
            service: key.service.into(),
            operation: key.operation.into(),
            component: key.component.into(),
            kind: key.kind.into(),
            status: key.status.map(Into::into),
            extras: key
                .extras
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            invocations: delta("invocation.count"),
            errors: delta("error.count"),
            total_millis: delta("total_time.millis.count"),
            durations,
            error_durations,
        }
    }

    /// Tag sets first seen since the last call, each to be sent once as a
    /// `~component.heartbeat`.
    #[must_use]
    pub fn take_new_tag_sets(&self) -> Vec<Vec<(String, String)>> {
        std::iter::from_fn(|| self.new_tag_sets.pop()).collect()
    }

    /// Spans not recorded because [`MAX_RED_SERIES`] tag sets exist.
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl fmt::Debug for RedMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedMetrics")
            .field("series", &self.series.len())
            .field("extra_keys", &self.extra_keys)
            .finish_non_exhaustive()
    }
}

/// Spans of one batch, recorded a few at a time: the series found for each
/// key, by the addresses of its texts, are remembered through the batch.
///
/// That holds while every span given was alive when the batch was taken:
/// their texts' addresses were distinct then; a span dropped since frees
/// addresses, but none of the spans still to come can have a text there,
/// and finished spans take no new texts.
pub(crate) struct RedBatch<'r> {
    red: &'r RedMetrics,
    known: HashMap<KeyIds, Option<Arc<Series>>, AddressHasher>,
    /// Consecutive spans of one route and status, most of a busy batch,
    /// find the last one's series without hashing their key.
    last: Option<(KeyIds, Option<Arc<Series>>)>,
}

impl RedBatch<'_> {
    /// Records the next spans of the batch.
    pub(crate) fn record(&mut self, spans: &[FinishedSpan]) {
        let red = self.red;
        if !red.extra_keys.is_empty() {
            spans.iter().for_each(|span| red.record(span));
            return;
        }
        // The tracer's tags, the same for most spans, looked at once.
        let mut base: Option<(usize, SpanTags<'_>)> = None;
        for span in spans {
            let d = &span.data;
            let shared = tracer_tags(d);
            let at = shared.as_ptr() as usize;
            let from_base = match &base {
                Some((known, found)) if *known == at => found.clone(),
                _ => base.insert((at, SpanTags::of_tags(shared))).1.clone(),
            };
            let found = from_base.and(&d.tags);
            let ids = found.ids(&span.data.operation);
            let series = match &self.last {
                Some((last_ids, series)) if *last_ids == ids => series,
                _ => {
                    let series = self
                        .known
                        .entry(ids)
                        .or_insert_with(|| red.series_of(&found, span));
                    &self.last.insert((ids, series.clone())).1
                }
            };
            red.count(series.as_deref(), span, found.error);
        }
    }
}

/// The tracer's tags `d` shares (none if it replaced one of them).
fn tracer_tags(d: &crate::trace::SpanData) -> &[(Text, Text)] {
    d.shared_tags().map_or(&[], |tags| &tags[..])
}

/// The texts of a RED series key, by address and length.
type KeyIds = [(usize, usize); 6];

/// The tags of a span that its RED series key is made of.
#[derive(Default, Clone)]
struct SpanTags<'a> {
    application: Option<&'a str>,
    service: Option<&'a str>,
    component: Option<&'a str>,
    kind: Option<&'a str>,
    status: Option<&'a str>,
    error: bool,
}

impl<'a> SpanTags<'a> {
    /// One pass over the tags for what the key needs (the last value of
    /// each, as `SpanData::tag` gives), rather than one pass per tag.
    fn of(d: &'a crate::trace::SpanData) -> Self {
        SpanTags::of_tags(tracer_tags(d)).and(&d.tags)
    }

    /// Of `tags` alone.
    fn of_tags(tags: &'a [(Text, Text)]) -> Self {
        SpanTags::default().and(tags)
    }

    /// With `tags`, which come after those already looked at.
    fn and(mut self, tags: &'a [(Text, Text)]) -> Self {
        for (k, v) in tags {
            let (k, v) = (k.as_str(), v.as_str());
            // Most keys are none of these: their length and first byte
            // tell so before any comparison.
            match (k.len(), k.as_bytes().first()) {
                (11, Some(b'a')) if k == "application" => self.application = Some(v),
                (7, Some(b's')) if k == "service" => self.service = Some(v),
                (9, Some(b'c')) if k == "component" => self.component = Some(v),
                (9, Some(b's')) if k == "span.kind" => self.kind = Some(v),
                (16, Some(b'h')) if k == "http.status_code" => self.status = Some(v),
                (5, Some(b'e')) if k == "error" => self.error |= v == "true",
                _ => {}
            }
        }
        self
    }

    /// The texts of the key (with the operation's) by address and length:
    /// spans alive together with the same ids have the same key. `error`
    /// is not part of the key.
    fn ids(&self, operation: &str) -> KeyIds {
        let id = |s: Option<&str>| s.map_or((0, 0), |s| (s.as_ptr() as usize, s.len()));
        [
            id(Some(operation)),
            id(self.application),
            id(self.service),
            id(self.component),
            id(self.kind),
            id(self.status),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Entry, Metric};
    use crate::trace::{Text, Tracer};

    fn setup(extra: &[&str]) -> (Registry, RedMetrics, Tracer) {
        let app = ApplicationTags::builder("Ordering", "styling")
            .custom_tag("env", "Staging")
            .build()
            .unwrap();
        let registry = Registry::new();
        let red = RedMetrics::new(
            registry.clone(),
            app.clone(),
            extra.iter().map(|k| (*k).to_owned()).collect(),
        );
        (registry, red, Tracer::builder(app).build())
    }

    fn delta(entries: &[Arc<Entry>], name: &str, status: &str) -> f64 {
        entries
            .iter()
            .filter(|e| {
                e.name() == name
                    && e.tags()
                        .iter()
                        .any(|(k, v)| &**k == "http.status_code" && &**v == status)
            })
            .map(|e| {
                if let Metric::DeltaCounter(d) = e.metric() {
                    d.peek()
                } else {
                    f64::NAN
                }
            })
            .sum()
    }

    #[test]
    fn a_batch_counts_as_its_spans_one_by_one() {
        let (one_by_one, red, tracer) = setup(&[]);
        let (batched, red_batched, _) = setup(&[]);
        let (chunked, red_chunked, _) = setup(&[]);
        // Operations and statuses from shared texts (as a route's), and from
        // texts of their own that are equal (a handler's `String` tags).
        let statuses: [Text; 4] = [
            "200".into(),
            "502".into(),
            String::from("200").into(),
            "404".into(),
        ];
        // Spans of another tracer (other shared tags) in between, and spans
        // that replace one of their tracer's tags.
        let packing = Tracer::builder(
            ApplicationTags::builder("Ordering", "packing")
                .build()
                .unwrap(),
        )
        .build();
        let mut spans = Vec::new();
        for i in 0..40 {
            let tracer = if i % 5 == 2 { &packing } else { &tracer };
            let span = tracer
                .span(if i % 3 == 0 {
                    Text::from("checkout")
                } else {
                    Text::from(String::from("make_shirts"))
                })
                .tag("component", "axum")
                .tag("span.kind", "server")
                .start();
            span.set_tag("http.status_code", statuses[i % 4].clone());
            if i % 4 == 1 {
                span.set_error();
            }
            if i % 7 == 3 {
                span.set_tag("service", "billing");
            }
            span.finish();
            spans.extend(tracer.take_finished());
        }
        for span in &spans {
            red.record(span);
        }
        // A few at a time, as the exporter reads them, each chunk dropped
        // (its own texts freed) before the next is recorded.
        let mut copies = spans.clone().into_iter();
        let mut batch = red_chunked.batch();
        while copies.len() > 0 {
            let chunk: Vec<FinishedSpan> = copies.by_ref().take(3).collect();
            batch.record(&chunk);
        }
        red_batched.record_all(&spans);
        let values = |registry: &Registry| -> Vec<(String, String)> {
            let mut values: Vec<(String, String)> = registry
                .entries()
                .iter()
                .map(|e| {
                    let value = match e.metric() {
                        Metric::DeltaCounter(d) => format!("{:.3}", d.peek()),
                        Metric::Histogram(h) => {
                            format!("{}", h.take_all().iter().map(|d| d.count()).sum::<u64>())
                        }
                        _ => String::new(),
                    };
                    (format!("{} {:?}", e.name(), e.tags()), value)
                })
                .collect();
            values.sort();
            values
        };
        let want = values(&one_by_one);
        assert!(want.len() > 10, "{want:?}");
        assert_eq!(values(&batched), want);
        assert_eq!(values(&chunked), want);
    }

    #[test]
    fn invocations_errors_and_durations_per_tag_set() {
        let (registry, red, tracer) = setup(&[]);
        for status in ["200", "200", "502"] {
            let span = tracer
                .span("make_shirts")
                .tag("component", "axum")
                .tag("span.kind", "server")
                .start();
            span.set_tag("http.status_code", status);
            if status == "502" {
                span.set_error();
            }
            span.finish();
        }
        for span in tracer.take_finished() {
            red.record(&span);
        }
        let e = registry.entries();
        let p = "tracing.derived.Ordering.styling.make_shirts";
        assert_eq!(delta(&e, &format!("{p}.invocation.count"), "200"), 2.0);
        assert_eq!(delta(&e, &format!("{p}.invocation.count"), "502"), 1.0);
        assert_eq!(delta(&e, &format!("{p}.error.count"), "502"), 1.0);
        assert_eq!(delta(&e, &format!("{p}.error.count"), "200"), 0.0);
        assert!(delta(&e, &format!("{p}.total_time.millis.count"), "200") >= 0.0);
        let histograms: Vec<&Arc<Entry>> = e
            .iter()
            .filter(|e| e.name() == format!("{p}.duration.micros"))
            .collect();
        let samples = |error: bool| -> u64 {
            histograms
                .iter()
                .filter(|e| e.tags().iter().any(|(k, _)| &**k == "error") == error)
                .map(|e| {
                    if let Metric::Histogram(h) = e.metric() {
                        h.take_all().iter().map(|d| d.count()).sum()
                    } else {
                        0
                    }
                })
                .sum()
        };
        assert_eq!((samples(false), samples(true)), (2, 1));
        let tags = e
            .iter()
            .find(|e| e.name() == format!("{p}.invocation.count"))
            .unwrap()
            .tags();
        let keys: Vec<&str> = tags.iter().map(|(k, _)| &**k).collect();
        assert_eq!(
            keys,
            [
                "application",
                "cluster",
                "component",
                "env",
                "http.status_code",
                "operationName",
                "service",
                "shard",
                "span.kind"
            ]
        );
        let sets = red.take_new_tag_sets();
        assert_eq!(sets.len(), 2, "one per new tag set");
        assert!(sets
            .iter()
            .all(|s| !s.iter().any(|(k, _)| k == "operationName")));
        assert!(red.take_new_tag_sets().is_empty());
    }

    #[test]
    fn missing_tags_read_none_and_extra_keys_are_copied() {
        let (registry, red, tracer) = setup(&["tenant"]);
        tracer.span("job").tag("tenant", "acme").start().finish();
        for span in tracer.take_finished() {
            red.record(&span);
        }
        let e = registry.entries();
        let entry = e
            .iter()
            .find(|e| e.name() == "tracing.derived.Ordering.styling.job.invocation.count")
            .unwrap();
        let tag = |key: &str| {
            entry
                .tags()
                .iter()
                .find(|(k, _)| &**k == key)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(tag("component").as_deref(), Some("none"));
        assert_eq!(tag("span.kind").as_deref(), Some("none"));
        assert_eq!(tag("cluster").as_deref(), Some("none"));
        assert_eq!(tag("tenant").as_deref(), Some("acme"));
        assert_eq!(tag("http.status_code"), None);
    }
}
