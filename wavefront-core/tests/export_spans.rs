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
