//! The conformance kit (`wavefront_testkit::conformance`) run against every
//! server of this workspace: see `tests/frameworks.rs`.
