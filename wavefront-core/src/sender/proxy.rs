//! [`ProxySender`]: lines to a Wavefront proxy over raw TCP.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::worker::{queued_sender, Backoff, Delivery, Shared, Transport};
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
            let endpoint = Endpoint {
                host: self.host.clone(),
                port,
                stream: None,
                unfinished: Vec::new(),
                connect_timeout: self.connect_timeout,
                write_timeout: self.write_timeout,
                backoff: Backoff::default(),
            };
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

struct Endpoint {
    host: String,
    port: u16,
    stream: Option<TcpStream>,
    /// The rest of a line a timed-out write left half sent; it goes first on
    /// the same connection, so the proxy never sees a broken line.
    unfinished: Vec<u8>,
    connect_timeout: Duration,
    write_timeout: Duration,
    backoff: Backoff,
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

impl Endpoint {
    fn connect(&mut self) -> io::Result<()> {
        if self.stream.as_ref().is_some_and(peer_closed) {
            self.stream = None;
            self.unfinished.clear();
        }
        if self.stream.is_none() {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "proxy host did not resolve");
            for addr in (self.host.as_str(), self.port).to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                    Ok(stream) => {
                        stream.set_nodelay(true)?;
                        stream.set_write_timeout(Some(self.write_timeout))?;
                        self.stream = Some(stream);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            if self.stream.is_none() {
                return Err(last);
            }
        }
        Ok(())
    }

    /// One `write` on the connection.
    fn write_some(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.stream.as_mut() {
            Some(stream) => stream.write(bytes),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes `text`; on failure returns how many whole lines got through,
    /// keeping the connection (and the unfinished line) after a timeout,
    /// dropping it after any other error.
    fn write(&mut self, text: &str) -> Result<(), usize> {
        if self.connect().is_err() {
            return Err(0);
        }
        while !self.unfinished.is_empty() {
            let pending = std::mem::take(&mut self.unfinished);
            match self.write_some(&pending) {
                Ok(n) if n > 0 => self.unfinished = pending[n..].to_vec(),
                result => {
                    self.unfinished = pending;
                    self.fail(
                        &result
                            .err()
                            .unwrap_or_else(|| io::ErrorKind::WriteZero.into()),
                    );
                    return Err(0);
                }
            }
        }
        let bytes = text.as_bytes();
        let mut written = 0;
        while written < bytes.len() {
            match self.write_some(&bytes[written..]) {
                Ok(0) => {
                    return Err(self.failed_at(text, written, &io::ErrorKind::WriteZero.into()))
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.failed_at(text, written, &e)),
            }
        }
        Ok(())
    }

    /// Lines delivered when a write stopped after `written` bytes.
    fn failed_at(&mut self, text: &str, written: usize, error: &io::Error) -> usize {
        let cut = Cut::at(text.as_bytes(), written);
        let timed_out = matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        if timed_out && written > cut.line_start {
            // Finish this line later on the same connection; it counts as sent.
            self.unfinished = text.as_bytes()[written..cut.line_end].to_vec();
            return cut.whole_lines + 1;
        }
        self.fail(error);
        cut.whole_lines
    }

    fn fail(&mut self, error: &io::Error) {
        if !matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            self.stream = None;
            self.unfinished.clear();
        }
    }
}

/// Whether the proxy closed the connection (a FIN or reset is waiting).
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
    fn max_batch(&self) -> usize {
        10_000
    }

    fn accepts(&self, _kind: DataKind) -> bool {
        true
    }

    fn deliver(&mut self, _kind: DataKind, batch: &LineBatch, _stats: &SenderStats) -> Delivery {
        match self.endpoint.write(batch.text()) {
            Ok(()) => Delivery::Done,
            Err(delivered) => Delivery::Retry { delivered },
        }
    }

    fn backoff(&mut self, _kind: DataKind) -> Duration {
        self.endpoint.backoff.next()
    }

    fn recovered(&mut self, _kind: DataKind) {
        self.endpoint.backoff.reset();
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
