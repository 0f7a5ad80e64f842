//! Trace and span identifiers. Wavefront writes both as UUIDs in canonical
//! lowercase `8-4-4-4-12` form (spec §1.4).

use std::fmt;
use std::str::FromStr;

/// Appends `id` as a lowercase `8-4-4-4-12` UUID.
pub(crate) fn push_uuid(out: &mut String, id: u128) {
    let digits = |shift: u32| hex_digits((id >> shift) as u32);
    let (a, b, c, d) = (digits(96), digits(64), digits(32), digits(0));
    let mut uuid = [b'-'; 36];
    uuid[..8].copy_from_slice(&a);
    uuid[9..13].copy_from_slice(&b[..4]);
    uuid[14..18].copy_from_slice(&b[4..]);
    uuid[19..23].copy_from_slice(&c[..4]);
    uuid[24..28].copy_from_slice(&c[4..]);
    uuid[28..].copy_from_slice(&d);
    crate::ascii::push_ascii(out, &uuid);
}

/// The eight lowercase hex digits of `value`, most significant first,
/// computed for all eight at once in one word.
fn hex_digits(value: u32) -> [u8; 8] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Each nibble into a byte of its own, the lowest nibble in the lowest byte.
    let mut x = u64::from(value);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in each byte whose nibble is 10 or more: those take `a`-`f`.
    let letters = ((x + 6 * ONES) >> 4) & ONES;
    (x + u64::from(b'0') * ONES + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

/// Parses a canonical UUID (hex digits in either case).
fn parse_uuid(s: &str) -> Option<u128> {
    let bytes = s.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut value = 0u128;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let digit = char::from(b).to_digit(16)?;
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// The text is not a canonical `8-4-4-4-12` UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseIdError;

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a UUID of the form 8-4-4-4-12 hex digits")
    }
}

impl std::error::Error for ParseIdError {}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u128);

        impl $name {
            /// The identifier with these 128 bits.
            #[must_use]
            pub const fn from_u128(bits: u128) -> Self {
                Self(bits)
            }

            /// The identifier's 128 bits.
            #[must_use]
            pub const fn to_u128(self) -> u128 {
                self.0
            }

            /// Appends the identifier as a UUID.
            pub fn write_to(self, out: &mut String) {
                push_uuid(out, self.0);
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut s = String::with_capacity(36);
                push_uuid(&mut s, self.0);
                f.write_str(&s)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, ParseIdError> {
                parse_uuid(s).map(Self).ok_or(ParseIdError)
            }
        }
    };
}

uuid_id! {
    /// The identifier shared by every span of one trace.
    ///
    /// ```
    /// use wavefront_core::TraceId;
    ///
    /// let id: TraceId = "11111111-2222-4333-8444-555555555555".parse().unwrap();
    /// assert_eq!(id.to_u128(), 0x11111111_2222_4333_8444_555555555555);
    /// assert_eq!(id.to_string(), "11111111-2222-4333-8444-555555555555");
    /// ```
    TraceId
}

uuid_id! {
    /// The identifier of one span.
    ///
    /// A 64-bit span id (W3C, B3) is the UUID whose upper half is zero:
    ///
    /// ```
    /// use wavefront_core::SpanId;
    ///
    /// let id = SpanId::from_u128(0x00f067aa0ba902b7);
    /// assert_eq!(id.to_string(), "00000000-0000-0000-00f0-67aa0ba902b7");
    /// ```
    SpanId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_the_hex_digits_in_groups() {
        let mut x: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        for _ in 0..1_000 {
            let hex = format!("{x:032x}");
            let want = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            );
            let mut got = String::new();
            push_uuid(&mut got, x);
            assert_eq!(got, want);
            x = x
                .wrapping_mul(0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645)
                .wrapping_add(0x5851_f42d_4c95_7f2d);
        }
        let mut edge = String::new();
        push_uuid(&mut edge, u128::MAX);
        assert_eq!(edge, "ffffffff-ffff-ffff-ffff-ffffffffffff");
    }

    #[test]
    fn round_trip_and_case() {
        let id: SpanId = "66666666-7777-4888-9999-AAAAAAAAAAAA".parse().unwrap();
        assert_eq!(id.to_string(), "66666666-7777-4888-9999-aaaaaaaaaaaa");
        assert_eq!(
            TraceId::from_u128(0).to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            TraceId::from_u128(u128::MAX).to_string(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "not-a-uuid",
            "66666666777748889999aaaaaaaaaaaa",
            "66666666-7777-4888-9999-aaaaaaaaaaa",
            "66666666-7777-4888-9999-aaaaaaaaaaaaa",
            "6666666g-7777-4888-9999-aaaaaaaaaaaa",
            "66666666+7777-4888-9999-aaaaaaaaaaaa",
            "66666666-7777-4888-9999-aaaaaaaaaaé",
        ] {
            assert_eq!(bad.parse::<TraceId>(), Err(ParseIdError), "{bad:?}");
        }
    }
}
