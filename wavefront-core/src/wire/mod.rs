//! Encoders for the Wavefront line formats (spec §1): metric points, delta
//! counters, histogram distributions, spans and span logs.
//!
//! Every encoder appends exactly one complete line, `\n` included, to a
//! caller-supplied `String`, so a reporter can reuse one buffer for a whole
//! batch without allocating per line. On error nothing is appended.
//!
//! Names and tag keys are sanitised and values escaped as described in
//! [`crate::sanitize`]; numbers are written as the shortest decimal that reads
//! back as the same `f64`, in the layout of Python's `repr(float)`, so the
//! bytes match the reference SDK's.
//!
//! ```
//! use wavefront_core::wire;
//!
//! let mut buf = String::new();
//! wire::write_metric(&mut buf, "new-york.power.usage", 42422.0, Some(1493773500), "localhost",
//!     &[("datacenter", "dc1")]).unwrap();
//! assert_eq!(buf, "\"new-york.power.usage\" 42422.0 1493773500 source=\"localhost\" \"datacenter\"=\"dc1\"\n");
//! ```

mod number;
mod runs;
mod span;

pub use crate::error::WireError;
pub(crate) use runs::{ids, Runs, TextIds};
pub use span::{write_span, write_span_after, write_span_logs, EncodedSpanTags, SpanLine, SpanLog};
pub(crate) use span::{write_span_cached, write_span_logs_escaped, Cached, TagCache};

use crate::sanitize::{self, is_delta, DELTA_PREFIX};
pub(crate) use number::{push_f64, push_u64};

/// The proxy rejects a point tag whose key and value reach this many UTF-16
/// units (`WF-411`).
pub const MAX_TAG_LEN: usize = 255;

/// Longest metric, histogram name or source the proxy accepts, in UTF-16
/// units (its fallback limit; the service may push a smaller one).
pub const MAX_NAME_LEN: usize = 1023;
/// Longest span operation name, in UTF-16 units.
pub const MAX_SPAN_NAME_LEN: usize = 128;

/// Most point tags the proxy accepts (`WF-410`).
pub const MAX_POINT_TAGS: usize = 100;
/// Most span tags the proxy accepts (`WF-430`), `_spanLogs` included.
pub const MAX_SPAN_TAGS: usize = 20;
/// Longest span tag key, in UTF-16 units (`WF-432`).
pub const MAX_SPAN_TAG_KEY_LEN: usize = 128;

/// Appends a timestamp (or a span's start or duration) the proxy can read:
/// it parses a Java `long`.
fn push_timestamp(out: &mut String, value: u64) -> Result<(), WireError> {
    if i64::try_from(value).is_err() {
        return Err(WireError::TimestampOutOfRange { value });
    }
    push_u64(out, value);
    Ok(())
}

/// The largest count one centroid can carry (the proxy's `Integer.parseInt`).
const MAX_CENTROID_COUNT: u64 = i32::MAX as u64;

/// A point tag or span tag: any pair of string-like key and value.
pub trait Tag {
    /// The tag key, before sanitisation.
    fn key(&self) -> &str;
    /// The tag value, before escaping.
    fn value(&self) -> &str;
}

impl<K: AsRef<str>, V: AsRef<str>> Tag for (K, V) {
    fn key(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

/// What a delta-counter encoder did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Encoded {
    /// A line was appended.
    Line,
    /// Nothing to send (a delta of zero or less); nothing was appended.
    Nothing,
}

/// Histogram granularity: the bin width the service aggregates into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// One-minute bins, `!M` (queried as `<name>.m`).
    Minute,
    /// One-hour bins, `!H`.
    Hour,
    /// One-day bins, `!D`.
    Day,
}

impl Granularity {
    /// The line marker: `!M`, `!H` or `!D`.
    #[must_use]
    pub const fn marker(self) -> &'static str {
        match self {
            Granularity::Minute => "!M",
            Granularity::Hour => "!H",
            Granularity::Day => "!D",
        }
    }
}

/// One histogram centroid: `count` samples around `mean`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Centroid {
    /// The samples' mean.
    pub mean: f64,
    /// How many samples. The proxy reads counts as 32-bit signed integers,
    /// so a larger count is written as several centroids with the same mean.
    pub count: u64,
}

/// Runs `write` and rolls `out` back to where it was if `write` fails, so a
/// failed encode never leaves half a line behind.
fn atomically<T>(
    out: &mut String,
    write: impl FnOnce(&mut String) -> Result<T, WireError>,
) -> Result<T, WireError> {
    let start = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_name(out: &mut String, name: &str) -> Result<(), WireError> {
    let len = sanitize::write_name_len(out, name).map_err(|_| WireError::BlankName)?;
    if len > MAX_NAME_LEN {
        return Err(WireError::NameTooLong {
            len,
            max: MAX_NAME_LEN,
        });
    }
    Ok(())
}

fn write_source(out: &mut String, source: &str) -> Result<(), WireError> {
    out.push_str(" source=");
    let len = sanitize::write_value_len(out, source).map_err(|_| WireError::BlankSource)?;
    if len > MAX_NAME_LEN {
        return Err(WireError::SourceTooLong { len });
    }
    Ok(())
}

/// Appends ` "key"="value"` for each tag; `limit_len` applies the point-tag
/// length limit (spans are exempt: the proxy truncates their values itself).
fn write_tags<T: Tag>(out: &mut String, tags: &[T], limit_len: bool) -> Result<(), WireError> {
    if tags.len() > MAX_POINT_TAGS {
        return Err(WireError::TooManyTags {
            count: tags.len(),
            max: MAX_POINT_TAGS,
        });
    }
    for tag in tags {
        write_tag(out, tag.key(), tag.value(), limit_len)?;
    }
    Ok(())
}

/// ` "k"=` of a span tag, as [`write_tag`] writes it (without its length
/// limit for point tags), or why the key is refused.
fn write_tag_key(out: &mut String, key: &str) -> Result<(), WireError> {
    out.push(' ');
    let key_len = sanitize::write_name_len(out, key).map_err(|_| WireError::BlankTagKey)?;
    if key_len > MAX_SPAN_TAG_KEY_LEN {
        return Err(WireError::TagKeyTooLong {
            key: key.to_owned(),
            len: key_len,
        });
    }
    out.push('=');
    Ok(())
}

fn write_tag(out: &mut String, key: &str, value: &str, limit_len: bool) -> Result<(), WireError> {
    if !limit_len {
        // A span tag: its key and its value are limited apart.
        write_tag_key(out, key)?;
        return write_tag_value(out, key, value).map(drop);
    }
    out.push(' ');
    let key_start = out.len();
    let mut key_len = sanitize::write_name_len(out, key).map_err(|_| WireError::BlankTagKey)?;
    // The proxy renames a point tag `tag` to `_tag`, and `host` (next to a
    // source) to `_host`: one unit more against the limit.
    if matches!(&out[key_start..], "\"tag\"" | "\"host\"") {
        key_len += 1;
    }
    out.push('=');
    let value_len = write_tag_value(out, key, value)?;
    // The caller rolls the line back on error.
    if key_len + value_len >= MAX_TAG_LEN {
        return Err(WireError::TagTooLong {
            key: key.to_owned(),
            len: key_len + value_len,
        });
    }
    Ok(())
}

/// A tag's quoted value; its length, or why it is refused.
fn write_tag_value(out: &mut String, key: &str, value: &str) -> Result<usize, WireError> {
    sanitize::write_value_len(out, value).map_err(|_| WireError::BlankTagValue {
        key: key.to_owned(),
    })
}

fn check_centroids(centroids: &[Centroid]) -> Result<(), WireError> {
    if !centroids.iter().any(|c| c.count > 0) {
        return Err(WireError::EmptyHistogram);
    }
    for c in centroids {
        finite(c.mean)?;
    }
    Ok(())
}

/// ` #count mean` for each centroid with samples; counts above the proxy's
/// 32-bit limit are split into several centroids of the same mean.
fn push_centroids(out: &mut String, centroids: &[Centroid]) {
    for c in centroids {
        let mut left = c.count;
        while left > 0 {
            let count = left.min(MAX_CENTROID_COUNT);
            out.push_str(" #");
            push_u64(out, count);
            out.push(' ');
            push_f64(out, c.mean);
            left -= count;
        }
    }
}

fn finite(value: f64) -> Result<f64, WireError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(WireError::NonFiniteValue)
    }
}

/// Appends a metric point: `"name" value [timestamp] source="src" "k"="v"…`.
///
/// `timestamp` is written as given; the proxy reads up to 12 digits as epoch
/// seconds and 13 as milliseconds (spec §2.5). Tags are written in the order
/// given; a tag keyed `source` after the real source replaces it on the
/// proxy (how aggregated series get `source=wavefront-provided`). A name
/// starting with `∆` or `Δ` is a delta counter, and must have a positive
/// value ([`WireError::NonPositiveDelta`]).
pub fn write_metric<T: Tag>(
    out: &mut String,
    name: &str,
    value: f64,
    timestamp: Option<u64>,
    source: &str,
    tags: &[T],
) -> Result<(), WireError> {
    let value = finite(value)?;
    if value <= 0.0 && name.starts_with(is_delta) {
        return Err(WireError::NonPositiveDelta);
    }
    atomically(out, |out| {
        write_name(out, name)?;
        out.push(' ');
        push_f64(out, value);
        if let Some(ts) = timestamp {
            out.push(' ');
            push_timestamp(out, ts)?;
        }
        write_source(out, source)?;
        write_tags(out, tags, true)?;
        out.push('\n');
        Ok(())
    })
}

/// Appends a delta-counter point: the name gets a leading `∆` unless it
/// already starts with `∆` or `Δ`, and no timestamp is written (the service
/// bins deltas by arrival). A value of zero or less is not sent:
/// [`Encoded::Nothing`] is returned and nothing is appended.
///
/// ```
/// use wavefront_core::wire::{self, Encoded};
///
/// let mut buf = String::new();
/// let tags: &[(&str, &str)] = &[];
/// assert_eq!(wire::write_delta(&mut buf, "requests", 3.0, "host-1", tags), Ok(Encoded::Line));
/// assert_eq!(wire::write_delta(&mut buf, "requests", 0.0, "host-1", tags), Ok(Encoded::Nothing));
/// assert_eq!(buf, "\"∆requests\" 3.0 source=\"host-1\"\n");
/// ```
pub fn write_delta<T: Tag>(
    out: &mut String,
    name: &str,
    value: f64,
    source: &str,
    tags: &[T],
) -> Result<Encoded, WireError> {
    let value = finite(value)?;
    if value <= 0.0 {
        return Ok(Encoded::Nothing);
    }
    if name.starts_with(is_delta) {
        write_metric(out, name, value, None, source, tags)?;
    } else {
        // Prefix in a stack buffer when the name is short, to avoid allocating.
        let mut stack = [0u8; 256];
        let prefix_len = DELTA_PREFIX.len_utf8();
        if let Some(dst) = stack.get_mut(..prefix_len + name.len()) {
            DELTA_PREFIX.encode_utf8(&mut dst[..prefix_len]);
            dst[prefix_len..].copy_from_slice(name.as_bytes());
            let prefixed = std::str::from_utf8(dst).map_err(|_| WireError::BlankName)?;
            write_metric(out, prefixed, value, None, source, tags)?;
        } else {
            let prefixed = format!("{DELTA_PREFIX}{name}");
            write_metric(out, &prefixed, value, None, source, tags)?;
        }
    }
    Ok(Encoded::Line)
}

/// Appends a histogram distribution for one granularity:
/// `!M [timestamp] #count mean … "name" source="src" "k"="v"…`.
///
/// Centroids with a count of zero are left out; if none is left the
/// histogram is refused with [`WireError::EmptyHistogram`], since the proxy
/// rejects empty distributions. The timestamp is conventionally the bin start
/// in epoch milliseconds.
///
/// ```
/// use wavefront_core::wire::{self, Centroid, Granularity};
///
/// let mut buf = String::new();
/// let centroids = [Centroid { mean: 30.0, count: 20 }, Centroid { mean: 5.1, count: 10 }];
/// wire::write_histogram(&mut buf, Granularity::Minute, Some(1493773500), &centroids,
///     "request.latency", "appServer1", &[("region", "us-west")]).unwrap();
/// assert_eq!(buf, "!M 1493773500 #20 30.0 #10 5.1 \"request.latency\" source=\"appServer1\" \"region\"=\"us-west\"\n");
/// ```
pub fn write_histogram<T: Tag>(
    out: &mut String,
    granularity: Granularity,
    timestamp: Option<u64>,
    centroids: &[Centroid],
    name: &str,
    source: &str,
    tags: &[T],
) -> Result<(), WireError> {
    check_centroids(centroids)?;
    atomically(out, |out| {
        out.push_str(granularity.marker());
        if let Some(ts) = timestamp {
            out.push(' ');
            push_timestamp(out, ts)?;
        }
        push_centroids(out, centroids);
        out.push(' ');
        write_name(out, name)?;
        write_source(out, source)?;
        write_tags(out, tags, true)?;
        out.push('\n');
        Ok(())
    })
}

// ===== MetricTemplate =====

/// A series encoded once: its quoted name and its `source=… tags` part, so
/// each report writes only the value and timestamp. A reporter keeps one per
/// series; the name and tags are checked when the template is made.
///
/// ```
/// use wavefront_core::wire::{Encoded, MetricTemplate};
///
/// let requests = MetricTemplate::new("requests.count", "host-1", &[("env", "prod")])?;
/// let mut buf = String::new();
/// requests.write(&mut buf, 12.0, Some(1_700_000_000))?;
/// assert_eq!(buf, "\"requests.count\" 12.0 1700000000 source=\"host-1\" \"env\"=\"prod\"\n");
///
/// let errors = MetricTemplate::delta("errors.count", "host-1", &[] as &[(&str, &str)])?;
/// buf.clear();
/// assert_eq!(errors.write_delta(&mut buf, 3.0)?, Encoded::Line);
/// assert_eq!(buf, "\"∆errors.count\" 3.0 source=\"host-1\"\n");
/// # Ok::<(), wavefront_core::WireError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricTemplate {
    /// `"name"`
    name: String,
    /// ` source="src" "k"="v"…\n`
    rest: String,
    delta: bool,
}

impl MetricTemplate {
    /// A template for a metric (or histogram) series.
    pub fn new<T: Tag>(name: &str, source: &str, tags: &[T]) -> Result<Self, WireError> {
        let mut encoded = String::new();
        write_name(&mut encoded, name)?;
        let name_len = encoded.len();
        write_source(&mut encoded, source)?;
        write_tags(&mut encoded, tags, true)?;
        encoded.push('\n');
        let rest = encoded.split_off(name_len);
        Ok(MetricTemplate {
            name: encoded,
            rest,
            delta: name.starts_with(is_delta),
        })
    }

    /// A template for a delta counter: the name gets its `∆` as in
    /// [`write_delta`].
    pub fn delta<T: Tag>(name: &str, source: &str, tags: &[T]) -> Result<Self, WireError> {
        if name.starts_with(is_delta) {
            Self::new(name, source, tags)
        } else {
            Self::new(&format!("{DELTA_PREFIX}{name}"), source, tags)
        }
    }

    /// Appends `"name" value [timestamp] source=… tags`, as [`write_metric`].
    pub fn write(
        &self,
        out: &mut String,
        value: f64,
        timestamp: Option<u64>,
    ) -> Result<(), WireError> {
        let value = finite(value)?;
        if self.delta && value <= 0.0 {
            return Err(WireError::NonPositiveDelta);
        }
        out.push_str(&self.name);
        out.push(' ');
        push_f64(out, value);
        if let Some(ts) = timestamp {
            out.push(' ');
            push_timestamp(out, ts)?;
        }
        out.push_str(&self.rest);
        Ok(())
    }

    /// Appends a delta-counter line, or nothing for a value of zero or less,
    /// as [`write_delta`].
    pub fn write_delta(&self, out: &mut String, value: f64) -> Result<Encoded, WireError> {
        if finite(value)? <= 0.0 {
            return Ok(Encoded::Nothing);
        }
        self.write(out, value, None).map(|()| Encoded::Line)
    }

    /// Appends a distribution line of this series, as [`write_histogram`].
    pub fn write_histogram(
        &self,
        out: &mut String,
        granularity: Granularity,
        timestamp: Option<u64>,
        centroids: &[Centroid],
    ) -> Result<(), WireError> {
        check_centroids(centroids)?;
        out.push_str(granularity.marker());
        if let Some(ts) = timestamp {
            out.push(' ');
            push_timestamp(out, ts)?;
        }
        push_centroids(out, centroids);
        out.push(' ');
        out.push_str(&self.name);
        out.push_str(&self.rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
