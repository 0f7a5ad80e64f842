//! A backlog of finished spans (the reporter got its turn late) reaches the
//! exporter in pieces of at most 512 spans, none lost.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use wavefront_core::export::{Exporter, WavefrontExporter};
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ConsoleSender;
use wavefront_core::trace::FinishedSpan;

#[path = "support/fixtures.rs"]
mod fixtures;

/// Records the size of each handful of spans, and holds every caller until
/// the gate opens, so that a backlog builds up meanwhile.
#[derive(Debug)]
struct Gate {
    sizes: Mutex<Vec<usize>>,
    entered: Mutex<Option<mpsc::Sender<()>>>,
    open: (Mutex<bool>, Condvar),
}

impl Gate {
    fn hold(&self, spans: &[FinishedSpan]) {
        self.sizes.lock().unwrap().push(spans.len());
        if let Some(entered) = self.entered.lock().unwrap().take() {
            entered.send(()).unwrap();
        }
        let (open, opened) = &self.open;
        let open = open.lock().unwrap();
        let (open, _) = opened
            .wait_timeout_while(open, Duration::from_secs(10), |open| !*open)
            .unwrap();
        drop(open);
    }
}

#[test]
fn a_backlog_of_spans_is_exported_in_pieces_of_at_most_512() {
    let (entered_tx, entered) = mpsc::channel();
    let gate = Arc::new(Gate {
        sizes: Mutex::default(),
        entered: Mutex::new(Some(entered_tx)),
        open: (Mutex::new(false), Condvar::new()),
    });
    let held = Arc::clone(&gate);
    let exporter = Arc::new(fixtures::Watched {
        inner: WavefrontExporter::new(Arc::new(ConsoleSender::to_writer(std::io::sink()))),
        seen: move |spans: &[FinishedSpan]| held.hold(spans),
    });
    let tags = fixtures::app();
    let reporter = Reporter::builder(
        Registry::new(),
        Arc::clone(&exporter) as Arc<dyn Exporter>,
        tags,
    )
    .interval(Duration::from_secs(3600))
    .start();
    let reporter = Arc::new(reporter);
    let tracer = reporter.tracer().clone();
    tracer.span("first").start().finish();
    let reporting = Arc::clone(&reporter);
    let first = std::thread::spawn(move || reporting.report_now());
    entered.recv_timeout(Duration::from_secs(10)).unwrap();
    // Exports are held: these wait (the reporter's own thread takes what it
    // can and is held too).
    for _ in 0..1_300 {
        tracer.span("make_shirts").start().finish();
    }
    *gate.open.0.lock().unwrap() = true;
    gate.open.1.notify_all();
    first.join().unwrap();
    reporter.shutdown(Duration::from_secs(10));

    let sizes = gate.sizes.lock().unwrap().clone();
    assert_eq!(sizes[0], 1, "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 1_301, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 512), "{sizes:?}");
    assert!(sizes.contains(&512), "no backlog was split: {sizes:?}");
    assert_eq!(tracer.dropped(), 0);
}
