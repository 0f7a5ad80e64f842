//! Span lines (spec §1.4) and span logs (spec §1.5).

use std::borrow::Cow;

use super::{
    atomically, push_timestamp, push_u64, write_source, write_tag, write_tag_key, write_tag_value,
    Tag, WireError, MAX_SPAN_NAME_LEN, MAX_SPAN_TAGS,
};
use super::{ids, Runs, TextIds};
use crate::cow_map::AddressHasher;
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
    /// `text` escaped as in a JSON string (span logs repeat the line).
    escaped: String,
    /// Each tag's range in `text`.
    ranges: Vec<(usize, usize)>,
    /// The tags' [`fingerprint`]s.
    fingerprints: u64,
}

impl EncodedSpanTags {
    /// Encodes `tags` (sanitised, duplicates dropped, reserved keys refused).
    pub fn new<T: Tag>(tags: &[T]) -> Result<Self, WireError> {
        let mut text = String::new();
        let mut written = WrittenTags::new(0);
        for tag in tags {
            refuse_reserved(tag.key())?;
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
        let mut escaped = String::with_capacity(text.len() * 5 / 4);
        push_json_body(&mut escaped, &text);
        Ok(EncodedSpanTags {
            text,
            escaped,
            ranges,
            fingerprints: written.fingerprints,
        })
    }
}

/// [`write_span`] with `base` written ahead of the span's own tags.
pub fn write_span_after<T: Tag>(
    out: &mut String,
    base: &EncodedSpanTags,
    span: &SpanLine<'_, T>,
) -> Result<(), WireError> {
    write_span_cached(out, base, span, None, None)
}

/// Which tags a [`TagCache`] may serve, and the cache.
pub(crate) type CachedTags<'c, T> = (fn(&T) -> Cached, &'c mut TagCache);

/// What a [`TagCache`] may serve of a tag: only texts that stay alive and
/// unchanged through the batch can be found again by their address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cached {
    /// The key and the value.
    Tag,
    /// The key only (a URL of the span's own after a shared key).
    Key,
    /// Neither.
    Neither,
}

/// [`write_span_after`], taking the encoding of each tag that `cache.0`
/// accepts from `cache.1` (see [`TagCache`]). With `json`, the line is also
/// appended there as the body of a JSON string (for the span's logs, which
/// repeat it), texts of the cache and `base` from their escaped copies.
pub(crate) fn write_span_cached<T: Tag>(
    out: &mut String,
    base: &EncodedSpanTags,
    span: &SpanLine<'_, T>,
    mut cache: Option<CachedTags<'_, T>>,
    mut json: Option<&mut String>,
) -> Result<(), WireError> {
    // A span of a shape seen before in the batch is written from its
    // template; the first of a shape is written tag by tag, and where its
    // variable parts went is noted (`cuts`) to make the template.
    // (A span with logs is written tag by tag: its line is also escaped.)
    let (mut cuts, mut new_shape) = (None, false);
    if let (None, Some((_, cache))) = (&json, &mut cache) {
        match cache.shapes.find(span, base) {
            Some(Some(template)) => return atomically(out, |out| template.write(out, span)),
            Some(None) => {}
            None => {
                new_shape = true;
                cuts = Some(Cuts::default());
            }
        }
    }
    let json_start = json.as_ref().map(|j| j.len());
    let line_start = out.len();
    let written = atomically(out, |out| {
        let mut mirror = Mirror {
            json: json.as_deref_mut(),
            from: out.len(),
        };
        let prefix = match &mut cache {
            Some((_, cache)) => cache.prefix(span.operation, span.source),
            None => None,
        };
        match prefix {
            Some((text, escaped)) => {
                out.push_str(text);
                mirror.add(escaped, out.len());
            }
            None => {
                write_operation(out, span.operation)?;
                write_source(out, span.source)?;
                mirror.catch_up(out);
            }
        }
        let prefix_end = out.len();
        push_ids(out, span);
        mirror.copy_plain(out);
        if let Some(cuts) = &mut cuts {
            cuts.prefix_end = prefix_end - line_start;
            cuts.tags_start = out.len() - line_start;
        }
        let mut written = WrittenTags::new(out.len());
        written.add_encoded(out, base);
        mirror.add(&base.escaped, out.len());
        let mut at = 0;
        while let Some(tag) = span.tags.get(at) {
            at += 1;
            if let Some((cacheable, cache)) = &mut cache {
                // Consecutive tags the cache serves, as one run when the
                // batch wrote them before and none is already in the line.
                let rest = &span.tags[at - 1..];
                let run_len = rest
                    .iter()
                    .take_while(|t| cacheable(t) == Cached::Tag)
                    .count();
                if run_len > 1 {
                    if let Some(run) = cache.run(at - 1, &rest[..run_len]) {
                        if written.fits(out, run) {
                            mirror.catch_up(out);
                            written.add_encoded(out, run);
                            mirror.add(&run.escaped, out.len());
                            at += run_len - 1;
                            continue;
                        }
                    }
                }
                if run_len > 0 {
                    if let Some((text, escaped)) = cache.encoded(at - 1, tag.key(), tag.value()) {
                        mirror.catch_up(out);
                        if written.push_encoded(out, text) {
                            mirror.add(escaped, out.len());
                        }
                        continue;
                    }
                } else if cacheable(tag) == Cached::Key {
                    if let Some(key) = cache.key(tag.key()) {
                        let start = out.len();
                        out.push_str(key);
                        let value_start = out.len();
                        write_tag_value(out, tag.key(), tag.value())?;
                        if let Some(cuts) = &mut cuts {
                            cuts.values.push(OwnValue {
                                tag: at - 1,
                                key: start - line_start,
                                value: (value_start - line_start, out.len() - line_start),
                            });
                        }
                        if !written.keep_unless_seen(out, start) {
                            cuts = None;
                        }
                        continue;
                    }
                }
            }
            // A shape written this way is not kept.
            cuts = None;
            refuse_reserved(tag.key())?;
            // Escaped with what follows it, at the next catch-up.
            written.write(out, tag.key(), tag.value())?;
        }
        if span.has_logs {
            mirror.catch_up(out);
            if written.push_encoded(out, SPAN_LOGS_TAG.0) {
                mirror.add(SPAN_LOGS_TAG.1, out.len());
            }
        }
        if written.count > MAX_SPAN_TAGS {
            return Err(WireError::TooManyTags {
                count: written.count,
                max: MAX_SPAN_TAGS,
            });
        }
        mirror.catch_up(out);
        if let Some(c) = &mut cuts {
            c.tags_end = out.len() - line_start;
            let tags = base.ranges.len() + span.tags.len() + usize::from(span.has_logs);
            if !c.holds_for_the_shape(&out[line_start..], &written, line_start, tags) {
                cuts = None;
            }
        }
        push_times(out, span)?;
        mirror.copy_plain(out);
        out.push('\n');
        mirror.add("\\n", out.len());
        Ok(())
    });
    if let (Err(_), Some(json), Some(start)) = (&written, json, json_start) {
        json.truncate(start);
    }
    if let (true, Ok(()), Some((cacheable, cache))) = (new_shape, &written, cache) {
        // A shape with a tag whose texts cannot be told by address is not
        // kept (each of its lines is looked up once).
        if let Some(made_of) = Shapes::made_of(span, base, cacheable) {
            let template = cuts.map(|cuts| cuts.template(&out[line_start..]));
            cache.shapes.insert(Shape {
                made_of,
                has_logs: span.has_logs,
                template,
            });
        }
    }
    written
}

/// ` traceId=… spanId=…`, and the span's references.
fn push_ids<T>(out: &mut String, span: &SpanLine<'_, T>) {
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
}

/// ` start duration`.
fn push_times<T>(out: &mut String, span: &SpanLine<'_, T>) -> Result<(), WireError> {
    out.push(' ');
    push_timestamp(out, span.start)?;
    out.push(' ');
    push_timestamp(out, span.duration)
}

/// Span lines by shape: what a line is made of but for its ids, its times
/// and its tags' own values (a URL's), and the line with those cut out.
/// Most spans of a batch have the shape of one before them (one a route
/// and status), and are written by copying its template around their own
/// parts: one comparison instead of a lookup and a check for duplicates
/// per run of tags.
#[derive(Default)]
struct Shapes {
    known: Vec<Shape>,
    /// The one found last, looked at first.
    last: usize,
}

/// Shapes kept: a batch mixes a few routes and statuses.
const SHAPES_KEPT: usize = 8;

struct Shape {
    /// The operation and the source, the base tags (their text's address:
    /// it lives through the batch), then each tag: its key and value by
    /// address, or its key alone ([`OWN_VALUE`]) for a value of its own.
    made_of: Vec<TextIds>,
    has_logs: bool,
    /// `None` for a shape whose lines are written tag by tag (a value of
    /// its own could equal another tag).
    template: Option<Template>,
}

/// Marks a tag whose value is its own in [`Shape::made_of`] (no text has
/// that length).
const OWN_VALUE: usize = usize::MAX;

impl Shapes {
    /// The shape of `span`, if known: `Some(None)` for one written tag by
    /// tag.
    ///
    /// A tag matches by its texts' addresses, as [`TagCache`] finds them:
    /// a text that was made part of a shape is one that all the batch's
    /// spans share, so a later span with a text there has that text. A
    /// value of the span's own matches by its key alone: it is written
    /// whatever it is, and no other tag of the shape has that key.
    fn find<T: Tag>(
        &mut self,
        span: &SpanLine<'_, T>,
        base: &EncodedSpanTags,
    ) -> Option<Option<&Template>> {
        let matches = |shape: &Shape| {
            shape.has_logs == span.has_logs
                && shape.made_of.len() == span.tags.len() + 2
                && shape.made_of[0] == ids(span.operation, span.source)
                && shape.made_of[1] == ids(&base.text, "")
                && span
                    .tags
                    .iter()
                    .zip(&shape.made_of[2..])
                    .all(|(tag, made)| {
                        let tag = ids(tag.key(), tag.value());
                        if made.3 == OWN_VALUE {
                            (tag.0, tag.1) == (made.0, made.1)
                        } else {
                            tag == *made
                        }
                    })
        };
        if !self.known.get(self.last).is_some_and(matches) {
            self.last = self.known.iter().position(matches)?;
        }
        Some(self.known[self.last].template.as_ref())
    }

    /// What `span`'s line is made of (see [`Shape::made_of`]); `None` if a
    /// tag's texts cannot be told by address.
    fn made_of<T: Tag>(
        span: &SpanLine<'_, T>,
        base: &EncodedSpanTags,
        cacheable: fn(&T) -> Cached,
    ) -> Option<Vec<TextIds>> {
        let tags = span.tags.iter().map(|tag| tag_ids(tag, cacheable));
        if tags.clone().any(|tag| tag.is_none()) {
            return None;
        }
        let head = [ids(span.operation, span.source), ids(&base.text, "")];
        Some(head.into_iter().chain(tags.flatten()).collect())
    }

    fn insert(&mut self, shape: Shape) {
        if self.known.len() == SHAPES_KEPT {
            self.known.remove(0);
        }
        self.known.push(shape);
        self.last = self.known.len() - 1;
    }
}

/// A tag's part of [`Shape::made_of`].
fn tag_ids<T: Tag>(tag: &T, cacheable: fn(&T) -> Cached) -> Option<TextIds> {
    match cacheable(tag) {
        Cached::Tag => Some(ids(tag.key(), tag.value())),
        Cached::Key => Some((tag.key().as_ptr() as usize, tag.key().len(), 0, OWN_VALUE)),
        Cached::Neither => None,
    }
}

/// A line of one shape with its variable parts cut out.
struct Template {
    text: String,
    /// Where the ids go.
    prefix_end: usize,
    /// Where each value of a tag's own goes, and which tag's it is.
    values: Vec<(usize, usize)>,
}

impl Template {
    fn write<T: Tag>(&self, out: &mut String, span: &SpanLine<'_, T>) -> Result<(), WireError> {
        out.push_str(&self.text[..self.prefix_end]);
        push_ids(out, span);
        let mut from = self.prefix_end;
        for &(at, tag) in &self.values {
            out.push_str(&self.text[from..at]);
            let tag = &span.tags[tag];
            write_tag_value(out, tag.key(), tag.value())?;
            from = at;
        }
        out.push_str(&self.text[from..]);
        push_times(out, span)?;
        out.push('\n');
        Ok(())
    }
}

/// Where the variable parts of a span line went as it was written tag by
/// tag, relative to the line's start.
#[derive(Default)]
struct Cuts {
    prefix_end: usize,
    tags_start: usize,
    tags_end: usize,
    values: Vec<OwnValue>,
}

/// A tag's value of its own in a line.
struct OwnValue {
    /// The tag's index among the span's.
    tag: usize,
    /// Where its key starts.
    key: usize,
    /// Where its value is.
    value: (usize, usize),
}

impl Cuts {
    /// Whether every line of the shape is `line` but for its variable
    /// parts: it dropped none of its `tags` as a duplicate, and no other tag
    /// has the key of a value of a tag's own, so no value can make its tag
    /// a duplicate of another.
    fn holds_for_the_shape(
        &self,
        line: &str,
        written: &WrittenTags,
        line_start: usize,
        tags: usize,
    ) -> bool {
        if written.count != tags || written.len < written.count {
            return false;
        }
        self.values.iter().all(|own| {
            let key = &line.as_bytes()[own.key..own.value.0];
            written.ranges[..written.len].iter().all(|&(a, b)| {
                let (a, b) = (a - line_start, b - line_start);
                a == own.key || !line.as_bytes()[a..b].starts_with(key)
            })
        })
    }

    /// `line` with its ids and its own values cut out.
    fn template(self, line: &str) -> Template {
        let mut text = String::with_capacity(line.len());
        text.push_str(&line[..self.prefix_end]);
        let mut from = self.tags_start;
        let mut values = Vec::with_capacity(self.values.len());
        for own in &self.values {
            text.push_str(&line[from..own.value.0]);
            values.push((text.len(), own.tag));
            from = own.value.1;
        }
        text.push_str(&line[from..self.tags_end]);
        Template {
            text,
            prefix_end: self.prefix_end,
            values,
        }
    }
}

/// The tag of a span with logs, as [`write_tag`] writes it, and escaped.
const SPAN_LOGS_TAG: (&str, &str) = (" \"_spanLogs\"=\"true\"", " \\\"_spanLogs\\\"=\\\"true\\\"");

/// A span line's JSON-escaped copy, written beside the line: texts known
/// escaped are copied, the rest is escaped from the line when one is next.
struct Mirror<'j> {
    json: Option<&'j mut String>,
    /// Where the part of the line not yet in `json` starts.
    from: usize,
}

impl Mirror<'_> {
    /// Escapes what the line gained since the last text added.
    fn catch_up(&mut self, line: &str) {
        if let (Some(json), Some(gained)) = (self.json.as_deref_mut(), line.get(self.from..)) {
            if !gained.is_empty() {
                push_json_body(json, gained);
            }
        }
        self.from = line.len();
    }

    /// Copies what the line gained, which needs no escape (ids:
    /// ` traceId=…`).
    fn copy_plain(&mut self, line: &str) {
        if let (Some(json), Some(gained)) = (self.json.as_deref_mut(), line.get(self.from..)) {
            debug_assert!(
                gained
                    .bytes()
                    .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\'),
                "{gained}"
            );
            json.push_str(gained);
        }
        self.from = line.len();
    }

    /// Adds `escaped`, the escaped copy of what the line gained up to `end`.
    fn add(&mut self, escaped: &str, end: usize) {
        if let Some(json) = self.json.as_deref_mut() {
            json.push_str(escaped);
        }
        self.from = end;
    }
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

/// Refuses a key that [`is_reserved`].
fn refuse_reserved(key: &str) -> Result<(), WireError> {
    if is_reserved(key) {
        return Err(WireError::ReservedTagKey {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// Where each span tag was written, to skip pairs that sanitise alike (as
/// the reference SDK does) without searching the whole line.
struct WrittenTags {
    ranges: [(usize, usize); 32],
    len: usize,
    tags_start: usize,
    /// Tags written (duplicates are not).
    count: usize,
    /// The [`fingerprint`]s of the tags written: a tag whose bit is clear
    /// was not written before, and needs no comparison.
    fingerprints: u64,
}

/// One of 64 bits, the same for tags written alike, from the tag's length
/// and three of its bytes.
fn fingerprint(tag: &[u8]) -> u64 {
    let byte = |at: usize| u64::from(tag.get(at).copied().unwrap_or(0));
    let len = tag.len();
    let h =
        (len as u64) ^ (byte(2) << 8) ^ (byte(len / 2) << 16) ^ (byte(len.saturating_sub(2)) << 24);
    1 << (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
}

impl WrittenTags {
    /// Appends tags encoded before, and tracks them as written.
    /// Whether `encoded` can be appended to `line` as a whole: none of its
    /// tags is written already, and their places fit.
    fn fits(&self, line: &str, encoded: &EncodedSpanTags) -> bool {
        if self.len + encoded.ranges.len() > self.ranges.len() {
            return false;
        }
        if self.fingerprints & encoded.fingerprints == 0 {
            return true;
        }
        // Some fingerprints match: compare those tags.
        encoded.ranges.iter().all(|&(start, end)| {
            let tag = &encoded.text.as_bytes()[start..end];
            self.fingerprints & fingerprint(tag) == 0 || !self.has(line, tag)
        })
    }

    /// Whether `tag` is among the tags written in `line` (all tracked).
    fn has(&self, line: &str, tag: &[u8]) -> bool {
        let line = line.as_bytes();
        self.ranges[..self.len]
            .iter()
            .any(|&(a, b)| b - a == tag.len() && line[a..b] == *tag)
    }

    fn add_encoded(&mut self, out: &mut String, encoded: &EncodedSpanTags) {
        let at = out.len();
        out.push_str(&encoded.text);
        for &(start, end) in &encoded.ranges {
            self.ranges[self.len] = (at + start, at + end);
            self.len += 1;
        }
        self.count += encoded.ranges.len();
        self.fingerprints |= encoded.fingerprints;
    }

    fn new(tags_start: usize) -> Self {
        WrittenTags {
            ranges: [(0, 0); 32],
            len: 0,
            tags_start,
            count: 0,
            fingerprints: 0,
        }
    }

    /// Writes ` "k"="v"` unless the same sanitised pair is already there.
    fn write(&mut self, out: &mut String, key: &str, value: &str) -> Result<(), WireError> {
        let start = out.len();
        write_tag(out, key, value, false)?;
        self.keep_unless_seen(out, start);
        Ok(())
    }

    /// Appends a tag `write` would have written, unless already there;
    /// says whether it did.
    fn push_encoded(&mut self, out: &mut String, encoded: &str) -> bool {
        let start = out.len();
        out.push_str(encoded);
        self.keep_unless_seen(out, start)
    }

    /// Keeps the tag written from `start` on, unless the same one was
    /// written before; says whether it kept it.
    fn keep_unless_seen(&mut self, out: &mut String, start: usize) -> bool {
        let tag = &out[start..];
        let bit = fingerprint(tag.as_bytes());
        let seen = if self.fingerprints & bit == 0 {
            false
        } else if self.len < self.ranges.len() {
            self.has(out, tag.as_bytes())
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
            return false;
        }
        self.count += 1;
        self.fingerprints |= bit;
        if self.len < self.ranges.len() {
            self.ranges[self.len] = (start, out.len());
            self.len += 1;
        }
        true
    }
}

/// Span tags encoded once for a batch of spans, found again by the address
/// and length of their key and value: spans of one route share their tags'
/// texts, so most of a span's tags are copied rather than sanitised again
/// (see [`Runs`](super::Runs) for what an address may identify).
#[derive(Default)]
pub(crate) struct TagCache {
    /// ` "k"="v"` of each tag.
    tags: Memo,
    /// `"op" source="src"` of each operation and source.
    prefixes: Memo,
    /// ` "k"=` of each key whose values are the spans' own (a URL's).
    keys: Memo,
    text: String,
    /// Each text of `text` escaped as in a JSON string, for span logs.
    escaped: String,
    /// Runs of consecutive tags written together.
    runs: Runs<Option<EncodedSpanTags>>,
    /// Whole lines' shapes.
    shapes: Shapes,
}

/// Where a text is in [`TagCache::text`], and its escaped copy in
/// [`TagCache::escaped`].
#[derive(Debug, Clone, Copy)]
struct Place {
    text: (usize, usize),
    escaped: (usize, usize),
}

/// Texts' places (or `None` for a text refused) by the ids of what they
/// were written from, and what was found last at each place in a span: the
/// spans of one route have the same texts at the same places.
#[derive(Default)]
struct Memo {
    places: std::collections::HashMap<TextIds, Option<Place>, AddressHasher>,
    last: Vec<(TextIds, Option<Place>)>,
}

impl Memo {
    /// The place of what `write` writes for `id`, written into `text` (and
    /// escaped into `escaped`) at its first lookup; what was found last at
    /// `at` is looked at first.
    fn find(
        &mut self,
        at: usize,
        id: TextIds,
        text: &mut String,
        escaped: &mut String,
        write: impl FnOnce(&mut String) -> Result<(), WireError>,
    ) -> Option<Place> {
        if let Some(&(last, place)) = self.last.get(at) {
            if last == id {
                return place;
            }
        }
        let place = *self.places.entry(id).or_insert_with(|| {
            let start = text.len();
            if write(text).is_err() {
                text.truncate(start);
                return None;
            }
            let escaped_start = escaped.len();
            push_json_body(escaped, &text[start..]);
            Some(Place {
                text: (start, text.len()),
                escaped: (escaped_start, escaped.len()),
            })
        });
        if self.last.len() <= at {
            self.last.resize(at + 1, ((0, 0, 0, 0), None));
        }
        self.last[at] = (id, place);
        place
    }
}

impl TagCache {
    /// `"op" source="src"`, as [`write_span`] writes them, and its escaped
    /// copy; `None` when either is refused (the caller then writes them,
    /// for the error).
    fn prefix(&mut self, operation: &str, source: &str) -> Option<(&str, &str)> {
        let place = self.prefixes.find(
            0,
            ids(operation, source),
            &mut self.text,
            &mut self.escaped,
            |text| write_operation(text, operation).and_then(|()| write_source(text, source)),
        );
        self.texts(place)
    }

    /// ` "k"="v"`, as [`write_span`] writes it, and its escaped copy;
    /// `None` when the tag is refused (the caller then writes it, for the
    /// error). `at` is the tag's place among the span's.
    fn encoded(&mut self, at: usize, key: &str, value: &str) -> Option<(&str, &str)> {
        let place = self.tags.find(
            at,
            ids(key, value),
            &mut self.text,
            &mut self.escaped,
            |text| {
                refuse_reserved(key)?;
                write_tag(text, key, value, false)
            },
        );
        self.texts(place)
    }

    /// ` "k"=`, as [`write_span`] writes a tag's key and its `=`, or `None`
    /// when the key is refused (the caller then writes the tag, for the
    /// error).
    fn key(&mut self, key: &str) -> Option<&str> {
        let place = self
            .keys
            .find(0, ids(key, ""), &mut self.text, &mut self.escaped, |text| {
                refuse_reserved(key)?;
                write_tag_key(text, key)
            });
        self.texts(place).map(|(text, _)| text)
    }

    fn texts(&self, place: Option<Place>) -> Option<(&str, &str)> {
        place.map(|Place { text, escaped }| {
            (
                &self.text[text.0..text.1],
                &self.escaped[escaped.0..escaped.1],
            )
        })
    }

    /// `tags` (which start at `at` among a span's) encoded as one text,
    /// duplicates among them dropped, or `None` if one is refused. Made
    /// from each tag's encoding the first time these texts are seen there.
    fn run<T: Tag>(&mut self, at: usize, tags: &[T]) -> Option<&EncodedSpanTags> {
        let id = |i: usize| ids(tags[i].key(), tags[i].value());
        let found = match self.runs.find(at, tags.len(), id) {
            Some(found) => found,
            None => {
                let run = self.make_run(at, tags);
                self.runs.insert(at, (0..tags.len()).map(id).collect(), run)
            }
        };
        self.runs.get(at, found).as_ref()
    }

    fn make_run<T: Tag>(&mut self, at: usize, tags: &[T]) -> Option<EncodedSpanTags> {
        let mut run = EncodedSpanTags::default();
        let mut written = WrittenTags::new(0);
        for (i, tag) in tags.iter().enumerate() {
            let (text, escaped) = self.encoded(at + i, tag.key(), tag.value())?;
            if written.len == written.ranges.len() {
                return None;
            }
            if written.push_encoded(&mut run.text, text) {
                run.escaped.push_str(escaped);
            }
        }
        run.ranges = written.ranges[..written.len].to_vec();
        run.fingerprints = written.fingerprints;
        Some(run)
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
    write_logs_json(out, trace_id, span_id, logs, |out| {
        push_json_string(out, span_line);
    });
}

/// [`write_span_logs`] for a span line already escaped as the body of a
/// JSON string (as [`write_span_cached`] writes it beside the line).
pub(crate) fn write_span_logs_escaped(
    out: &mut String,
    trace_id: TraceId,
    span_id: SpanId,
    logs: &[SpanLog],
    escaped_line: &str,
) {
    write_logs_json(out, trace_id, span_id, logs, |out| {
        out.push('"');
        out.push_str(escaped_line);
        out.push('"');
    });
}

fn write_logs_json(
    out: &mut String,
    trace_id: TraceId,
    span_id: SpanId,
    logs: &[SpanLog],
    span_line: impl FnOnce(&mut String),
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
    span_line(out);
    out.push_str("}\n");
}

/// Appends `s` as a JSON string with only ASCII characters, as Python's
/// `json.dumps` does by default.
fn push_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + s.len() / 4 + 2);
    out.push('"');
    // Most log fields (`event`, `error`) need no escape.
    if s.len() <= 16
        && s.bytes()
            .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    {
        out.push_str(s);
    } else {
        push_json_body(out, s);
    }
    out.push('"');
}

/// Appends `s` escaped as in a JSON string, without the quotes.
fn push_json_body(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// What each byte becomes: 0 as it is (printable ASCII other than `"`
    /// and `\\`), the letter of a two-character escape, or 1 for `\\u`.
    const ESCAPE: [u8; 256] = {
        let mut escape = [1u8; 256];
        let mut b = b' ';
        while b <= b'~' {
            escape[b as usize] = 0;
            b += 1;
        }
        escape[b'"' as usize] = b'"';
        escape[b'\\' as usize] = b'\\';
        escape[b'\n' as usize] = b'n';
        escape[b'\r' as usize] = b'r';
        escape[b'\t' as usize] = b't';
        escape[0x08] = b'b';
        escape[0x0c] = b'f';
        escape
    };
    // Escaped into a buffer on the stack eight bytes at a time while they
    // need no escape, and pushed a few hundred bytes at a time: a span line
    // has a quote every few bytes.
    let mut buf = [0u8; 256];
    let mut len = 0;
    let bytes = s.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if len + 20 > buf.len() {
            push_ascii(out, &buf[..len]);
            len = 0;
        }
        if let Some(chunk) = bytes.get(at..at + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            // Written whole; only the bytes before one to escape count.
            if let Some(to) = buf.get_mut(len..len + 8) {
                to.copy_from_slice(&word);
            }
            let escapes = needs_escape(u64::from_le_bytes(word));
            if escapes == 0 {
                len += 8;
                at += 8;
                continue;
            }
            // Up to the first byte to escape, which is ASCII or starts a
            // character (every byte before it is plain ASCII).
            let plain = (escapes.trailing_zeros() / 8) as usize;
            len += plain;
            at += plain;
        }
        let b = bytes[at];
        match ESCAPE[usize::from(b)] {
            0 => {
                buf[len] = b;
                len += 1;
                at += 1;
            }
            1 => {
                let c = s.get(at..).and_then(|rest| rest.chars().next());
                let c = c.unwrap_or('\u{fffd}');
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    buf[len] = b'\\';
                    buf[len + 1] = b'u';
                    for (i, shift) in [12, 8, 4, 0].into_iter().enumerate() {
                        buf[len + 2 + i] = HEX[usize::from((*unit >> shift) & 0xf)];
                    }
                    len += 6;
                }
                at += c.len_utf8();
            }
            letter => {
                buf[len] = b'\\';
                buf[len + 1] = letter;
                len += 2;
                at += 1;
            }
        }
    }
    push_ascii(out, &buf[..len]);
}

/// The bytes of `word` (little-endian) that JSON escapes: `"`, `\\`,
/// controls, DEL and non-ASCII. The lowest flagged byte is exact; bytes
/// above it may be flagged wrongly, so only it is used.
fn needs_escape(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    (word & HIGH)
        | zero(word ^ (ONES * 0x22))
        | zero(word ^ (ONES * 0x5c))
        | zero(word ^ (ONES * 0x7f))
        | (word.wrapping_sub(ONES * 0x20) & !word & HIGH)
}

/// Appends escaped bytes (ASCII, by construction).
fn push_ascii(out: &mut String, ascii: &[u8]) {
    let pushed = crate::ascii::push_ascii(out, ascii);
    debug_assert!(pushed, "escaped JSON is ASCII");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tags_give_the_same_lines() {
        let base = EncodedSpanTags::new(&[("application", "Ordering"), ("k", "v")]).unwrap();
        let line = |(operation, tags)| SpanLine {
            operation,
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
        // blank value, a reserved key, one the cache is not asked for; an
        // operation with a `*`, and a blank one.
        let spans: [(&str, &[(&str, &str)]); 13] = [
            (
                "op",
                &[
                    ("component", "axum"),
                    ("k", "v"),
                    ("a b", "1"),
                    ("a-b", "1"),
                ],
            ),
            (
                "op",
                &[
                    ("component", "axum"),
                    ("component", "axum"),
                    ("x", "\"q\"\n"),
                ],
            ),
            ("op", &[("component", "axum"), ("blank", " ")]),
            ("op", &[("traceId", "1"), ("component", "axum")]),
            ("op", &[("uncached", "1"), ("component", "axum")]),
            ("a*b", &[("component", "axum")]),
            (" ", &[("component", "axum")]),
            // Runs around a tag the cache does not serve; a run holding a
            // tag written alike before it, by a tag outside the cache.
            (
                "op",
                &[
                    ("component", "axum"),
                    ("span.kind", "server"),
                    ("uncached", "1"),
                    ("k2", "v2"),
                    ("k3", "v3"),
                ],
            ),
            (
                "op",
                &[
                    ("uncached", "1"),
                    ("uncached", "1"),
                    ("component", "axum"),
                    ("span.kind", "server"),
                ],
            ),
            ("op", &[("a b", "1"), ("component", "axum"), ("a-b", "1")]),
            // Keys served without their values: one written twice alike, one
            // with a value to escape, a blank value, a refused key.
            (
                "op",
                &[
                    ("http.url", "http://h/a?q=\"1\""),
                    ("component", "axum"),
                    ("http.url", "http://h/a?q=\"1\""),
                    ("http.url", "http://h/b\n"),
                ],
            ),
            ("op", &[("blank", " "), ("http.url", "x")]),
            ("op", &[("traceId", "1"), ("http.url", "x")]),
        ];
        let mut cache = TagCache::default();
        let cacheable: fn(&(&str, &str)) -> Cached = |(k, _)| match *k {
            "uncached" | "a b" => Cached::Neither,
            "http.url" | "blank" | "traceId" => Cached::Key,
            _ => Cached::Tag,
        };
        // Twice: the second time, from what the cache kept.
        for span in spans.into_iter().chain(spans) {
            for has_logs in [false, true] {
                let line = SpanLine {
                    has_logs,
                    ..line(span)
                };
                let (mut plain, mut cached) = (String::new(), String::from("earlier\n"));
                let expected = write_span_after(&mut plain, &base, &line);
                let mut json = String::from("[");
                let cache = Some((cacheable, &mut cache));
                let got = write_span_cached(&mut cached, &base, &line, cache, Some(&mut json));
                assert_eq!(got, expected, "{span:?}");
                assert_eq!(cached, format!("earlier\n{plain}"), "{span:?}");
                // The JSON copy is the line escaped, or nothing for a refused line.
                let mut escaped = String::from("[");
                push_json_body(&mut escaped, &plain);
                assert_eq!(json, escaped, "{span:?}");
                // The same without a cache: every part escaped from the line.
                let mut uncached = String::from("[");
                let got =
                    write_span_cached(&mut String::new(), &base, &line, None, Some(&mut uncached));
                assert_eq!(got, expected, "{span:?}");
                assert_eq!(uncached, escaped, "{span:?}");
            }
        }
    }

    /// The values of spans' own (URLs) in [`lines_written_from_their_shape_…`]:
    /// slices of this text, told apart from shared texts by their address.
    static OWN_VALUES: &str = "/a/b/style/7/make/q?\"x\"\n ";

    #[test]
    fn lines_written_from_their_shape_are_the_lines_written_tag_by_tag() {
        let own: Vec<&str> = [(0, 2), (2, 4), (4, 17), (17, 23), (23, 24), (2, 4)]
            .iter()
            .map(|&(a, b)| &OWN_VALUES[a..b])
            .collect();
        let cacheable: fn(&(&str, &str)) -> Cached = |(k, v)| {
            let own = OWN_VALUES.as_bytes().as_ptr_range();
            if *k == "uncached" {
                Cached::Neither
            } else if own.contains(&v.as_ptr()) || (v.is_empty() && v.as_ptr() == own.end) {
                Cached::Key
            } else {
                Cached::Tag
            }
        };
        let bases = [
            EncodedSpanTags::new(&[("application", "Ordering"), ("k", "v")]).unwrap(),
            // A base tag with the key of a value of the span's own.
            EncodedSpanTags::new(&[("application", "Ordering"), ("http.url", "/a")]).unwrap(),
        ];
        // Shapes (`OWN` for a value of the span's own): a request's span; an
        // own value that can equal a shared tag after or before it, or its
        // own twin; a refused key; a tag the cache does not serve; an
        // operation with a `*` and a repeated tag; more tags than tracked.
        let many: Vec<(&str, &str)> = (0..31)
            .map(|i| {
                (
                    ["t0", "t1", "t2", "t3"][i % 4],
                    ["1", "2", "3", "4", "5", "6", "7", "8"][i % 8],
                )
            })
            .chain([("http.url", "OWN")])
            .collect();
        let shapes: [(&str, &[(&str, &str)]); 10] = [
            (
                "op",
                &[
                    ("component", "axum"),
                    ("span.kind", "server"),
                    ("http.url", "OWN"),
                    ("axum.func", "make"),
                    ("http.status_code", "200"),
                ],
            ),
            ("op", &[("http.url", "OWN"), ("http.url", "/a")]),
            ("op", &[("http.url", "/a"), ("http.url", "OWN")]),
            ("op", &[("http.url", "OWN"), ("http.url", "OWN")]),
            ("op", &[("traceId", "OWN"), ("component", "axum")]),
            ("op", &[("uncached", "1"), ("http.url", "OWN")]),
            ("a*b", &[("x", "1"), ("http.url", "OWN"), ("x", "1")]),
            ("op", &many),
            // Two values of the span's own, the first tag one of them; one last.
            ("a*b", &[("http.url", "OWN"), ("x", "1"), ("peer", "OWN")]),
            ("op", &[("x", "1"), ("http.url", "OWN")]),
        ];
        let parents = [crate::id::SpanId::from_u128(9)];
        let mut cache = TagCache::default();
        let mut from_template = 0;
        for round in 0..3 {
            for (i, own) in own.iter().enumerate() {
                for (s, (operation, tags)) in shapes.iter().enumerate() {
                    let tags: Vec<(&str, &str)> = tags
                        .iter()
                        .map(|&(k, v)| (k, if v == "OWN" { *own } else { v }))
                        .collect();
                    let base = &bases[(s + round) % 2];
                    let line = SpanLine {
                        operation,
                        source: "host-1",
                        trace_id: crate::id::TraceId::from_u128(1 + i as u128),
                        span_id: crate::id::SpanId::from_u128(2 + round as u128),
                        parents: &parents[..(i + round) % 2],
                        follows_from: &[],
                        tags: &tags,
                        start: 1_700_000_000_000_000 + i as u64,
                        duration: 5 + round as u64,
                        has_logs: false,
                    };
                    let mut plain = String::new();
                    let expected = write_span_after(&mut plain, base, &line);
                    let known = cache.shapes.find(&line, base);
                    from_template += usize::from(known.is_some_and(|t| t.is_some()));
                    let mut cached = String::from("earlier\n");
                    let got = write_span_cached(
                        &mut cached,
                        base,
                        &line,
                        Some((cacheable, &mut cache)),
                        None,
                    );
                    assert_eq!(got, expected, "{operation} {tags:?}");
                    assert_eq!(cached, format!("earlier\n{plain}"), "{operation} {tags:?}");
                }
            }
        }
        // The three shapes that can have a template (with the base that has
        // no `http.url`) wrote all but their first line from it: 25 lines.
        assert!(from_template >= 20, "{from_template} lines from a template");
    }

    #[test]
    fn the_span_logs_tag_is_written_and_escaped_as_any_tag() {
        let mut tag = String::new();
        write_tag(&mut tag, "_spanLogs", "true", false).unwrap();
        assert_eq!(tag, SPAN_LOGS_TAG.0);
        assert_eq!(json_reference(&tag), format!("\"{}\"", SPAN_LOGS_TAG.1));
    }

    /// `json.dumps` of `s`, character by character.
    fn json_reference(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn json_strings_match_json_dumps_at_every_length_and_offset() {
        // With `#`, `]` and `~`, which a word's test flags wrongly above a `"`, a `\\` or a DEL.
        let alphabet: Vec<char> = "ab \"\\\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}~#]é€😀"
            .chars()
            .collect();
        let mut seed: u64 = 7;
        for len in 0..600 {
            let text: String = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    // Mostly plain letters, as in a span line.
                    let pick = (seed >> 33) as usize % (alphabet.len() * 3);
                    alphabet.get(pick).copied().unwrap_or('x')
                })
                .collect();
            let mut got = String::new();
            push_json_string(&mut got, &text);
            assert_eq!(got, json_reference(&text), "{text:?}");
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
