//! [`Text`]: span tag keys and values that are cheap to copy.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

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

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
    Owned(String),
}

impl Text {
    /// The empty text.
    pub(crate) const EMPTY: Text = Text(Repr::Static(""));

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
