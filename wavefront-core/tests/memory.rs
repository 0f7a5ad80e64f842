//! Memory per series, measured with a counting allocator: bounded however
//! many cores the host has (striped cells are capped at `MAX_STRIPES`) and
//! nothing preallocated for minutes that are not waiting to be reported.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use wavefront_core::metric::MAX_STRIPES;
use wavefront_core::registry::Registry;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting bytes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as the caller's contract for `GlobalAlloc::alloc`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as the caller's contract for `GlobalAlloc::dealloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Frees what the registry's copy-on-write map retired (crossbeam-epoch
/// frees it lazily), so live bytes are what the series keep.
fn settle() {
    for _ in 0..256 {
        crossbeam_epoch::pin().flush();
    }
}

/// Bytes per series kept alive by making `n` of them with `make`.
fn bytes_per_series(n: usize, make: impl Fn(&Registry, usize)) -> usize {
    let registry = Registry::new();
    settle();
    let before = LIVE.load(Ordering::Relaxed);
    for i in 0..n {
        make(&registry, i);
    }
    settle();
    let after = LIVE.load(Ordering::Relaxed);
    drop(registry);
    settle();
    usize::try_from(after - before).expect("series take memory") / n
}

/// One cache-line-padded cell per stripe, plus the shared one.
const CELLS: usize = (MAX_STRIPES + 1) * 128;

#[test]
fn memory_per_series_is_bounded_whatever_the_core_count() {
    let tags = [("application", "Ordering"), ("service", "styling")];
    let n = 2_000;
    let counter = bytes_per_series(n, |r, i| drop(r.counter(&format!("c.{i}"), &tags)));
    let delta = bytes_per_series(n, |r, i| drop(r.delta_counter(&format!("d.{i}"), &tags)));
    let gauge = bytes_per_series(n, |r, i| drop(r.gauge(&format!("g.{i}"), &tags)));
    let histogram = bytes_per_series(n, |r, i| drop(r.histogram(&format!("h.{i}"), &tags)));
    let recorded = bytes_per_series(n, |r, i| {
        r.histogram(&format!("h.{i}"), &tags).record(1_000_000)
    });
    println!(
        "bytes per series: counter {counter}, delta {delta}, gauge {gauge}, \
         histogram {histogram} idle / {recorded} with a sample this minute"
    );
    // Name, tags and the registry's entry: well under 1 KB; the cells on top.
    assert!(counter <= CELLS + 1_024, "counter {counter}");
    assert!(delta <= CELLS + 1_024, "delta counter {delta}");
    assert!(gauge <= 1_024, "gauge {gauge}");
    assert!(gauge > 0 && counter > gauge, "the measure measures");
    assert!(histogram <= CELLS + 1_536, "histogram {histogram}");
    // A sample allocates the minute's bin and one block of buckets.
    assert!(
        recorded <= histogram + 8 * 1_024,
        "histogram with a sample {recorded}"
    );
}
