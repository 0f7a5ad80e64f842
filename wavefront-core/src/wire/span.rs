//! Span lines (spec §1.4) and span logs (spec §1.5).

use std::borrow::Cow;

use super::{
    atomically, push_timestamp, push_u64, write_source, write_tag, Tag, WireError,
    MAX_SPAN_NAME_LEN, MAX_SPAN_TAGS,
};
use crate::id::{SpanId, TraceId};
use crate::sanitize;

/// Everything a span line carries, borrowed from the caller.
///
/// `start` and `duration` are written as given, in one unit: the proxy picks
/// the unit from the number of digits in `start` (13 digits: milliseconds,
/// 16: microseconds) and applies it to `duration` too (spec §2.5).
#[derive(Debug, Clone, Copy)]
pub struct SpanLine<'a, T> {
    /// The operation name (written quoted and escaped, not sanitised).
    pub operation: &'a str,
    /// The source (host) the span came from.
    pub source: &'a str,
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span's id.
    pub span_id: SpanId,
    /// `childOf` references, written as repeated `parent=` fields.
    pub parents: &'a [SpanId],
    /// `followsFrom` references, written as repeated `followsFrom=` fields.
    pub follows_from: &'a [SpanId],
    /// Span tags in order; keys may repeat. Pairs that are equal once
    /// sanitised are written once, as the reference SDK does.
    pub tags: &'a [T],
    /// Start time since the epoch (milliseconds or microseconds).
    pub start: u64,
    /// Duration, in the unit of `start`.
    pub duration: u64,
    /// The span has span logs: the line then carries `"_spanLogs"="true"`, so
    /// the UI looks them up.
    pub has_logs: bool,
}

/// Appends one span line:
/// `"op" source="src" traceId=… spanId=… [parent=…]* [followsFrom=…]* "k"="v"… start duration`.
///
/// The operation name is trimmed and escaped like a value; a `*` in it
/// becomes `-` (the proxy rejects names with `*`), and one longer than 128
/// UTF-16 units is refused. Tag keys that the proxy would read as part of the
/// span (`traceId`, `spanId`, `parent`, `followsFrom`, `source`, `host`, or a
/// key of digits only) are refused with [`WireError::ReservedTagKey`].
///
/// ```
/// use wavefront_core::wire::{self, SpanLine};
///
/// let mut buf = String::new();
/// let parent = "2f64e538-9457-11e8-9eb6-529269fb1459".parse().unwrap();
/// wire::write_span(&mut buf, &SpanLine {
///     operation: "getAllUsers",
///     source: "localhost",
///     trace_id: "7b3bf470-9456-11e8-9eb6-529269fb1459".parse().unwrap(),
///     span_id: "0313bafe-9457-11e8-9eb6-529269fb1459".parse().unwrap(),
///     parents: &[parent],
///     follows_from: &[],
///     tags: &[("application", "Wavefront"), ("http.method", "GET")],
///     start: 1493773500,
///     duration: 343500,
///     has_logs: false,
/// }).unwrap();
/// assert_eq!(buf, "\"getAllUsers\" source=\"localhost\" \
///     traceId=7b3bf470-9456-11e8-9eb6-529269fb1459 spanId=0313bafe-9457-11e8-9eb6-529269fb1459 \
///     parent=2f64e538-9457-11e8-9eb6-529269fb1459 \"application\"=\"Wavefront\" \
///     \"http.method\"=\"GET\" 1493773500 343500\n");
/// ```
pub fn write_span<T: Tag>(out: &mut String, span: &SpanLine<'_, T>) -> Result<(), WireError> {
    write_span_after(out, &EncodedSpanTags::default(), span)
}

/// Span tags encoded once and written ahead of every span's own tags: a
/// tracer's application and custom tags, which all its spans share.
/// Writing a span after them gives exactly the line [`write_span`] gives
/// with them first among its tags, at a fraction of the cost.
///
/// ```
/// use wavefront_core::wire::{self, EncodedSpanTags, SpanLine};
///
/// let base = EncodedSpanTags::new(&[("application", "Ordering"), ("service", "styling")])?;
/// fn span<'a>(tags: &'a [(&'a str, &'a str)]) -> SpanLine<'a, (&'a str, &'a str)> {
///     SpanLine {
///         operation: "checkout",
///         source: "host-1",
///         trace_id: "7b3bf470-9456-11e8-9eb6-529269fb1459".parse().unwrap(),
///         span_id: "0313bafe-9457-11e8-9eb6-529269fb1459".parse().unwrap(),
///         parents: &[],
///         follows_from: &[],
///         tags,
///         start: 1493773500,
///         duration: 343500,
///         has_logs: false,
///     }
/// }
/// let (mut fast, mut plain) = (String::new(), String::new());
/// wire::write_span_after(&mut fast, &base, &span(&[("http.method", "GET")]))?;
/// wire::write_span(&mut plain, &span(&[
///     ("application", "Ordering"), ("service", "styling"), ("http.method", "GET"),
/// ]))?;
/// assert_eq!(fast, plain);
/// # Ok::<(), wavefront_core::WireError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EncodedSpanTags {
    /// ` "k"="v"` for each distinct tag.
    text: String,
    /// Each tag's range in `text`.
    ranges: Vec<(usize, usize)>,
}

impl EncodedSpanTags {
    /// Encodes `tags` (sanitised, duplicates dropped, reserved keys refused).
    pub fn new<T: Tag>(tags: &[T]) -> Result<Self, WireError> {
        let mut text = String::new();
        let mut written = WrittenTags::new(0);
        for tag in tags {
            if is_reserved(tag.key()) {
                return Err(WireError::ReservedTagKey {
                    key: tag.key().to_owned(),
                });
            }
            written.write(&mut text, tag.key(), tag.value())?;
        }
        if written.count > written.ranges.len() {
            // Too many to track by range; refused like a span with them.
            return Err(WireError::TooManyTags {
                count: written.count,
                max: MAX_SPAN_TAGS,
            });
        }
        let ranges = written.ranges[..written.len].to_vec();
        Ok(EncodedSpanTags { text, ranges })
    }
}

/// [`write_span`] with `base` written ahead of the span's own tags.
pub fn write_span_after<T: Tag>(
    out: &mut String,
    base: &EncodedSpanTags,
    span: &SpanLine<'_, T>,
) -> Result<(), WireError> {
    atomically(out, |out| {
        write_operation(out, span.operation)?;
        write_source(out, span.source)?;
        out.push_str(" traceId=");
        span.trace_id.write_to(out);
        out.push_str(" spanId=");
        span.span_id.write_to(out);
        for parent in span.parents {
            out.push_str(" parent=");
            parent.write_to(out);
        }
        for follows in span.follows_from {
            out.push_str(" followsFrom=");
            follows.write_to(out);
        }
        let mut written = WrittenTags::new(out.len());
        written.add_encoded(out, base);
        for tag in span.tags {
            if is_reserved(tag.key()) {
                return Err(WireError::ReservedTagKey {
                    key: tag.key().to_owned(),
                });
            }
            written.write(out, tag.key(), tag.value())?;
        }
        if span.has_logs {
            written.write(out, "_spanLogs", "true")?;
        }
        if written.count > MAX_SPAN_TAGS {
            return Err(WireError::TooManyTags {
                count: written.count,
                max: MAX_SPAN_TAGS,
            });
        }
        out.push(' ');
        push_timestamp(out, span.start)?;
        out.push(' ');
        push_timestamp(out, span.duration)?;
        out.push('\n');
        Ok(())
    })
}

fn write_operation(out: &mut String, operation: &str) -> Result<(), WireError> {
    let len = if operation.contains('*') {
        sanitize::write_value_len(out, &operation.replace('*', "-"))
    } else {
        sanitize::write_value_len(out, operation)
    }
    .map_err(|_| WireError::BlankName)?;
    if len > MAX_SPAN_NAME_LEN {
        return Err(WireError::NameTooLong {
            len,
            max: MAX_SPAN_NAME_LEN,
        });
    }
    Ok(())
}

/// Keys the proxy's span parser consumes itself, or reads as the start time.
fn is_reserved(key: &str) -> bool {
    let key = sanitize::trim(key);
    matches!(
        key,
        "traceId" | "spanId" | "parent" | "followsFrom" | "source" | "host"
    ) || (!key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()))
}

/// Where each span tag was written, to skip pairs that sanitise alike (as
/// the reference SDK does) without searching the whole line.
struct WrittenTags {
    ranges: [(usize, usize); 32],
    len: usize,
    tags_start: usize,
    /// Tags written (duplicates are not).
    count: usize,
}

impl WrittenTags {
    /// Appends tags encoded before, and tracks them as written.
    fn add_encoded(&mut self, out: &mut String, encoded: &EncodedSpanTags) {
        let at = out.len();
        out.push_str(&encoded.text);
        for &(start, end) in &encoded.ranges {
            self.ranges[self.len] = (at + start, at + end);
            self.len += 1;
        }
        self.count += encoded.ranges.len();
    }

    fn new(tags_start: usize) -> Self {
        WrittenTags {
            ranges: [(0, 0); 32],
            len: 0,
            tags_start,
            count: 0,
        }
    }

    /// Writes ` "k"="v"` unless the same sanitised pair is already there.
    fn write(&mut self, out: &mut String, key: &str, value: &str) -> Result<(), WireError> {
        let start = out.len();
        write_tag(out, key, value, false)?;
        let tag = &out[start..];
        let seen = if self.len < self.ranges.len() {
            self.ranges[..self.len]
                .iter()
                .any(|&(a, b)| out[a..b] == *tag)
        } else {
            // Many tags: search the line. Quotes inside values are escaped, so
            // an unescaped ` "k"="v"` followed by a space is a whole tag.
            let earlier = &out[self.tags_start..start];
            earlier
                .match_indices(tag)
                .any(|(at, _)| matches!(earlier.as_bytes().get(at + tag.len()), None | Some(b' ')))
        };
        if seen {
            out.truncate(start);
            return Ok(());
        }
        self.count += 1;
        if self.len < self.ranges.len() {
            self.ranges[self.len] = (start, out.len());
            self.len += 1;
        }
        Ok(())
    }
}

/// One span log: a time and a set of fields (an event, a message, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanLog {
    /// When it happened, in microseconds since the epoch.
    pub timestamp_micros: u64,
    /// The fields, in order.
    pub fields: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

/// Appends the span-logs JSON line of a span:
/// `{"traceId": …, "spanId": …, "logs": [{"timestamp": µs, "fields": {…}}], "span": "<span line>"}`.
///
/// `span_line` is the span's own line (as written by [`write_span`], `\n`
/// included); the proxy re-parses it to apply the span's sampling decision to
/// its logs. The JSON layout (separators, ASCII-only escapes) is byte for byte
/// the reference SDK's.
///
/// ```
/// use wavefront_core::wire::{self, SpanLog};
///
/// let mut buf = String::new();
/// let log = SpanLog { timestamp_micros: 1795854230289633, fields: vec![("event".into(), "error".into())] };
/// wire::write_span_logs(&mut buf, "0a2713dc-eb05-11f1-b07e-02fc00000001".parse().unwrap(),
///     "0a2713dc-eb05-11f1-b07e-02fc00000001".parse().unwrap(), &[log], "\"op\" …\n");
/// assert!(buf.starts_with(r#"{"traceId": "0a2713dc-eb05-11f1-b07e-02fc00000001", "spanId": "#));
/// assert!(buf.ends_with("\"fields\": {\"event\": \"error\"}}], \"span\": \"\\\"op\\\" \\u2026\\n\"}\n"));
/// ```
pub fn write_span_logs(
    out: &mut String,
    trace_id: TraceId,
    span_id: SpanId,
    logs: &[SpanLog],
    span_line: &str,
) {
    out.push_str("{\"traceId\": \"");
    trace_id.write_to(out);
    out.push_str("\", \"spanId\": \"");
    span_id.write_to(out);
    out.push_str("\", \"logs\": [");
    for (i, log) in logs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("{\"timestamp\": ");
        // The proxy reads a Java long; no clock gives more.
        push_u64(out, log.timestamp_micros.min(i64::MAX as u64));
        out.push_str(", \"fields\": {");
        for (j, (key, value)) in log.fields.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            push_json_string(out, key);
            out.push_str(": ");
            push_json_string(out, value);
        }
        out.push_str("}}");
    }
    out.push_str("], \"span\": ");
    push_json_string(out, span_line);
    out.push_str("}\n");
}

/// Appends `s` as a JSON string with only ASCII characters, as Python's
/// `json.dumps` does by default.
fn push_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of printable ASCII other than `"` and `\` go in whole; every
    // other character is escaped as Python's `json.dumps` does.
    let mut rest = s;
    while !rest.is_empty() {
        let plain = rest
            .bytes()
            .position(|b| !(b' '..=b'~').contains(&b) || b == b'"' || b == b'\\')
            .unwrap_or(rest.len());
        out.push_str(&rest[..plain]);
        rest = &rest[plain..];
        let Some(c) = rest.chars().next() else { break };
        rest = &rest[c.len_utf8()..];
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str("\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(char::from(HEX[usize::from((*unit >> shift) & 0xf)]));
                    }
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_ascii() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"\\\n\r\t\u{8}\u{c}\u{1}\u{7f}é😀");
        assert_eq!(
            s,
            "\"a\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u007f\\u00e9\\ud83d\\ude00\""
        );
    }
}
