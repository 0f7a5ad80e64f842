//! Test support for the Wavefront Rust SDK.
//!
//! * [`parse`]: a strict parser of the Wavefront line formats that rejects
//!   what the Wavefront proxy rejects.
//! * [`receiver`]: a strict receiver that plays a Wavefront proxy and the
//!   direct-ingestion service on 127.0.0.1 (real TCP), with switchable faults.
//! * [`conformance`]: the scenario every adapter runs (axum, warp, rocket, a
//!   custom server, and third parties'): the same requests must give the same
//!   series and spans, with only the component prefix differing.
//! * [`example`]: checks of an example binary run as a user would.
//! * [`interop`]: the pinned Python virtualenvs of the interoperability
//!   tests (the reference Flask SDK, OpenTelemetry's protobuf classes).
//! * [`otlp`]: what an OTLP exporter sent, decoded by OpenTelemetry's own
//!   protobuf classes (the Python `opentelemetry-proto` package).
//! * [`viewer`]: a live page (and JSON) of what a receiver got: routes,
//!   traces, rejected lines and SDK diagnostics.
//! * [`measure`]: a counting global allocator, and a reporter whose output
//!   goes nowhere, for benchmarks and allocation tests.
//!
//! This crate is for tests and local checks; it is not covered by the SDK's
//! stability guarantees.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod conformance;
pub mod example;
pub mod interop;
pub mod measure;
pub mod otlp;
pub mod parse;
pub mod receiver;
pub mod viewer;
