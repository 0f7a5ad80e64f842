//! Appending bytes known to be ASCII (hex digits, escaped JSON) without
//! validating them as UTF-8, which costs several times the copy.

#![allow(unsafe_code)] // one `as_mut_vec`, with its SAFETY argument

/// Appends `bytes` if they are all ASCII (checked a word at a time), and
/// says whether they were; nothing is appended otherwise.
pub(crate) fn push_ascii(out: &mut String, bytes: &[u8]) -> bool {
    if !bytes.is_ascii() {
        return false;
    }
    // SAFETY: ASCII bytes are valid UTF-8 on their own, so `out` stays
    // valid UTF-8 with them appended.
    unsafe { out.as_mut_vec() }.extend_from_slice(bytes);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ascii_is_appended() {
        let mut s = String::from("id=");
        assert!(push_ascii(&mut s, b"0a27-13dc"));
        assert!(!push_ascii(&mut s, "é".as_bytes()));
        assert!(!push_ascii(&mut s, &[b'a', 0xff]));
        assert_eq!(s, "id=0a27-13dc");
    }
}
