//! A batch of span lines is written into the buffer of a batch sent before
//! (memory the caches still hold, and no allocation), not into a fresh one.
//! Alone in its test binary: the spare buffers are the process's.

#[path = "support/fixtures.rs"]
mod fixtures;

use wavefront_core::export::{Origin, WavefrontExporter};
use wavefront_core::sender::DataKind;

#[test]
fn a_batch_of_spans_is_written_into_the_buffer_of_one_sent_before() {
    let tags = fixtures::app();
    let spans = fixtures::finished(|tracer| {
        for _ in 0..10 {
            tracer
                .span("make_shirts")
                .tag("component", "axum")
                .start()
                .finish();
        }
    });
    let origin = Origin {
        source: "host-1",
        tags: &tags,
    };
    let encode = || WavefrontExporter::encode_spans(origin, &spans);

    let first = encode();
    let text = first.lines(DataKind::Spans).text();
    assert_eq!(text.lines().count(), 10);
    let (buffer, first_text) = (text.as_ptr(), text.to_owned());
    drop(first); // sent: its buffer is kept
                 // Blocks of the sizes a batch of ten lines takes: a buffer freed rather
                 // than kept would be one of these now.
    let decoys: Vec<Vec<u8>> = (0..64)
        .map(|i| Vec::with_capacity(4_096 + i * 64))
        .collect();

    let next = encode();
    let text = next.lines(DataKind::Spans).text();
    assert_eq!(text.as_ptr(), buffer, "a fresh buffer");
    // Emptied first: only the new batch's lines.
    assert_eq!(text, first_text);
    drop(decoys);
}
