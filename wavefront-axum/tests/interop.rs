//! Interoperability with the reference: a real Flask service instrumented
//! with the Python Wavefront Flask SDK (the PyPI packages pinned in
//! `interop/requirements.txt`, installed into `interop/.venv` by
//! `interop/venv.py`) and a real axum service instrumented with this SDK,
//! both reporting over real TCP on 127.0.0.1 to the strict receiver. A
//! request that crosses from one service to the other must give spans with
//! one trace id and the right parent ids.
//!
//! The test needs `python3` and, the first time, PyPI; without them it fails
//! (it never skips). `PYTHON` overrides the interpreter that creates the
//! venv.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::{Extension, Router};
use wavefront_axum::routing::get;
use wavefront_axum::{CurrentSpan, WavefrontLayer};
use wavefront_core::registry::Registry;
use wavefront_core::reporter::Reporter;
use wavefront_core::sender::ProxySender;
use wavefront_core::ApplicationTags;
use wavefront_testkit::interop::{venv_python, workspace_root};
use wavefront_testkit::parse::Span;
use wavefront_testkit::receiver::Receiver;

/// Longest wait for anything else.
const WAIT: Duration = Duration::from_secs(30);
/// The `source` of each side's lines.
const FLASK_SOURCE: &str = "flask-interop";
const RUST_SOURCE: &str = "rust-interop";

// ===== child processes =====

/// Reads `stream` to the end on a thread, appending to `log` (and, for a
/// line starting with `listening `, sending it on `ready`).
fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    ready: Option<mpsc::Sender<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Some(ready) = &ready {
                        if let Some(addr) = line.trim_end().strip_prefix("listening ") {
                            let _ = ready.send(addr.to_owned());
                        }
                    }
                    if let Ok(mut log) = log.lock() {
                        log.push_str(&line);
                    }
                }
            }
        }
    })
}

/// The Flask app as a child process; stopped on drop (also when a test
/// fails), and its output printed if the test is failing.
struct Flask {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Flask {
    /// Starts `interop/flask_app.py` on a free port, reporting to the
    /// receiver's metrics and tracing ports, calling the Rust service at
    /// `rust_url`.
    fn start(metrics_port: u16, tracing_port: u16, rust_url: &str) -> Flask {
        let python = venv_python(None);
        let child = Command::new(&python)
            .arg(workspace_root().join("interop/flask_app.py"))
            .env("PORT", "0")
            .env("WF_METRICS_PORT", metrics_port.to_string())
            .env("WF_TRACING_PORT", tracing_port.to_string())
            .env("RUST_URL", rust_url)
            .env("WF_SOURCE", FLASK_SOURCE)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let mut flask = Flask {
            child,
            base: String::new(),
            log: Arc::default(),
        };
        let (ready, listening) = mpsc::channel();
        drain(
            flask.child.stdout.take().unwrap(),
            Arc::clone(&flask.log),
            Some(ready),
        );
        drain(
            flask.child.stderr.take().unwrap(),
            Arc::clone(&flask.log),
            None,
        );
        match listening.recv_timeout(WAIT) {
            Ok(addr) => flask.base = format!("http://{addr}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the Flask app did not print `listening` within {WAIT:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the Flask app closed its stdout without printing `listening`")
            }
        }
        flask
    }

    /// Sends SIGTERM (the app flushes its reporters and exits) and waits at
    /// most `timeout`, then kills it. Whether it exited by itself.
    fn stop(&mut self, timeout: Duration) -> bool {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return true;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Flask {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
        if std::thread::panicking() {
            if let Ok(log) = self.log.lock() {
                eprintln!("----- Flask app output -----\n{log}----- end -----");
            }
        }
    }
}

// ===== the Rust service =====

/// Where the Flask app listens, known once it started.
#[derive(Clone, Default)]
struct FlaskUrl(Arc<OnceLock<String>>);

async fn hello() -> &'static str {
    "hello from rust"
}

async fn call_flask(
    span: CurrentSpan,
    Extension(flask): Extension<FlaskUrl>,
    Extension(client): Extension<reqwest::Client>,
) -> Result<String, (StatusCode, String)> {
    let base = flask.0.get().ok_or((
        StatusCode::SERVICE_UNAVAILABLE,
        "Flask not started".to_owned(),
    ))?;
    let mut headers = http::HeaderMap::new();
    span.inject(&mut headers);
    let fail = |e: reqwest::Error| (StatusCode::BAD_GATEWAY, e.to_string());
    let response = client
        .get(format!("{base}/hello"))
        .headers(headers)
        .send()
        .await
        .map_err(fail)?;
    let status = response.status();
    let body = response.text().await.map_err(fail)?;
    if status.is_success() {
        Ok(body)
    } else {
        Err((
            StatusCode::BAD_GATEWAY,
            format!("Flask said {status}: {body}"),
        ))
    }
}

/// Both services and the receiver they report to.
struct World {
    // Field order is drop order: the Flask app stops before the receiver.
    flask: Flask,
    reporter: Arc<Reporter>,
    server: tokio::task::JoinHandle<()>,
    rust_base: String,
    client: reqwest::Client,
    receiver: Receiver,
}

impl World {
    async fn start() -> World {
        let receiver = Receiver::start().expect("receiver starts");
        let sender = Arc::new(
            ProxySender::builder("127.0.0.1")
                .metrics_port(receiver.metrics_addr().port())
                .tracing_port(receiver.tracing_addr().port())
                .build(),
        );
        let tags = ApplicationTags::builder("Interop", "rust")
            .cluster("c1")
            .shard("s1")
            .build()
            .unwrap();
        let reporter = Arc::new(
            Reporter::builder(Registry::new(), sender, tags)
                .source(RUST_SOURCE)
                .interval(Duration::from_secs(1))
                .start(),
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let flask_url = FlaskUrl::default();
        let app = Router::new()
            .route("/hello", get(hello))
            .route("/call-flask", get(call_flask))
            .layer(WavefrontLayer::new(&reporter))
            .layer(Extension(flask_url.clone()))
            .layer(Extension(client.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rust_base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });

        let ports = (
            receiver.metrics_addr().port(),
            receiver.tracing_addr().port(),
        );
        let rust_url = rust_base.clone();
        let flask = tokio::task::spawn_blocking(move || Flask::start(ports.0, ports.1, &rust_url))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        flask_url.0.set(flask.base.clone()).unwrap();
        World {
            flask,
            reporter,
            server,
            rust_base,
            client,
            receiver,
        }
    }

    async fn get(&self, url: String, headers: &[(&str, &str)]) -> String {
        let mut request = self.client.get(&url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {url}: {body}");
        body
    }

    /// Waits (at most [`WAIT`]) for a span from each side and returns them.
    fn spans(&self, flask_operation: &str, rust_operation: &str) -> (Span, Span) {
        let find = |spans: &[Span], source: &str, operation: &str| {
            spans
                .iter()
                .find(|s| s.source == source && s.operation == operation)
                .cloned()
        };
        let mut found = None;
        let arrived = self.receiver.wait_until(WAIT, |r| {
            let spans = r.spans();
            found = find(&spans, FLASK_SOURCE, flask_operation).zip(find(
                &spans,
                RUST_SOURCE,
                rust_operation,
            ));
            found.is_some()
        });
        assert!(
            arrived,
            "no {flask_operation:?} span from Flask and {rust_operation:?} span from Rust \
             within {WAIT:?}; spans: {:#?}",
            self.receiver.spans()
        );
        let (flask, rust) = found.unwrap();
        println!("Flask span: {flask:?}\nRust span: {rust:?}");
        assert_eq!(flask.tag("component"), Some("flask"), "{flask:?}");
        assert_eq!(flask.tag("service"), Some("flask"), "{flask:?}");
        assert_eq!(rust.tag("component"), Some("axum"), "{rust:?}");
        assert_eq!(rust.tag("service"), Some("rust"), "{rust:?}");
        (flask, rust)
    }

    /// Stops both sides (each flushes what it has), then checks that the
    /// receiver got both sides' metrics and that every line it got passed
    /// the strict parser.
    async fn finish(self) {
        let World {
            flask,
            reporter,
            server,
            receiver,
            ..
        } = self;
        server.abort();
        let report = tokio::task::spawn_blocking(move || reporter.shutdown(WAIT))
            .await
            .unwrap();
        assert_eq!(report.dropped, 0, "{report:?}");
        let (exited, flask) = tokio::task::spawn_blocking(move || {
            let mut flask = flask;
            (flask.stop(WAIT), flask)
        })
        .await
        .unwrap();
        assert!(exited, "the Flask app did not exit on SIGTERM");
        // Flask's metrics (HTTP to the metrics port) and RED metrics (raw
        // TCP) and the axum metrics, so that the parser saw every kind of
        // line both sides send.
        let arrived = receiver.wait_until(WAIT, |r| {
            let points = r.metrics();
            let from = |source: &str, prefix: &str| {
                points
                    .iter()
                    .any(|p| p.source == source && p.name.starts_with(prefix))
            };
            from(FLASK_SOURCE, "flask.response.")
                && from(FLASK_SOURCE, "∆tracing.derived.Interop.flask.")
                && from(RUST_SOURCE, "axum.response.")
        });
        assert!(arrived, "metrics missing; got {:#?}", {
            let mut names: Vec<_> = receiver
                .metrics()
                .into_iter()
                .map(|p| format!("{} {}", p.source, p.name))
                .collect();
            names.sort();
            names.dedup();
            (names, receiver.http_requests())
        });
        let rejected = receiver.rejected();
        assert!(
            rejected.is_empty(),
            "rejected by the strict parser: {rejected:#?}"
        );
        drop(flask);
    }
}

// ===== the scenarios =====

/// client → Flask `/call-rust` → Rust `/hello`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flask_calls_rust() {
    let world = World::start().await;
    let body = world
        .get(format!("{}/call-rust", world.flask.base), &[])
        .await;
    assert_eq!(body, "hello from rust");
    let (flask, rust) = world.spans("call_rust", "hello");
    // Flask's request span is a root (trace id = span id); its context is
    // what it injected, so the Rust span is its child.
    assert!(flask.parents.is_empty(), "{flask:?}");
    assert_eq!(flask.trace_id, flask.span_id, "{flask:?}");
    assert_eq!(rust.trace_id, flask.trace_id, "{rust:?}\n{flask:?}");
    assert_eq!(
        rust.parents,
        [flask.span_id.as_str()],
        "{rust:?}\n{flask:?}"
    );
    assert_ne!(rust.span_id, flask.span_id);
    world.finish().await;
}

/// client → Rust `/call-flask` → Flask `/hello`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_calls_flask() {
    let world = World::start().await;
    let body = world
        .get(format!("{}/call-flask", world.rust_base), &[])
        .await;
    assert_eq!(body, "hello from flask");
    let (flask, rust) = world.spans("hello", "call_flask");
    assert!(rust.parents.is_empty(), "{rust:?}");
    assert_eq!(flask.trace_id, rust.trace_id, "{flask:?}\n{rust:?}");
    assert_eq!(
        flask.parents,
        [rust.span_id.as_str()],
        "{flask:?}\n{rust:?}"
    );
    assert_ne!(flask.span_id, rust.span_id);
    world.finish().await;
}

/// client (`headers`) → Rust `/call-flask` → Flask `/hello`: the Rust span
/// continues the client's trace under the given ids, and Flask continues
/// the Rust span.
async fn client_context_through_rust_to_flask(
    headers: &[(&str, &str)],
    trace_id: &str,
    parent: &str,
) {
    let world = World::start().await;
    let body = world
        .get(format!("{}/call-flask", world.rust_base), headers)
        .await;
    assert_eq!(body, "hello from flask");
    let (flask, rust) = world.spans("hello", "call_flask");
    assert_eq!(rust.trace_id, trace_id, "{rust:?}");
    assert_eq!(rust.parents, [parent], "{rust:?}");
    assert_eq!(flask.trace_id, trace_id, "{flask:?}");
    assert_eq!(
        flask.parents,
        [rust.span_id.as_str()],
        "{flask:?}\n{rust:?}"
    );
    world.finish().await;
}

/// A W3C `traceparent` from the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w3c_traceparent_through_rust_to_flask() {
    client_context_through_rust_to_flask(
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
        "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
        "00000000-0000-0000-00f0-67aa0ba902b7",
    )
    .await;
}

/// A single `b3` header (128-bit trace id) from the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_single_header_through_rust_to_flask() {
    client_context_through_rust_to_flask(
        &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")],
        "80f198ee-5634-3ba8-64fe-8b2a57d3eff7",
        "00000000-0000-0000-e457-b5a2e4d86bd1",
    )
    .await;
}

/// Multi-header B3 (`X-B3-*`, 64-bit trace id) from the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_multi_headers_through_rust_to_flask() {
    client_context_through_rust_to_flask(
        &[
            ("X-B3-TraceId", "463ac35c9f6413ad"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-Sampled", "1"),
        ],
        "00000000-0000-0000-463a-c35c9f6413ad",
        "00000000-0000-0000-a2fb-4a1d1a96d312",
    )
    .await;
}
