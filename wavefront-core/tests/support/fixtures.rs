//! Finished spans as the reporter receives them, for encoder tests.

use std::sync::{Arc, Mutex};

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
