//! [`Text`]: span tag keys and values that are cheap to copy.

use std::borrow::{Borrow, Cow};
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// A string for span tags: a static string, a shared one, or an owned one.
/// Cloning a static or shared text does not allocate, so a request's span
/// can carry its route's handler name or its component without copying it.
///
/// ```
/// use std::sync::Arc;
/// use wavefront_core::trace::Text;
///
/// let component = Text::from(Arc::<str>::from("axum"));
/// let copy = component.clone(); // a reference count, no allocation
/// assert_eq!(&*copy, "axum");
/// assert_eq!(Text::from("static"), Text::from(String::from("static")));
/// ```
#[derive(Clone)]
pub struct Text(Repr);

/// The texts [`Text::interned`] made static, and their bytes in all.
type Interned = Mutex<(HashSet<&'static str>, usize)>;

fn intern(table: &Interned, s: &str, max_bytes: usize) -> Text {
    let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
    let (texts, bytes) = &mut *table;
    if let Some(&text) = texts.get(s) {
        return Text::from(text);
    }
    if *bytes + s.len() > max_bytes {
        return Text::from(Arc::<str>::from(s));
    }
    let text: &'static str = Box::leak(Box::from(s));
    *bytes += text.len();
    texts.insert(text);
    Text::from(text)
}

/// The most bytes [`Text::interned`] keeps for the life of the process:
/// route and handler names and statuses are bounded by the route and
/// status caps, so this is a guard against churn, not the usual bound.
pub(crate) const MAX_INTERNED_BYTES: usize = 1 << 20;

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
    Owned(String),
}

impl Text {
    /// The empty text.
    pub(crate) const EMPTY: Text = Text(Repr::Static(""));

    /// `s` as a static text: the same text for the same string, for the
    /// life of the process.
    ///
    /// For texts made once per series and copied into every span (a
    /// component, a handler's name, a status): copying a static text costs
    /// no atomic reference count, which every server thread would otherwise
    /// update on the same cache line, and the reporter none to drop it.
    /// Past [`MAX_INTERNED_BYTES`] in all, texts are shared instead.
    pub(crate) fn interned(s: &str) -> Text {
        static INTERNED: OnceLock<Interned> = OnceLock::new();
        intern(
            INTERNED.get_or_init(Interned::default),
            s,
            MAX_INTERNED_BYTES,
        )
    }

    /// Whether the text is static (copied without a reference count).
    #[cfg(test)]
    pub(crate) fn is_static(&self) -> bool {
        matches!(self.0, Repr::Static(_))
    }

    /// Whether the text owns its buffer (rather than sharing one).
    pub(crate) fn owns_buffer(&self) -> bool {
        matches!(self.0, Repr::Owned(_))
    }

    /// The buffer of a text that owns one, leaving it empty.
    pub(crate) fn take_string(&mut self) -> Option<String> {
        match std::mem::replace(&mut self.0, Repr::Static("")) {
            Repr::Owned(s) => Some(s),
            other => {
                self.0 = other;
                None
            }
        }
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
            Repr::Owned(s) => s,
        }
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text(Repr::Static(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Repr::Owned(s))
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Self {
        Text(Repr::Shared(s))
    }
}

impl From<Cow<'static, str>> for Text {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_texts_are_static_and_made_once_within_the_budget() {
        let table = Interned::default();
        let first = intern(&table, "make_shirts", 16);
        let again = intern(&table, &String::from("make_shirts"), 16);
        assert!(first.is_static() && again.is_static());
        assert_eq!(first.as_ptr(), again.as_ptr());
        // 11 of 16 bytes kept: a text that does not fit is shared instead.
        let over = intern(&table, "bad_gateway", 16);
        assert!(!over.is_static());
        assert_eq!(over, "bad_gateway");
        assert!(intern(&table, "crash", 16).is_static());
    }
}
