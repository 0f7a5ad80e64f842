//! [`ProxySender`]: lines to a Wavefront proxy over raw TCP.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::health::Health;
use super::worker::{queued_sender, time_left, Backoff, Delivery, Shared, Transport};
use super::{DataKind, LineBatch, SenderStats, DEFAULT_QUEUE_CAPACITY};

/// The proxy's default metrics port.
pub const DEFAULT_METRICS_PORT: u16 = 2878;
/// The proxy's default tracing port.
pub const DEFAULT_TRACING_PORT: u16 = 30000;

/// Sends to a Wavefront proxy over TCP: metrics (and histograms, unless a
/// separate histogram port is set) to the metrics port, spans and span logs
/// to the tracing port.
///
/// Connections are opened lazily, re-opened with exponential backoff and
/// jitter after a failure, and checked for a close by the proxy before each
/// write, so a restarted proxy is reconnected to without losing what was
/// queued. Writes time out, so a stalled proxy never holds up the caller,
/// only the delivery thread; meanwhile lines wait in the queues (bounded).
///
/// Raw TCP has no acknowledgements: lines already written into the socket
/// when a proxy dies abruptly can be lost; what was still queued is not.
///
/// ```no_run
/// use wavefront_core::sender::{ProxySender, Sender};
///
/// let sender = ProxySender::builder("127.0.0.1").metrics_port(2878).tracing_port(30000).build();
/// # drop(sender);
/// ```
#[derive(Debug, Clone)]
pub struct ProxySender {
    shared: Arc<Shared>,
}

/// Builds a [`ProxySender`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ProxySenderBuilder {
    host: String,
    metrics_port: u16,
    histograms_port: Option<u16>,
    tracing_port: u16,
    queue_capacity: usize,
    connect_timeout: Duration,
    write_timeout: Duration,
}

impl ProxySender {
    /// Starts a sender to the proxy on `host`.
    pub fn builder(host: impl Into<String>) -> ProxySenderBuilder {
        ProxySenderBuilder {
            host: host.into(),
            metrics_port: DEFAULT_METRICS_PORT,
            histograms_port: None,
            tracing_port: DEFAULT_TRACING_PORT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            connect_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(5),
        }
    }
}

impl ProxySenderBuilder {
    /// Port for metrics (default 2878).
    pub fn metrics_port(mut self, port: u16) -> Self {
        self.metrics_port = port;
        self
    }

    /// A separate port for histograms (default: the metrics port).
    pub fn histograms_port(mut self, port: u16) -> Self {
        self.histograms_port = Some(port);
        self
    }

    /// Port for spans and span logs (default 30000).
    pub fn tracing_port(mut self, port: u16) -> Self {
        self.tracing_port = port;
        self
    }

    /// Lines each kind's queue holds (default 50,000).
    pub fn queue_capacity(mut self, lines: usize) -> Self {
        self.queue_capacity = lines;
        self
    }

    /// How long a connection attempt may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a write may block before the proxy counts as stalled
    /// (default 5 s).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Starts the sender and its delivery threads: one per port, so a
    /// stalled metrics port does not hold up spans, nor the reverse.
    #[must_use]
    pub fn build(self) -> ProxySender {
        let worker = |port, kinds: &[DataKind]| {
            let endpoint = Endpoint::new(
                self.host.clone(),
                port,
                self.connect_timeout,
                self.write_timeout,
            );
            (TcpTransport { endpoint }, kinds.to_vec())
        };
        let workers = match self.histograms_port {
            Some(port) => vec![
                worker(self.metrics_port, &[DataKind::Points]),
                worker(port, &[DataKind::Histograms]),
                worker(self.tracing_port, &[DataKind::Spans, DataKind::SpanLogs]),
            ],
            None => vec![
                worker(self.metrics_port, &[DataKind::Points, DataKind::Histograms]),
                worker(self.tracing_port, &[DataKind::Spans, DataKind::SpanLogs]),
            ],
        };
        let shared = Shared::new("proxy", self.queue_capacity);
        shared.spawn("wavefront-proxy-sender", workers, Duration::from_secs(1));
        ProxySender { shared }
    }
}

queued_sender!(ProxySender);

/// One proxy port.
struct TcpTransport {
    endpoint: Endpoint,
}

/// Resolves a host name to addresses (`ToSocketAddrs` outside tests).
type Resolver = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

fn system_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// A line a timed-out write left half sent: the rest goes first on the same
/// connection, so the proxy never sees a broken line. It counts as delivered
/// only once its rest is written, and as dropped if the connection goes.
struct Unfinished {
    rest: Vec<u8>,
    kind: DataKind,
}

/// An open connection to the proxy.
struct Connection {
    stream: TcpStream,
    /// The write timeout last set on it: set again only when it changes,
    /// not at every write (a system call each).
    write_timeout: Option<Duration>,
}

struct Endpoint {
    host: String,
    port: u16,
    connection: Option<Connection>,
    unfinished: Option<Unfinished>,
    connect_timeout: Duration,
    write_timeout: Duration,
    backoff: Backoff,
    resolver: Resolver,
    /// A name resolution still under way (the system resolver has no
    /// timeout of its own): at most one at a time, however often we retry.
    resolving: Option<mpsc::Receiver<io::Result<Vec<SocketAddr>>>>,
    /// Says once when this port starts failing, and when it recovers.
    health: Health,
}

/// Where a write that stopped after some bytes left a batch of lines. It
/// counts bytes, never slices text: the socket may stop in the middle of a
/// multi-byte character (a delta counter's `∆`, a non-ASCII tag).
#[derive(Debug, PartialEq, Eq)]
struct Cut {
    /// Lines written whole.
    whole_lines: usize,
    /// Where the line the write stopped in starts.
    line_start: usize,
    /// Where it ends (after its newline, or the end of the batch).
    line_end: usize,
}

impl Cut {
    fn at(bytes: &[u8], written: usize) -> Cut {
        let written = written.min(bytes.len());
        let (done, rest) = bytes.split_at(written);
        Cut {
            whole_lines: done.iter().filter(|&&b| b == b'\n').count(),
            line_start: done.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
            line_end: rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| written + i + 1),
        }
    }
}

/// What a failed write achieved.
struct Partial {
    /// Lines that left the batch (written whole, or cut and kept unfinished).
    delivered: usize,
    /// Whether the last of them is the unfinished one.
    cut: bool,
}

impl Endpoint {
    fn new(host: String, port: u16, connect_timeout: Duration, write_timeout: Duration) -> Self {
        let health = Health::new(format!("the Wavefront proxy at {host}:{port}"));
        Endpoint {
            host,
            port,
            connection: None,
            unfinished: None,
            connect_timeout,
            write_timeout,
            backoff: Backoff::default(),
            resolver: system_resolver,
            resolving: None,
            health,
        }
    }

    /// The proxy's addresses, waiting at most `timeout` for the resolver.
    fn resolve(&mut self, timeout: Duration) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let receiver = match self.resolving.take() {
            Some(receiver) => receiver,
            None => {
                let (send, receiver) = mpsc::channel();
                let (host, port, resolver) = (self.host.clone(), self.port, self.resolver);
                std::thread::Builder::new()
                    .name("wavefront-resolve".into())
                    .spawn(move || drop(send.send(resolver(&host, port))))?;
                receiver
            }
        };
        match receiver.recv_timeout(timeout) {
            Ok(resolved) => resolved,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.resolving = Some(receiver);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("resolving the proxy host {:?} timed out", self.host),
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::other("resolver failed")),
        }
    }

    fn connect(&mut self, deadline: Option<Instant>, stats: &SenderStats) -> io::Result<()> {
        let stream = self.connection.as_ref().map(|c| &c.stream);
        if stream.is_some_and(peer_closed) {
            self.disconnect(stats);
        }
        if self.connection.is_some() {
            return Ok(());
        }
        let Some(timeout) = time_left(self.connect_timeout, deadline) else {
            return Err(io::ErrorKind::TimedOut.into());
        };
        let started = Instant::now();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "proxy host did not resolve");
        for addr in self.resolve(timeout)? {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    self.connection = Some(Connection {
                        stream,
                        write_timeout: None,
                    });
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Drops the connection; a line left unfinished on it is lost.
    fn disconnect(&mut self, stats: &SenderStats) {
        self.connection = None;
        if let Some(lost) = self.unfinished.take() {
            stats.kind(lost.kind).add_dropped(1);
        }
    }

    /// One `write` on the connection, bounded by the write timeout and the
    /// deadline.
    fn write_some(&mut self, bytes: &[u8], deadline: Option<Instant>) -> io::Result<usize> {
        let timeout = time_left(self.write_timeout, deadline).ok_or(io::ErrorKind::TimedOut)?;
        match self.connection.as_mut() {
            Some(connection) => {
                if connection.write_timeout != Some(timeout) {
                    connection.stream.set_write_timeout(Some(timeout))?;
                    connection.write_timeout = Some(timeout);
                }
                connection.stream.write(bytes)
            }
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Finishes a line left unfinished; it then counts as delivered.
    fn finish_unfinished(
        &mut self,
        deadline: Option<Instant>,
        stats: &SenderStats,
    ) -> io::Result<()> {
        while let Some(mut unfinished) = self.unfinished.take() {
            match self.write_some(&unfinished.rest, deadline) {
                Ok(n) if n == unfinished.rest.len() => {
                    stats.kind(unfinished.kind).add_valid(1);
                }
                Ok(n) if n > 0 => {
                    unfinished.rest.drain(..n);
                    self.unfinished = Some(unfinished);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.unfinished = Some(unfinished)
                }
                result => {
                    self.unfinished = Some(unfinished);
                    let error = result
                        .err()
                        .unwrap_or_else(|| io::ErrorKind::WriteZero.into());
                    self.fail(&error, stats);
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Writes `text` (lines of `kind`); on failure says how far it got,
    /// keeping the connection (and an unfinished line) after a timeout,
    /// dropping it after any other error.
    fn write(
        &mut self,
        kind: DataKind,
        text: &str,
        deadline: Option<Instant>,
        stats: &SenderStats,
    ) -> Result<(), Partial> {
        let nothing = Partial {
            delivered: 0,
            cut: false,
        };
        if let Err(e) = self.connect(deadline, stats) {
            self.health.failed(&format_args!("cannot connect: {e}"));
            return Err(nothing);
        }
        if self.finish_unfinished(deadline, stats).is_err() {
            return Err(nothing);
        }
        let bytes = text.as_bytes();
        let mut written = 0;
        while written < bytes.len() {
            match self.write_some(&bytes[written..], deadline) {
                Ok(0) => {
                    return Err(self.failed_at(
                        kind,
                        bytes,
                        written,
                        &io::ErrorKind::WriteZero.into(),
                        stats,
                    ))
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.failed_at(kind, bytes, written, &e, stats)),
            }
        }
        self.health.recovered();
        Ok(())
    }

    /// How far a write that stopped after `written` bytes got.
    fn failed_at(
        &mut self,
        kind: DataKind,
        bytes: &[u8],
        written: usize,
        error: &io::Error,
        stats: &SenderStats,
    ) -> Partial {
        let cut = Cut::at(bytes, written);
        if is_timeout(error) && written > cut.line_start {
            // Finish this line later on the same connection.
            self.unfinished = Some(Unfinished {
                rest: bytes[written..cut.line_end].to_vec(),
                kind,
            });
            return Partial {
                delivered: cut.whole_lines + 1,
                cut: true,
            };
        }
        self.fail(error, stats);
        Partial {
            delivered: cut.whole_lines,
            cut: false,
        }
    }

    fn fail(&mut self, error: &io::Error, stats: &SenderStats) {
        if is_timeout(error) {
            self.health
                .failed(&"writes time out: the proxy is not reading (stalled or overloaded)");
        } else {
            self.health
                .failed(&format_args!("the connection failed: {error}"));
            self.disconnect(stats);
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Whether the proxy closed the connection (a FIN or reset is waiting):
/// one non-blocking peek before each write.
#[cfg(unix)]
#[allow(unsafe_code)] // one `recv`, with its SAFETY argument
fn peer_closed(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut probe = 0u8;
    // SAFETY: the descriptor is the stream's own, open while `stream` is
    // borrowed, and `recv` writes at most one byte into `probe`.
    let read = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            std::ptr::addr_of_mut!(probe).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match read {
        0 => true,
        1.. => false,
        _ => {
            let error = io::Error::last_os_error();
            !matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            )
        }
    }
}

/// Whether the proxy closed the connection (a FIN or reset is waiting).
#[cfg(not(unix))]
fn peer_closed(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut probe = [0u8; 1];
    let closed = match stream.peek(&mut probe) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    closed || stream.set_nonblocking(false).is_err()
}

impl Transport for TcpTransport {
    /// A TCP stream writes each batch as it came: merging would only copy.
    fn merges_batches(&self) -> bool {
        false
    }

    fn deliver(
        &mut self,
        kind: DataKind,
        batch: &LineBatch,
        stats: &SenderStats,
        deadline: Option<Instant>,
    ) -> Delivery {
        match self.endpoint.write(kind, batch.text(), deadline, stats) {
            Ok(()) => Delivery::Done,
            Err(Partial { delivered, cut }) => Delivery::Retry {
                delivered,
                in_flight: usize::from(cut),
            },
        }
    }

    fn backoff(&mut self, _kind: DataKind) -> Duration {
        self.endpoint.backoff.next()
    }

    fn recovered(&mut self, _kind: DataKind) {
        self.endpoint.backoff.reset();
    }

    fn close(&mut self, stats: &SenderStats) {
        self.endpoint.disconnect(stats);
    }
}

#[cfg(test)]
mod cut_tests {
    use super::Cut;

    #[test]
    fn a_write_stopped_at_any_byte_of_multi_byte_lines_is_counted_by_bytes() {
        let text = "\u{2206}a.b 1 source=\"h\u{e9}\"\n\u{2206}c 2 t=\"\u{65e5}\u{672c}\"\n";
        let bytes = text.as_bytes();
        let first_end = text.find('\n').unwrap() + 1;
        // A write stops short of the batch's end (else it succeeded).
        for written in 0..bytes.len() {
            let cut = Cut::at(bytes, written);
            let in_second = written >= first_end;
            assert_eq!(cut.whole_lines, usize::from(in_second));
            assert_eq!(cut.line_start, if in_second { first_end } else { 0 });
            let want_end = if written < first_end {
                first_end
            } else {
                bytes.len()
            };
            assert_eq!(cut.line_end, want_end, "at {written}");
        }
    }
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    fn never_answers(_: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
        std::thread::sleep(Duration::from_secs(30));
        Ok(Vec::new())
    }

    #[test]
    fn a_resolver_that_never_answers_is_bounded_by_the_connect_timeout() {
        let mut endpoint = Endpoint::new(
            "proxy.invalid".into(),
            2878,
            Duration::from_millis(200),
            Duration::from_secs(1),
        );
        endpoint.resolver = never_answers;
        let stats = SenderStats::new("proxy", 10);
        for _ in 0..3 {
            let started = Instant::now();
            let error = endpoint.connect(None, &stats).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::TimedOut);
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
        }
        // One resolution in flight, however often it is retried.
        assert!(endpoint.resolving.is_some());
        // A deadline already passed: no wait at all.
        let started = Instant::now();
        assert!(endpoint.connect(Some(Instant::now()), &stats).is_err());
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}

#[cfg(test)]
mod close_check_tests {
    use super::peer_closed;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    #[test]
    fn a_close_is_seen_and_data_waiting_is_not_one() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut theirs, _) = listener.accept().unwrap();
        assert!(!peer_closed(&ours), "an open idle connection");
        // Blocking peeks (bounded) wait for what the other end did to arrive.
        ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        theirs.write_all(b"x").unwrap();
        assert_eq!(ours.peek(&mut [0u8; 1]).unwrap(), 1);
        assert!(!peer_closed(&ours), "a byte waiting is no close");
        // The check leaves the stream blocking: a read waits out its timeout.
        ours.read_exact(&mut [0u8; 1]).unwrap();
        ours.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let started = Instant::now();
        assert!(ours.read(&mut [0u8; 1]).is_err());
        assert!(started.elapsed() >= Duration::from_millis(40));
        drop(theirs);
        ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(ours.peek(&mut [0u8; 1]).unwrap(), 0, "the close arrived");
        assert!(peer_closed(&ours), "the close was not seen");
    }
}
