//! Heap allocations on the request path, counted by a global allocator on
//! the thread that serves the requests.

use std::borrow::Cow;
use std::time::Duration;

use wavefront_core::lifecycle::{Instrumentation, RequestInfo};
use wavefront_core::trace::Headers;
use wavefront_testkit::measure::{allocations, fewest_of, reporter_to_nowhere, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A request for `url`, with these headers.
struct Get {
    url: &'static str,
    headers: &'static [(&'static str, &'static str)],
}

impl RequestInfo for Get {
    fn method(&self) -> &str {
        "GET"
    }
    fn route(&self) -> Option<&str> {
        None
    }
    fn url(&self) -> Cow<'_, str> {
        self.url.into()
    }
    fn headers(&self) -> &dyn Headers {
        &self.headers
    }
}

/// The requests of the test, in turn: a plain one, one that fails (its span
/// gets `error=true` and an error log), and one that continues a caller's
/// trace (its span gets a parent).
const MIX: [(Get, u16); 3] = [
    (
        Get {
            url: "http://shop/style/blue/make",
            headers: &[],
        },
        200,
    ),
    (
        Get {
            url: "http://shop/style/red/make",
            headers: &[],
        },
        502,
    ),
    (
        Get {
            url: "http://shop/style/green/make",
            headers: &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
        },
        200,
    ),
];

/// Histogram blocks a run may meet (two histograms, a block and its
/// pointer each).
const HISTOGRAM_BLOCKS: u64 = 16;

/// Requests measured.
const REQUESTS: u64 = 900;

#[test]
fn a_request_on_a_route_already_seen_allocates_nothing() {
    let fewest = fewest_of(3, HISTOGRAM_BLOCKS, allocations_of_requests);
    // None, but for a histogram's block the first time a minute sees a value
    // in a new power-of-two range (timing decides whether a run meets one):
    // far fewer than one a request.
    assert!(
        fewest <= HISTOGRAM_BLOCKS,
        "{fewest} allocations for {REQUESTS} requests"
    );
}

/// Allocations of [`REQUESTS`] requests on a route already seen, on this
/// thread.
fn allocations_of_requests() -> u64 {
    let reporter = reporter_to_nowhere();
    let inst: Instrumentation = reporter.instrumentation("axum").build();
    let show = std::env::var_os("SHOW").is_some();
    let request = |inst: &Instrumentation, i: u64| {
        let (get, status) = &MIX[(i % 3) as usize];
        let a = allocations();
        let mut guard = inst.start(get);
        let b = allocations();
        guard.set_handler("make_shirts");
        guard.set_route("/style/{id}/make");
        guard.set_status(*status);
        let c = allocations();
        drop(guard);
        let d = allocations();
        if show {
            eprintln!("start {} bind {} finish {}", b - a, c - b, d - c);
        }
    };
    // Warm up: the route's series, and spans' storage, which the reporter
    // gives back once it has sent them.
    for i in 0..1_200 {
        request(&inst, i);
    }
    // Counted request by request; every hundred, outside the count, the
    // reporter sends what finished and gives the storage back (it does so
    // on its own for every batch, but on its own time).
    let mut made = 0;
    for i in 0..REQUESTS {
        if i % 100 == 0 {
            reporter.report_now();
        }
        let before = allocations();
        request(&inst, i);
        made += allocations() - before;
    }
    reporter.shutdown(Duration::from_secs(5));
    made
}
