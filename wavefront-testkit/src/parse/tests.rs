use super::*;

#[test]
fn tokenizer_follows_the_proxy() {
    let mut t = Tokens::new(r#""a b" c=d #'x\'y' "e\"" "#);
    let mut all = Vec::new();
    while let Some(token) = t.next().unwrap() {
        all.push(token);
    }
    assert_eq!(all, ["a b", "c", "=", "d", "#", "x'y", "e\""]);
    assert!(Tokens::new(r#""open"#).next().is_err());
    // A value ending in a backslash swallows its closing quote.
    assert!(Tokens::new(r#""C:\" x"#).next().is_err());
}

#[test]
fn metric_source_rules() {
    let p = parse_metric("\"m\" 1.0 source=\"h\" \"k\"=\"v\" \"source\"=\"wavefront-provided\"\n")
        .unwrap();
    assert_eq!(p.source, "wavefront-provided");
    assert_eq!(p.tags, [("k".to_owned(), "v".to_owned())]);
    let p = parse_metric("m 2 host=h1 source=s tag=t").unwrap();
    assert_eq!(p.source, "s");
    assert_eq!(p.tag("_host"), Some("h1"));
    assert_eq!(p.tag("_tag"), Some("t"));
    assert_eq!(p.timestamp, None);
}

#[test]
fn metric_rejections() {
    let cases = [
        ("\"m\" 1.0", "WF-406"),
        ("\"m\" 1.0 source=\" \"", "WF-406"),
        ("\"m n\" 1.0 source=\"h\"", "WF-400"),
        ("\"∆m\" 0.0 source=\"h\"", "WF-404"),
        ("\"m\" 1.0 source=\"h\" \"k k\"=\"v\"", "WF-401"),
        ("\"m\" 1.0 source=\"h\" \"k\"=\"\"", "WF-414"),
        ("\"m\" NaN source=\"h\"", "syntax"),
        ("\"m\" 1.0 source=\"h\" \"k\"", "syntax"),
        ("\"m\" 1.0 source=\"h\u{4}\"", "syntax"),
    ];
    for (line, code) in cases {
        assert_eq!(
            parse_metric(line).map(|_| ()).unwrap_err().code,
            code,
            "{line}"
        );
    }
    let long = format!(
        "\"m\" 1.0 source=\"h\" \"{}\"=\"{}\"",
        "k".repeat(100),
        "v".repeat(155)
    );
    assert_eq!(parse_metric(&long).unwrap_err().code, "WF-411");
}

#[test]
fn histograms() {
    let d = parse_histogram("!M 1493773500 #20 30.0 #10 5.1 \"request.latency\" source=\"appServer1\" \"region\"=\"us-west\"")
        .unwrap();
    assert_eq!(
        (d.timestamp, d.count(), d.centroids[1]),
        (Some(1493773500), 30, (10, 5.1))
    );
    assert!(parse_histogram("!H #1 2.0 \"h\" source=\"s\"")
        .unwrap()
        .timestamp
        .is_none());
    assert_eq!(
        parse_histogram("!M 1 #0 2.0 \"h\" source=\"s\"")
            .unwrap_err()
            .code,
        "WF-405"
    );
    assert_eq!(
        parse_histogram("!X 1 #1 2.0 \"h\" source=\"s\"")
            .unwrap_err()
            .code,
        "syntax"
    );
}

#[test]
fn spans() {
    let line = "\"getAllUsers\" source=\"localhost\" traceId=7b3bf470-9456-11e8-9eb6-529269fb1459 \
                spanId=0313bafe-9457-11e8-9eb6-529269fb1459 parent=2f64e538-9457-11e8-9eb6-529269fb1459 \
                \"application\"=\"Wavefront\" \"http.status_code\"=\"200\" 1493773500 343500\n";
    let s = parse_span(line).unwrap();
    assert_eq!(s.parents, ["2f64e538-9457-11e8-9eb6-529269fb1459"]);
    assert_eq!(s.tag("http.status_code"), Some("200"));
    assert_eq!((s.start, s.duration), (1493773500, 343500));
    assert!(parse_span(&line.replace(" 343500", " 343500 7")).is_err());
    assert!(parse_span(&line.replace("spanId=0313bafe", "spanId=0313BAFE")).is_err());
    assert!(parse_span(&line.replace("getAllUsers", "get*")).is_err());
}

#[test]
fn span_logs() {
    let span = "\"op\" source=\"h\" traceId=0a2713dc-eb05-11f1-b07e-02fc00000001 spanId=0a2713dc-eb05-11f1-b07e-02fc00000001 \"_spanLogs\"=\"true\" 1 0\n";
    let json = serde_json::json!({
        "traceId": "0a2713dc-eb05-11f1-b07e-02fc00000001",
        "spanId": "0a2713dc-eb05-11f1-b07e-02fc00000001",
        "logs": [{"timestamp": 1795854230289633_i64, "fields": {"event": "error"}}],
        "span": span,
    });
    let logs = parse_span_logs(&json.to_string()).unwrap();
    assert_eq!(
        logs.logs[0].fields,
        [("event".to_owned(), "error".to_owned())]
    );
    assert!(logs.span.is_some());
    assert!(parse_span_logs("{\"traceId\": \"x\"}").is_err());
    assert!(matches!(
        parse_metrics_port_line(&json.to_string()),
        Ok(Line::SpanLogs(_))
    ));
}
