//! The delivery thread every queued sender runs, and what senders share:
//! queues, stats, wake-ups, flush and shutdown.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use super::queue::LineQueue;
use super::{DataKind, LineBatch, SenderStats, ShutdownReport};

/// `Sender` for a type whose field `shared` is a [`Shared`]: the queued
/// senders all send, flush and stop the same way.
macro_rules! queued_sender {
    ($ty:ty) => {
        impl $crate::sender::Sender for $ty {
            fn send(&self, kind: $crate::sender::DataKind, batch: $crate::sender::LineBatch) {
                self.shared.send(kind, batch);
            }
            fn flush(&self, timeout: std::time::Duration) -> bool {
                self.shared.flush(timeout)
            }
            fn shutdown(&self, timeout: std::time::Duration) -> $crate::sender::ShutdownReport {
                self.shared.shutdown(timeout)
            }
            fn stats(&self) -> &$crate::sender::SenderStats {
                &self.shared.stats
            }
        }
    };
}
pub(crate) use queued_sender;

/// What a transport does with one batch.
pub(crate) enum Delivery {
    /// All lines delivered.
    Done,
    /// The first `delivered` lines got through; retry the rest after a pause.
    Retry { delivered: usize },
    /// The batch cannot be delivered now or later: drop it.
    Refused,
}

/// A transport, driven by the worker thread.
pub(crate) trait Transport: Send + 'static {
    /// Largest batch handed to `deliver`, in lines.
    fn max_batch(&self) -> usize;
    /// Whether `kind` is still accepted (direct ingestion stops a kind after
    /// 401/403).
    fn accepts(&self, kind: DataKind) -> bool;
    /// Delivers one batch.
    fn deliver(&mut self, kind: DataKind, batch: &LineBatch, stats: &SenderStats) -> Delivery;
    /// How long to wait after a failure of `kind` (grows until a success).
    fn backoff(&mut self, kind: DataKind) -> Duration;
    /// Called after a delivery of `kind` succeeds.
    fn recovered(&mut self, kind: DataKind);
}

/// The part of a sender that callers and the worker share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queues: [LineQueue; 4],
    pub(crate) stats: SenderStats,
    stopping: AtomicBool,
    /// Set by `shutdown` when its flush ran out of time: the worker then
    /// drops what is left instead of trying to deliver it.
    gave_up: AtomicBool,
    /// Set when the workers have exited (or none could start).
    stopped: AtomicBool,
    /// Workers still running.
    running: AtomicUsize,
    /// The workers, to wake them without a lock.
    threads: OnceLock<Box<[Thread]>>,
    /// Joined at shutdown.
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn new(transport: &'static str, capacity: usize) -> Arc<Self> {
        Arc::new(Shared {
            queues: Default::default(),
            stats: SenderStats::new(transport, capacity),
            stopping: AtomicBool::new(false),
            gave_up: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            threads: OnceLock::new(),
            handles: Mutex::new(Vec::new()),
        })
    }

    /// Starts one delivery thread per transport, each serving its kinds, so
    /// that a stalled destination holds up only its own data.
    pub(crate) fn spawn<T: Transport>(
        self: &Arc<Self>,
        name: &str,
        workers: Vec<(T, Vec<DataKind>)>,
        interval: Duration,
    ) {
        let mut threads = Vec::with_capacity(workers.len());
        let mut handles = Vec::with_capacity(workers.len());
        for (transport, kinds) in workers {
            let shared = Arc::clone(self);
            shared.running.fetch_add(1, Ordering::AcqRel);
            let spawned = thread::Builder::new()
                .name(name.into())
                .spawn(move || run(&shared, transport, &kinds, interval));
            match spawned {
                Ok(handle) => {
                    threads.push(handle.thread().clone());
                    handles.push(handle);
                }
                // Without a thread nothing is delivered; say so through the stats.
                Err(_) => {
                    if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                        self.stopped.store(true, Ordering::Release);
                    }
                }
            }
        }
        let _ = self.threads.set(threads.into_boxed_slice());
        if let Ok(mut slot) = self.handles.lock() {
            *slot = handles;
        }
    }

    fn wake(&self) {
        for thread in self.threads.get().into_iter().flatten() {
            thread.unpark();
        }
    }

    pub(crate) fn send(&self, kind: DataKind, batch: LineBatch) {
        let stats = self.stats.kind(kind);
        if self.stopping.load(Ordering::Acquire) || self.stopped.load(Ordering::Acquire) {
            stats.add_dropped(batch.lines() as u64);
            return;
        }
        self.queues[kind.index()].push(batch, stats);
        self.wake();
    }

    fn backlog(&self) -> usize {
        DataKind::ALL
            .iter()
            .map(|&k| self.stats.kind(k).queue_size())
            .sum()
    }

    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.wake();
        while self.backlog() > 0 {
            if Instant::now() >= deadline || self.stopped.load(Ordering::Acquire) {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
        true
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        if !self.flush(timeout) {
            // Out of time: the workers must not try each kind once more, as
            // every attempt can block for a write timeout on a stalled proxy
            // and `shutdown(timeout)` would overrun by several of them.
            self.gave_up.store(true, Ordering::Release);
        }
        self.stopping.store(true, Ordering::Release);
        self.wake();
        let handles = self
            .handles
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        for handle in handles {
            // A worker sees `stopping`, drops what is left and exits
            // promptly: its waits are short and its I/O has timeouts.
            let _ = handle.join();
        }
        self.drop_backlog();
        ShutdownReport {
            delivered: self.stats.total_valid(),
            dropped: self.stats.total_dropped(),
        }
    }

    /// Drops and counts everything still queued.
    fn drop_backlog(&self) {
        for kind in DataKind::ALL {
            let queue = &self.queues[kind.index()];
            let stats = self.stats.kind(kind);
            while let Some(batch) = queue.pop() {
                stats.add_dropped(batch.lines() as u64);
                queue.done(batch.lines(), stats);
            }
        }
    }
}

/// The delivery loop of one worker: each of its kinds in turn, one batch at
/// a time, with a pause per kind after a failure; wakes on new data or every
/// `interval`.
fn run(shared: &Shared, mut transport: impl Transport, kinds: &[DataKind], interval: Duration) {
    let mut pending: [Option<LineBatch>; 4] = Default::default();
    let mut resume_at: [Option<Instant>; 4] = [None; 4];
    loop {
        let stopping = shared.stopping.load(Ordering::Acquire);
        let mut next_wake = interval;
        for &kind in kinds {
            if shared.gave_up.load(Ordering::Acquire) {
                // Shutdown is out of time (checked before each kind, since
                // each may block for a write timeout): deliver nothing more;
                // `pending` is dropped below, the queues by `shutdown`.
                break;
            }
            let i = kind.index();
            let queue = &shared.queues[i];
            let stats = shared.stats.kind(kind);
            if let Some(at) = resume_at[i] {
                let now = Instant::now();
                if now < at && !stopping {
                    next_wake = next_wake.min(at - now);
                    continue;
                }
                resume_at[i] = None;
            }
            while let Some(batch) = pending[i]
                .take()
                .or_else(|| queue.pop_up_to(transport.max_batch()))
            {
                if !transport.accepts(kind) {
                    stats.add_dropped(batch.lines() as u64);
                    queue.done(batch.lines(), stats);
                    continue;
                }
                match transport.deliver(kind, &batch, &shared.stats) {
                    Delivery::Done => {
                        stats.add_valid(batch.lines() as u64);
                        queue.done(batch.lines(), stats);
                        transport.recovered(kind);
                    }
                    Delivery::Refused => {
                        stats.add_dropped(batch.lines() as u64);
                        queue.done(batch.lines(), stats);
                    }
                    Delivery::Retry { delivered } => {
                        let mut rest = batch;
                        let sent = rest.split_lines(delivered);
                        stats.add_valid(sent.lines() as u64);
                        queue.done(sent.lines(), stats);
                        stats.add_report_error();
                        if stopping {
                            // No more retries once stopping: count what is left.
                            stats.add_dropped(rest.lines() as u64);
                            queue.done(rest.lines(), stats);
                        } else {
                            pending[i] = Some(rest);
                            let pause = transport.backoff(kind);
                            resume_at[i] = Some(Instant::now() + pause);
                            next_wake = next_wake.min(pause);
                        }
                        break;
                    }
                }
            }
        }
        if stopping {
            for (i, batch) in pending.iter_mut().enumerate() {
                if let Some(batch) = batch.take() {
                    let stats = shared.stats.kind(DataKind::ALL[i]);
                    stats.add_dropped(batch.lines() as u64);
                    shared.queues[i].done(batch.lines(), stats);
                }
            }
            if shared.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                shared.stopped.store(true, Ordering::Release);
            }
            return;
        }
        thread::park_timeout(next_wake);
    }
}

/// Exponential backoff with jitter: 100 ms doubling to 30 s, each pause
/// between half and all of the current step.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    step: Duration,
    seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        let seed = Instant::now().elapsed().as_nanos() as u64
            ^ std::process::id() as u64
            ^ 0x9e37_79b9_7f4a_7c15;
        Backoff {
            step: Self::FIRST,
            seed: seed | 1,
        }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(30);

    pub(crate) fn next(&mut self) -> Duration {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let step = self.step;
        self.step = (self.step * 2).min(Self::MAX);
        let half = step / 2;
        half + Duration::from_nanos(self.seed % (half.as_nanos() as u64 + 1))
    }

    pub(crate) fn reset(&mut self) {
        self.step = Self::FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_resets() {
        let mut b = Backoff::default();
        let first = b.next();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let pauses: Vec<Duration> = (0..12).map(|_| b.next()).collect();
        assert!(pauses.iter().all(|p| *p <= Backoff::MAX));
        assert!(*pauses.last().unwrap() >= Backoff::MAX / 2);
        b.reset();
        assert!(b.next() <= Duration::from_millis(100));
    }
}
