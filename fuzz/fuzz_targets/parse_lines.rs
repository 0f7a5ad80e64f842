//! Arbitrary bytes, read as UTF-8 (lossily) and split into lines, through
//! every parser of `wavefront_testkit::parse`: none may panic, whatever the
//! line. (Whether a line is accepted is not checked here.)

#![no_main]

use libfuzzer_sys::fuzz_target;
use wavefront_testkit::parse;

fn parse_all(line: &str) {
    let _ = parse::parse_metric(line);
    let _ = parse::parse_histogram(line);
    let _ = parse::parse_span(line);
    let _ = parse::parse_span_logs(line);
    let metrics = parse::parse_metrics_port_line(line);
    let tracing = parse::parse_tracing_port_line(line);
    // Both ports read span logs the same way.
    if line.starts_with('{') {
        assert_eq!(metrics, tracing, "{line:?}");
    }
    let _ = parse::characters_are_valid(line);
    let _ = parse::is_uuid(line);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Line by line, as a receiver reads them (with and without the `\n`)...
    for line in text.split_inclusive('\n') {
        parse_all(line);
        parse_all(line.trim_end_matches('\n'));
    }
    // ...and the whole input as one line (embedded newlines included).
    parse_all(&text);
});
