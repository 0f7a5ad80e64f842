//! Helpers shared by some of this crate's test binaries.

pub(crate) mod tls;
