//! Every line our encoders write for arbitrary input is accepted by the strict
//! parser and reads back as the same name, value, source and tags.
//!
//! The expected forms are written from the spec (§2.1–2.3), independently of
//! the encoder: names keep `A-Z a-z 0-9 _ , . -` (plus a leading `~`/`∆`/`Δ`),
//! values are trimmed and lose trailing backslashes, `\"` reads back as `"`,
//! and a newline reads back as the two characters `\n`.

use proptest::prelude::*;
use wavefront_core::wire::{self, Centroid, Encoded, Granularity, SpanLine, SpanLog, WireError};
use wavefront_core::{SpanId, TraceId};
use wavefront_testkit::parse;

fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn expected_name(s: &str) -> String {
    let mut chars = s.chars();
    let first = chars.next();
    let delta = matches!(first, Some('∆' | 'Δ'));
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            let legal = c.is_ascii_alphanumeric() || matches!(c, ',' | '-' | '.' | '_');
            let lead =
                (i == 0 && (c == '~' || c == '∆' || c == 'Δ')) || (i == 1 && c == '~' && delta);
            if legal || lead {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn expected_value(s: &str) -> String {
    s.trim_matches(is_py_space)
        .trim_end_matches('\\')
        .replace('\n', "\\n")
        .replace('\u{4}', "\u{fffd}")
}

/// Text that stresses the format: quotes, backslashes, separators, control
/// characters, delta signs, non-ASCII, and plain letters.
fn text(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('\n'),
        1 => Just(' '),
        1 => Just('='),
        1 => Just('#'),
        1 => Just('*'),
        1 => Just('~'),
        1 => Just('∆'),
        1 => Just('Δ'),
        1 => Just('\''),
        1 => Just('\u{4}'),
        1 => Just('\t'),
        1 => Just('\r'),
        1 => Just('/'),
        1 => Just(':'),
        2 => any::<char>(),
    ];
    proptest::collection::vec(ch, 1..max).prop_map(String::from_iter)
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(1e16),
        Just(1.5e-5)
    ]
}

fn tags() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((text(20), text(30)), 0..6)
}

/// Keys the proxy treats specially on metric lines, and repeated keys, are
/// out of scope here (the proxy keeps the last one).
fn plain_tags(tags: &[(String, String)]) -> bool {
    let keys: Vec<String> = tags.iter().map(|(k, _)| expected_name(k)).collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    unique.len() == keys.len()
        && !keys
            .iter()
            .any(|k| matches!(k.as_str(), "source" | "host" | "tag"))
}

fn expected_tags(tags: &[(String, String)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(k, v)| (expected_name(k), expected_value(v)))
        .collect()
}

/// The errors an encoder may return for arbitrary input: all are about the input.
fn input_error(e: &WireError) -> bool {
    matches!(
        e,
        WireError::BlankName
            | WireError::BlankSource
            | WireError::BlankTagKey
            | WireError::BlankTagValue { .. }
            | WireError::TagTooLong { .. }
            | WireError::ReservedTagKey { .. }
            | WireError::NameTooLong { .. }
            | WireError::NonPositiveDelta
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn metric_lines_parse_back(name in text(40), value in finite(), ts in proptest::option::of(0u64..10_000_000_000_000),
                               source in text(30), tags in tags()) {
        prop_assume!(plain_tags(&tags));
        let mut line = String::new();
        match wire::write_metric(&mut line, &name, value, ts, &source, &tags) {
            Ok(()) => {
                let point = parse::parse_metric(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
                prop_assert_eq!(point.name, expected_name(&name));
                prop_assert_eq!(point.value.to_bits(), value.to_bits());
                prop_assert_eq!(point.timestamp, ts.map(|t| t as i64));
                prop_assert_eq!(point.source, expected_value(&source));
                prop_assert_eq!(point.tags, expected_tags(&tags));
            }
            Err(e) => {
                prop_assert!(input_error(&e), "{:?}", e);
                prop_assert!(line.is_empty());
            }
        }
    }

    #[test]
    fn delta_lines_parse_back(name in text(40), value in finite(), source in text(30), tags in tags()) {
        prop_assume!(plain_tags(&tags));
        let mut line = String::new();
        match wire::write_delta(&mut line, &name, value, &source, &tags) {
            Ok(Encoded::Line) => {
                let point = parse::parse_metric(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
                prop_assert!(point.is_delta());
                let raw = if name.starts_with(['∆', 'Δ']) { name.clone() } else { format!("∆{name}") };
                prop_assert_eq!(point.name, expected_name(&raw));
                prop_assert_eq!(point.value, value);
                prop_assert_eq!(point.timestamp, None);
            }
            Ok(Encoded::Nothing) => prop_assert!(value <= 0.0 && line.is_empty()),
            Err(e) => prop_assert!(input_error(&e), "{:?}", e),
        }
    }

    #[test]
    fn histogram_lines_parse_back(name in text(40), source in text(30), tags in tags(),
                                  centroids in proptest::collection::vec((finite(), 0u64..5_000_000_000), 1..8),
                                  ts in proptest::option::of(0u64..10_000_000_000_000)) {
        prop_assume!(plain_tags(&tags));
        let centroids: Vec<Centroid> = centroids.into_iter().map(|(mean, count)| Centroid { mean, count }).collect();
        let mut line = String::new();
        match wire::write_histogram(&mut line, Granularity::Minute, ts, &centroids, &name, &source, &tags) {
            Ok(()) => {
                let d = parse::parse_histogram(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
                prop_assert_eq!(&d.name, &expected_name(&name));
                prop_assert_eq!(&d.source, &expected_value(&source));
                prop_assert_eq!(&d.tags, &expected_tags(&tags));
                let total: u64 = centroids.iter().map(|c| c.count).sum();
                prop_assert_eq!(d.count() as u64, total);
                for (count, mean) in d.centroids {
                    prop_assert!(count > 0);
                    prop_assert!(centroids.iter().any(|c| c.mean.to_bits() == mean.to_bits()));
                }
            }
            Err(WireError::EmptyHistogram) => prop_assert!(centroids.iter().all(|c| c.count == 0)),
            Err(e) => prop_assert!(input_error(&e), "{:?}", e),
        }
    }

    #[test]
    fn span_lines_parse_back(op in text(40), source in text(30), tags in tags(), ids in any::<[u128; 4]>(),
                             start in 0u64..10_000_000_000_000_000, duration in 0u64..1_000_000_000, has_logs: bool) {
        prop_assume!(plain_tags(&tags));
        let parents = [SpanId::from_u128(ids[2])];
        let follows = [SpanId::from_u128(ids[3])];
        let span = SpanLine {
            operation: &op, source: &source, trace_id: TraceId::from_u128(ids[0]), span_id: SpanId::from_u128(ids[1]),
            parents: &parents, follows_from: &follows, tags: &tags, start, duration, has_logs,
        };
        let mut line = String::new();
        match wire::write_span(&mut line, &span) {
            Ok(()) => {
                let s = parse::parse_span(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
                prop_assert_eq!(s.operation, expected_value(&op).replace('*', "-"));
                prop_assert_eq!(s.source, expected_value(&source));
                prop_assert_eq!(s.trace_id, span.trace_id.to_string());
                prop_assert_eq!(s.span_id, span.span_id.to_string());
                prop_assert_eq!(s.parents, vec![parents[0].to_string()]);
                prop_assert_eq!(s.follows_from, vec![follows[0].to_string()]);
                let mut want = expected_tags(&tags);
                if has_logs {
                    want.push(("_spanLogs".into(), "true".into()));
                }
                prop_assert_eq!(s.tags, want);
                prop_assert_eq!((s.start, s.duration), (start, duration));
            }
            Err(e) => prop_assert!(input_error(&e), "{:?}", e),
        }
    }

    #[test]
    fn span_logs_parse_back(fields in proptest::collection::btree_map(text(15), text(30), 0..5),
                            ts in 0u64..(i64::MAX as u64), ids in any::<[u128; 2]>()) {
        let (trace_id, span_id) = (TraceId::from_u128(ids[0]), SpanId::from_u128(ids[1]));
        let tags: &[(&str, &str)] = &[];
        let span = SpanLine { operation: "op", source: "h", trace_id, span_id, parents: &[], follows_from: &[],
                              tags, start: 1, duration: 2, has_logs: true };
        let mut span_line = String::new();
        wire::write_span(&mut span_line, &span).unwrap();
        let log = SpanLog {
            timestamp_micros: ts,
            fields: fields.iter().map(|(k, v)| (k.clone().into(), v.clone().into())).collect(),
        };
        let mut line = String::new();
        wire::write_span_logs(&mut line, trace_id, span_id, &[log], &span_line);
        let one_ascii_line = line.is_ascii() && line.ends_with("}\n") && line.matches('\n').count() == 1;
        prop_assert!(one_ascii_line, "{:?}", line);
        let logs = parse::parse_span_logs(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
        prop_assert_eq!(logs.trace_id, trace_id.to_string());
        prop_assert_eq!(logs.logs[0].timestamp as u64, ts);
        let want: Vec<(String, String)> = fields.into_iter().collect();
        prop_assert_eq!(&logs.logs[0].fields, &want);
        prop_assert!(logs.span.is_some());
    }
}
