//! [`ConsoleSender`]: prints lines instead of sending them.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::{DataKind, LineBatch, Sender, SenderStats, ShutdownReport};

/// Writes every line to standard output (or any writer), exactly as it would
/// be sent. It is what the SDK uses when no Wavefront URL is configured, so
/// a newcomer sees the data at once.
///
/// Lines are written by the thread that reports (never a request's).
///
/// ```
/// use wavefront_core::sender::{ConsoleSender, DataKind, LineBatch, Sender};
///
/// let sender = ConsoleSender::stdout();
/// let mut batch = LineBatch::new();
/// batch.push_line("\"cpu.load\" 0.5 source=\"host-1\"");
/// sender.send(DataKind::Points, batch); // printed
/// ```
pub struct ConsoleSender {
    out: Mutex<Box<dyn Write + Send>>,
    stats: SenderStats,
    stopped: AtomicBool,
}

impl ConsoleSender {
    /// Prints to standard output.
    #[must_use]
    pub fn stdout() -> Self {
        Self::to_writer(io::stdout())
    }

    /// Prints to `writer`.
    #[must_use]
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        ConsoleSender {
            out: Mutex::new(Box::new(writer)),
            stats: SenderStats::new("console", usize::MAX),
            stopped: AtomicBool::new(false),
        }
    }
}

impl Sender for ConsoleSender {
    fn send(&self, kind: DataKind, batch: LineBatch) {
        let stats = self.stats.kind(kind);
        let lines = batch.lines() as u64;
        if self.stopped.load(Ordering::Acquire) {
            return stats.add_dropped(lines);
        }
        let written = self
            .out
            .lock()
            .map(|mut out| out.write_all(batch.text().as_bytes()));
        match written {
            Ok(Ok(())) => stats.add_valid(lines),
            _ => {
                stats.add_report_error();
                stats.add_dropped(lines);
            }
        }
    }

    fn flush(&self, _timeout: Duration) -> bool {
        self.out
            .lock()
            .map(|mut out| out.flush().is_ok())
            .unwrap_or(false)
    }

    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.flush(timeout);
        self.stopped.store(true, Ordering::Release);
        ShutdownReport {
            delivered: self.stats.total_valid(),
            dropped: self.stats.total_dropped(),
        }
    }

    fn stats(&self) -> &SenderStats {
        &self.stats
    }
}

impl std::fmt::Debug for ConsoleSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSender")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
