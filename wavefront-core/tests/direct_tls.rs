//! Direct ingestion over real TLS on 127.0.0.1, to an endpoint whose
//! certificate a private CA signed: refused until that CA is trusted, then
//! delivered; a wrong CA is a typed error at build.

#![cfg(feature = "direct")]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use wavefront_core::config::ConfigError;
use wavefront_core::sender::{DataKind, DirectSender, LineBatch, Sender};

fn batch() -> LineBatch {
    let mut batch = LineBatch::new();
    batch.push_line("\"m\" 1.0 source=\"h\"");
    batch
}

#[test]
fn a_private_ca_is_refused_until_trusted() {
    let endpoint = support::tls::start();
    let url = format!("https://localhost:{}", endpoint.port);

    // Not trusted: every try fails the handshake; nothing is delivered.
    let untrusting = DirectSender::builder(&url, "a-token").build().unwrap();
    untrusting.send(DataKind::Points, batch());
    assert!(!untrusting.flush(Duration::from_millis(1_500)));
    let report = untrusting.shutdown(Duration::from_secs(2));
    assert_eq!((report.delivered, report.dropped), (0, 1));
    assert!(untrusting.stats().kind(DataKind::Points).report_errors() >= 1);
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 0);

    // Trusted: delivered.
    let trusting = DirectSender::builder(&url, "a-token")
        .trust_ca_pem(endpoint.ca_pem.clone())
        .build()
        .unwrap();
    trusting.send(DataKind::Points, batch());
    assert!(trusting.flush(Duration::from_secs(10)));
    assert_eq!(trusting.stats().kind(DataKind::Points).valid(), 1);
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
    trusting.shutdown(Duration::from_secs(2));
}

#[test]
fn a_ca_that_is_not_pem_is_a_typed_error() {
    let err = DirectSender::builder("https://localhost:1", "a-token")
        .trust_ca_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::InvalidCertificate { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("trust_ca_pem"), "{err}");
}
