//! The bounded queue of one kind: lock-free, sized in lines and in bytes,
//! memory taken only for what is queued.

use std::sync::atomic::Ordering;

use crossbeam_queue::SegQueue;

use super::{KindStats, LineBatch};

/// What a queue holds: a batch of items (lines, or an exporter's records)
/// that can be counted, measured, split and merged.
pub(crate) trait Batch: Default + Send + 'static {
    /// Number of items.
    fn len(&self) -> usize;
    /// Bytes it takes, as counted against the queue's budget.
    fn bytes(&self) -> usize;
    /// How many items at the front fit in `bytes`.
    fn len_within(&self, bytes: usize) -> usize;
    /// Removes and returns the first `n` items.
    fn split_front(&mut self, n: usize) -> Self;
    /// Appends another batch.
    fn append(&mut self, other: Self);

    /// Whether there is no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Keeps the first `n` items, returns the rest.
    fn split_off_after(&mut self, n: usize) -> Self {
        let head = self.split_front(n);
        std::mem::replace(self, head)
    }
}

impl Batch for LineBatch {
    fn len(&self) -> usize {
        self.lines()
    }
    fn bytes(&self) -> usize {
        self.text().len()
    }
    fn len_within(&self, bytes: usize) -> usize {
        lines_within(self.text(), bytes)
    }
    fn split_front(&mut self, n: usize) -> Self {
        self.split_lines(n)
    }
    fn append(&mut self, other: Self) {
        LineBatch::append(self, other);
    }
}

/// Most bytes each kind's queue holds (about 50,000 lines of 1 KB): lines are
/// capped in count and in bytes, as a client can make lines long (a span's
/// URL, a span log's message).
pub const DEFAULT_QUEUE_BYTES: usize = 48 * 1024 * 1024;

#[derive(Debug)]
pub(crate) struct BatchQueue<B = LineBatch> {
    batches: SegQueue<B>,
    max_bytes: usize,
}

impl<B: Batch> Default for BatchQueue<B> {
    fn default() -> Self {
        BatchQueue::with_max_bytes(DEFAULT_QUEUE_BYTES)
    }
}

impl<B: Batch> BatchQueue<B> {
    pub(crate) fn with_max_bytes(max_bytes: usize) -> Self {
        BatchQueue {
            batches: SegQueue::new(),
            max_bytes,
        }
    }

    /// Queues as many whole lines of `batch` as fit in lines and in bytes;
    /// the rest is dropped and counted. Never blocks. (Concurrent pushes may
    /// pass the byte budget by a batch each; the line cap is exact.)
    pub(crate) fn push(&self, mut batch: B, stats: &KindStats) {
        let room = self
            .max_bytes
            .saturating_sub(stats.queued_bytes_counter().load(Ordering::Relaxed));
        if batch.bytes() > room {
            let fitting = batch.len_within(room);
            let over = batch.len() - fitting;
            batch = batch.split_front(fitting);
            stats.add_dropped(over as u64);
        }
        let queued = stats.queued();
        let mut current = queued.load(Ordering::Relaxed);
        let take = loop {
            let take = batch.len().min(stats.capacity().saturating_sub(current));
            match queued.compare_exchange_weak(
                current,
                current + take,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break take,
                Err(actual) => current = actual,
            }
        };
        let dropped = batch.len() - take;
        if dropped > 0 {
            stats.add_dropped(dropped as u64);
            batch = batch.split_front(take);
        }
        if !batch.is_empty() {
            stats
                .queued_bytes_counter()
                .fetch_add(batch.bytes(), Ordering::AcqRel);
            self.batches.push(batch);
        }
    }

    /// Takes the oldest batch. Its lines still count as queued until the
    /// sender calls [`BatchQueue::done`] (delivered or dropped), so a batch
    /// being retried keeps its place in the capacity.
    pub(crate) fn pop(&self) -> Option<B> {
        self.batches.pop()
    }

    /// Takes batches up to `max_lines` in total (a larger first batch is
    /// split), merged into one.
    pub(crate) fn pop_up_to(&self, max_lines: usize) -> Option<B> {
        let mut merged = self.pop()?;
        if merged.len() > max_lines {
            let rest = merged.split_off_after(max_lines);
            self.requeue_front(rest);
            return Some(merged);
        }
        while merged.len() < max_lines {
            let Some(mut next) = self.pop() else { break };
            if merged.len() + next.len() > max_lines {
                let head = next.split_front(max_lines - merged.len());
                merged.append(head);
                self.requeue_front(next);
                break;
            }
            merged.append(next);
        }
        Some(merged)
    }

    /// SegQueue has no push-front; a split remainder goes to the back, so
    /// lines of one kind may be reordered when a batch exceeds the request
    /// size. Wavefront does not depend on line order.
    fn requeue_front(&self, batch: B) {
        self.batches.push(batch);
    }

    /// A batch handled (delivered or dropped): frees its room.
    pub(crate) fn done(&self, batch: &B, stats: &KindStats) {
        stats.queued().fetch_sub(batch.len(), Ordering::AcqRel);
        stats
            .queued_bytes_counter()
            .fetch_sub(batch.bytes(), Ordering::AcqRel);
    }
}

/// How many whole lines at the start of `text` fit in `bytes`.
fn lines_within(text: &str, bytes: usize) -> usize {
    text.as_bytes()[..bytes.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::DataKind;
    use crate::sender::SenderStats;

    fn batch(n: usize) -> LineBatch {
        let mut b = LineBatch::new();
        for i in 0..n {
            b.push_line(&format!("m {i} source=h"));
        }
        b
    }

    #[test]
    fn overflow_is_dropped_exactly() {
        let stats = SenderStats::new("test", 10);
        let kind = stats.kind(DataKind::Points);
        let q = BatchQueue::default();
        q.push(batch(4), kind);
        q.push(batch(4), kind);
        q.push(batch(4), kind); // only 2 fit
        assert_eq!((kind.queue_size(), kind.dropped()), (10, 2));
        let all = q.pop_up_to(100).unwrap();
        assert_eq!(all.lines(), 10);
        assert!(all.text().ends_with("m 1 source=h\n"));
        q.done(&all, kind);
        assert_eq!(kind.remaining_capacity(), 10);
    }

    #[test]
    fn bytes_are_capped_too() {
        let stats = SenderStats::new("test", 1_000);
        let kind = stats.kind(DataKind::Points);
        let q = BatchQueue::with_max_bytes(100);
        let b = batch(20); // "m i source=h\n": 13 or 14 bytes a line
        let bytes = b.text().len();
        q.push(b, kind);
        assert!(kind.queued_bytes() <= 100, "{}", kind.queued_bytes());
        assert_eq!(kind.queue_size() as u64 + kind.dropped(), 20);
        assert!(kind.dropped() > 0 && bytes > 100);
        let all = q.pop_up_to(100).unwrap();
        q.done(&all, kind);
        assert_eq!((kind.queue_size(), kind.queued_bytes()), (0, 0));
    }

    #[test]
    fn pop_up_to_splits_large_batches() {
        let stats = SenderStats::new("test", 100);
        let kind = stats.kind(DataKind::Points);
        let q = BatchQueue::default();
        q.push(batch(7), kind);
        q.push(batch(5), kind);
        assert_eq!(q.pop_up_to(5).unwrap().lines(), 5);
        assert_eq!(q.pop_up_to(5).unwrap().lines(), 5);
        assert_eq!(q.pop_up_to(5).unwrap().lines(), 2);
        assert!(q.pop_up_to(5).is_none());
    }
}
