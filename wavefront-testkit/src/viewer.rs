//! A live local viewer of what an application sends: a page and its JSON,
//! served from what a [`Receiver`] got on the wire.
//!
//! `wavefront-receiver --ui-port 8888` serves it at `http://127.0.0.1:8888/`:
//!
//! * **Routes**: one row per component, route, method and handler, from the
//!   framework series (`<p>.response.<r>.<m>.<s>.cumulative.count`,
//!   `<p>.request.<r>.<m>.inflight.value`, the minute histograms
//!   `<p>.response.<r>.summary.<m>.<s>.latency`): requests, errors (4xx and
//!   5xx) and error rate, in flight now, latency p50/p95/p99 merged from the
//!   histograms, and per-minute request and p95 charts.
//! * **Traces**: the most recent traces, and a waterfall of each one's spans
//!   (from every service that sent some) with their tags and span logs.
//! * **Problems**: the lines the strict parser rejected, with the reason and
//!   the line, and the HTTP requests the receiver refused (a wrong token, a
//!   wrong path); the SDK's diagnostics (`~sdk.*`) and heartbeats.
//!
//! The same data is served as JSON: `/api/summary`, `/api/routes`,
//! `/api/traces`, `/api/traces/{id}`, `/api/problems`, `/api/diagnostics`.
//! The page is plain HTML, CSS and JavaScript compiled into the binary; it
//! loads nothing else and polls the JSON every second.
//!
//! Memory is bounded: the last [`MINUTES`] minutes of each route, the last
//! [`TRACES`] traces (of at most [`SPANS_PER_TRACE`] spans and as many log
//! entries), the last [`PROBLEMS`] rejected lines, [`ROUTES`] routes and
//! [`SERIES`] diagnostic and heartbeat series. The page says what was
//! dropped.
//!
//! There is no authentication: a viewer bound to anything but a loopback
//! address says so on the page.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use wavefront_testkit::receiver::Receiver;
//! use wavefront_testkit::viewer::Viewer;
//!
//! let receiver = Arc::new(Receiver::start()?);
//! let viewer = Viewer::follow(Arc::clone(&receiver), "127.0.0.1:0".parse().unwrap())?;
//! let mut page = std::net::TcpStream::connect(viewer.addr())?;
//! page.write_all(b"GET /api/summary HTTP/1.1\r\nHost: x\r\n\r\n")?;
//! let mut answer = String::new();
//! page.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK"));
//! assert!(answer.contains("\"rejected\":0"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::receiver::{HttpRequest, Received, Receiver};

mod centroids;
mod model;
mod routes;
mod server;
#[cfg(test)]
mod tests;
mod traces;

pub use model::Model;

/// Minutes of route history kept (and charted).
pub const MINUTES: usize = 15;
/// Traces kept; the least recently updated one is dropped first.
pub const TRACES: usize = 200;
/// Spans (and span-log entries) kept per trace.
pub const SPANS_PER_TRACE: usize = 500;
/// Rejected lines kept; the oldest is dropped first.
pub const PROBLEMS: usize = 200;
/// Routes kept; series of further routes are counted, not shown.
pub const ROUTES: usize = 500;
/// Diagnostic series, and heartbeat series, kept.
pub const SERIES: usize = 500;

/// How often a following viewer reads the receiver's new lines.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug)]
struct Shared {
    model: Mutex<Model>,
    stop: AtomicBool,
    /// Bound to a non-loopback address: the page warns it is open to others.
    exposed: bool,
}

/// Serves the page and its JSON on its own thread (see the
/// [module documentation](self)); stopping or dropping it closes the port.
pub struct Viewer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Viewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Viewer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Viewer {
    /// Serves an empty model on `bind` (port 0 lets the OS choose); feed it
    /// with [`Viewer::ingest`].
    pub fn start(bind: SocketAddr) -> io::Result<Viewer> {
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            model: Mutex::default(),
            stop: AtomicBool::new(false),
            exposed: !addr.ip().is_loopback(),
        });
        let server = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("wf-viewer-http".into())
                .spawn(move || server::accept_loop(&listener, &shared))?
        };
        Ok(Viewer {
            shared,
            addr,
            threads: vec![server],
        })
    }

    /// Serves on `bind` what `receiver` gets, reading its new lines and
    /// HTTP requests every 200 ms without removing them
    /// ([`Receiver::received_since`]), so tests can still look at them. The
    /// receiver keeps listening until the viewer stops too.
    pub fn follow(receiver: Arc<Receiver>, bind: SocketAddr) -> io::Result<Viewer> {
        let mut viewer = Self::start(bind)?;
        let shared = Arc::clone(&viewer.shared);
        let follower = thread::Builder::new()
            .name("wf-viewer-follow".into())
            .spawn(move || {
                let (mut lines_read, mut requests_read) = (0, 0);
                while !shared.stop.load(Ordering::SeqCst) {
                    let (lines, next) = receiver.received_since(lines_read);
                    lines_read = next;
                    let (requests, next) = receiver.http_requests_since(requests_read);
                    requests_read = next;
                    ingest(&shared, &lines, &requests);
                    thread::sleep(FOLLOW_EVERY);
                }
            })?;
        viewer.threads.push(follower);
        Ok(viewer)
    }

    /// Adds lines to what the page shows, e.g. those a caller took with
    /// [`Receiver::take_received`].
    pub fn ingest(&self, lines: &[Received]) {
        ingest(&self.shared, lines, &[]);
    }

    /// Adds answered HTTP requests (those not accepted show as problems),
    /// e.g. those a caller took with [`Receiver::take_http_requests`].
    pub fn ingest_http_requests(&self, requests: &[HttpRequest]) {
        ingest(&self.shared, &[], requests);
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, `http://<addr>/`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops serving and waits for its threads.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn ingest(shared: &Shared, lines: &[Received], requests: &[HttpRequest]) {
    if lines.is_empty() && requests.is_empty() {
        return;
    }
    let now = now_ms();
    let mut model = lock(&shared.model);
    for line in lines {
        model.ingest(line, now);
    }
    for request in requests {
        model.ingest_http_request(request, now);
    }
}
