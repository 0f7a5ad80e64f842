//! Number rendering: the shortest decimal that reads back as the same `f64`,
//! laid out exactly as Python's `repr(float)` (and so as the reference SDK):
//! `4.0`, `0.0001`, `1.5e-05`, `1e+16`, `-0.0`.
//!
//! Fixed notation is used for decimal exponents -4..=15, scientific notation
//! (at least two exponent digits, explicit sign) outside that range. The
//! digits come from Rust's own shortest round-trip formatting; nothing here
//! allocates.

use std::fmt::Write as _;

/// A fixed buffer that `core::fmt` can write into.
struct StackBuf {
    bytes: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends a finite `value`. The caller has checked `value.is_finite()`.
pub(crate) fn push_f64(out: &mut String, value: f64) {
    debug_assert!(value.is_finite());
    let mut buf = StackBuf {
        bytes: [0; 40],
        len: 0,
    };
    // `{:e}` gives the shortest round-trip digits as `-d.ddde-x`; at most 25 bytes.
    if write!(buf, "{value:e}").is_err() {
        return push_fallback(out, value);
    }
    let text = &buf.bytes[..buf.len];
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let Some(e_at) = text.iter().position(|&b| b == b'e') else {
        return push_fallback(out, value);
    };
    let (mantissa, exponent) = (&text[..e_at], &text[e_at + 1..]);
    let Some(exponent) = std::str::from_utf8(exponent)
        .ok()
        .and_then(|e| e.parse::<i32>().ok())
    else {
        return push_fallback(out, value);
    };
    // Digits without the decimal point: "1.5" -> "15".
    let mut digits = [0u8; 20];
    let mut n = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        if n == digits.len() {
            return push_fallback(out, value);
        }
        digits[n] = b;
        n += 1;
    }
    let digits = &digits[..n];
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exponent) {
        push_fixed(out, digits, exponent);
    } else {
        push_scientific(out, digits, exponent);
    }
}

fn push_digits(out: &mut String, digits: &[u8]) {
    // Digits are ASCII, so each byte is one char.
    out.extend(digits.iter().map(|&d| char::from(d)));
}

fn push_fixed(out: &mut String, digits: &[u8], exponent: i32) {
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        push_digits(out, digits);
        return;
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        push_digits(out, digits);
        for _ in digits.len()..int_len {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        push_digits(out, &digits[..int_len]);
        out.push('.');
        push_digits(out, &digits[int_len..]);
    }
}

fn push_scientific(out: &mut String, digits: &[u8], exponent: i32) {
    push_digits(out, &digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        push_digits(out, &digits[1..]);
    }
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    push_u64(out, u64::from(magnitude));
}

/// Never reached for finite values; kept so that a surprise in `core::fmt`
/// output can only change the layout, never panic.
#[cold]
fn push_fallback(out: &mut String, value: f64) {
    let _ = write!(out, "{value:?}");
}

/// Appends an unsigned integer in decimal.
pub(crate) fn push_u64(out: &mut String, mut value: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    push_digits(out, &buf[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(v: f64) -> String {
        let mut s = String::new();
        push_f64(&mut s, v);
        s
    }

    #[test]
    fn matches_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (4.0, "4.0"),
            (-1.0, "-1.0"),
            (50000.0, "50000.0"),
            (2.01, "2.01"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (1e-7, "1e-07"),
            (0.005727625999952579, "0.005727625999952579"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e16, "1.2345678901234568e+16"),
            (9007199254740992.0, "9007199254740992.0"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (1e100, "1e+100"),
            (327.11029052734375, "327.11029052734375"),
        ];
        for &(v, want) in cases {
            assert_eq!(render(v), want, "{v:e}");
        }
    }

    #[test]
    fn round_trips() {
        for v in [0.1 + 0.2, 1.0 / 3.0, 123456.789e-9, -9.87654321e200, 7.0e-5] {
            assert_eq!(render(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn integers() {
        let mut s = String::new();
        push_u64(&mut s, 0);
        s.push(' ');
        push_u64(&mut s, u64::MAX);
        assert_eq!(s, "0 18446744073709551615");
    }
}
