//! A strict receiver that plays a Wavefront proxy and the direct-ingestion
//! service on 127.0.0.1, over real TCP, for tests.
//!
//! It listens on three ports chosen by the OS (or fixed with
//! [`ReceiverBuilder::ports`]):
//!
//! * **metrics** ([`Receiver::metrics_addr`]), like proxy port 2878:
//!   newline-delimited lines over raw TCP, read with
//!   [`parse::parse_metrics_port_line`]. A connection whose first bytes are
//!   `POST ` is served as HTTP instead, as the proxy's port unification does.
//! * **tracing** ([`Receiver::tracing_addr`]), like proxy port 30000: spans and
//!   span logs over raw TCP, read with [`parse::parse_tracing_port_line`].
//! * **http** ([`Receiver::http_addr`], [`Receiver::http_url`]): direct
//!   ingestion, `POST …/report?f=wavefront|histogram|trace|spanLogs`, bodies
//!   optionally gzipped, optionally behind a bearer token
//!   ([`ReceiverBuilder::token`]).
//!
//! Every line is kept in arrival order with what the strict parser made of it
//! ([`Receiver::received`]); tests usually check [`Receiver::rejected`] is
//! empty. Faults (refused connections, mid-stream closes, stalls, HTTP error
//! statuses, slow answers) are switched at run time through
//! [`Receiver::faults`].
//!
//! Raw TCP lines are split on `\n` (a trailing `\r` is dropped, empty lines are
//! ignored). A last line that is not terminated when the sender closes the
//! connection is recorded as rejected. Lines of an HTTP body are split the
//! same way, but there the last line may lack its `\n`, as the proxy accepts.
//! For HTTP, the format parameter (`f` or `format`) chooses the parser the
//! way the proxy does: `wavefront` (or `graphite_v2`) reads metric points
//! only, `histogram` distributions only, `trace` spans only, `spanLogs` span
//! logs only; without it each line is autodetected like on the metrics port.
//! An unknown format gets `400`. Success is `202 Accepted` with an empty
//! body; bad lines do not change the status (the proxy does not report them).
//!
//! ```
//! use std::io::Write;
//! use std::time::Duration;
//! use wavefront_testkit::receiver::Receiver;
//!
//! let receiver = Receiver::start()?;
//! let mut sender = std::net::TcpStream::connect(receiver.metrics_addr())?;
//! sender.write_all(b"\"cpu.load\" 0.5 source=\"host-1\"\nnot a metric\n")?;
//! assert!(receiver.wait_for_lines(2, Duration::from_secs(5)));
//! assert_eq!(receiver.metrics()[0].name, "cpu.load");
//! assert_eq!(receiver.rejected()[0].line, "not a metric");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::parse::{self, Line, ParseError};

mod http;

/// How long a blocked read waits before looking at the shutdown and fault
/// switches again.
const READ_POLL: Duration = Duration::from_millis(20);
/// How long the acceptor sleeps when no connection was waiting.
const ACCEPT_POLL: Duration = Duration::from_millis(2);
/// How often stalled readers and [`Receiver::wait_until`] look again.
const POLL: Duration = Duration::from_millis(5);
/// How long [`Receiver::stop`] waits for the threads to end.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long writing a response may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ===== what was received =====

/// Where a line arrived.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Raw TCP on the metrics port.
    MetricsTcp,
    /// Raw TCP on the tracing port.
    TracingTcp,
    /// The body of an HTTP request, on the http port or the metrics port.
    Http {
        /// The request's `f` (or `format`) query parameter, empty if it had
        /// none.
        format: String,
    },
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::MetricsTcp => f.write_str("metrics-tcp"),
            Channel::TracingTcp => f.write_str("tracing-tcp"),
            Channel::Http { format } if format.is_empty() => f.write_str("http"),
            Channel::Http { format } => write!(f, "http f={format}"),
        }
    }
}

/// One line as it arrived, with what the strict parser made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Where it arrived.
    pub channel: Channel,
    /// The line, without its `\n` (or `\r\n`); invalid UTF-8 is replaced
    /// with U+FFFD (and the line is rejected).
    pub line: String,
    /// The parsed line, or why the proxy would reject it.
    pub parsed: Result<Line, ParseError>,
}

impl Received {
    /// Whether the strict parser accepted the line.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.parsed.is_ok()
    }
}

/// One HTTP request, as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Whether it arrived on the metrics port (port unification) rather than
    /// the http port.
    pub on_metrics_port: bool,
    /// The method (`POST`), empty if the request line was unreadable.
    pub method: String,
    /// The request target as sent, e.g. `/report?f=wavefront`.
    pub path_and_query: String,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The status the receiver answered with.
    pub status_sent: u16,
    /// How many non-empty lines of the body were recorded (0 unless the
    /// status is 202).
    pub lines: usize,
}

impl HttpRequest {
    /// The value of the first header called `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One OTLP/HTTP export request (`POST …/v1/metrics` or `…/v1/traces` on
/// the http port), answered `200` unless a fault says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpRequest {
    /// `metrics` or `traces`.
    pub signal: String,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The protobuf body, gunzipped.
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Data {
    received: Vec<Received>,
    /// Lines removed by `take_received` or `clear`, so that cursors count
    /// every line ever received.
    removed: usize,
    requests: Vec<HttpRequest>,
    otlp: Vec<OtlpRequest>,
    /// Requests removed by `take_http_requests` or `clear`.
    removed_requests: usize,
}

// ===== faults =====

const METRICS: usize = 0;
const TRACING: usize = 1;
const HTTP: usize = 2;

#[derive(Debug)]
struct Listeners {
    ports: [u16; 3],
    sockets: [Option<TcpListener>; 3],
}

#[derive(Debug, Default)]
struct HttpFaults {
    status: Option<u16>,
    next: Option<(usize, u16)>,
    delay: Duration,
    retry_after: Option<u64>,
}

/// Faults the receiver can simulate, switched at run time from any thread
/// (see [`Receiver::faults`]).
#[derive(Debug)]
pub struct Faults {
    refuse: AtomicBool,
    stall: AtomicBool,
    close_after: Mutex<Option<usize>>,
    http: Mutex<HttpFaults>,
    listeners: Mutex<Listeners>,
}

impl Faults {
    /// Refusing closes the three listening sockets, so that connecting gets
    /// "connection refused"; switching back binds the same ports again
    /// (std sets `SO_REUSEADDR` on Unix, so this works while old connections
    /// linger in `TIME_WAIT`). Connections already open stay open (add
    /// [`Faults::set_close_after_bytes`]`(Some(0))` to cut them too).
    ///
    /// Both directions take effect before this returns: `true` has closed
    /// the listeners, `false` has bound them again (retrying for up to a
    /// second if a port is briefly busy, after which the acceptor keeps
    /// trying).
    pub fn set_refuse_connections(&self, refuse: bool) {
        let mut listeners = lock(&self.listeners);
        self.refuse.store(refuse, Ordering::SeqCst);
        if refuse {
            listeners.sockets = [None, None, None];
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let Listeners { ports, sockets } = &mut *listeners;
            for (port, socket) in ports.iter().zip(sockets.iter_mut()) {
                if socket.is_none() {
                    *socket = bind(*port).ok();
                }
            }
            if sockets.iter().all(Option::is_some) || Instant::now() >= deadline {
                return;
            }
            thread::sleep(POLL);
        }
    }

    /// Whether connections are being refused.
    #[must_use]
    pub fn refusing_connections(&self) -> bool {
        self.refuse.load(Ordering::SeqCst)
    }

    /// Closes every TCP connection (raw or HTTP, on any port) once it has
    /// read `bytes` bytes since it was opened: the receiver reads no further,
    /// records the complete lines (or requests) it got before that point,
    /// drops a partial line, and closes the socket. Counting is per
    /// connection and applies to connections already open. `None` turns it
    /// off.
    pub fn set_close_after_bytes(&self, bytes: Option<usize>) {
        *lock(&self.close_after) = bytes;
    }

    /// Stops reading from every socket (open and new ones; new connections
    /// are still accepted by the kernel): senders' writes fill the kernel
    /// buffers and then block or time out. Data read just before the switch
    /// is held, not recorded, until reading resumes. `false` resumes.
    pub fn set_stall(&self, stall: bool) {
        self.stall.store(stall, Ordering::SeqCst);
    }

    /// Answers every HTTP request with `status` (after reading it whole),
    /// recording the request but none of its lines. `None` restores normal
    /// answers. [`Faults::set_http_status_for`] takes precedence while it
    /// lasts.
    pub fn set_http_status(&self, status: Option<u16>) {
        lock(&self.http).status = status;
    }

    /// Answers the next `requests` HTTP requests with `status`, like
    /// [`Faults::set_http_status`], then answers normally again.
    pub fn set_http_status_for(&self, requests: usize, status: u16) {
        lock(&self.http).next = (requests > 0).then_some((requests, status));
    }

    /// Sleeps this long before handling each HTTP request (after reading it
    /// whole, before recording and answering it). Zero turns it off.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.http).delay = delay;
    }

    /// Turns every fault off (and binds the listeners again if refused).
    pub fn reset(&self) {
        self.set_close_after_bytes(None);
        self.set_stall(false);
        *lock(&self.http) = HttpFaults::default();
        if self.refusing_connections() {
            self.set_refuse_connections(false);
        }
    }

    fn close_after(&self) -> Option<usize> {
        *lock(&self.close_after)
    }

    fn stalled(&self) -> bool {
        self.stall.load(Ordering::SeqCst)
    }

    fn delay(&self) -> Duration {
        lock(&self.http).delay
    }

    /// The status forced on the next request, if any (counts it).
    /// Sends `Retry-After: seconds` with every 429 and 503 answer (`None`:
    /// no header).
    pub fn set_retry_after(&self, seconds: Option<u64>) {
        lock(&self.http).retry_after = seconds;
    }

    fn retry_after(&self) -> Option<u64> {
        lock(&self.http).retry_after
    }

    fn take_http_status(&self) -> Option<u16> {
        let mut http = lock(&self.http);
        if let Some((left, status)) = http.next {
            http.next = (left > 1).then_some((left - 1, status));
            return Some(status);
        }
        http.status
    }
}

fn bind(port: u16) -> io::Result<TcpListener> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

// ===== the receiver =====

#[derive(Debug)]
struct Shared {
    faults: Faults,
    token: Option<String>,
    shutdown: AtomicBool,
    data: Mutex<Data>,
    conns: Mutex<Conns>,
}

#[derive(Debug, Default)]
struct Conns {
    next_id: u64,
    open: Vec<(u64, TcpStream)>,
    threads: Vec<JoinHandle<()>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn record(&self, lines: Vec<Received>, request: Option<HttpRequest>) {
        let mut data = lock(&self.data);
        data.received.extend(lines);
        data.requests.extend(request);
    }

    /// Sleeps for `d` unless the receiver stops first; `false` if it stopped.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            if self.stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            thread::sleep((deadline - now).min(POLL));
        }
    }
}

/// Configures a [`Receiver`]; see [`Receiver::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ReceiverBuilder {
    token: Option<String>,
    ports: [u16; 3],
}

impl ReceiverBuilder {
    /// Requires `Authorization: Bearer <token>` on the http port (the
    /// metrics port's HTTP, like a proxy's, needs none); other requests get
    /// `401`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Binds these ports (0 lets the OS choose), e.g. to restart a receiver
    /// on the ports of one that was stopped.
    pub fn ports(mut self, metrics: u16, tracing: u16, http: u16) -> Self {
        self.ports = [metrics, tracing, http];
        self
    }

    /// Binds the three listeners on 127.0.0.1 and starts serving.
    pub fn start(self) -> io::Result<Receiver> {
        let mut sockets = [None, None, None];
        let mut ports = [0; 3];
        for i in 0..3 {
            let listener = bind(self.ports[i])?;
            ports[i] = listener.local_addr()?.port();
            sockets[i] = Some(listener);
        }
        let shared = Arc::new(Shared {
            faults: Faults {
                refuse: AtomicBool::new(false),
                stall: AtomicBool::new(false),
                close_after: Mutex::new(None),
                http: Mutex::new(HttpFaults::default()),
                listeners: Mutex::new(Listeners { ports, sockets }),
            },
            token: self.token,
            shutdown: AtomicBool::new(false),
            data: Mutex::default(),
            conns: Mutex::default(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("wf-receiver-accept".into())
                .spawn(move || accept_loop(&shared))?
        };
        Ok(Receiver {
            shared,
            ports,
            acceptor: Some(acceptor),
        })
    }
}

/// A strict Wavefront proxy and direct-ingestion endpoint on 127.0.0.1 (see
/// the [module documentation](self)). Dropping it (or [`Receiver::stop`])
/// closes the listeners and every connection.
pub struct Receiver {
    shared: Arc<Shared>,
    ports: [u16; 3],
    acceptor: Option<JoinHandle<()>>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("metrics", &self.metrics_addr())
            .field("tracing", &self.tracing_addr())
            .field("http", &self.http_addr())
            .field("faults", &self.shared.faults)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts a receiver on three OS-chosen ports, without a token.
    pub fn start() -> io::Result<Receiver> {
        Self::builder().start()
    }

    /// A builder for a receiver with a token or fixed ports.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder::default()
    }

    fn addr(&self, which: usize) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports[which]))
    }

    /// The metrics port (raw lines, or HTTP), like proxy port 2878.
    #[must_use]
    pub fn metrics_addr(&self) -> SocketAddr {
        self.addr(METRICS)
    }

    /// The tracing port (raw span and span-log lines), like proxy port 30000.
    #[must_use]
    pub fn tracing_addr(&self) -> SocketAddr {
        self.addr(TRACING)
    }

    /// The direct-ingestion HTTP port.
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.addr(HTTP)
    }

    /// A proxy sender to this receiver's metrics and tracing ports, as an
    /// application configured with it would have.
    #[must_use]
    pub fn proxy_sender(&self) -> Arc<dyn wavefront_core::sender::Sender> {
        Arc::new(
            wavefront_core::sender::ProxySender::builder("127.0.0.1")
                .metrics_port(self.metrics_addr().port())
                .tracing_port(self.tracing_addr().port())
                .build(),
        )
    }

    /// `http://127.0.0.1:<http port>`, without a trailing slash.
    #[must_use]
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr())
    }

    /// The fault switches.
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every line received so far, valid or not, in arrival order.
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.data).received.clone()
    }

    /// Removes and returns every line received so far.
    #[must_use]
    pub fn take_received(&self) -> Vec<Received> {
        let mut data = lock(&self.shared.data);
        data.removed += data.received.len();
        std::mem::take(&mut data.received)
    }

    /// The lines received after the first `cursor` lines ever received, and
    /// the cursor to pass next time: a reader that does not remove them, so
    /// that several can follow the same receiver. Lines already removed by
    /// [`Receiver::take_received`] or [`Receiver::clear`] are skipped.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use wavefront_testkit::receiver::Receiver;
    ///
    /// let receiver = Receiver::start()?;
    /// let mut sender = std::net::TcpStream::connect(receiver.metrics_addr())?;
    /// sender.write_all(b"\"a\" 1 source=\"s\"\n\"b\" 2 source=\"s\"\n")?;
    /// assert!(receiver.wait_for_lines(2, Duration::from_secs(5)));
    /// let (lines, cursor) = receiver.received_since(1);
    /// assert_eq!((lines.len(), lines[0].line.as_str(), cursor), (1, "\"b\" 2 source=\"s\"", 2));
    /// assert!(receiver.received_since(cursor).0.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn received_since(&self, cursor: usize) -> (Vec<Received>, usize) {
        let data = lock(&self.shared.data);
        let skip = cursor.saturating_sub(data.removed);
        let lines = data.received.get(skip..).unwrap_or_default().to_vec();
        (lines, data.removed + data.received.len())
    }

    /// How many lines were received so far, valid or not.
    #[must_use]
    pub fn line_count(&self) -> usize {
        lock(&self.shared.data).received.len()
    }

    fn valid<T>(&self, pick: impl Fn(&Line) -> Option<&T>) -> Vec<T>
    where
        T: Clone,
    {
        lock(&self.shared.data)
            .received
            .iter()
            .filter_map(|r| r.parsed.as_ref().ok().and_then(&pick).cloned())
            .collect()
    }

    /// The valid metric points (including delta counters), in arrival order.
    #[must_use]
    pub fn metrics(&self) -> Vec<parse::Point> {
        self.valid(|l| match l {
            Line::Metric(p) => Some(p),
            _ => None,
        })
    }

    /// The valid histogram distributions, in arrival order.
    #[must_use]
    pub fn histograms(&self) -> Vec<parse::Distribution> {
        self.valid(|l| match l {
            Line::Histogram(d) => Some(d),
            _ => None,
        })
    }

    /// The valid spans, in arrival order.
    #[must_use]
    pub fn spans(&self) -> Vec<parse::Span> {
        self.valid(|l| match l {
            Line::Span(s) => Some(s),
            _ => None,
        })
    }

    /// The valid span logs, in arrival order.
    #[must_use]
    pub fn span_logs(&self) -> Vec<parse::SpanLogs> {
        self.valid(|l| match l {
            Line::SpanLogs(s) => Some(s),
            _ => None,
        })
    }

    /// The lines the strict parser rejected (tests usually assert there are
    /// none).
    #[must_use]
    pub fn rejected(&self) -> Vec<Received> {
        lock(&self.shared.data)
            .received
            .iter()
            .filter(|r| r.parsed.is_err())
            .cloned()
            .collect()
    }

    /// Every HTTP request answered so far (on either port), in order.
    #[must_use]
    pub fn http_requests(&self) -> Vec<HttpRequest> {
        lock(&self.shared.data).requests.clone()
    }

    /// Every OTLP/HTTP export request accepted so far, in order.
    #[must_use]
    pub fn otlp_requests(&self) -> Vec<OtlpRequest> {
        lock(&self.shared.data).otlp.clone()
    }

    /// The base URL of the OTLP/HTTP receiver (the http port):
    /// `http://127.0.0.1:PORT`, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it.
    #[must_use]
    pub fn otlp_endpoint(&self) -> String {
        format!("http://{}", self.http_addr())
    }

    /// Removes and returns every HTTP request answered so far.
    #[must_use]
    pub fn take_http_requests(&self) -> Vec<HttpRequest> {
        let mut data = lock(&self.shared.data);
        data.removed_requests += data.requests.len();
        std::mem::take(&mut data.requests)
    }

    /// The HTTP requests answered after the first `cursor` ever answered,
    /// and the cursor to pass next time, like [`Receiver::received_since`].
    #[must_use]
    pub fn http_requests_since(&self, cursor: usize) -> (Vec<HttpRequest>, usize) {
        let data = lock(&self.shared.data);
        let skip = cursor.saturating_sub(data.removed_requests);
        let requests = data.requests.get(skip..).unwrap_or_default().to_vec();
        (requests, data.removed_requests + data.requests.len())
    }

    /// Forgets every line and HTTP request received so far.
    pub fn clear(&self) {
        let mut data = lock(&self.shared.data);
        data.removed += data.received.len();
        data.received.clear();
        data.removed_requests += data.requests.len();
        data.requests.clear();
        data.otlp.clear();
    }

    /// Calls `done` every ~5 ms until it returns `true` (then `true`) or
    /// `timeout` passes (then `false`, after one last try).
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&Receiver) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until at least `n` lines (valid or not) were received.
    pub fn wait_for_lines(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |r| r.line_count() >= n)
    }

    /// Closes the listeners and every open connection, and waits (up to 2 s)
    /// for the receiver's threads to end. The ports can then be bound again.
    pub fn stop(self) {
        drop(self);
    }

    fn shut_down(&mut self) {
        let shared = &self.shared;
        shared.shutdown.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + STOP_TIMEOUT;
        if let Some(acceptor) = self.acceptor.take() {
            join_by(acceptor, deadline);
        }
        lock(&shared.faults.listeners).sockets = [None, None, None];
        let (open, threads) = {
            let mut conns = lock(&shared.conns);
            (
                std::mem::take(&mut conns.open),
                std::mem::take(&mut conns.threads),
            )
        };
        for (_, stream) in &open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        drop(open);
        for thread in threads {
            join_by(thread, deadline);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Joins `thread` if it ends before `deadline`; otherwise leaves it detached.
fn join_by(thread: JoinHandle<()>, deadline: Instant) {
    while !thread.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    if thread.is_finished() {
        let _ = thread.join();
    }
}

// ===== accepting =====

fn accept_loop(shared: &Arc<Shared>) {
    while !shared.stopping() {
        let mut accepted = Vec::new();
        {
            let mut listeners = lock(&shared.faults.listeners);
            let refusing = shared.faults.refusing_connections();
            let Listeners { ports, sockets } = &mut *listeners;
            for (which, socket) in sockets.iter_mut().enumerate() {
                if socket.is_none() && !refusing {
                    *socket = bind(ports[which]).ok();
                }
                let Some(listener) = socket else { continue };
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => accepted.push((which, stream)),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // WouldBlock, or a connection that died in the backlog.
                        Err(_) => break,
                    }
                }
            }
        }
        if accepted.is_empty() {
            thread::sleep(ACCEPT_POLL);
        }
        for (which, stream) in accepted {
            serve(shared, which, stream);
        }
    }
}

/// Starts a thread serving `stream`, registered so that stopping closes it.
fn serve(shared: &Arc<Shared>, which: usize, stream: TcpStream) {
    let setup = || -> io::Result<TcpStream> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(READ_POLL))?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        stream.set_nodelay(true)?;
        stream.try_clone()
    };
    let Ok(clone) = setup() else { return };
    let mut conns = lock(&shared.conns);
    let id = conns.next_id;
    conns.next_id += 1;
    conns.open.push((id, clone));
    let thread_shared = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("wf-receiver-conn".into())
        .spawn(move || {
            let shared = thread_shared;
            let mut conn = Conn {
                shared: &shared,
                stream,
                read: 0,
            };
            match which {
                METRICS => serve_metrics_port(&mut conn),
                TRACING => serve_lines(&mut conn, Channel::TracingTcp, Vec::new()),
                _ => serve_http(&mut conn, Vec::new(), false),
            }
            let _ = conn.stream.shutdown(Shutdown::Both);
            lock(&shared.conns).open.retain(|(i, _)| *i != id);
        });
    match spawned {
        Ok(handle) => {
            let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut conns.threads)
                .into_iter()
                .partition(JoinHandle::is_finished);
            conns.threads = running;
            conns.threads.push(handle);
            drop(conns);
            for thread in done {
                let _ = thread.join();
            }
        }
        Err(_) => conns.open.retain(|(i, _)| *i != id),
    }
}

// ===== reading =====

enum Got {
    /// This many bytes were read into the buffer.
    Data(usize),
    /// The sender closed the connection cleanly.
    Eof,
    /// The receiver closes the connection: stopping, `close_after_bytes`, or
    /// a socket error.
    Closed,
}

struct Conn<'a> {
    shared: &'a Shared,
    stream: TcpStream,
    /// Bytes read since the connection was opened.
    read: usize,
}

impl Conn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Got {
        let faults = &self.shared.faults;
        loop {
            if self.shared.stopping() {
                return Got::Closed;
            }
            if faults.stalled() {
                thread::sleep(POLL);
                continue;
            }
            let mut want = buf.len();
            if let Some(limit) = faults.close_after() {
                if self.read >= limit {
                    return Got::Closed;
                }
                want = want.min(limit - self.read);
            }
            match self.stream.read(&mut buf[..want]) {
                Ok(0) => return Got::Eof,
                Ok(n) => {
                    self.read += n;
                    // Hold what was read while stalled (the switch may have
                    // flipped while this read was blocked).
                    while faults.stalled() {
                        if !self.shared.sleep(POLL) {
                            return Got::Closed;
                        }
                    }
                    return Got::Data(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Got::Closed,
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }
}

/// The metrics port: raw lines, or HTTP if the first bytes are `POST `.
fn serve_metrics_port(conn: &mut Conn<'_>) {
    const POST: &[u8] = b"POST ";
    let mut start = Vec::new();
    let mut buf = [0; 1024];
    while start.len() < POST.len() && POST.starts_with(&start) {
        match conn.read(&mut buf) {
            Got::Data(n) => start.extend_from_slice(&buf[..n]),
            Got::Eof => break,
            Got::Closed => return,
        }
    }
    if start.starts_with(POST) {
        serve_http(conn, start, true);
    } else {
        serve_lines(conn, Channel::MetricsTcp, start);
    }
}

fn parse_line(channel: &Channel, bytes: &[u8]) -> Received {
    let parser: fn(&str) -> Result<Line, ParseError> = match channel {
        Channel::MetricsTcp => parse::parse_metrics_port_line,
        Channel::TracingTcp => parse::parse_tracing_port_line,
        Channel::Http { format } => match format.as_str() {
            "wavefront" | "graphite_v2" => |l: &str| parse::parse_metric(l).map(Line::Metric),
            "histogram" => |l: &str| parse::parse_histogram(l).map(Line::Histogram),
            "trace" => |l: &str| parse::parse_span(l).map(Line::Span),
            "spanLogs" => |l: &str| parse::parse_span_logs(l).map(Line::SpanLogs),
            _ => parse::parse_metrics_port_line,
        },
    };
    match std::str::from_utf8(bytes) {
        Ok(line) => Received {
            channel: channel.clone(),
            line: line.to_owned(),
            parsed: parser(line),
        },
        Err(e) => Received {
            channel: channel.clone(),
            line: String::from_utf8_lossy(bytes).into_owned(),
            parsed: Err(ParseError {
                code: "syntax",
                reason: format!("the line is not UTF-8: {e}"),
            }),
        },
    }
}

/// Parses the complete lines at the start of `pending` and removes them.
fn take_lines(channel: &Channel, pending: &mut Vec<u8>) -> Vec<Received> {
    let Some(last) = pending.iter().rposition(|&b| b == b'\n') else {
        return Vec::new();
    };
    let lines = split_lines(channel, &pending[..last]);
    pending.drain(..=last);
    lines
}

/// Parses every non-empty line of `bytes`, the last one possibly unterminated.
fn split_lines(channel: &Channel, bytes: &[u8]) -> Vec<Received> {
    bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(|line| parse_line(channel, line))
        .collect()
}

/// Newline-delimited lines over raw TCP.
fn serve_lines(conn: &mut Conn<'_>, channel: Channel, mut pending: Vec<u8>) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let lines = take_lines(&channel, &mut pending);
        if !lines.is_empty() {
            conn.shared.record(lines, None);
        }
        match conn.read(&mut buf) {
            Got::Data(n) => pending.extend_from_slice(&buf[..n]),
            Got::Eof => break,
            Got::Closed => return,
        }
    }
    // The sender closed the connection in the middle of a line.
    let rest = pending.strip_suffix(b"\r").unwrap_or(&pending);
    if !rest.is_empty() {
        let mut line = parse_line(&channel, rest);
        line.parsed = Err(ParseError {
            code: "syntax",
            reason: "the connection closed before the line's \\n".to_owned(),
        });
        conn.shared.record(vec![line], None);
    }
}

// ===== HTTP =====

/// HTTP/1.1 requests, kept alive until either side closes.
fn serve_http(conn: &mut Conn<'_>, mut buf: Vec<u8>, on_metrics_port: bool) {
    let mut chunk = vec![0; 64 * 1024];
    loop {
        // The head.
        let end = loop {
            if let Some(end) = http::head_end(&buf) {
                break end;
            }
            if buf.len() > http::MAX_HEAD {
                let request = bad_request(on_metrics_port, 431);
                answer(conn, request, Vec::new(), true);
                return;
            }
            match conn.read(&mut chunk) {
                Got::Data(n) => buf.extend_from_slice(&chunk[..n]),
                Got::Eof | Got::Closed => return,
            }
        };
        let head = match http::parse_head(&buf[..end]) {
            Ok(head) => head,
            Err(_) => {
                answer(conn, bad_request(on_metrics_port, 400), Vec::new(), true);
                return;
            }
        };
        buf.drain(..end);
        let mut request = HttpRequest {
            on_metrics_port,
            method: head.method.clone(),
            path_and_query: head.target.clone(),
            headers: head.headers.clone(),
            status_sent: 0,
            lines: 0,
        };

        // The body's length.
        let length = if head.header("transfer-encoding").is_some() {
            Err(411)
        } else {
            match head.header("content-length") {
                None if head.method == "POST" => Err(411),
                None => Ok(0),
                Some(v) => match v.parse::<usize>() {
                    Ok(n) if n > http::MAX_BODY => Err(413),
                    Ok(n) => Ok(n),
                    Err(_) => Err(400),
                },
            }
        };
        let length = match length {
            Ok(n) => n,
            Err(status) => {
                request.status_sent = status;
                answer(conn, request, Vec::new(), true);
                return;
            }
        };
        if length > buf.len()
            && head
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
            && !conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        {
            return;
        }

        // The body.
        while buf.len() < length {
            match conn.read(&mut chunk) {
                Got::Data(n) => buf.extend_from_slice(&chunk[..n]),
                Got::Eof | Got::Closed => return,
            }
        }
        let body: Vec<u8> = buf.drain(..length).collect();

        let delay = conn.shared.faults.delay();
        if !delay.is_zero() && !conn.shared.sleep(delay) {
            return;
        }
        let (status, lines) = handle(conn.shared, &head, &body, on_metrics_port);
        request.status_sent = status;
        request.lines = lines.len();
        let close = !head.keep_alive();
        if !answer(conn, request, lines, close) || close {
            return;
        }
    }
}

/// A request whose head could not be read.
fn bad_request(on_metrics_port: bool, status: u16) -> HttpRequest {
    HttpRequest {
        on_metrics_port,
        method: String::new(),
        path_and_query: String::new(),
        headers: Vec::new(),
        status_sent: status,
        lines: 0,
    }
}

/// Records the request and its lines, then sends the answer; `false` if the
/// answer could not be sent.
fn answer(conn: &mut Conn<'_>, request: HttpRequest, lines: Vec<Received>, close: bool) -> bool {
    let status = request.status_sent;
    conn.shared.record(lines, Some(request));
    let retry_after = conn
        .shared
        .faults
        .retry_after()
        .filter(|_| matches!(status, 429 | 503));
    conn.write(&http::response(status, close, retry_after))
}

/// Decides the status of a complete request and parses its lines.
fn handle(
    shared: &Shared,
    head: &http::Head,
    body: &[u8],
    on_metrics_port: bool,
) -> (u16, Vec<Received>) {
    if let Some(status) = shared.faults.take_http_status() {
        return (status, Vec::new());
    }
    if head.method != "POST" {
        return (405, Vec::new());
    }
    if let Some(signal) = otlp_signal(head.path()).filter(|_| !on_metrics_port) {
        return (otlp(shared, head, signal, body), Vec::new());
    }
    if !on_metrics_port {
        // Direct ingestion: the path must end in /report.
        if !head.path().ends_with("/report") {
            return (404, Vec::new());
        }
        if let Some(token) = &shared.token {
            let authorized = head.header("authorization").is_some_and(|v| {
                v.split_once(' ').is_some_and(|(scheme, t)| {
                    scheme.eq_ignore_ascii_case("bearer") && t.trim() == token
                })
            });
            if !authorized {
                return (401, Vec::new());
            }
        }
    }
    let format = head.query_param(&["f", "format"]).unwrap_or_default();
    if !matches!(
        format.as_str(),
        "" | "wavefront" | "graphite_v2" | "histogram" | "trace" | "spanLogs"
    ) {
        return (400, Vec::new());
    }
    let text = match head.header("content-encoding").map(str::to_ascii_lowercase) {
        None => body.to_vec(),
        Some(e) if e.is_empty() || e == "identity" => body.to_vec(),
        Some(e) if e == "gzip" || e == "x-gzip" => match gunzip(body) {
            Some(text) => text,
            None => return (400, Vec::new()),
        },
        Some(_) => return (415, Vec::new()),
    };
    (202, split_lines(&Channel::Http { format }, &text))
}

/// `metrics` or `traces` for an OTLP/HTTP export path.
fn otlp_signal(path: &str) -> Option<&'static str> {
    if path.ends_with("/v1/metrics") {
        Some("metrics")
    } else if path.ends_with("/v1/traces") {
        Some("traces")
    } else {
        None
    }
}

/// Records an OTLP export request: protobuf, optionally gzipped.
fn otlp(shared: &Shared, head: &http::Head, signal: &str, body: &[u8]) -> u16 {
    if !head
        .header("content-type")
        .is_some_and(|t| t.eq_ignore_ascii_case("application/x-protobuf"))
    {
        return 415;
    }
    let body = match head.header("content-encoding").map(str::to_ascii_lowercase) {
        None => body.to_vec(),
        Some(e) if e == "gzip" => match gunzip(body) {
            Some(body) => body,
            None => return 400,
        },
        Some(_) => return 415,
    };
    lock(&shared.data).otlp.push(OtlpRequest {
        signal: signal.to_owned(),
        headers: head.headers.clone(),
        body,
    });
    200
}

fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let limit = u64::try_from(http::MAX_BODY).unwrap_or(u64::MAX);
    let mut decoder = flate2::read::MultiGzDecoder::new(body).take(limit + 1);
    decoder.read_to_end(&mut out).ok()?;
    (out.len() <= http::MAX_BODY).then_some(out)
}
