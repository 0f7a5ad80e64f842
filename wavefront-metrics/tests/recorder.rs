//! The `metrics` macros, through the recorder and a real reporter, to the
//! strict receiver over TCP.

use std::time::Duration;

use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::ApplicationTags;
use wavefront_metrics::WavefrontRecorder;
use wavefront_testkit::receiver::Receiver;

#[test]
fn counters_gauges_and_histograms_arrive_with_the_application_tags() {
    let receiver = Receiver::start().unwrap();
    let sender = receiver.proxy_sender();
    let tags = ApplicationTags::builder("Ordering", "styling")
        .cluster("us-west-1")
        .shard("primary")
        .build()
        .unwrap();
    let reporter = Reporter::builder(Registry::new(), sender, tags)
        .source("host-1")
        .interval(Duration::from_secs(3600))
        .red_metrics(false)
        .start();
    let recorder = WavefrontRecorder::new(&reporter);
    metrics::with_local_recorder(&recorder, || {
        // A library's code, unaware of Wavefront.
        for _ in 0..3 {
            metrics::counter!("orders.checked_out", "tier" => "gold").increment(1);
        }
        metrics::counter!("orders.checked_out", "tier" => "silver").increment(5);
        metrics::counter!("orders.checked_out", "tier" => "silver").absolute(4); // never down
        metrics::gauge!("pool.size", "service" => "not-mine").set(7.0);
        metrics::gauge!("pool.size", "service" => "not-mine").decrement(2.0);
        for items in [1.0, 3.0, 3.0, 0.000_5] {
            metrics::histogram!("orders.basket_items").record(items);
        }
        metrics::histogram!("orders.basket_items").record(-1.0);
    });
    let report = reporter.shutdown(Duration::from_secs(10));
    assert!(receiver.wait_for_lines(report.delivered as usize, Duration::from_secs(10)));
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    let points = receiver.metrics();
    let last = |name: &str, key: &str, value: &str| {
        points
            .iter()
            .rev()
            .find(|p| p.name == name && p.tag(key) == Some(value))
            .unwrap_or_else(|| panic!("{name} {key}={value}: {points:#?}"))
    };
    let gold = last("orders.checked_out", "tier", "gold");
    assert_eq!(gold.value, 3.0);
    assert_eq!(gold.source, "host-1");
    for (key, value) in [
        ("application", "Ordering"),
        ("cluster", "us-west-1"),
        ("service", "styling"),
        ("shard", "primary"),
    ] {
        assert_eq!(gold.tag(key), Some(value), "{key}");
    }
    assert_eq!(last("orders.checked_out", "tier", "silver").value, 5.0);
    // The application's `service` wins over a label of that key.
    assert_eq!(last("pool.size", "service", "styling").value, 5.0);
    let histograms = receiver.histograms();
    let basket: Vec<_> = histograms
        .iter()
        .filter(|h| h.name == "orders.basket_items")
        .collect();
    assert_eq!(basket.iter().map(|h| h.count()).sum::<i64>(), 4);
    let means: Vec<f64> = basket
        .iter()
        .flat_map(|h| h.centroids.iter().map(|&(_, mean)| mean))
        .collect();
    assert!(
        means.iter().any(|m| (m - 0.000_5).abs() < 1e-6),
        "{means:?}"
    );
    assert!(means.iter().any(|m| (m - 3.0).abs() < 0.01), "{means:?}");
    assert_eq!(
        last(
            "~sdk.rust.metrics.histogram.negative.count",
            "service",
            "styling"
        )
        .value,
        1.0
    );
}
