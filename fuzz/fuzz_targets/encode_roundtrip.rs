//! Arbitrary bytes split into fields (names, sources, tag keys and values,
//! span operations, span-log fields, numbers), encoded as a metric point, a
//! delta counter, a histogram, through a `MetricTemplate`, as a span or as
//! span logs. Whenever an encoder succeeds, it must have appended exactly one
//! line that the strict parser accepts; when it fails, the buffer must be
//! unchanged. Nothing may panic.
//!
//! Input layout: byte 0 picks the encoder and flags, the next 8-byte words
//! are numbers, and the rest is split at `0xff` bytes (never valid UTF-8)
//! into text fields, each read as UTF-8 lossily.

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use wavefront_core::wire::{
    self, Centroid, Encoded, Granularity, MetricTemplate, SpanLine, SpanLog, WireError,
};
use wavefront_core::{SpanId, TraceId};
use wavefront_testkit::parse::{self, ParseError};


struct Input<'a> {
    bytes: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.bytes.split_first().unwrap_or((&0, &[]));
        self.bytes = rest;
        b
    }

    fn word(&mut self) -> u64 {
        let n = self.bytes.len().min(8);
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        u64::from_le_bytes(buf)
    }
}

struct Fields {
    fields: Vec<String>,
    next: usize,
}

impl Fields {
    fn text(&mut self) -> String {
        let field = self.fields.get(self.next).cloned().unwrap_or_default();
        self.next += 1;
        field
    }

    fn left(&self) -> usize {
        self.fields.len().saturating_sub(self.next)
    }

    /// The remaining fields as `(key, value)` pairs, at most `max`.
    fn tags(&mut self, max: usize) -> Vec<(String, String)> {
        let mut tags = Vec::new();
        while self.left() >= 2 && tags.len() < max {
            tags.push((self.text(), self.text()));
        }
        tags
    }
}

/// The oracle: an error leaves `buf` as `before`; success appends one line
/// that `parse_line` accepts.
fn check<T>(
    result: Result<(), WireError>,
    buf: &str,
    before: usize,
    parse_line: impl Fn(&str) -> Result<T, ParseError>,
) {
    if result.is_err() {
        assert_eq!(buf.len(), before, "{result:?} left output behind: {buf:?}");
        return;
    }
    let line = &buf[before..];
    assert!(
        line.ends_with('\n') && line.matches('\n').count() == 1,
        "not one line: {line:?}"
    );
    if let Err(e) = parse_line(line) {
        panic!("encoded, but the strict parser rejects it ({e}): {line:?}");
    }
}

fn centroids(input: &mut Input<'_>, n: usize) -> Vec<Centroid> {
    (0..n)
        .map(|_| Centroid {
            mean: f64::from_bits(input.word()),
            // Up to a few times the proxy's 32-bit count limit.
            count: input.word() % (1 << 33),
        })
        .collect()
}

fn time(word: u64) -> u64 {
    word // beyond i64::MAX the encoders refuse
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input { bytes: data };
    let selector = input.byte();
    let flags = input.byte();
    let words = [input.word(), input.word(), input.word()];
    let mut fields = Fields {
        fields: input
            .bytes
            .split(|&b| b == 0xff)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect(),
        next: 0,
    };
    let value = f64::from_bits(words[0]);
    let timestamp = (flags & 1 == 1).then(|| time(words[1]));
    let granularity =
        [Granularity::Minute, Granularity::Hour, Granularity::Day][usize::from(flags >> 1) % 3];

    // Something already in the buffer: encoders must append, and roll back
    // only their own output.
    let mut buf = String::from("\"earlier\" 1.0 source=\"h\"\n");
    let before = buf.len();

    match selector % 6 {
        0 => {
            let (name, source) = (fields.text(), fields.text());
            let tags = fields.tags(usize::MAX);
            let result = wire::write_metric(&mut buf, &name, value, timestamp, &source, &tags);
            check(result, &buf, before, parse::parse_metric);
        }
        1 => {
            let (name, source) = (fields.text(), fields.text());
            let tags = fields.tags(usize::MAX);
            match wire::write_delta(&mut buf, &name, value, &source, &tags) {
                Ok(Encoded::Nothing) => assert!(value <= 0.0 && buf.len() == before),
                result => check(result.map(drop), &buf, before, |line| {
                    let point = parse::parse_metric(line)?;
                    assert!(point.is_delta(), "{line:?}");
                    Ok(point)
                }),
            }
        }
        2 => {
            let (name, source) = (fields.text(), fields.text());
            let tags = fields.tags(usize::MAX);
            let centroids = centroids(&mut input, usize::from(flags >> 4));
            let result = wire::write_histogram(
                &mut buf,
                granularity,
                timestamp,
                &centroids,
                &name,
                &source,
                &tags,
            );
            check(result, &buf, before, parse::parse_histogram);
        }
        3 => {
            let (name, source) = (fields.text(), fields.text());
            let tags = fields.tags(usize::MAX);
            let template = if flags & 0x80 != 0 {
                MetricTemplate::delta(&name, &source, &tags)
            } else {
                MetricTemplate::new(&name, &source, &tags)
            };
            if let Ok(template) = template {
                let result = template.write(&mut buf, value, timestamp);
                check(result, &buf, before, parse::parse_metric);
                buf.truncate(before);
                match template.write_delta(&mut buf, value) {
                    Ok(Encoded::Nothing) => assert!(buf.len() == before),
                    result => check(result.map(drop), &buf, before, parse::parse_metric),
                }
                buf.truncate(before);
                let centroids = centroids(&mut input, usize::from(flags >> 4));
                let result = template.write_histogram(&mut buf, granularity, timestamp, &centroids);
                check(result, &buf, before, parse::parse_histogram);
            }
        }
        4 => {
            let (operation, source) = (fields.text(), fields.text());
            let tags = fields.tags(usize::MAX);
            let parents: Vec<SpanId> = (0..flags % 3)
                .map(|i| SpanId::from_u128(u128::from(words[2]) + u128::from(i)))
                .collect();
            let follows: Vec<SpanId> = (0..(flags >> 2) % 2)
                .map(|_| SpanId::from_u128(u128::from(words[1]) << 64))
                .collect();
            let span = SpanLine {
                operation: &operation,
                source: &source,
                trace_id: TraceId::from_u128(u128::from(words[0]) << 64 | u128::from(words[1])),
                span_id: SpanId::from_u128(u128::from(words[2])),
                parents: &parents,
                follows_from: &follows,
                tags: &tags,
                start: time(words[0]),
                duration: time(words[1]),
                has_logs: flags & 0x40 != 0,
            };
            let result = wire::write_span(&mut buf, &span);
            check(result, &buf, before, |line| {
                assert!(matches!(
                    parse::parse_tracing_port_line(line)?,
                    parse::Line::Span(_)
                ));
                parse::parse_span(line)
            });
        }
        _ => {
            let (trace_id, span_id) = (
                TraceId::from_u128(u128::from(words[0])),
                SpanId::from_u128(u128::from(words[1])),
            );
            let (operation, source) = (fields.text(), fields.text());
            let no_tags: &[(&str, &str)] = &[];
            let span = |operation: &str, source: &str| {
                let mut line = String::new();
                let span = SpanLine {
                    operation,
                    source,
                    trace_id,
                    span_id,
                    parents: &[],
                    follows_from: &[],
                    tags: no_tags,
                    start: 1,
                    duration: 1,
                    has_logs: true,
                };
                wire::write_span(&mut line, &span).map(|()| line)
            };
            // The encoder's contract: `span_line` is a `write_span` line.
            let span_line = span(&operation, &source)
                .unwrap_or_else(|_| span("op", "h").expect("a plain span encodes"));
            let pairs = fields.tags(usize::MAX);
            let logs: Vec<SpanLog> = pairs
                .chunks(3)
                .enumerate()
                .map(|(i, chunk)| SpanLog {
                    timestamp_micros: time(words[2].wrapping_add(i as u64)),
                    fields: chunk
                        .iter()
                        .map(|(k, v)| (Cow::Owned(k.clone()), Cow::Owned(v.clone())))
                        .collect(),
                })
                .collect();
            wire::write_span_logs(&mut buf, trace_id, span_id, &logs, &span_line);
            check(Ok(()), &buf, before, |line| {
                assert!(line.is_ascii(), "{line:?}");
                let parsed = parse::parse_span_logs(line)?;
                assert_eq!(parsed.logs.len(), logs.len());
                assert!(parsed.span.is_some());
                Ok(parsed)
            });
        }
    }
});
