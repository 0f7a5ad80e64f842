//! `SSL_CERT_FILE` names the CA to trust, as the platform's other TLS
//! clients read it (its own test binary: the variable is process-wide).

#![cfg(feature = "direct")]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use wavefront_core::sender::{DataKind, DirectSender, LineBatch, Sender};

#[test]
fn the_platform_trust_store_honours_ssl_cert_file() {
    let endpoint = support::tls::start();
    let file = std::env::temp_dir().join(format!("wavefront-ca-{}.pem", std::process::id()));
    std::fs::write(&file, &endpoint.ca_pem).unwrap();
    // This binary runs this one test, and sets the variable before any
    // thread that reads it starts.
    std::env::set_var("SSL_CERT_FILE", &file);
    let sender = DirectSender::builder(format!("https://localhost:{}", endpoint.port), "a-token")
        .build()
        .unwrap();
    let mut batch = LineBatch::new();
    batch.push_line("\"m\" 1.0 source=\"h\"");
    sender.send(DataKind::Points, batch);
    assert!(sender.flush(Duration::from_secs(10)));
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
    sender.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_file(file);
}
