//! A strict parser of the Wavefront line formats.
//!
//! It tokenises exactly as the proxy does (java-lib `ingester/StringParser`:
//! white space separates tokens, `=` and `#` stand alone, a quoted token runs
//! to the next quote not preceded by a backslash, and `\"` is the only escape)
//! and rejects what the proxy rejects (java-lib `data/Validation`, with the
//! proxy's fallback limits; spec §2.3–2.4). It is stricter in a few documented
//! places: numbers must be plain decimals, non-finite values are refused, and
//! trace and span ids must be canonical lowercase UUIDs.
//!
//! ```
//! use wavefront_testkit::parse;
//!
//! let point = parse::parse_metric("\"cpu.load\" 0.5 1700000000 source=\"host-1\" \"env\"=\"prod\"")?;
//! assert_eq!((point.name.as_str(), point.value, point.source.as_str()), ("cpu.load", 0.5, "host-1"));
//! assert_eq!(point.tags, [("env".to_owned(), "prod".to_owned())]);
//! assert!(parse::parse_metric("\"cpu.load\" 0.5 source=\"host-1\" \"env\"=\"C:\\\"").is_err());
//! # Ok::<(), parse::ParseError>(())
//! ```

use std::fmt;

/// Limits the proxy applies when the service has pushed none (java-lib
/// `ValidationConfiguration`).
pub mod limits {
    /// Longest metric or histogram name.
    pub const METRIC_NAME: usize = 1023;
    /// Longest source.
    pub const SOURCE: usize = 1023;
    /// Most point tags on a metric.
    pub const POINT_TAGS: usize = 100;
    /// A point tag is rejected when key plus value reach this length.
    pub const TAG_KEY_PLUS_VALUE: usize = 255;
    /// Longest point tag key.
    pub const TAG_KEY: usize = 253;
    /// Longest point tag value.
    pub const TAG_VALUE: usize = 255;
    /// Longest span name.
    pub const SPAN_NAME: usize = 128;
    /// Most span tags.
    pub const SPAN_TAGS: usize = 20;
    /// Longest span tag key.
    pub const SPAN_TAG_KEY: usize = 128;
}

/// Why a line was rejected: the proxy's validation code where one applies
/// (`WF-4xx`), else `syntax`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// `WF-4xx`, or `syntax` for lines the proxy cannot tokenise.
    pub code: &'static str,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.reason)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(code: &'static str, reason: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        code,
        reason: reason.into(),
    })
}

fn syntax<T>(reason: impl Into<String>) -> Result<T, ParseError> {
    err("syntax", reason)
}

// ===== tokenizer =====

struct Tokens<'a> {
    input: &'a str,
    at: usize,
}

/// Java's `Character.isWhitespace` (for the characters that can occur here).
fn java_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\u{1c}'..='\u{1f}' | ' '
    ) || (c > '\u{85}' && c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}'))
}

impl<'a> Tokens<'a> {
    fn new(input: &'a str) -> Self {
        Tokens { input, at: 0 }
    }

    fn skip_space(&mut self) {
        let rest = &self.input[self.at..];
        self.at += rest.len() - rest.trim_start_matches(java_whitespace).len();
    }

    fn peek(&mut self) -> Result<Option<String>, ParseError> {
        let at = self.at;
        let token = self.next();
        self.at = at;
        token
    }

    fn next(&mut self) -> Result<Option<String>, ParseError> {
        self.skip_space();
        let rest = &self.input[self.at..];
        let Some(first) = rest.chars().next() else {
            return Ok(None);
        };
        if first == '"' || first == '\'' {
            let mut search = 1;
            let mut escaped_any = false;
            loop {
                let Some(found) = rest[search..].find(first) else {
                    return syntax(format!("unmatched quote ({first})"));
                };
                let index = search + found;
                search = index + 1;
                if rest.as_bytes()[index - 1] == b'\\' {
                    escaped_any = true;
                    continue;
                }
                let inner = &rest[1..index];
                self.at += index + 1;
                let escaped_quote = format!("\\{first}");
                return Ok(Some(if escaped_any {
                    inner.replace(&escaped_quote, &first.to_string())
                } else {
                    inner.to_owned()
                }));
            }
        }
        if first == '=' || first == '#' {
            self.at += 1;
            return Ok(Some(first.to_string()));
        }
        let end = rest.find([' ', '\t', '=']).unwrap_or(rest.len());
        self.at += end;
        Ok(Some(rest[..end].to_owned()))
    }

    fn expect(&mut self, what: &str) -> Result<String, ParseError> {
        match self.next()? {
            Some(token) => Ok(token),
            None => syntax(format!("line ends where {what} was expected")),
        }
    }

    /// `key=value`: the key token, `=`, the value token.
    fn pair(&mut self) -> Result<(String, String), ParseError> {
        let key = self.expect("a tag key")?;
        if self.expect("'='")? != "=" {
            return syntax(format!("tag {key:?} has no '='"));
        }
        let value = self.expect("a tag value")?;
        Ok((key, value))
    }
}

// ===== values =====

/// A plain decimal number: what a Wavefront SDK writes (`42.0`, `1e-05`).
fn number(token: &str) -> Result<f64, ParseError> {
    let plain = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && token.bytes().any(|b| b.is_ascii_digit());
    match token.parse::<f64>() {
        Ok(v) if plain && v.is_finite() => Ok(v),
        _ => syntax(format!("{token:?} is not a finite decimal number")),
    }
}

fn integer(token: &str) -> Result<i64, ParseError> {
    match token.parse::<i64>() {
        Ok(v) if token.bytes().all(|b| b.is_ascii_digit() || b == b'-') => Ok(v),
        _ => syntax(format!("{token:?} is not an integer")),
    }
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

fn is_delta(c: char) -> bool {
    c == '\u{2206}' || c == '\u{0394}'
}

/// The proxy's character rule for metric names and tag keys.
pub fn characters_are_valid(s: &str) -> bool {
    let mut prev_delta = false;
    for (i, c) in s.chars().enumerate() {
        let legal = matches!(c, ',' | '-' | '.' | '/' | '0'..='9' | 'A'..='Z' | 'a'..='z' | '_')
            || (i == 0 && (c == '~' || is_delta(c)))
            || (i == 1 && c == '~' && prev_delta);
        if !legal {
            return false;
        }
        prev_delta = i == 0 && is_delta(c);
    }
    !s.is_empty()
}

fn check_source(source: &str, blank: &'static str, long: &'static str) -> Result<(), ParseError> {
    if source.trim().is_empty() {
        return err(blank, "source is blank");
    }
    if utf16_len(source) > limits::SOURCE {
        return err(long, "source is too long");
    }
    Ok(())
}

/// Applies the proxy's source rules to `key=value` pairs: the last `source`
/// wins (else the last `host`), a `host` next to a `source` becomes `_host`,
/// and a tag named `tag` becomes `_tag`.
fn split_source(pairs: Vec<(String, String)>) -> (Option<String>, Vec<(String, String)>) {
    let has_source = pairs.iter().any(|(k, _)| k == "source");
    let mut source = None;
    let mut tags = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match key.as_str() {
            "source" => source = Some(value),
            "host" if has_source => tags.push(("_host".to_owned(), value)),
            "host" => source = Some(value),
            "tag" => tags.push(("_tag".to_owned(), value)),
            _ => tags.push((key, value)),
        }
    }
    (source, tags)
}

fn check_point_tags(tags: &[(String, String)]) -> Result<(), ParseError> {
    let mut keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > limits::POINT_TAGS {
        return err("WF-410", format!("{} point tags", keys.len()));
    }
    for (key, value) in tags {
        if !characters_are_valid(key) {
            return err("WF-401", format!("tag key {key:?} has illegal characters"));
        }
        if utf16_len(key) > limits::TAG_KEY {
            return err("WF-412", format!("tag key {key:?} is too long"));
        }
        if value.trim().is_empty() {
            return err("WF-414", format!("tag {key:?} has a blank value"));
        }
        if utf16_len(value) > limits::TAG_VALUE {
            return err("WF-413", format!("value of tag {key:?} is too long"));
        }
        if utf16_len(key) + utf16_len(value) >= limits::TAG_KEY_PLUS_VALUE {
            return err("WF-411", format!("tag {key:?}: key and value too long"));
        }
    }
    Ok(())
}

fn check_metric_name(name: &str, long: &'static str) -> Result<(), ParseError> {
    if utf16_len(name) > limits::METRIC_NAME {
        return err(long, "name is too long");
    }
    if !characters_are_valid(name) {
        return err("WF-400", format!("name {name:?} has illegal characters"));
    }
    Ok(())
}

fn no_eot(line: &str) -> Result<&str, ParseError> {
    if line.contains('\u{4}') {
        return syntax("line contains EOT (\\x04)");
    }
    Ok(line.strip_suffix('\n').unwrap_or(line))
}

/// The `k=v` pairs that end a metric or histogram line, with the proxy's
/// source rules and checks; `name_code` is the name-length rejection code.
fn source_and_tags(
    tokens: &mut Tokens<'_>,
    name: &str,
    name_code: &'static str,
) -> Result<(String, Vec<(String, String)>), ParseError> {
    let mut pairs = Vec::new();
    while tokens.peek()?.is_some() {
        pairs.push(tokens.pair()?);
    }
    let (source, tags) = split_source(pairs);
    let source = source.unwrap_or_default();
    check_source(&source, "WF-406", "WF-407")?;
    check_metric_name(name, name_code)?;
    check_point_tags(&tags)?;
    Ok((source, tags))
}

/// The last value of `key` among `tags`.
fn last_tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

// ===== metric points =====

/// A metric point as the proxy reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Metric name (a delta counter's keeps its `∆`).
    pub name: String,
    /// Value.
    pub value: f64,
    /// Timestamp as written, if any.
    pub timestamp: Option<i64>,
    /// The effective source.
    pub source: String,
    /// Point tags in line order, without the source.
    pub tags: Vec<(String, String)>,
}

impl Point {
    /// Whether this is a delta counter (its name starts with `∆` or `Δ`).
    #[must_use]
    pub fn is_delta(&self) -> bool {
        self.name.starts_with(is_delta)
    }

    /// The value of tag `key` (the last one, as the proxy keeps).
    #[must_use]
    pub fn tag(&self, key: &str) -> Option<&str> {
        last_tag(&self.tags, key)
    }
}

/// Parses and validates one metric line (a trailing `\n` is allowed).
pub fn parse_metric(line: &str) -> Result<Point, ParseError> {
    let mut tokens = Tokens::new(no_eot(line)?);
    let name = tokens.expect("the metric name")?;
    let value = number(&tokens.expect("the value")?)?;
    let timestamp = match tokens.peek()? {
        Some(t) if t.starts_with(|c: char| c.is_ascii_digit()) => {
            tokens.next()?;
            Some(integer(&t)?)
        }
        _ => None,
    };
    let (source, tags) = source_and_tags(&mut tokens, &name, "WF-408")?;
    if name.starts_with(is_delta) && value <= 0.0 {
        return err("WF-404", "delta metrics cannot be non-positive");
    }
    Ok(Point {
        name,
        value,
        timestamp,
        source,
        tags,
    })
}

// ===== histograms =====

/// A histogram distribution as the proxy reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// `!M`, `!H` or `!D`.
    pub granularity: String,
    /// Timestamp as written, if any.
    pub timestamp: Option<i64>,
    /// `(count, mean)` pairs in line order.
    pub centroids: Vec<(i32, f64)>,
    /// Histogram name.
    pub name: String,
    /// The effective source.
    pub source: String,
    /// Point tags in line order, without the source.
    pub tags: Vec<(String, String)>,
}

impl Distribution {
    /// Total number of samples.
    #[must_use]
    pub fn count(&self) -> i64 {
        self.centroids.iter().map(|&(c, _)| i64::from(c)).sum()
    }
}

/// Parses and validates one histogram line.
pub fn parse_histogram(line: &str) -> Result<Distribution, ParseError> {
    let mut tokens = Tokens::new(no_eot(line)?);
    let granularity = tokens.expect("the granularity")?;
    if !matches!(granularity.as_str(), "!M" | "!H" | "!D") {
        return syntax(format!("{granularity:?} is not !M, !H or !D"));
    }
    let timestamp = match tokens.peek()?.as_deref() {
        Some("#") | None => None,
        Some(_) => Some(integer(&tokens.expect("the timestamp")?)?),
    };
    let mut centroids = Vec::new();
    while tokens.peek()?.as_deref() == Some("#") {
        tokens.next()?;
        let count = tokens.expect("a centroid count")?;
        let count = count
            .parse::<i32>()
            .or_else(|_| syntax(format!("count {count:?} is not a 32-bit integer")))?;
        centroids.push((count, number(&tokens.expect("a centroid mean")?)?));
    }
    let name = tokens.expect("the histogram name")?;
    let (source, tags) = source_and_tags(&mut tokens, &name, "WF-409")?;
    if centroids.iter().all(|&(c, _)| c <= 0) {
        return err("WF-405", "empty histogram");
    }
    Ok(Distribution {
        granularity,
        timestamp,
        centroids,
        name,
        source,
        tags,
    })
}

// ===== spans =====

/// A span as the proxy reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Operation name.
    pub operation: String,
    /// The effective source.
    pub source: String,
    /// Trace id (canonical UUID).
    pub trace_id: String,
    /// Span id (canonical UUID).
    pub span_id: String,
    /// `parent=` references in order.
    pub parents: Vec<String>,
    /// `followsFrom=` references in order.
    pub follows_from: Vec<String>,
    /// Every other tag in line order; keys may repeat.
    pub tags: Vec<(String, String)>,
    /// Start, as written.
    pub start: u64,
    /// Duration, as written.
    pub duration: u64,
}

impl Span {
    /// The values of tag `key`, in order.
    pub fn tag_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of tag `key`.
    #[must_use]
    pub fn tag(&self, key: &str) -> Option<&str> {
        last_tag(&self.tags, key)
    }
}

/// Whether `s` is a canonical lowercase `8-4-4-4-12` UUID.
#[must_use]
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn uuid(key: &str, value: String) -> Result<String, ParseError> {
    if is_uuid(&value) {
        Ok(value)
    } else {
        syntax(format!("{key}={value:?} is not a canonical UUID"))
    }
}

/// Parses and validates one span line.
pub fn parse_span(line: &str) -> Result<Span, ParseError> {
    let mut tokens = Tokens::new(no_eot(line)?);
    let operation = tokens.expect("the operation name")?;
    let mut source = None;
    let (mut trace_id, mut span_id) = (None, None);
    let (mut parents, mut follows_from, mut tags) = (Vec::new(), Vec::new(), Vec::new());
    // Tags run until the first token that is all digits: the start time.
    while let Some(next) = tokens.peek()? {
        if !next.is_empty() && next.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        let (key, value) = tokens.pair()?;
        match key.as_str() {
            "source" | "host" => source = Some(value),
            "traceId" => trace_id = Some(uuid("traceId", value)?),
            "spanId" => span_id = Some(uuid("spanId", value)?),
            "parent" => parents.push(uuid("parent", value)?),
            "followsFrom" => follows_from.push(uuid("followsFrom", value)?),
            _ => tags.push((key, value)),
        }
    }
    let start = integer(&tokens.expect("the start time")?)?;
    let duration = integer(&tokens.expect("the duration")?)?;
    if let Some(extra) = tokens.next()? {
        return syntax(format!("unexpected extra input {extra:?}"));
    }
    let (Ok(start), Ok(duration)) = (u64::try_from(start), u64::try_from(duration)) else {
        return syntax("start and duration must not be negative");
    };
    let source = source.unwrap_or_default();
    check_source(&source, "WF-426", "WF-427")?;
    let (Some(trace_id), Some(span_id)) = (trace_id, span_id) else {
        return syntax("traceId and spanId are required");
    };
    if operation.trim().is_empty() || utf16_len(&operation) > limits::SPAN_NAME {
        return err(
            "WF-428",
            format!("span name {operation:?} is blank or too long"),
        );
    }
    if operation.contains('*') {
        return err("WF-415", "span name contains '*'");
    }
    if tags.len() > limits::SPAN_TAGS {
        return err("WF-430", format!("{} span tags", tags.len()));
    }
    for (key, value) in &tags {
        if !characters_are_valid(key) {
            return err(
                "WF-416",
                format!("span tag key {key:?} has illegal characters"),
            );
        }
        if utf16_len(key) > limits::SPAN_TAG_KEY {
            return err("WF-432", format!("span tag key {key:?} is too long"));
        }
        if value.trim().is_empty() {
            return err("WF-434", format!("span tag {key:?} has a blank value"));
        }
    }
    Ok(Span {
        operation,
        source,
        trace_id,
        span_id,
        parents,
        follows_from,
        tags,
        start,
        duration,
    })
}

// ===== span logs =====

/// One entry of a span's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Microseconds since the epoch.
    pub timestamp: i64,
    /// Fields in line order.
    pub fields: Vec<(String, String)>,
}

/// A span-logs record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanLogs {
    /// Trace id.
    pub trace_id: String,
    /// Span id.
    pub span_id: String,
    /// The logs.
    pub logs: Vec<LogEntry>,
    /// The span line the logs belong to, parsed, if the record carries one.
    pub span: Option<Span>,
}

/// Parses and validates one span-logs JSON line.
pub fn parse_span_logs(line: &str) -> Result<SpanLogs, ParseError> {
    let line = no_eot(line)?;
    let json: serde_json::Value =
        serde_json::from_str(line).or_else(|e| syntax(format!("span logs are not JSON: {e}")))?;
    let text = |key: &str| -> Result<String, ParseError> {
        match json.get(key) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            _ => syntax(format!("span logs have no string {key:?}")),
        }
    };
    let trace_id = uuid("traceId", text("traceId")?)?;
    let span_id = uuid("spanId", text("spanId")?)?;
    let Some(entries) = json.get("logs").and_then(|l| l.as_array()) else {
        return syntax("span logs have no \"logs\" array");
    };
    let mut logs = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some(timestamp) = entry.get("timestamp").and_then(serde_json::Value::as_i64) else {
            return syntax("a log has no integer timestamp");
        };
        let Some(fields) = entry.get("fields").and_then(|f| f.as_object()) else {
            return syntax("a log has no \"fields\" object");
        };
        let mut pairs = Vec::with_capacity(fields.len());
        for (key, value) in fields {
            let Some(value) = value.as_str() else {
                return syntax(format!("log field {key:?} is not a string"));
            };
            pairs.push((key.clone(), value.to_owned()));
        }
        logs.push(LogEntry {
            timestamp,
            fields: pairs,
        });
    }
    let span = match json.get("span") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(line)) => {
            let span = parse_span(line)?;
            if span.trace_id != trace_id || span.span_id != span_id {
                return syntax("the span line's ids differ from the record's");
            }
            Some(span)
        }
        Some(_) => return syntax("\"span\" is not a string"),
    };
    Ok(SpanLogs {
        trace_id,
        span_id,
        logs,
        span,
    })
}

// ===== any line =====

/// Any line a Wavefront proxy or direct-ingestion endpoint accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A metric point (including delta counters).
    Metric(Point),
    /// A histogram distribution.
    Histogram(Distribution),
    /// A span.
    Span(Span),
    /// Span logs.
    SpanLogs(SpanLogs),
}

/// Parses a line that arrived on a metrics port (2878 or a histogram port):
/// histograms and span logs are recognised by their first characters, as the
/// proxy does; spans are not accepted there.
pub fn parse_metrics_port_line(line: &str) -> Result<Line, ParseError> {
    if line.starts_with('{') {
        parse_span_logs(line).map(Line::SpanLogs)
    } else if ["!M ", "!H ", "!D "].iter().any(|p| line.starts_with(p)) {
        parse_histogram(line).map(Line::Histogram)
    } else {
        parse_metric(line).map(Line::Metric)
    }
}

/// Parses a line that arrived on a tracing port: a span, or span logs.
pub fn parse_tracing_port_line(line: &str) -> Result<Line, ParseError> {
    if line.starts_with('{') {
        parse_span_logs(line).map(Line::SpanLogs)
    } else {
        parse_span(line).map(Line::Span)
    }
}

#[cfg(test)]
mod tests;
