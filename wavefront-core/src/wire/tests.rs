use super::*;
use crate::{SpanId, TraceId};

const NO_TAGS: &[(&str, &str)] = &[];

#[test]
fn metric_without_timestamp_or_tags() {
    let mut buf = String::new();
    write_metric(
        &mut buf,
        "new-york.power.usage",
        42422.0,
        None,
        "localhost",
        NO_TAGS,
    )
    .unwrap();
    assert_eq!(
        buf,
        "\"new-york.power.usage\" 42422.0 source=\"localhost\"\n"
    );
}

#[test]
fn captured_reference_lines() {
    // Lines the Flask SDK sent (shared/reference/flask-captures/current-proxy).
    let mut buf = String::new();
    let tags = [
        ("application", "Ordering"),
        ("cluster", "us-west-1"),
        ("flask.func", "make_shirts"),
        ("service", "styling"),
        ("shard", "primary"),
        ("source", "wavefront-provided"),
    ];
    let name = "flask.response.style.path:id.make.GET.200.aggregated_per_shard.count";
    assert_eq!(
        write_delta(&mut buf, name, 4.0, "host-1", &tags),
        Ok(Encoded::Line)
    );
    assert_eq!(
        buf,
        "\"∆flask.response.style.path-id.make.GET.200.aggregated_per_shard.count\" 4.0 source=\"host-1\" \
         \"application\"=\"Ordering\" \"cluster\"=\"us-west-1\" \"flask.func\"=\"make_shirts\" \
         \"service\"=\"styling\" \"shard\"=\"primary\" \"source\"=\"wavefront-provided\"\n"
    );

    buf.clear();
    let centroids = [
        327.11029052734375,
        327.82554626464844,
        397.68218994140625,
        530.9581756591797,
    ]
    .map(|mean| Centroid { mean, count: 1 });
    let tags = [
        ("application", "Ordering"),
        ("operationName", "make_shirts"),
    ];
    write_histogram(
        &mut buf,
        Granularity::Minute,
        Some(1795854180000),
        &centroids,
        "tracing.derived.Ordering.styling.make_shirts.duration.micros",
        "host-1",
        &tags,
    )
    .unwrap();
    assert_eq!(
        buf,
        "!M 1795854180000 #1 327.11029052734375 #1 327.82554626464844 #1 397.68218994140625 \
         #1 530.9581756591797 \"tracing.derived.Ordering.styling.make_shirts.duration.micros\" \
         source=\"host-1\" \"application\"=\"Ordering\" \"operationName\"=\"make_shirts\"\n"
    );
}

#[test]
fn delta_keeps_an_existing_prefix_and_skips_non_positive() {
    let mut buf = String::new();
    assert_eq!(
        write_delta(&mut buf, "Δx", 1.0, "h", NO_TAGS),
        Ok(Encoded::Line)
    );
    assert_eq!(
        write_delta(&mut buf, "∆~sdk.x", 2.5, "h", NO_TAGS),
        Ok(Encoded::Line)
    );
    assert_eq!(
        write_delta(&mut buf, "x", -1.0, "h", NO_TAGS),
        Ok(Encoded::Nothing)
    );
    assert_eq!(
        write_delta(&mut buf, "x", f64::INFINITY, "h", NO_TAGS),
        Err(WireError::NonFiniteValue)
    );
    assert_eq!(
        write_delta(&mut buf, "∆", 1.0, "h", NO_TAGS),
        Err(WireError::BlankName)
    );
    assert_eq!(
        buf,
        "\"Δx\" 1.0 source=\"h\"\n\"∆~sdk.x\" 2.5 source=\"h\"\n"
    );
    let long = "n".repeat(300);
    buf.clear();
    assert_eq!(
        write_delta(&mut buf, &long, 1.0, "h", NO_TAGS),
        Ok(Encoded::Line)
    );
    assert!(buf.starts_with(&format!("\"∆{long}\"")));
}

#[test]
fn errors_leave_the_buffer_untouched() {
    let mut buf = String::from("previous\n");
    let cases: Vec<(Result<(), WireError>, WireError)> = vec![
        (
            write_metric(&mut buf, " ", 1.0, None, "h", NO_TAGS),
            WireError::BlankName,
        ),
        (
            write_metric(&mut buf, "m", 1.0, None, "\t", NO_TAGS),
            WireError::BlankSource,
        ),
        (
            write_metric(&mut buf, "m", 1.0, None, "h", &[("", "v")]),
            WireError::BlankTagKey,
        ),
        (
            write_metric(&mut buf, "m", 1.0, None, "h", &[("a", "b"), ("k", " ")]),
            WireError::BlankTagValue { key: "k".into() },
        ),
        (
            write_metric(&mut buf, "m", f64::NAN, None, "h", NO_TAGS),
            WireError::NonFiniteValue,
        ),
        (
            write_histogram(
                &mut buf,
                Granularity::Hour,
                None,
                &[Centroid {
                    mean: 1.0,
                    count: 0,
                }],
                "m",
                "h",
                NO_TAGS,
            ),
            WireError::EmptyHistogram,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, Err(want));
    }
    assert_eq!(buf, "previous\n");
}

#[test]
fn tag_length_limit_is_254() {
    let mut buf = String::new();
    let key = "k".repeat(100);
    let ok = "v".repeat(154);
    let too_long = "v".repeat(155);
    write_metric(&mut buf, "m", 1.0, None, "h", &[(&key, &ok)]).unwrap();
    assert_eq!(
        write_metric(&mut buf, "m", 1.0, None, "h", &[(&key, &too_long)]),
        Err(WireError::TagTooLong {
            key: key.clone(),
            len: 255
        })
    );
    // Spans are exempt: the proxy truncates long span tag values itself.
    let span = SpanLine {
        operation: "op",
        source: "h",
        trace_id: TraceId::from_u128(1),
        span_id: SpanId::from_u128(2),
        parents: &[],
        follows_from: &[],
        tags: &[(&key, &too_long)],
        start: 1,
        duration: 0,
        has_logs: false,
    };
    write_span(&mut buf, &span).unwrap();
}

#[test]
fn histogram_granularities_and_zero_counts() {
    let mut buf = String::new();
    let centroids = [
        Centroid {
            mean: 1.5,
            count: 2,
        },
        Centroid {
            mean: 9.0,
            count: 0,
        },
    ];
    for g in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
        write_histogram(&mut buf, g, None, &centroids, "h", "s", NO_TAGS).unwrap();
    }
    assert_eq!(buf, "!M #2 1.5 \"h\" source=\"s\"\n!H #2 1.5 \"h\" source=\"s\"\n!D #2 1.5 \"h\" source=\"s\"\n");
}

#[test]
fn span_with_references_duplicates_and_logs() {
    let mut buf = String::new();
    let id = |s: &str| s.parse::<SpanId>().unwrap();
    let span = SpanLine {
        operation: "bad \"gateway\"",
        source: "host-1",
        trace_id: "0a2713dc-eb05-11f1-b07e-02fc00000001".parse().unwrap(),
        span_id: id("0a2713dc-eb05-11f1-b07e-02fc00000002"),
        parents: &[
            id("00000000-0000-0000-0000-000000000001"),
            id("00000000-0000-0000-0000-000000000002"),
        ],
        follows_from: &[id("00000000-0000-0000-0000-000000000003")],
        tags: &[
            ("component", "none"),
            ("component", "axum"),
            ("component", "none"),
            ("error", "true"),
        ],
        start: 1795854230289,
        duration: 0,
        has_logs: true,
    };
    write_span(&mut buf, &span).unwrap();
    assert_eq!(
        buf,
        "\"bad \\\"gateway\\\"\" source=\"host-1\" traceId=0a2713dc-eb05-11f1-b07e-02fc00000001 \
         spanId=0a2713dc-eb05-11f1-b07e-02fc00000002 parent=00000000-0000-0000-0000-000000000001 \
         parent=00000000-0000-0000-0000-000000000002 followsFrom=00000000-0000-0000-0000-000000000003 \
         \"component\"=\"none\" \"component\"=\"axum\" \"error\"=\"true\" \"_spanLogs\"=\"true\" 1795854230289 0\n"
    );
    let span_line = buf.clone();
    buf.clear();
    let logs = [SpanLog {
        timestamp_micros: 1795854230289633,
        fields: vec![
            ("event".into(), "error".into()),
            ("message".into(), "status 502".into()),
        ],
    }];
    write_span_logs(&mut buf, span.trace_id, span.span_id, &logs, &span_line);
    let expected = format!(
        "{{\"traceId\": \"0a2713dc-eb05-11f1-b07e-02fc00000001\", \"spanId\": \"0a2713dc-eb05-11f1-b07e-02fc00000002\", \
         \"logs\": [{{\"timestamp\": 1795854230289633, \"fields\": {{\"event\": \"error\", \"message\": \"status 502\"}}}}], \
         \"span\": \"{}\\n\"}}\n",
        span_line.trim_end().replace('\\', "\\\\").replace('"', "\\\"")
    );
    assert_eq!(buf, expected);
}

#[test]
fn span_tags_deduplicate_after_sanitising_and_count_against_the_limit() {
    let span = |tags: &[(String, String)]| {
        let mut buf = String::new();
        let line = SpanLine {
            operation: "op",
            source: "h",
            trace_id: TraceId::from_u128(1),
            span_id: SpanId::from_u128(2),
            parents: &[],
            follows_from: &[],
            tags,
            start: 1,
            duration: 2,
            has_logs: false,
        };
        write_span(&mut buf, &line).map(|()| buf)
    };
    let mut tags: Vec<(String, String)> =
        (0..18).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    tags.push(("k 1".into(), "x".into())); // sanitises to k-1, distinct
    tags.push(("k-1".into(), "x".into())); // same as the previous once sanitised
    tags.push(("k17".into(), "v".into())); // exact duplicate
    tags.push(("k3".into(), "v".into())); // exact duplicate of an early tag
    let buf = span(&tags).unwrap();
    assert_eq!(buf.matches("\"k-1\"=\"x\"").count(), 1);
    assert_eq!(buf.matches(" \"k17\"=\"v\"").count(), 1);
    assert_eq!(buf.matches(" \"k3\"=\"v\"").count(), 1);
    assert_eq!(buf.matches("=\"").count(), 19 + 1); // 19 tags + source
                                                    // Duplicates do not count; a 20th and 21st distinct tag do (WF-430).
    tags.push(("k18".into(), "v".into()));
    assert!(span(&tags).is_ok());
    tags.push(("k19".into(), "v".into()));
    assert_eq!(
        span(&tags),
        Err(WireError::TooManyTags { count: 21, max: 20 })
    );
}

#[test]
fn spans_after_encoded_tags_equal_spans_with_those_tags_first() {
    let base: Vec<(String, String)> = vec![
        ("application".into(), "Ordering".into()),
        ("service".into(), "sty\"ling".into()),
        ("k 1".into(), "a".into()),
        ("k-1".into(), "a".into()), // a duplicate once sanitised
        ("env".into(), "日本".into()),
    ];
    let encoded = EncodedSpanTags::new(&base).unwrap();
    let own_sets: Vec<Vec<(String, String)>> = vec![
        vec![],
        vec![("http.method".into(), "GET".into())],
        vec![
            ("service".into(), "sty\"ling".into()),
            ("x".into(), "1".into()),
        ],
        vec![("k_1".into(), "a".into()), ("k-1".into(), "a".into())],
        (0..20).map(|i| (format!("t{i}"), "v".into())).collect(), // too many
    ];
    for own in own_sets {
        for has_logs in [false, true] {
            let all: Vec<(String, String)> = base.iter().chain(&own).cloned().collect();
            let (mut fast, mut plain) = (String::from("x\n"), String::from("x\n"));
            let fast_result = write_span_after(&mut fast, &encoded, &span_line(&own, has_logs));
            let plain_result = write_span(&mut plain, &span_line(&all, has_logs));
            assert_eq!(fast_result, plain_result, "{own:?}");
            assert_eq!(fast, plain, "{own:?}");
        }
    }
    assert!(matches!(
        EncodedSpanTags::new(&[("traceId", "x")]),
        Err(WireError::ReservedTagKey { .. })
    ));
}

fn span_line(tags: &[(String, String)], has_logs: bool) -> SpanLine<'_, (String, String)> {
    SpanLine {
        operation: "op",
        source: "h",
        trace_id: TraceId::from_u128(1),
        span_id: SpanId::from_u128(2),
        parents: &[],
        follows_from: &[],
        tags,
        start: 1,
        duration: 2,
        has_logs,
    }
}
