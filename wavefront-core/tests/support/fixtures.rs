//! Finished spans as the reporter receives them, and an exporter that lets
//! a test watch them, for encoder and reporter tests.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wavefront_core::export::{Exporter, MetricsReport, Origin, WavefrontExporter};
use wavefront_core::sender::{SenderStats, ShutdownReport};
use wavefront_core::trace::{FinishedSpan, Tracer};
use wavefront_core::ApplicationTags;

/// The application tags of these tests.
pub(crate) fn app() -> ApplicationTags {
    ApplicationTags::builder("Ordering", "styling")
        .build()
        .unwrap()
}

/// The spans `make` finishes with a tracer of [`app`]'s tags, in order.
pub(crate) fn finished(make: impl FnOnce(&Tracer)) -> Vec<FinishedSpan> {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&finished);
    let tracer = Tracer::builder(app())
        .on_finish(Arc::new(move |span: &FinishedSpan| {
            sink.lock().unwrap().push(span.clone());
        }))
        .build();
    make(&tracer);
    let spans = std::mem::take(&mut *finished.lock().unwrap());
    spans
}

/// A Wavefront exporter whose `export_spans` shows each call's spans to
/// `seen` first; everything else is the inner exporter's (and
/// `export_spans_with` is the trait's default).
pub(crate) struct Watched<F> {
    pub(crate) inner: WavefrontExporter,
    pub(crate) seen: F,
}

impl<F> fmt::Debug for Watched<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<F: Fn(&[FinishedSpan]) + Send + Sync> Exporter for Watched<F> {
    fn export_metrics(&self, origin: Origin<'_>, report: MetricsReport) {
        self.inner.export_metrics(origin, report);
    }
    fn export_spans(&self, origin: Origin<'_>, spans: Vec<FinishedSpan>) {
        (self.seen)(&spans);
        self.inner.export_spans(origin, spans);
    }
    fn flush(&self, timeout: Duration) -> bool {
        self.inner.flush(timeout)
    }
    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.inner.shutdown(timeout)
    }
    fn stats(&self) -> &SenderStats {
        self.inner.stats()
    }
}
