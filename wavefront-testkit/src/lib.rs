//! Test support for the Wavefront Rust SDK.
//!
//! * [`parse`]: a strict parser of the Wavefront line formats that rejects
//!   what the Wavefront proxy rejects.
//!
//! This crate is for tests and local checks; it is not covered by the SDK's
//! stability guarantees.

pub mod parse;
