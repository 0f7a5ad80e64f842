//! The conformance kit: one scenario, run against any adapter's server, that
//! proves it reports what the SDK promises: the Flask SDK's series and spans,
//! with only the component prefix differing between frameworks.
//!
//! The server under test serves the Shirts app:
//!
//! | request | answer | handler |
//! |---|---|---|
//! | `GET` or `HEAD /style/{id}/make` | 200 `Shirts {id} made.` | `make_shirts` |
//! | `GET /bad-gateway` | 502 | `bad_gateway` |
//! | `GET /orders/{order_id}/crash` | the handler panics with `order {order_id} cannot be processed`; the client gets a 500 | `crash` |
//! | anything else | 404 | |
//!
//! [`Conformance::run`] starts a strict [`Receiver`], a [`Reporter`] that
//! sends to it through a proxy sender, and the server (through the closure
//! it is given); drives the scenario over real HTTP/1.1 connections; stops
//! the server, flushes the reporter, and checks every line that arrived:
//! each series of the tables with its exact tags and value, histogram
//! counts, in-flight gauges back to 0, one span per request with its tags
//! and parent (incoming contexts in the Wavefront, W3C, B3 single and B3
//! multi formats), error span logs, the heartbeat, and no rejected line.
//!
//! A third-party adapter runs it in a few lines:
//!
//! ```no_run
//! use wavefront_testkit::conformance::{Conformance, RunningServer};
//!
//! # fn start_my_shirts_app(_: &wavefront_core::reporter::Reporter) -> (std::net::SocketAddr, Box<dyn FnOnce() + Send>) { unimplemented!() }
//! #[test]
//! fn my_adapter_conforms() {
//!     let outcome = Conformance::new("my_framework")
//!         .run(|reporter| {
//!             // Serve the Shirts app, instrumented through `reporter`.
//!             let (addr, stop) = start_my_shirts_app(reporter);
//!             RunningServer::new(addr, stop)
//!         })
//!         .unwrap_or_else(|failures| panic!("{failures}"));
//!     // Compare with another adapter's output, prefix normalised away:
//!     println!("{}", outcome.transcript().join("\n"));
//! }
//! ```

mod client;
mod expect;
mod transcript;

use std::fmt;
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;

use crate::receiver::Receiver;

/// The source of every point the kit's reporter sends.
pub const SOURCE: &str = "conformance-host";

/// A server under test: its address, and how to stop it.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl RunningServer {
    /// A server listening on `addr` (on 127.0.0.1), stopped by `stop`.
    pub fn new(addr: SocketAddr, stop: impl FnOnce() + Send + 'static) -> Self {
        RunningServer {
            addr,
            stop: Some(Box::new(stop)),
        }
    }

    /// The address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Everything that did not conform, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures(pub Vec<String>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} conformance failures:", self.0.len())?;
        for failure in &self.0 {
            writeln!(f, "  - {failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

/// What a conforming run produced.
#[derive(Debug)]
pub struct Outcome {
    receiver: Receiver,
    transcript: Vec<String>,
}

impl Outcome {
    /// Everything that arrived, normalised: the component prefix replaced by
    /// `<component>`, and what varies from run to run (timestamps, ids,
    /// ports, durations, histogram centroids, SDK diagnostics) left out.
    /// Two conforming adapters give equal transcripts.
    #[must_use]
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// The receiver, with every line as it arrived.
    #[must_use]
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }
}

/// The kit for one adapter.
#[derive(Debug, Clone)]
pub struct Conformance {
    component: String,
    timeout: Duration,
}

impl Conformance {
    /// The kit for the adapter whose component (series prefix) is
    /// `component`.
    #[must_use]
    pub fn new(component: impl Into<String>) -> Self {
        Conformance {
            component: component.into(),
            timeout: Duration::from_secs(20),
        }
    }

    /// Longest wait for the flush and the lines (default 20 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the scenario against the server `start` starts with the kit's
    /// reporter; returns what arrived, or every failure found.
    pub fn run(&self, start: impl FnOnce(&Reporter) -> RunningServer) -> Result<Outcome, Failures> {
        let receiver = Receiver::start().map_err(|e| Failures(vec![format!("receiver: {e}")]))?;
        let sender = receiver.proxy_sender();
        let reporter = Reporter::builder(Registry::new(), sender, application_tags())
            .source(SOURCE)
            .interval(Duration::from_secs(3600))
            .start();
        let mut server = start(&reporter);
        let mut failures = Vec::new();
        drive(server.addr(), &mut failures);
        // Gone before the flush: in-flight gauges must be back to 0.
        server.stop();
        let report = reporter.shutdown(self.timeout);
        if report.dropped != 0 {
            failures.push(format!("{} lines dropped at shutdown", report.dropped));
        }
        let delivered = usize::try_from(report.delivered).unwrap_or(usize::MAX);
        if !receiver.wait_for_lines(delivered, self.timeout) {
            failures.push(format!(
                "{} of {delivered} lines arrived",
                receiver.line_count()
            ));
        }
        expect::check(&receiver, &self.component, server.addr(), &mut failures);
        let transcript = transcript::of(&receiver, &self.component);
        if failures.is_empty() {
            Ok(Outcome {
                receiver,
                transcript,
            })
        } else {
            Err(Failures(failures))
        }
    }
}

/// The application tags of the Flask README's example.
fn application_tags() -> ApplicationTags {
    ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .custom_tag("location", "Oregon")
        .custom_tag("env", "Staging")
        .build()
        .expect("valid application tags")
}

/// An incoming span context: its headers, and the trace id and parent span
/// id the server's span must carry.
pub(crate) type Parent = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

/// One incoming context per propagation format.
pub(crate) const PARENTS: [Parent; 4] = [
    (
        &[
            ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
            ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
            ("wf-ot-sample", "True"),
        ],
        "11111111-2222-4333-8444-555555555555",
        "66666666-7777-4888-9999-aaaaaaaaaaaa",
    ),
    (
        &[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )],
        "0af76519-16cd-43dd-8448-eb211c80319c",
        "00000000-0000-0000-b7ad-6b7169203331",
    ),
    (
        &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")],
        "80f198ee-5634-3ba8-64fe-8b2a57d3eff7",
        "00000000-0000-0000-e457-b5a2e4d86bd1",
    ),
    (
        &[
            ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-Sampled", "1"),
        ],
        "463ac35c-9f64-13ad-4848-5a3953bb6124",
        "00000000-0000-0000-a2fb-4a1d1a96d312",
    ),
];

/// Requests to `/style/{id}/make` answered 200 by GET (the counts below
/// follow from [`drive`]).
pub(crate) const MAKE_GET_200: u64 = 9 + CONCURRENT as u64;
/// Concurrent requests.
const CONCURRENT: usize = 40;

/// The scenario. Each request's answer is checked as it comes.
fn drive(addr: SocketAddr, failures: &mut Vec<String>) {
    let mut expect =
        |method: &str, target: &str, headers: &[(&str, &str)], want: u16| match client::request(
            addr, method, target, headers,
        ) {
            Ok((status, body)) => {
                if status != want {
                    failures.push(format!("{method} {target}: {status}, expected {want}"));
                } else if method == "GET"
                    && target == "/style/blue/make"
                    && body != "Shirts blue made."
                {
                    failures.push(format!("{method} {target}: body {body:?}"));
                }
            }
            Err(e) => failures.push(format!("{method} {target}: {e}")),
        };
    // The Flask captures' sequence, then what a real service meets.
    expect("GET", "/style/blue/make", &[], 200);
    expect("GET", "/style/red/green/make", &[], 404);
    for (headers, _, _) in PARENTS {
        expect("GET", "/style/blue/make", headers, 200);
    }
    expect("GET", "/bad-gateway", &[], 502);
    expect("GET", "/orders/42/crash", &[], 500);
    expect("GET", "/no/such/path", &[], 404);
    expect("POST", "/no/such/path", &[], 404);
    expect("HEAD", "/style/blue/make", &[], 200);
    expect("GET", "/style/blue/make?size=L&color=%22red%22", &[], 200);
    expect("GET", "/style/%E6%97%A5%20x/make", &[], 200);
    // A malformed incoming context starts a new trace.
    expect(
        "GET",
        "/style/blue/make",
        &[("wf-ot-traceid", "not-a-uuid"), ("wf-ot-spanid", "x")],
        200,
    );
    // Clients that go away: before the request is whole (nothing to
    // record), and after the status line (recorded as answered).
    if let Err(e) = client::abandon_mid_headers(addr, "/style/gone/make") {
        failures.push(format!("abandoned request: {e}"));
    }
    match client::abandon_after_status(addr, "/style/left/make") {
        Ok(200) => {}
        other => failures.push(format!("request left after the status: {other:?}")),
    }
    // Concurrent requests.
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            thread::spawn(move || {
                (0..CONCURRENT / 4)
                    .filter_map(|i| {
                        let target = format!("/style/c{worker}-{i}/make");
                        match client::request(addr, "GET", &target, &[]) {
                            Ok((200, _)) => None,
                            other => Some(format!("GET {target}: {other:?}")),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for worker in workers {
        match worker.join() {
            Ok(errors) => failures.extend(errors),
            Err(_) => failures.push("a client thread panicked".to_owned()),
        }
    }
    // The abandoned request must not linger: give the server a moment to
    // see the closed connection before it is stopped.
    thread::sleep(Duration::from_millis(200));
}
