//! [`ConsoleSender`]: prints lines instead of sending them.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::worker::{queued_sender, Backoff, Delivery, Shared, Transport};
use super::{DataKind, LineBatch, SenderStats, DEFAULT_QUEUE_CAPACITY};

/// Writes every line to standard output (or any writer), exactly as it would
/// be sent. It is what the SDK uses when no Wavefront URL is configured, so
/// a newcomer sees the data at once.
///
/// Lines are written by a thread of the sender's own, from a bounded queue
/// like every other sender's, so a blocked standard output (a full pipe
/// nobody reads) holds up neither the reporter nor a bounded `shutdown`.
///
/// ```
/// use std::time::Duration;
/// use wavefront_core::sender::{ConsoleSender, DataKind, LineBatch, Sender};
///
/// let sender = ConsoleSender::stdout();
/// let mut batch = LineBatch::new();
/// batch.push_line("\"cpu.load\" 0.5 source=\"host-1\"");
/// sender.send(DataKind::Points, batch);
/// sender.flush(Duration::from_secs(1)); // printed
/// ```
#[derive(Debug, Clone)]
pub struct ConsoleSender {
    shared: Arc<Shared>,
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
        let shared = Shared::new("console", DEFAULT_QUEUE_CAPACITY);
        let transport = WriterTransport {
            out: Box::new(writer),
            backoff: Backoff::default(),
        };
        shared.spawn(
            "wavefront-console-sender",
            vec![(transport, DataKind::ALL.to_vec())],
            Duration::from_secs(1),
        );
        ConsoleSender { shared }
    }
}

queued_sender!(ConsoleSender);

struct WriterTransport {
    out: Box<dyn Write + Send>,
    backoff: Backoff,
}

impl Transport for WriterTransport {
    fn deliver(
        &mut self,
        _kind: DataKind,
        batch: &LineBatch,
        _stats: &SenderStats,
        _deadline: Option<Instant>,
    ) -> Delivery {
        // A writer has no timeouts to bound; a blocked one is left behind
        // by `shutdown` at its deadline.
        match self
            .out
            .write_all(batch.text().as_bytes())
            .and_then(|()| self.out.flush())
        {
            Ok(()) => Delivery::Done,
            // A closed stdout will not reopen: drop rather than retry.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Delivery::Refused,
            Err(_) => Delivery::Retry {
                delivered: 0,
                in_flight: 0,
            },
        }
    }

    fn backoff(&mut self, _kind: DataKind) -> Duration {
        self.backoff.next()
    }

    fn recovered(&mut self, _kind: DataKind) {
        self.backoff.reset();
    }
}
