//! Test support for the Wavefront Rust SDK.
