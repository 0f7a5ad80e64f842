//! The Wavefront exporter drops each span once its lines are written (its
//! storage recycled while still in cache): what it sends is still exactly
//! what `encode_spans` makes of the same spans, even when every span's texts
//! are its own and freed mid-batch.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "support/fixtures.rs"]
mod fixtures;

use wavefront_core::export::{Exporter, Origin, WavefrontExporter};
use wavefront_core::sender::{ConsoleSender, DataKind};
use wavefront_core::trace::Text;

/// A writer into memory shared with the test.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

#[test]
fn spans_dropped_as_they_are_encoded_are_sent_as_encode_spans_writes_them() {
    let tags = fixtures::app();
    let spans = fixtures::finished(|tracer| {
        for i in 0..300 {
            // Texts shared by a few spans (a route's), and texts of one span's
            // own that are freed when it is dropped.
            let route = Text::from(Arc::<str>::from(format!("route-{}", i % 3)));
            let own = Text::from(Arc::<str>::from(format!("value-{i}")));
            let span = tracer
                .span("make_shirts")
                .tag("component", "axum")
                .tag("route", route)
                .tag("own", own)
                .start();
            if i % 5 == 0 {
                span.log(vec![("event".into(), "error".into())]);
            }
            span.finish();
        }
    });
    let origin = Origin {
        source: "host-1",
        tags: &tags,
    };
    let expected = WavefrontExporter::encode_spans(origin, &spans);

    let written = Shared::default();
    let exporter = WavefrontExporter::new(Arc::new(ConsoleSender::to_writer(written.clone())));
    exporter.export_spans(origin, spans);
    assert!(exporter.flush(Duration::from_secs(10)));
    let sent = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();

    let mut encoded = expected.lines(DataKind::Spans).text().to_owned();
    encoded.push_str(expected.lines(DataKind::SpanLogs).text());
    assert_eq!(expected.lines(DataKind::Spans).lines(), 300);
    assert_eq!(expected.lines(DataKind::SpanLogs).lines(), 60);
    assert_eq!(sorted_lines(&sent), sorted_lines(&encoded));
    for i in [0, 157, 299] {
        assert!(
            sent.contains(&format!("\"own\"=\"value-{i}\"")),
            "value-{i}"
        );
    }
}

#[test]
fn each_chunk_sees_every_span_a_few_at_a_time_and_only_sampled_ones_are_sent() {
    let tags = fixtures::app();
    let mut spans = fixtures::finished(|tracer| {
        for i in 0..100 {
            let own = Text::from(Arc::<str>::from(format!("value-{i}")));
            tracer.span("make_shirts").tag("own", own).start().finish();
        }
    });
    // A quarter of them sampled out, queued for the RED metrics only.
    for (i, span) in spans.iter_mut().enumerate() {
        span.sampled = i % 4 != 0;
    }
    let origin = Origin {
        source: "host-1",
        tags: &tags,
    };
    let sampled: Vec<_> = spans.iter().filter(|s| s.sampled).cloned().collect();
    let expected = WavefrontExporter::encode_spans(origin, &sampled);
    assert_eq!(expected.lines(DataKind::Spans).lines(), 75);

    let written = Shared::default();
    let exporter = WavefrontExporter::new(Arc::new(ConsoleSender::to_writer(written.clone())));
    let (mut chunks, mut unsampled) = (Vec::new(), 0);
    exporter.export_spans_with(origin, spans, &mut |chunk| {
        chunks.push(chunk.len());
        unsampled += chunk.iter().filter(|s| !s.sampled).count();
    });
    assert!(exporter.flush(Duration::from_secs(10)));
    let sent = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        sorted_lines(&sent),
        sorted_lines(expected.lines(DataKind::Spans).text())
    );
    // Every span seen once, sampled or not, in chunks small enough to stay
    // in the cache until encoded.
    assert_eq!(chunks.iter().sum::<usize>(), 100);
    assert_eq!(unsampled, 25);
    assert!(
        chunks.len() > 1 && chunks.iter().all(|&n| n <= 16),
        "{chunks:?}"
    );
}

#[test]
fn by_default_each_chunk_sees_all_spans_then_the_sampled_ones_are_exported() {
    let tags = fixtures::app();
    let mut spans = fixtures::finished(|tracer| {
        (0..40).for_each(|_| tracer.span("make_shirts").start().finish());
    });
    for (i, span) in spans.iter_mut().enumerate() {
        span.sampled = i % 2 == 0;
    }
    let written = Shared::default();
    // An exporter with only `export_spans`: the default `export_spans_with`.
    let exporter = fixtures::Watched {
        inner: WavefrontExporter::new(Arc::new(ConsoleSender::to_writer(written.clone()))),
        seen: |spans: &[wavefront_core::trace::FinishedSpan]| {
            assert!(
                spans.iter().all(|s| s.sampled),
                "only sampled spans are exported"
            );
        },
    };
    let origin = Origin {
        source: "host-1",
        tags: &tags,
    };
    let mut chunks = Vec::new();
    exporter.export_spans_with(origin, spans, &mut |chunk| chunks.push(chunk.len()));
    assert!(exporter.flush(Duration::from_secs(10)));
    assert_eq!(chunks, [40]);
    let sent = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    assert_eq!(sent.lines().count(), 20);
}
