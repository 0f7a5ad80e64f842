//! What the layer adds to the heap allocations of an axum request on a route
//! already seen: a counting global allocator counts what the thread serving
//! the requests allocates, with the layer and with a layer that does nothing
//! (axum boxes a layered route's service and future per request whatever the
//! layer), in one process.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::http::Request;
use axum::Router;
use tower::ServiceExt;
use wavefront_axum::routing::get;
use wavefront_axum::WavefrontLayer;
use wavefront_testkit::measure::{allocations, fewest_of, reporter_to_nowhere, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

async fn make_shirts(Path(id): Path<String>) -> String {
    format!("Shirts {id} made.")
}

fn app() -> Router {
    Router::new().route("/style/{id}/make", get(make_shirts))
}

/// Histogram blocks a run may meet (two histograms, a block and its
/// pointer each): far fewer than one a request.
const HISTOGRAM_BLOCKS: u64 = 16;

/// Requests measured.
const REQUESTS: u64 = 500;

/// Allocations of [`REQUESTS`] requests to `router` on this thread, after a
/// warm-up; `between` runs before every hundred requests, outside the count.
async fn allocations_of(router: &Router, between: impl Fn()) -> u64 {
    let request = |i: u64| async move {
        let request = Request::get(format!("/style/{}/make", i % 10))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap()
    };
    for i in 0..1_200 {
        request(i).await;
    }
    // Counted with the request's own allocations (its URI, the response's
    // text), the same with or without the layer.
    let mut made = 0;
    for i in 0..REQUESTS {
        if i % 100 == 0 {
            between();
        }
        let before = allocations();
        request(i).await;
        made += allocations() - before;
    }
    made
}

/// Allocations the layer adds to [`REQUESTS`] requests, over a layer doing
/// nothing; `served` gives the router its state first, as `axum::serve`
/// does.
async fn added_allocations(served: bool) -> u64 {
    let prepare = |router: Router| {
        if served {
            router.with_state(())
        } else {
            router
        }
    };
    let reporter = reporter_to_nowhere();
    let nothing = tower::layer::util::Identity::new();
    let bare = allocations_of(&prepare(app().layer(nothing)), || ()).await;
    let layered = prepare(app().layer(WavefrontLayer::builder(&reporter).build()));
    // The reporter sends what finished and gives the spans' storage back (it
    // does so on its own for every batch, but on its own time).
    let with_layer = allocations_of(&layered, || reporter.report_now()).await;
    assert!(bare >= REQUESTS, "the count sees axum's own allocations");
    reporter.shutdown(Duration::from_secs(5));
    with_layer.saturating_sub(bare)
}

/// The fewest allocations the layer added in up to three tries
/// ([`fewest_of`]), one test at a time: the two tests share the process's
/// pool of span storage.
fn fewest_added(served: bool, enough: u64) -> u64 {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    fewest_of(3, enough, || runtime.block_on(added_allocations(served)))
}

// The SDK itself (span, series, URL, queue) allocates nothing, but for a
// histogram's block the first time a minute sees a value in a new
// power-of-two range (timing decides whether a run meets one). The answer,
// made already, reaches axum as its own `Body`, which axum does not box.

#[test]
fn the_layer_adds_no_allocation_to_a_served_router() {
    let added = fewest_added(true, HISTOGRAM_BLOCKS);
    assert!(
        added <= HISTOGRAM_BLOCKS,
        "{added} allocations added to {REQUESTS} requests"
    );
}

#[test]
fn without_its_state_a_router_clones_the_layers_constructor_per_request() {
    // axum clones the boxed constructor of a layered route for each call
    // when the router was never given its state (a `ZST` layer's costs no
    // allocation).
    let added = fewest_added(false, REQUESTS + HISTOGRAM_BLOCKS);
    assert!(
        (REQUESTS..=REQUESTS + HISTOGRAM_BLOCKS).contains(&added),
        "{added} allocations added to {REQUESTS} requests"
    );
}
