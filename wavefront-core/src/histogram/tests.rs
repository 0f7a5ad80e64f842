use super::*;
use crate::clock::ManualClock;
use std::thread;

const T0: u64 = 1_700_000_040_000; // a minute start

fn manual() -> (ManualClock, WavefrontHistogram) {
    let clock = ManualClock::new(T0);
    let h = WavefrontHistogram::builder()
        .clock(Clock::Manual(clock.clone()))
        .build();
    (clock, h)
}

#[test]
fn buckets_match_hdrhistogram_and_stay_within_one_percent() {
    let Ok(hdr) = hdrhistogram::Histogram::<u64>::new(2) else {
        panic!("hdr")
    };
    let mut v = 1u64;
    while v < MAX_VALUE {
        for probe in [v, v + v / 3, v.saturating_mul(2) - 1] {
            let (octave, slot) = locate(probe);
            let low = lowest(octave, slot);
            assert_eq!(low, hdr.lowest_equivalent(probe), "{probe}");
            let mid = hdr.median_equivalent(probe) as f64;
            assert!(
                (mid - probe as f64).abs() <= probe as f64 * 0.004,
                "{probe}: {mid}"
            );
        }
        v = v * 3 / 2 + 1;
    }
    assert_eq!(locate(255), (0, 255));
    assert_eq!(locate(256), (1, 0));
    assert_eq!(locate(u64::MAX), (56, 127));
}

#[test]
fn reports_completed_minutes_at_their_start() {
    let (clock, h) = manual();
    for v in [1, 1, 2, 300, 301] {
        h.record(v);
    }
    assert!(h.take_completed().is_empty());
    clock.advance_ms(61_000);
    h.record(7);
    let done = h.take_completed();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].minute_ms, T0);
    assert_eq!(
        done[0].centroids,
        vec![
            Centroid {
                mean: 1.0,
                count: 2
            },
            Centroid {
                mean: 2.0,
                count: 1
            },
            Centroid {
                mean: 301.0,
                count: 2
            }, // 300 and 301 share the bucket 300..302
        ]
    );
    assert!(
        h.take_completed().is_empty(),
        "each minute is reported once"
    );
    let rest = h.take_all();
    assert_eq!(
        (rest.len(), rest[0].minute_ms, rest[0].count()),
        (1, T0 + 60_000, 1)
    );
}

#[test]
fn scale_and_centroid_cap() {
    let clock = ManualClock::new(T0);
    let h = WavefrontHistogram::builder()
        .clock(Clock::Manual(clock.clone()))
        .scale(1e-6)
        .max_centroids(10)
        .build();
    for v in 0..1_000u64 {
        h.record(1_000_000 + v * 1_000); // 1 ms .. 2 ms in ns
    }
    let d = h.take_all().remove(0);
    assert!(d.centroids.len() <= 10);
    assert_eq!(d.count(), 1_000);
    let mean: f64 = d
        .centroids
        .iter()
        .map(|c| c.mean * c.count as f64)
        .sum::<f64>()
        / 1_000.0;
    assert!((mean - 1.4995).abs() < 0.01, "{mean}");
    assert!(d.centroids.windows(2).all(|w| w[0].mean < w[1].mean));
}

#[test]
fn keeps_at_most_ten_unreported_minutes() {
    let (clock, h) = manual();
    for minute in 0..15 {
        h.record(minute);
        clock.advance_ms(60_000);
    }
    let done = h.take_completed();
    assert_eq!(done.len(), MAX_UNREPORTED_MINUTES);
    assert_eq!(done[0].minute_ms, T0 + 5 * 60_000, "the oldest are dropped");
    assert_eq!(h.dropped_samples(), 5);
}

#[test]
fn huge_values_are_capped_not_lost() {
    let (_, h) = manual();
    h.record(u64::MAX);
    let d = h.take_all().remove(0);
    assert_eq!(d.count(), 1);
    assert!(d.centroids[0].mean >= MAX_VALUE as f64 * 0.99);
}

#[test]
fn concurrent_recording_across_minutes_loses_nothing() {
    // Writers record while the clock moves and the reporter takes minutes:
    // every sample must be reported exactly once.
    let (clock, h) = manual();
    let per_thread = 50_000u64;
    let threads = 4;
    let mut reported = 0u64;
    thread::scope(|s| {
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                let h = h.clone();
                s.spawn(move || (0..per_thread).for_each(|i| h.record(i % 1000 + t)))
            })
            .collect();
        while writers.iter().any(|w| !w.is_finished()) {
            clock.advance_ms(60_000);
            reported += h
                .take_completed()
                .iter()
                .map(Distribution::count)
                .sum::<u64>();
        }
    });
    reported += h.take_all().iter().map(Distribution::count).sum::<u64>();
    assert_eq!(reported + h.dropped_samples(), per_thread * threads);
    assert_eq!(
        h.dropped_samples(),
        0,
        "the reporter kept up, nothing should be dropped"
    );
}

#[test]
fn rotations_racing_recorders_lose_nothing() {
    // Two writers (owned slots where free: the fenced path) record while the
    // reporter moves the clock and takes as fast as it can.
    let (clock, h) = manual();
    rotations_race(&clock, &h);
}

#[test]
fn rotations_racing_recorders_lose_nothing_on_the_epoch_path() {
    let clock = ManualClock::new(T0);
    let h = WavefrontHistogram::builder()
        .clock(Clock::Manual(clock.clone()))
        .without_fence()
        .build();
    rotations_race(&clock, &h);
}

fn rotations_race(clock: &ManualClock, h: &WavefrontHistogram) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(400);
    let (mut reported, mut rotations) = (0u64, 0u64);
    let recorded: u64 = thread::scope(|s| {
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (h, stop) = (h.clone(), &stop);
                s.spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 20_000_000 {
                        h.record(n % 5_000);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        while std::time::Instant::now() < deadline {
            clock.advance_ms(60_000);
            rotations += 1;
            reported += h
                .take_completed()
                .iter()
                .map(Distribution::count)
                .sum::<u64>();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    reported += h.take_all().iter().map(Distribution::count).sum::<u64>();
    assert!(rotations > 20, "the race ran: {rotations} rotations");
    assert_eq!(reported + h.dropped_samples(), recorded);
}
