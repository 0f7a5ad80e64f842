//! Counters every sender keeps, reported as the SDK's diagnostic metrics
//! `~sdk.rust.core.sender.<transport>.<kind>.…`.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::DataKind;

/// HTTP statuses remembered per kind (a sender sees only a handful).
const STATUS_SLOTS: usize = 16;

/// Counters of one [`DataKind`].
#[derive(Debug)]
pub struct KindStats {
    valid: AtomicU64,
    invalid: AtomicU64,
    dropped: AtomicU64,
    report_errors: AtomicU64,
    queued: AtomicUsize,
    capacity: usize,
    queued_bytes: AtomicUsize,
    statuses: [(AtomicU32, AtomicU64); STATUS_SLOTS],
}

impl KindStats {
    fn new(capacity: usize) -> Self {
        KindStats {
            valid: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            report_errors: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            capacity,
            queued_bytes: AtomicUsize::new(0),
            statuses: std::array::from_fn(|_| (AtomicU32::new(0), AtomicU64::new(0))),
        }
    }

    /// Lines delivered.
    #[must_use]
    pub fn valid(&self) -> u64 {
        self.valid.load(Ordering::Relaxed)
    }

    /// Lines that could not be encoded (counted by the reporter).
    #[must_use]
    pub fn invalid(&self) -> u64 {
        self.invalid.load(Ordering::Relaxed)
    }

    /// Lines dropped: queue full, data refused (401/403), or left at shutdown.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Failed delivery attempts (connection errors, timeouts, 5xx).
    #[must_use]
    pub fn report_errors(&self) -> u64 {
        self.report_errors.load(Ordering::Relaxed)
    }

    /// Lines waiting in the queue (including a batch being retried).
    #[must_use]
    pub fn queue_size(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Room left in the queue, in lines.
    #[must_use]
    pub fn remaining_capacity(&self) -> usize {
        self.capacity.saturating_sub(self.queue_size())
    }

    /// `(status, responses)` for every HTTP status seen (direct ingestion).
    #[must_use]
    pub fn statuses(&self) -> Vec<(u16, u64)> {
        self.statuses
            .iter()
            .filter_map(|(code, n)| {
                let code = code.load(Ordering::Acquire);
                (code != 0).then(|| (code as u16, n.load(Ordering::Relaxed)))
            })
            .collect()
    }

    /// Counts lines that could not be encoded.
    pub fn add_invalid(&self, lines: u64) {
        self.invalid.fetch_add(lines, Ordering::Relaxed);
    }

    pub(crate) fn add_valid(&self, lines: u64) {
        self.valid.fetch_add(lines, Ordering::Relaxed);
    }

    pub(crate) fn add_dropped(&self, lines: u64) {
        self.dropped.fetch_add(lines, Ordering::Relaxed);
    }

    pub(crate) fn add_report_error(&self) {
        self.report_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn queued(&self) -> &AtomicUsize {
        &self.queued
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of the lines waiting in the queue.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn queued_bytes_counter(&self) -> &AtomicUsize {
        &self.queued_bytes
    }

    /// Counts one HTTP response with `status`.
    #[cfg_attr(not(feature = "direct"), allow(dead_code))]
    pub(crate) fn add_status(&self, status: u16) {
        let wanted = u32::from(status);
        for (code, n) in &self.statuses {
            let slot = code.compare_exchange(0, wanted, Ordering::AcqRel, Ordering::Acquire);
            if slot.is_ok() || slot == Err(wanted) {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// The counters of a sender, per [`DataKind`].
#[derive(Debug)]
pub struct SenderStats {
    transport: &'static str,
    kinds: [KindStats; 4],
    panics: AtomicU64,
}

impl SenderStats {
    pub(crate) fn new(transport: &'static str, capacity: usize) -> Self {
        SenderStats {
            transport,
            kinds: std::array::from_fn(|_| KindStats::new(capacity)),
            panics: AtomicU64::new(0),
        }
    }

    /// Panics caught on the sender's delivery threads (each batch it hit is
    /// dropped and counted; the thread goes on).
    #[must_use]
    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Counts a panic; returns how many there were before.
    pub(crate) fn add_panic(&self) -> u64 {
        self.panics.fetch_add(1, Ordering::Relaxed)
    }

    /// The transport's name in diagnostic metrics: `proxy`, `direct`, `console`.
    #[must_use]
    pub fn transport(&self) -> &'static str {
        self.transport
    }

    /// The counters of `kind`.
    #[must_use]
    pub fn kind(&self, kind: DataKind) -> &KindStats {
        &self.kinds[kind.index()]
    }

    /// Lines delivered, all kinds.
    #[must_use]
    pub fn total_valid(&self) -> u64 {
        self.kinds.iter().map(KindStats::valid).sum()
    }

    /// Lines dropped, all kinds.
    #[must_use]
    pub fn total_dropped(&self) -> u64 {
        self.kinds.iter().map(KindStats::dropped).sum()
    }
}
