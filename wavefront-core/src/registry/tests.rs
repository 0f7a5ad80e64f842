use super::*;
use std::thread;

#[test]
fn tag_order_and_exact_duplicates_do_not_make_new_series() {
    let r = Registry::new();
    let a = r.counter("c", &[("a", "1"), ("b", "2")]);
    let b = r.counter("c", &[("b", "2"), ("a", "1"), ("a", "1")]);
    let c = r.counter("c", &[("a", "1"), ("b", "3")]);
    let d = r.counter("c", &[("a", "1")]);
    a.inc();
    b.inc();
    c.inc();
    d.inc();
    assert_eq!((a.count(), c.count(), d.count()), (2, 1, 1));
    assert_eq!(r.len(), 3);
    let entries = r.entries();
    let e = entries
        .iter()
        .find(|e| e.tags().len() == 2 && &*e.tags()[1].1 == "2")
        .unwrap();
    assert_eq!(
        (e.name(), &*e.tags()[0].0, &*e.tags()[1].0),
        ("c", "a", "b")
    );
}

#[test]
fn concurrent_registration_yields_one_series_per_key() {
    let r = Registry::new();
    thread::scope(|s| {
        for _ in 0..8 {
            let r = r.clone();
            s.spawn(move || {
                for i in 0..200 {
                    let route = format!("r{}", i % 100);
                    r.counter("requests", &[("route", route.as_str())]).inc();
                }
            });
        }
    });
    assert_eq!(r.len(), 100);
    let total: u64 = r
        .entries()
        .iter()
        .map(|e| match e.metric() {
            Metric::Counter(c) => c.count(),
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(total, 8 * 200);
}

#[test]
fn a_full_registry_refuses_and_counts() {
    let r = Registry::builder().max_series(2).build();
    r.gauge("a", &[] as &[(&str, &str)]).set(1.0);
    r.gauge("b", &[] as &[(&str, &str)]).set(1.0);
    let detached = r.gauge("c", &[] as &[(&str, &str)]);
    detached.set(5.0);
    assert_eq!(detached.value(), 5.0, "the handle still works");
    assert_eq!((r.len(), r.refused()), (2, 1));
    r.gauge("a", &[] as &[(&str, &str)]).inc(); // existing series are still found
    assert_eq!(r.refused(), 1);
}

#[test]
fn kind_conflicts_are_counted_not_panicked() {
    let r = Registry::new();
    let tags = [("k", "v")];
    r.counter("x", &tags).inc();
    let g = r.gauge("x", &tags);
    g.set(3.0);
    assert_eq!(r.conflicts(), 1);
    assert!(matches!(r.entries()[0].metric(), Metric::Counter(c) if c.count() == 1));
}

#[test]
fn histograms_use_the_registry_clock_and_settings() {
    let clock = crate::clock::ManualClock::new(1_700_000_040_000);
    let r = Registry::builder()
        .clock(Clock::Manual(clock.clone()))
        .build();
    let h = r.histogram_with("latency", &[("route", "home")], |b| b.scale(0.5));
    h.record(10);
    clock.advance_ms(60_000);
    let again = r.histogram("latency", &[("route", "home")]);
    let done = again.take_completed();
    assert_eq!(
        (done[0].minute_ms, done[0].centroids[0].mean),
        (1_700_000_040_000, 5.0)
    );
}
