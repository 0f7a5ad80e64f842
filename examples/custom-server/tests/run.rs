//! Runs the example binary as a user would: real requests, then a signal.

use wavefront_testkit::example;

const BINARY: &str = env!("CARGO_BIN_EXE_example-custom-server");

#[test]
fn serves_reports_and_flushes_on_sigterm() {
    example::serves_reports_and_flushes_on_sigterm(BINARY, "hyper");
}

#[test]
fn with_nothing_configured_it_prints_the_lines() {
    example::with_nothing_configured_it_prints_the_lines(BINARY, "hyper");
}

#[test]
fn sigint_stops_it_too_and_it_says_what_it_sent() {
    example::sigint_stops_it_too_and_it_says_what_it_sent(BINARY);
}
