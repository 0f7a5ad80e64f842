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
//!   SDKs, with one documented difference: trailing backslashes are removed,
//!   because the proxy reads `\"` as an escaped quote and could not find the
//!   end of a value such as `"C:\dir\"`.
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
    s.trim_matches(is_space)
}

/// Whether `s` is empty or white space only.
pub fn is_blank(s: &str) -> bool {
    trim(s).is_empty()
}

fn is_legal(c: char) -> bool {
    matches!(c, ',' | '-' | '.' | '0'..='9' | 'A'..='Z' | 'a'..='z' | '_')
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
    let mut prev_delta = false;
    for (i, c) in name.chars().enumerate() {
        let keep = is_legal(c)
            || (i == 0 && (c == '~' || is_delta(c)))
            || (i == 1 && c == '~' && prev_delta);
        out.push(if keep { c } else { '-' });
        prev_delta = i == 0 && is_delta(c);
    }
    out.push('"');
    Ok(())
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
    let body = value_body(value);
    if body.is_empty() {
        return Err(Blank);
    }
    out.reserve(body.len() + 2);
    out.push('"');
    let mut rest = body;
    while let Some(at) = rest.find(['"', '\n']) {
        out.push_str(&rest[..at]);
        out.push_str(if rest.as_bytes()[at] == b'"' {
            "\\\""
        } else {
            "\\n"
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
    Ok(())
}

/// Length of a tag as the proxy measures it for its 254-unit limit: UTF-16
/// units of the sanitised key plus the value as the proxy will store it
/// (trimmed, `\"` read back as `"`, a newline kept as the two characters `\n`).
pub(crate) fn tag_len_utf16(key: &str, value: &str) -> usize {
    let key_len: usize = key.chars().map(char::len_utf16).sum();
    let value_len: usize = value_body(value)
        .chars()
        .map(|c| if c == '\n' { 2 } else { c.len_utf16() })
        .sum();
    key_len + value_len
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
    }

    #[test]
    fn tag_length_counts_utf16_units() {
        assert_eq!(tag_len_utf16("k", "v"), 2);
        assert_eq!(tag_len_utf16("k", "😀"), 3);
        assert_eq!(tag_len_utf16("k", " a\nb "), 5);
    }
}
