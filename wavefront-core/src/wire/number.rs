//! Number rendering: the shortest decimal that reads back as the same `f64`,
//! laid out exactly as Python's `repr(float)` (and so as the reference SDK):
//! `4.0`, `0.0001`, `1.5e-05`, `1e+16`, `-0.0`.
//!
//! Fixed notation is used for decimal exponents -4..=15, scientific notation
//! (at least two exponent digits, explicit sign) outside that range. The
//! shortest digits come from `ryu`; only their layout is ours. Values with at
//! most six decimals take a shorter path whose result is proven to read back
//! exactly. Nothing here allocates.

/// Appends a finite `value`. The caller has checked `value.is_finite()`.
pub(crate) fn push_f64(out: &mut String, value: f64) {
    debug_assert!(value.is_finite());
    if push_short_decimal(out, value) {
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (digits, exponent) = Digits::parse(text);
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exponent) {
        push_fixed(out, digits.as_str(), exponent);
    } else {
        push_scientific(out, digits.as_str(), exponent);
    }
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 7] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];

/// Writes values such as `42.0`, `42.5` or `0.125` (at most six decimals,
/// magnitude in 1e-4..1e9) without the general digit search. For the first
/// `k` where `value * 10^k` is a whole number `n`, the decimal `n / 10^k` is
/// the answer exactly when dividing `n` by `10^k` (both exact in an `f64`,
/// so the division is correctly rounded, as a parser rounds) gives `value`
/// back. Returns false, writing nothing, when it does not apply.
fn push_short_decimal(out: &mut String, value: f64) -> bool {
    let magnitude = value.abs();
    if !(1e-4..1e9).contains(&magnitude) && magnitude != 0.0 {
        return false;
    }
    for (k, &scale) in POW10.iter().enumerate() {
        let scaled = magnitude * scale;
        if scaled.fract() != 0.0 {
            continue;
        }
        if scaled / scale != magnitude {
            return false;
        }
        // Below 1e9 the decimals of six places are further apart than one
        // ulp, so `n` is the only such decimal that reads back as `value`;
        // rounding may make a larger `k` whole first, so drop trailing zeros.
        let (mut n, mut k) = (scaled as u64, k);
        while k > 0 && n % 10 == 0 {
            n /= 10;
            k -= 1;
        }
        let unit = 10u64.pow(k as u32);
        if value.is_sign_negative() {
            out.push('-');
        }
        push_u64(out, n / unit);
        out.push('.');
        if k == 0 {
            out.push('0');
        } else {
            let mut buffer = itoa::Buffer::new();
            let frac = buffer.format(n % unit);
            push_zeros(out, k - frac.len());
            out.push_str(frac);
        }
        return true;
    }
    false
}

/// The significant digits of a number (no leading or trailing zeros) and the
/// decimal exponent of the first one: 0.00125 is ("125", -3).
struct Digits {
    bytes: [u8; 24],
    len: usize,
}

impl Digits {
    /// Reads ryu's output, in any of its layouts (`12.5`, `0.00125`, `1.25e-7`).
    fn parse(text: &str) -> (Digits, i32) {
        let (mantissa, exp_part) = match text.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (text, 0),
        };
        let int_len = mantissa.find('.').unwrap_or(mantissa.len()) as i32;
        let mut digits = Digits {
            bytes: [b'0'; 24],
            len: 0,
        };
        let mut leading = 0i32;
        for b in mantissa.bytes().filter(u8::is_ascii_digit) {
            if digits.len == 0 && b == b'0' {
                leading += 1;
                continue;
            }
            if digits.len < digits.bytes.len() {
                digits.bytes[digits.len] = b;
                digits.len += 1;
            }
        }
        while digits.len > 1 && digits.bytes[digits.len - 1] == b'0' {
            digits.len -= 1;
        }
        if digits.len == 0 {
            digits.len = 1; // zero
            return (digits, 0);
        }
        (digits, exp_part + int_len - 1 - leading)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("0")
    }
}

fn push_zeros(out: &mut String, n: usize) {
    const ZEROS: &str = "0000000000000000";
    let mut left = n;
    while left > 0 {
        let take = left.min(ZEROS.len());
        out.push_str(&ZEROS[..take]);
        left -= take;
    }
}

fn push_fixed(out: &mut String, digits: &str, exponent: i32) {
    if exponent < 0 {
        out.push_str("0.");
        push_zeros(out, (-exponent - 1) as usize);
        out.push_str(digits);
        return;
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        out.push_str(digits);
        push_zeros(out, int_len - digits.len());
        out.push_str(".0");
    } else {
        out.push_str(&digits[..int_len]);
        out.push('.');
        out.push_str(&digits[int_len..]);
    }
}

fn push_scientific(out: &mut String, digits: &str, exponent: i32) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push_str(if exponent < 0 { "e-" } else { "e+" });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    push_u64(out, u64::from(magnitude));
}

/// Appends an unsigned integer in decimal.
pub(crate) fn push_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
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
            (-0.5, "-0.5"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (1e-7, "1e-07"),
            (0.005727625999952579, "0.005727625999952579"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (999999999999999.9, "999999999999999.9"),
            (1e16, "1e+16"),
            (1.2345678901234568e16, "1.2345678901234568e+16"),
            (9007199254740992.0, "9007199254740992.0"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (1e100, "1e+100"),
            (-1e-100, "-1e-100"),
            (327.11029052734375, "327.11029052734375"),
            (120.0, "120.0"),
            (1.25e20, "1.25e+20"),
        ];
        for &(v, want) in cases {
            assert_eq!(render(v), want, "{v:e}");
        }
    }

    #[test]
    fn round_trips() {
        for v in [
            0.1 + 0.2,
            1.0 / 3.0,
            123456.789e-9,
            -9.87654321e200,
            7.0e-5,
            1e15 + 0.5,
            4503599627370497.0,
        ] {
            assert_eq!(render(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn short_path_agrees_with_the_general_one() {
        // Values with few decimals, where the short path applies, must give
        // exactly what the shortest-digits path gives.
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let decimals = (seed % 7) as i32;
            let int = (seed >> 8) % 2_000_000_000;
            let v = int as f64 / 10f64.powi(decimals) * if seed & 1 == 0 { 1.0 } else { -1.0 };
            let mut fast = String::new();
            if push_short_decimal(&mut fast, v) {
                let mut slow = String::new();
                let text = ryu::Buffer::new().format_finite(v.abs()).to_owned();
                let (digits, exponent) = Digits::parse(&text);
                if v.is_sign_negative() {
                    slow.push('-');
                }
                if (-4..16).contains(&exponent) {
                    push_fixed(&mut slow, digits.as_str(), exponent);
                } else {
                    push_scientific(&mut slow, digits.as_str(), exponent);
                }
                assert_eq!(fast, slow, "{v:e}");
            }
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
