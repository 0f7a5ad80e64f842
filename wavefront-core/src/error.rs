//! The error returned when a value cannot be encoded as a Wavefront line.

use std::fmt;

/// Why a point, histogram or span could not be encoded.
///
/// Encoders never write a partial line: when one of these is returned, the
/// output buffer is exactly as it was before the call. Every variant names the
/// rule of the Wavefront format that the input breaks, so a caller can count
/// the point as invalid and say why.
///
/// ```
/// use wavefront_core::wire::{self, WireError};
///
/// let mut line = String::new();
/// let err = wire::write_metric(&mut line, "cpu.load", f64::NAN, None, "host-1", &[] as &[(&str, &str)]);
/// assert_eq!(err, Err(WireError::NonFiniteValue));
/// assert!(line.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The metric, histogram or operation name is empty or only white space
    /// (a lone `∆` or `Δ` counts as blank).
    BlankName,
    /// The source is empty or only white space.
    BlankSource,
    /// A tag key is empty or only white space.
    BlankTagKey,
    /// A tag value is empty or only white space; the proxy rejects such tags.
    BlankTagValue {
        /// The key whose value is blank.
        key: String,
    },
    /// A point tag whose key and value together reach 255 UTF-16 units, the
    /// proxy's limit (`WF-411`).
    TagTooLong {
        /// The tag key.
        key: String,
        /// Length of key plus value, in UTF-16 code units as the proxy counts.
        len: usize,
    },
    /// A span tag key the proxy would read as part of the span itself
    /// (`traceId`, `spanId`, `parent`, `followsFrom`, `source`, `host`) or as
    /// its start time (a key of digits only).
    ReservedTagKey {
        /// The tag key.
        key: String,
    },
    /// A name longer than the proxy accepts: 1023 UTF-16 units for metric and
    /// histogram names, 128 for span operation names.
    NameTooLong {
        /// The name's length in UTF-16 units.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A source longer than the proxy's 1023 UTF-16 units.
    SourceTooLong {
        /// The source's length in UTF-16 units.
        len: usize,
    },
    /// The value (or a centroid mean) is NaN or infinite; Wavefront cannot
    /// store it.
    NonFiniteValue,
    /// A delta counter (a name starting with `∆` or `Δ`) with a value of zero
    /// or less, which the proxy rejects (`WF-404`); `write_delta` skips such
    /// values instead.
    NonPositiveDelta,
    /// A histogram has no centroid with a positive count.
    EmptyHistogram,
    /// More tags than the proxy accepts: 100 point tags (`WF-410`), 20 span
    /// tags (`WF-430`).
    TooManyTags {
        /// The tags given (for spans, with `_spanLogs`).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A span tag key longer than the proxy's 128 UTF-16 units (`WF-432`).
    TagKeyTooLong {
        /// The tag key.
        key: String,
        /// Its length in UTF-16 units.
        len: usize,
    },
    /// A timestamp, start or duration above `i64::MAX`, which the proxy
    /// cannot read.
    TimestampOutOfRange {
        /// The value.
        value: u64,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BlankName => f.write_str("name is blank"),
            WireError::BlankSource => f.write_str("source is blank"),
            WireError::BlankTagKey => f.write_str("tag key is blank"),
            WireError::BlankTagValue { key } => write!(f, "value of tag {key:?} is blank"),
            WireError::TagTooLong { key, len } => write!(
                f,
                "tag {key:?} is too long: key and value are {len} UTF-16 units, at most 254 are allowed"
            ),
            WireError::ReservedTagKey { key } => {
                write!(f, "span tag key {key:?} is reserved by the span format")
            }
            WireError::NameTooLong { len, max } => {
                write!(f, "name is {len} UTF-16 units long, at most {max} are allowed")
            }
            WireError::SourceTooLong { len } => {
                write!(f, "source is {len} UTF-16 units long, at most 1023 are allowed")
            }
            WireError::NonFiniteValue => f.write_str("value is NaN or infinite"),
            WireError::NonPositiveDelta => f.write_str("delta counter value is zero or negative"),
            WireError::EmptyHistogram => f.write_str("histogram has no centroid with a positive count"),
            WireError::TooManyTags { count, max } => {
                write!(f, "{count} tags, at most {max} are allowed")
            }
            WireError::TagKeyTooLong { key, len } => write!(
                f,
                "span tag key {key:?} is {len} UTF-16 units long, at most 128 are allowed"
            ),
            WireError::TimestampOutOfRange { value } => {
                write!(f, "timestamp {value} is beyond what the proxy can read")
            }
        }
    }
}

impl std::error::Error for WireError {}
