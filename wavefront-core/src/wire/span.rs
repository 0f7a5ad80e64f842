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
    write_span_cached(out, base, span, None)
}

/// Which tags a [`TagCache`] may serve, and the cache.
pub(crate) type CachedTags<'c, T> = (fn(&T) -> bool, &'c mut TagCache);

/// [`write_span_after`], taking the encoding of each tag that `cache.0`
/// accepts from `cache.1` (see [`TagCache`]).
pub(crate) fn write_span_cached<T: Tag>(
    out: &mut String,
    base: &EncodedSpanTags,
    span: &SpanLine<'_, T>,
    mut cache: Option<CachedTags<'_, T>>,
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
            if let Some((cacheable, cache)) = &mut cache {
                if cacheable(tag) {
                    if let Some(encoded) = cache.encoded(tag.key(), tag.value()) {
                        written.push_encoded(out, encoded);
                        continue;
                    }
                }
            }
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
        self.keep_unless_seen(out, start);
        Ok(())
    }

    /// Appends a tag `write` would have written, unless already there.
    fn push_encoded(&mut self, out: &mut String, encoded: &str) {
        let start = out.len();
        out.push_str(encoded);
        self.keep_unless_seen(out, start);
    }

    /// Keeps the tag written from `start` on, unless the same one was
    /// written before.
    fn keep_unless_seen(&mut self, out: &mut String, start: usize) {
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
            return;
        }
        self.count += 1;
        if self.len < self.ranges.len() {
            self.ranges[self.len] = (start, out.len());
            self.len += 1;
        }
    }
}

/// Span tags encoded once for a batch of spans, found again by the address
/// and length of their key and value: spans of one route share their tags'
/// texts, so most of a span's tags are copied rather than sanitised again.
///
/// An address identifies a text only while it lives unchanged: a cache must
/// serve one batch of spans that are all alive and unchanged meanwhile, and
/// only texts that are not rewritten in place.
#[derive(Default)]
pub(crate) struct TagCache {
    /// Each tag's place in `text`, or `None` if it cannot be written as is.
    places: std::collections::HashMap<TextIds, Option<(usize, usize)>, Addresses>,
    text: String,
}

impl TagCache {
    /// ` "k"="v"`, as [`write_span`] writes it, or `None` when the tag is
    /// refused (the caller then writes it, for the error).
    fn encoded(&mut self, key: &str, value: &str) -> Option<&str> {
        let id = (
            key.as_ptr() as usize,
            key.len(),
            value.as_ptr() as usize,
            value.len(),
        );
        let text = &mut self.text;
        let place = *self.places.entry(id).or_insert_with(|| {
            if is_reserved(key) {
                return None;
            }
            let start = text.len();
            match write_tag(text, key, value, false) {
                Ok(()) => Some((start, text.len())),
                Err(_) => {
                    text.truncate(start);
                    None
                }
            }
        });
        place.map(|(start, end)| &self.text[start..end])
    }
}

/// A tag's key and value, by address and length.
type TextIds = (usize, usize, usize, usize);

/// Hashes the addresses and lengths of [`TagCache`]'s keys: one multiply
/// per word (FxHash's), as they need no protection from collisions.
#[derive(Default, Clone, Copy)]
struct Addresses(u64);

impl std::hash::Hasher for Addresses {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl std::hash::BuildHasher for Addresses {
    type Hasher = Addresses;

    fn build_hasher(&self) -> Addresses {
        Addresses(0)
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
    /// Bytes written as they are: printable ASCII other than `"` and `\`.
    const PLAIN: [bool; 256] = {
        let mut plain = [false; 256];
        let mut b = b' ';
        while b <= b'~' {
            plain[b as usize] = b != b'"' && b != b'\\';
            b += 1;
        }
        plain
    };
    // A span line has a quote every few bytes: most escapes are two bytes.
    out.reserve(s.len() + s.len() / 4 + 2);
    out.push('"');
    // Runs of plain bytes go in whole; every other character is escaped as
    // Python's `json.dumps` does.
    let bytes = s.as_bytes();
    let (mut run, mut at) = (0, 0);
    while at < bytes.len() {
        let b = bytes[at];
        if PLAIN[usize::from(b)] {
            at += 1;
            continue;
        }
        out.push_str(&s[run..at]);
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        if escape.is_empty() {
            let c = s[at..].chars().next().unwrap_or('\u{fffd}');
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(HEX[usize::from((*unit >> shift) & 0xf)]));
                }
            }
            at += c.len_utf8();
        } else {
            out.push_str(escape);
            at += 1;
        }
        run = at;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tags_give_the_same_lines() {
        let base = EncodedSpanTags::new(&[("application", "Ordering"), ("k", "v")]).unwrap();
        let line = |tags| SpanLine {
            operation: "op",
            source: "host-1",
            trace_id: crate::id::TraceId::from_u128(1),
            span_id: crate::id::SpanId::from_u128(2),
            parents: &[],
            follows_from: &[],
            tags,
            start: 1_700_000_000_000_000,
            duration: 5,
            has_logs: false,
        };
        // Repeats, a pair equal to a base tag, sanitised keys that collide, a
        // blank value, a reserved key, and one the cache is not asked for.
        let spans: [&[(&str, &str)]; 5] = [
            &[
                ("component", "axum"),
                ("k", "v"),
                ("a b", "1"),
                ("a-b", "1"),
            ],
            &[
                ("component", "axum"),
                ("component", "axum"),
                ("x", "\"q\"\n"),
            ],
            &[("component", "axum"), ("blank", " ")],
            &[("traceId", "1"), ("component", "axum")],
            &[("uncached", "1"), ("component", "axum")],
        ];
        let mut cache = TagCache::default();
        let cacheable: fn(&(&str, &str)) -> bool = |(k, _)| *k != "uncached";
        for tags in spans {
            let (mut plain, mut cached) = (String::new(), String::new());
            let expected = write_span_after(&mut plain, &base, &line(tags));
            let got = write_span_cached(
                &mut cached,
                &base,
                &line(tags),
                Some((cacheable, &mut cache)),
            );
            assert_eq!(got, expected, "{tags:?}");
            assert_eq!(cached, plain, "{tags:?}");
        }
    }

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
