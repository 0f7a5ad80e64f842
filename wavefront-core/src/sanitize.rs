//! Sanitisation of names, tag keys and values, as the Wavefront SDKs do it
//! (spec §2.1 and §2.2).
//!
//! * **Names and tag keys** keep `A-Z a-z 0-9 _ , . -`; every other Unicode
//!   scalar value becomes one `-` (so `/`, `:` and spaces become `-`, as in the
//!   Java and Python SDKs). The first character may also be `~` (internal
//!   metrics) or a delta sign `∆`/`Δ`, and a `~` may follow a leading delta
//!   sign (`∆~sdk…`). The result is always quoted.
//! * **Values** (tag values, sources, span operation names) are trimmed,
//!   `"` becomes `\"`, a newline becomes the two characters `\n`, and the
//!   result is quoted. Nothing else is escaped, exactly like the reference
//!   SDKs, with two documented differences that keep the line parseable:
//!   trailing backslashes are removed, because the proxy reads `\"` as an
//!   escaped quote and could not find the end of a value such as `"C:\dir\"`;
//!   and the EOT character U+0004, which makes the proxy drop the whole line,
//!   becomes U+FFFD.
//!
//! ```
//! use wavefront_core::sanitize;
//!
//! let mut out = String::new();
//! sanitize::write_name(&mut out, "style/path:id make").unwrap();
//! assert_eq!(out, r#""style-path-id-make""#);
//!
//! out.clear();
//! sanitize::write_value(&mut out, " say \"hi\"\n ").unwrap();
//! assert_eq!(out, r#""say \"hi\"""#);
//! ```

/// The delta sign the SDKs prepend to delta-counter names (U+2206 INCREMENT).
pub const DELTA_PREFIX: char = '\u{2206}';
/// The alternative delta sign (U+0394 GREEK CAPITAL LETTER DELTA).
pub const DELTA_PREFIX_ALT: char = '\u{0394}';

/// The string is empty or white space only (where a name, key, value or
/// source is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blank;

pub(crate) fn is_delta(c: char) -> bool {
    c == DELTA_PREFIX || c == DELTA_PREFIX_ALT
}

/// White space as Python's `str.strip()` sees it: Unicode `White_Space` plus
/// the four ASCII information separators U+001C..U+001F.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub(crate) fn trim(s: &str) -> &str {
    // Most values start and end with a printable ASCII byte: nothing to trim.
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if a > b' ' && a < 0x7f && z > b' ' && z < 0x7f => s,
        _ => s.trim_matches(is_space),
    }
}

/// Whether `s` is empty or white space only.
pub fn is_blank(s: &str) -> bool {
    trim(s).is_empty()
}

/// Bytes that names and tag keys keep: `A-Z a-z 0-9 _ , . -`.
const NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            matches!(b as u8, b',' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' | b'_');
        b += 1;
    }
    table
};

/// ASCII bytes that values carry unchanged (all but `"`, newline and EOT).
const PLAIN_VALUE_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = !matches!(b as u8, b'"' | b'\n' | 4);
        b += 1;
    }
    table
};

/// How many bytes at the start of `bytes` a value keeps as they are
/// ([`PLAIN_VALUE_BYTE`]): eight at a time while a word has none of the
/// others (a URL's bytes, mostly), then byte by byte.
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each zero byte of `v` is set (and maybe of bytes above
    // one: a word flagged is looked at byte by byte, so never wrongly kept).
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let x = u64::from_le_bytes(eight);
        let others = zero_bytes(x ^ (ONES * u64::from(b'"')))
            | zero_bytes(x ^ (ONES * u64::from(b'\n')))
            | zero_bytes(x ^ (ONES * 4))
            | (x & HIGHS);
        if others != 0 {
            break;
        }
        at += 8;
    }
    let rest = &bytes[at..];
    at + rest
        .iter()
        .position(|&b| !PLAIN_VALUE_BYTE[usize::from(b)])
        .unwrap_or(rest.len())
}

/// Appends `name` as a quoted, sanitised metric name or tag key.
///
/// A blank name, or one that is only a delta sign, is refused and nothing is
/// written.
///
/// ```
/// # use wavefront_core::sanitize;
/// let mut out = String::new();
/// sanitize::write_name(&mut out, "∆~sdk.rust.valid").unwrap();
/// assert_eq!(out, "\"∆~sdk.rust.valid\"");
/// assert!(sanitize::write_name(&mut out, " ").is_err());
/// ```
pub fn write_name(out: &mut String, name: &str) -> Result<(), Blank> {
    write_name_len(out, name).map(drop)
}

/// [`write_name`], returning the sanitised name's length in UTF-16 units
/// (every character written is in the BMP, so this is its character count).
pub(crate) fn write_name_len(out: &mut String, name: &str) -> Result<usize, Blank> {
    let mut chars = name.chars();
    let first = chars.next().ok_or(Blank)?;
    let body = if is_delta(first) {
        chars.as_str()
    } else {
        name
    };
    if is_blank(body) {
        return Err(Blank);
    }
    out.reserve(name.len() + 2);
    out.push('"');
    let mut len = 0;
    // The leading character (and a `~` after a leading delta) may be special.
    let mut rest = name;
    if first == '~' || is_delta(first) {
        out.push(first);
        len += 1;
        rest = &name[first.len_utf8()..];
        if is_delta(first) && rest.starts_with('~') {
            out.push('~');
            len += 1;
            rest = &rest[1..];
        }
    }
    // Copy runs of legal bytes whole; each other scalar becomes one `-`.
    while let Some(bad) = rest.bytes().position(|b| !NAME_BYTE[usize::from(b)]) {
        out.push_str(&rest[..bad]);
        out.push('-');
        len += bad + 1;
        let width = rest[bad..].chars().next().map_or(1, char::len_utf8);
        rest = &rest[bad + width..];
    }
    out.push_str(rest);
    out.push('"');
    Ok(len + rest.len())
}

/// The part of a value that is written: trimmed, without trailing backslashes.
fn value_body(value: &str) -> &str {
    trim(value).trim_end_matches('\\')
}

/// Appends `value` quoted and escaped (tag value, source, operation name).
///
/// ```
/// # use wavefront_core::sanitize;
/// let mut out = String::new();
/// sanitize::write_value(&mut out, r"C:\temp\").unwrap();
/// assert_eq!(out, r#""C:\temp""#);
/// ```
pub fn write_value(out: &mut String, value: &str) -> Result<(), Blank> {
    write_value_len(out, value).map(drop)
}

/// [`write_value`], returning the value's length as the proxy measures it:
/// UTF-16 units of what it reads back (`\"` is one character, an escaped
/// newline two).
pub(crate) fn write_value_len(out: &mut String, value: &str) -> Result<usize, Blank> {
    let body = value_body(value);
    if body.is_empty() {
        return Err(Blank);
    }
    out.reserve(body.len() + 2);
    out.push('"');
    let mut len = 0;
    let mut rest = body;
    loop {
        let at = plain_prefix(rest.as_bytes());
        if at == rest.len() {
            break;
        }
        out.push_str(&rest[..at]);
        len += at;
        rest = &rest[at..];
        let c = rest.chars().next().unwrap_or('\u{fffd}');
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\u{4}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
        len += if c == '\n' { 2 } else { c.len_utf16() };
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
    Ok(len + rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> String {
        let mut out = String::new();
        write_name(&mut out, s)
            .map(|()| out)
            .unwrap_or_else(|_| "<blank>".into())
    }

    fn value(s: &str) -> String {
        let mut out = String::new();
        write_value(&mut out, s)
            .map(|()| out)
            .unwrap_or_else(|_| "<blank>".into())
    }

    #[test]
    fn the_plain_prefix_stops_at_the_first_byte_a_value_changes() {
        let plain = |b: u8| PLAIN_VALUE_BYTE[usize::from(b)];
        // Every length and position around the eight-byte words, with each
        // kind of byte that is not kept as it is (and one that is).
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\n', 4, 0xc3, b'a'] {
                    let mut bytes = vec![b'x'; len];
                    if at < len {
                        bytes[at] = special;
                    }
                    let expected = bytes.iter().position(|&b| !plain(b)).unwrap_or(len);
                    assert_eq!(plain_prefix(&bytes), expected, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn names_follow_the_java_examples() {
        assert_eq!(name("hello world"), r#""hello-world""#);
        assert_eq!(name("hello\"world\""), r#""hello-world-""#);
        assert_eq!(name("hello/world"), r#""hello-world""#);
        assert_eq!(name("~component.heartbeat"), r#""~component.heartbeat""#);
        assert_eq!(name("!component.heartbeat"), r#""-component.heartbeat""#);
        assert_eq!(name("∆component.heartbeat"), r#""∆component.heartbeat""#);
        assert_eq!(name(" key name~1"), r#""-key-name-1""#);
    }

    #[test]
    fn delta_and_tilde_only_where_allowed() {
        assert_eq!(name("Δ~x"), "\"Δ~x\"");
        assert_eq!(name("~∆x"), r#""~-x""#);
        assert_eq!(name("x∆"), r#""x-""#);
        assert_eq!(name("∆∆x"), "\"∆-x\"");
        assert_eq!(name("~~x"), r#""~-x""#);
        assert_eq!(name("∆"), "<blank>");
        assert_eq!(name("∆ "), "<blank>");
        assert_eq!(name(""), "<blank>");
    }

    #[test]
    fn one_dash_per_scalar_not_per_byte() {
        assert_eq!(name("日本"), r#""--""#);
        assert_eq!(name("a😀b"), r#""a-b""#);
        assert_eq!(name("e\u{301}"), r#""e-""#);
    }

    #[test]
    fn values_are_trimmed_and_escaped() {
        assert_eq!(value(" a b "), r#""a b""#);
        assert_eq!(value("a\"b"), r#""a\"b""#);
        assert_eq!(value("a\nb"), r#""a\nb""#);
        assert_eq!(value("a\\b"), r#""a\b""#);
        assert_eq!(value("a\tb"), "\"a\tb\"");
        assert_eq!(value("ab\\\\"), r#""ab""#);
        assert_eq!(value("\\"), "<blank>");
        assert_eq!(value("\u{1f} x \u{3000}"), r#""x""#);
        assert_eq!(value(" \n"), "<blank>");
        assert_eq!(value("a\u{4}b"), "\"a\u{fffd}b\"");
    }

    #[test]
    fn lengths_count_what_the_proxy_reads_in_utf16_units() {
        let mut out = String::new();
        assert_eq!(write_value_len(&mut out, "v"), Ok(1));
        assert_eq!(write_value_len(&mut out, "😀"), Ok(2));
        assert_eq!(write_value_len(&mut out, " a\nb "), Ok(4));
        assert_eq!(write_value_len(&mut out, "a\"b"), Ok(3));
        assert_eq!(write_name_len(&mut out, "∆~x y😀"), Ok(6));
    }
}
