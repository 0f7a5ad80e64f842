//! Senders: where encoded lines go.
//!
//! * [`ProxySender`]: a Wavefront proxy over raw TCP (metrics to port 2878,
//!   spans and span logs to 30000 by default).
//! * [`DirectSender`] (feature `direct`, on by default): direct ingestion over
//!   HTTPS, `POST /report?f=…`, gzip, bearer token.
//! * [`ConsoleSender`]: prints the lines, the default when nothing is
//!   configured, so a newcomer sees exactly what would be sent.
//!
//! Every sender keeps one bounded queue per [`DataKind`] (50,000 lines by
//! default) and delivers from its own thread: [`Sender::send`] never blocks
//! and never does I/O. Lines that do not fit are dropped and counted in
//! [`SenderStats`], which the reporter sends as the SDK's own diagnostic
//! metrics.
//!
//! Implementing [`Sender`] for another transport: `send` must return at once
//! (queue, do not write); `flush` and `shutdown` may block up to their
//! timeout; count every line in [`SenderStats`] exactly once as valid
//! (delivered) or dropped.
//!
//! ```
//! use std::time::Duration;
//! use wavefront_core::sender::{ConsoleSender, DataKind, LineBatch, Sender};
//! use wavefront_core::wire;
//!
//! let sender = ConsoleSender::to_writer(Vec::new());
//! let mut batch = LineBatch::new();
//! batch.push_with(|buf| wire::write_metric(buf, "cpu.load", 0.5, None, "host-1", &[("env", "prod")]))?;
//! sender.send(DataKind::Points, batch);
//! assert!(sender.flush(Duration::from_secs(1)));
//! assert_eq!(sender.stats().kind(DataKind::Points).valid(), 1);
//! # Ok::<(), wavefront_core::WireError>(())
//! ```

mod console;
#[cfg(feature = "direct")]
mod direct;
pub(crate) mod health;
#[cfg(any(feature = "direct", feature = "otlp"))]
pub(crate) mod http;
mod proxy;
pub(crate) mod queue;
mod stats;
pub(crate) mod worker;

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

pub use console::ConsoleSender;
#[cfg(feature = "direct")]
pub use direct::{DirectSender, DirectSenderBuilder, MAX_LINES_PER_REQUEST};
pub use proxy::{ProxySender, ProxySenderBuilder, DEFAULT_METRICS_PORT, DEFAULT_TRACING_PORT};
pub use queue::DEFAULT_QUEUE_BYTES;
pub use stats::{KindStats, SenderStats};

use crate::WireError;

/// Default capacity of each queue, in lines.
pub const DEFAULT_QUEUE_CAPACITY: usize = 50_000;

/// The kinds of data; each has its own queue, destination and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// Metric points, including delta counters.
    Points,
    /// Histogram distributions.
    Histograms,
    /// Spans.
    Spans,
    /// Span logs.
    SpanLogs,
}

impl DataKind {
    /// All kinds.
    pub const ALL: [DataKind; 4] = [
        DataKind::Points,
        DataKind::Histograms,
        DataKind::Spans,
        DataKind::SpanLogs,
    ];

    /// The name in diagnostic metrics (`points`, `histograms`, `spans`, `span_logs`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            DataKind::Points => "points",
            DataKind::Histograms => "histograms",
            DataKind::Spans => "spans",
            DataKind::SpanLogs => "span_logs",
        }
    }

    /// The `f=` format of the HTTP `/report` endpoint.
    #[must_use]
    pub const fn format(self) -> &'static str {
        match self {
            DataKind::Points => "wavefront",
            DataKind::Histograms => "histogram",
            DataKind::Spans => "trace",
            DataKind::SpanLogs => "spanLogs",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// Complete lines of one kind in one buffer, as the reporter builds them
/// with the [`wire`](crate::wire) encoders: no allocation per line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineBatch {
    text: String,
    lines: usize,
}

impl LineBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes room for `bytes` more, so that a batch encoded at once grows
    /// its buffer once; an empty batch takes the buffer of one sent before.
    pub(crate) fn reserve(&mut self, bytes: usize) {
        if self.text.capacity() == 0 {
            if let Some(spare) = spare_buffers().pop() {
                self.text = spare;
            }
        }
        self.text.reserve(bytes);
    }

    /// Runs an encoder on the batch's buffer and counts the line it wrote
    /// (an encoder that writes nothing, such as a delta of zero, adds none).
    pub fn push_with<T>(
        &mut self,
        encode: impl FnOnce(&mut String) -> Result<T, WireError>,
    ) -> Result<T, WireError> {
        let before = self.text.len();
        let result = encode(&mut self.text);
        self.lines += self.text[before..].matches('\n').count();
        result
    }

    /// Runs an encoder that writes one line or nothing (a span, its logs)
    /// on the batch's buffer, and counts the line without looking for it.
    pub fn push_line_with(
        &mut self,
        encode: impl FnOnce(&mut String) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let before = self.text.len();
        let result = encode(&mut self.text);
        debug_assert!(self.text[before..].matches('\n').count() <= 1);
        if self.text.len() > before {
            if !self.text.ends_with('\n') {
                self.text.push('\n');
            }
            self.lines += 1;
        }
        result
    }

    /// Appends one already-encoded line (a `\n` is added if missing).
    pub fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        if !line.ends_with('\n') {
            self.text.push('\n');
        }
        self.lines += 1;
    }

    /// Number of lines.
    #[must_use]
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// The lines, each ending in `\n`.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether there is no line.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Removes and returns the first `n` lines.
    pub(crate) fn split_lines(&mut self, n: usize) -> LineBatch {
        if n >= self.lines {
            return std::mem::take(self);
        }
        // `nth(n - 1)` below needs n ≥ 1; with none delivered (a retry of
        // the whole batch) the head is empty and the batch keeps every line.
        if n == 0 {
            return LineBatch::new();
        }
        let end = self
            .text
            .match_indices('\n')
            .nth(n.saturating_sub(1))
            .map_or(0, |(i, _)| i + 1);
        let rest = self.text.split_off(end);
        let head = std::mem::replace(&mut self.text, rest);
        self.lines -= n;
        LineBatch {
            text: head,
            lines: n,
        }
    }

    /// Appends another batch.
    pub(crate) fn append(&mut self, other: LineBatch) {
        self.text.push_str(&other.text);
        self.lines += other.lines;
    }
}

/// Buffers of batches sent, for the next batches of spans: a fresh buffer
/// is memory no cache holds, a miss every 64 bytes the reporter writes and
/// again when the sender reads it; a few recent ones stay cached. Enough
/// for the batches a busy reporter has in flight (a backlog goes out in
/// pieces of a few hundred KiB), few enough to stay recent.
fn spare_buffers() -> &'static ArrayQueue<String> {
    static SPARE: OnceLock<ArrayQueue<String>> = OnceLock::new();
    SPARE.get_or_init(|| ArrayQueue::new(SPARE_BUFFERS))
}

const SPARE_BUFFERS: usize = 8;

/// A buffer that grew past this (a backlog sent at once) is freed.
const MAX_SPARE_BUFFER: usize = 1 << 20;

impl Drop for LineBatch {
    fn drop(&mut self) {
        let capacity = self.text.capacity();
        if capacity > 0 && capacity <= MAX_SPARE_BUFFER {
            let mut text = std::mem::take(&mut self.text);
            text.clear();
            let _ = spare_buffers().push(text); // or freed, when enough wait
        }
    }
}

/// A sender's totals when it shut down (over its whole life).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Lines delivered over the sender's life.
    pub delivered: u64,
    /// Lines dropped over the sender's life (full queues, refused data,
    /// shutdown timeout).
    pub dropped: u64,
}

/// Delivers lines to Wavefront. See the [module documentation](self).
pub trait Sender: Send + Sync + fmt::Debug {
    /// Queues lines for delivery and returns at once. What does not fit the
    /// kind's queue is dropped and counted; after shutdown everything is.
    fn send(&self, kind: DataKind, batch: LineBatch);

    /// Delivers what is queued, waiting at most `timeout`; true if the
    /// queues were emptied.
    fn flush(&self, timeout: Duration) -> bool;

    /// Flushes for at most `timeout`, then stops; what is left is dropped.
    fn shutdown(&self, timeout: Duration) -> ShutdownReport;

    /// The sender's counters.
    fn stats(&self) -> &SenderStats;
}

/// `Sender` for pointers to senders, so `Arc<dyn Sender>` and
/// `Box<dyn Sender>` are senders too.
macro_rules! forward_sender {
    ($($ptr:ident)::+) => {
        impl<S: Sender + ?Sized> Sender for $($ptr)::+<S> {
            fn send(&self, kind: DataKind, batch: LineBatch) {
                (**self).send(kind, batch);
            }
            fn flush(&self, timeout: Duration) -> bool {
                (**self).flush(timeout)
            }
            fn shutdown(&self, timeout: Duration) -> ShutdownReport {
                (**self).shutdown(timeout)
            }
            fn stats(&self) -> &SenderStats {
                (**self).stats()
            }
        }
    };
}

forward_sender!(std::sync::Arc);
forward_sender!(Box);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_count_and_split_lines() {
        let mut b = LineBatch::new();
        b.push_line("a 1 source=h");
        b.push_line("b 2 source=h\n");
        b.push_with(|buf| {
            buf.push_str("c 3 source=h\n");
            Ok(())
        })
        .unwrap();
        assert_eq!(b.lines(), 3);
        let head = b.split_lines(2);
        assert_eq!(
            (head.text(), head.lines()),
            ("a 1 source=h\nb 2 source=h\n", 2)
        );
        assert_eq!((b.text(), b.lines()), ("c 3 source=h\n", 1));
        let none = b.split_lines(0);
        assert_eq!((none.text(), none.lines()), ("", 0));
        assert_eq!((b.text(), b.lines()), ("c 3 source=h\n", 1));
        let all = b.split_lines(5);
        assert_eq!(all.lines(), 1);
        assert!(b.is_empty());
    }
}
