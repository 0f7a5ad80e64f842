//! The delivery thread every queued sender runs, and what senders share:
//! queues, stats, wake-ups, flush and shutdown.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use super::queue::{Batch, BatchQueue};
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
    /// The first `delivered` lines left the queue; retry the rest after a
    /// pause. The last `in_flight` of them are not delivered yet (a line cut
    /// by a partial write): the transport counts them, delivered or dropped,
    /// when their fate is known.
    Retry { delivered: usize, in_flight: usize },
    /// The batch cannot be delivered now or later: drop it.
    Refused,
}

/// How long an I/O call may block: `limit`, cut to the time left before
/// `deadline` (a flush's or shutdown's); `None` once it has passed.
pub(crate) fn time_left(limit: Duration, deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(limit),
        Some(deadline) => {
            let left = deadline.checked_duration_since(Instant::now())?;
            (!left.is_zero()).then(|| left.min(limit))
        }
    }
}

/// How long before a flush's deadline a kind waiting out a backoff gets one
/// more try, so a proxy back from a blip still gets the final report.
const LAST_TRY_BEFORE_DEADLINE: Duration = Duration::from_millis(250);

/// The longest pause between tries while a kind's queue is more than half
/// full, whatever the backoff has grown to.
const EXPEDITED_RETRY: Duration = Duration::from_millis(250);

/// A transport, driven by the worker thread.
pub(crate) trait Transport<B: Batch = LineBatch>: Send + 'static {
    /// Largest batch handed to `deliver`, in lines.
    fn max_batch(&self) -> usize {
        10_000
    }
    /// Whether queued batches are merged up to [`max_batch`](Self::max_batch)
    /// lines for one delivery (one request each); a stream takes them as
    /// they are, without the copy.
    fn merges_batches(&self) -> bool {
        true
    }
    /// Whether `kind` is still accepted (direct ingestion stops a kind after
    /// 401/403).
    fn accepts(&self, _kind: DataKind) -> bool {
        true
    }
    /// Delivers one batch; no I/O may outlast `deadline` (a flush's or
    /// shutdown's), when there is one.
    fn deliver(
        &mut self,
        kind: DataKind,
        batch: &B,
        stats: &SenderStats,
        deadline: Option<Instant>,
    ) -> Delivery;
    /// How long to wait after a failure of `kind` (grows until a success).
    fn backoff(&mut self, kind: DataKind) -> Duration;
    /// Whether the last pause [`backoff`](Self::backoff) gave was asked
    /// for by the destination (`Retry-After`): then it is kept even when
    /// the queue fills, instead of retrying sooner.
    fn pause_was_asked(&self, _kind: DataKind) -> bool {
        false
    }
    /// Called after a delivery of `kind` succeeds.
    fn recovered(&mut self, kind: DataKind);
    /// Called when the worker stops: lines still in flight are dropped.
    fn close(&mut self, _stats: &SenderStats) {}
}

/// The part of a sender that callers and the worker share.
#[derive(Debug)]
pub(crate) struct Shared<B: Batch = LineBatch> {
    pub(crate) queues: [BatchQueue<B>; 4],
    pub(crate) stats: SenderStats,
    stopping: AtomicBool,
    /// Set by `shutdown` when its flush ran out of time: the worker then
    /// drops what is left instead of trying to deliver it.
    gave_up: AtomicBool,
    /// Set when the workers have exited (or none could start).
    stopped: AtomicBool,
    /// The deadline of a flush or shutdown under way: I/O must end by then,
    /// and kinds waiting out a backoff get one more try just before it.
    deadline: Mutex<Option<Instant>>,
    /// Workers still running.
    running: AtomicUsize,
    /// The workers and the kinds each serves, to wake them without a lock.
    threads: OnceLock<Box<[WorkerThread]>>,
    /// Joined at shutdown.
    handles: Mutex<Vec<JoinHandle<()>>>,
}

/// A delivery thread and the kinds it delivers.
#[derive(Debug)]
struct WorkerThread {
    thread: Thread,
    kinds: Vec<DataKind>,
}

impl<B: Batch> Shared<B> {
    pub(crate) fn new(transport: &'static str, capacity: usize) -> Arc<Self> {
        Arc::new(Shared {
            queues: Default::default(),
            stats: SenderStats::new(transport, capacity),
            stopping: AtomicBool::new(false),
            gave_up: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            deadline: Mutex::new(None),
            running: AtomicUsize::new(0),
            threads: OnceLock::new(),
            handles: Mutex::new(Vec::new()),
        })
    }

    /// Starts one delivery thread per transport, each serving its kinds, so
    /// that a stalled destination holds up only its own data.
    pub(crate) fn spawn<T: Transport<B>>(
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
            let served = kinds.clone();
            let spawned = thread::Builder::new()
                .name(name.into())
                .spawn(move || run(&shared, transport, &kinds, interval));
            match spawned {
                Ok(handle) => {
                    threads.push(WorkerThread {
                        thread: handle.thread().clone(),
                        kinds: served,
                    });
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

    /// Wakes every worker (a flush, a shutdown).
    fn wake(&self) {
        for worker in self.threads.get().into_iter().flatten() {
            worker.thread.unpark();
        }
    }

    /// Wakes the worker that delivers `kind`, and no other: on a busy
    /// single core each wake-up is a context switch.
    fn wake_for(&self, kind: DataKind) {
        for worker in self.threads.get().into_iter().flatten() {
            if worker.kinds.contains(&kind) {
                worker.thread.unpark();
            }
        }
    }

    pub(crate) fn send(&self, kind: DataKind, batch: B) {
        let stats = self.stats.kind(kind);
        if self.stopping.load(Ordering::SeqCst) || self.stopped.load(Ordering::SeqCst) {
            stats.add_dropped(batch.len() as u64);
            return;
        }
        self.queues[kind.index()].push(batch, stats);
        // Shutdown may have drained the queues between the check above and
        // the push: what this call queued is then dropped and counted here.
        if self.stopped.load(Ordering::SeqCst) {
            self.drop_backlog();
        }
        self.wake_for(kind);
    }

    fn backlog(&self) -> usize {
        DataKind::ALL
            .iter()
            .map(|&k| self.stats.kind(k).queue_size())
            .sum()
    }

    fn set_deadline(&self, deadline: Option<Instant>) {
        if let Ok(mut slot) = self.deadline.lock() {
            *slot = deadline;
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.lock().ok().and_then(|d| *d)
    }

    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.set_deadline(Some(deadline));
        let flushed = self.flush_until(deadline);
        self.set_deadline(None);
        flushed
    }

    fn flush_until(&self, deadline: Instant) -> bool {
        self.wake();
        while self.backlog() > 0 {
            if Instant::now() >= deadline || self.stopped.load(Ordering::Acquire) {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Flushes until `timeout`, stops the workers and drops what is left.
    /// Returns by the deadline (plus a few milliseconds): every batch and
    /// write is bounded by it, and a worker still blocked in a system call
    /// then is left to finish on its own.
    pub(crate) fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let deadline = Instant::now() + timeout;
        self.set_deadline(Some(deadline));
        if !self.flush_until(deadline) {
            // Out of time: the workers must not try each kind once more.
            self.gave_up.store(true, Ordering::Release);
        }
        self.stopping.store(true, Ordering::SeqCst);
        self.wake();
        // A worker sees `stopping`, drops what is left and exits promptly.
        let exit_by = deadline.max(Instant::now()) + Duration::from_millis(50);
        while !self.stopped.load(Ordering::Acquire) && Instant::now() < exit_by {
            thread::sleep(Duration::from_millis(1));
        }
        let handles = self
            .handles
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        for handle in handles {
            if handle.is_finished() {
                let _ = handle.join();
            }
            // Else it is blocked in a system call past every timeout: it is
            // detached, and counts its batch when the call returns.
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
                stats.add_dropped(batch.len() as u64);
                queue.done(&batch, stats);
            }
        }
    }
}

/// The delivery loop of one worker: each of its kinds in turn, one batch at
/// a time, with a pause per kind after a failure; wakes on new data or every
/// `interval`. A panic in a transport is caught, counted and logged once; its
/// batch is dropped and counted, and the loop goes on.
fn run<B: Batch>(
    shared: &Shared<B>,
    mut transport: impl Transport<B>,
    kinds: &[DataKind],
    interval: Duration,
) {
    let mut pending: [Option<B>; 4] = Default::default();
    let mut resume_at: [Option<Instant>; 4] = [None; 4];
    loop {
        let stopping = shared.stopping.load(Ordering::SeqCst);
        let deadline = shared.deadline();
        let mut next_wake = interval;
        for &kind in kinds {
            if shared.gave_up.load(Ordering::Acquire) {
                // Shutdown is out of time (checked before each kind, since
                // each may block until the deadline): deliver nothing more;
                // `pending` is dropped below, the queues by `shutdown`.
                break;
            }
            let i = kind.index();
            if let Some(at) = resume_at[i] {
                // A flush under way: one more try just before its deadline.
                let at = match deadline.and_then(|d| d.checked_sub(LAST_TRY_BEFORE_DEADLINE)) {
                    Some(last_try) => at.min(last_try),
                    None => at,
                };
                let now = Instant::now();
                if now < at && !stopping {
                    next_wake = next_wake.min(at - now);
                    continue;
                }
                resume_at[i] = None;
            }
            if let Some(pause) = deliver_kind(
                shared,
                &mut transport,
                kind,
                &mut pending[i],
                stopping,
                deadline,
            ) {
                // A queue more than half full cannot wait out a long backoff
                // without overflowing: retry soon while it is, unless the
                // destination itself asked for the pause.
                let stats = shared.stats.kind(kind);
                let pause = if stats.queue_size() * 2 > stats.capacity()
                    && !transport.pause_was_asked(kind)
                {
                    pause.min(EXPEDITED_RETRY)
                } else {
                    pause
                };
                resume_at[i] = Some(Instant::now() + pause);
                next_wake = next_wake.min(pause);
            }
        }
        if stopping {
            for (i, batch) in pending.iter_mut().enumerate() {
                if let Some(batch) = batch.take() {
                    let stats = shared.stats.kind(DataKind::ALL[i]);
                    stats.add_dropped(batch.len() as u64);
                    shared.queues[i].done(&batch, stats);
                }
            }
            transport.close(&shared.stats);
            if shared.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                shared.stopped.store(true, Ordering::SeqCst);
            }
            return;
        }
        // A transport that parks this thread itself (reqwest's blocking
        // client does) may have taken the wake-up `shutdown` gave: look again
        // before sleeping.
        if shared.stopping.load(Ordering::SeqCst) {
            continue;
        }
        thread::park_timeout(next_wake);
    }
}

/// Delivers `kind`'s pending batch, then its queue, until it is empty or a
/// delivery fails; returns the pause before the next try after a failure.
fn deliver_kind<B: Batch>(
    shared: &Shared<B>,
    transport: &mut impl Transport<B>,
    kind: DataKind,
    pending: &mut Option<B>,
    stopping: bool,
    deadline: Option<Instant>,
) -> Option<Duration> {
    let queue = &shared.queues[kind.index()];
    let stats = shared.stats.kind(kind);
    let next = |transport: &mut _| {
        if Transport::<B>::merges_batches(transport) {
            queue.pop_up_to(Transport::<B>::max_batch(transport))
        } else {
            queue.pop()
        }
    };
    while let Some(batch) = pending.take().or_else(|| next(transport)) {
        if !transport.accepts(kind) {
            stats.add_dropped(batch.len() as u64);
            queue.done(&batch, stats);
            continue;
        }
        let delivery = catch_unwind(AssertUnwindSafe(|| {
            transport.deliver(kind, &batch, &shared.stats, deadline)
        }));
        match delivery {
            Ok(Delivery::Done) => {
                stats.add_valid(batch.len() as u64);
                queue.done(&batch, stats);
                transport.recovered(kind);
            }
            Ok(Delivery::Refused) => {
                stats.add_dropped(batch.len() as u64);
                queue.done(&batch, stats);
            }
            Ok(Delivery::Retry {
                delivered,
                in_flight,
            }) => {
                let mut rest = batch;
                let sent = rest.split_front(delivered);
                stats.add_valid(sent.len().saturating_sub(in_flight) as u64);
                queue.done(&sent, stats);
                stats.add_report_error();
                if stopping {
                    // No more retries once stopping: count what is left.
                    stats.add_dropped(rest.len() as u64);
                    queue.done(&rest, stats);
                    return None;
                }
                *pending = Some(rest);
                return Some(transport.backoff(kind));
            }
            Err(panic) => {
                if shared.stats.add_panic() == 0 {
                    log::warn!(
                        "Wavefront {} sender: delivering {kind:?} panicked ({}); the batch is dropped and delivery goes on",
                        shared.stats.transport(),
                        crate::panics::panic_message(&*panic)
                    );
                }
                stats.add_dropped(batch.len() as u64);
                queue.done(&batch, stats);
                return Some(transport.backoff(kind));
            }
        }
    }
    None
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
        // Seeded from the OS (through std's hasher keys), so containers whose
        // app is PID 1 do not all retry in step.
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
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
