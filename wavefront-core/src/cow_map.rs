//! A lock-free map for values that are added rarely and read often: the
//! registry's series and the per-route handle caches.
//!
//! Shards of immutable tables behind crossbeam-epoch pointers. A lookup pins
//! the epoch and searches one table (no lock, no allocation). An insert
//! copies the shard's table with the new value and swaps it in with a
//! compare-and-swap; if another thread swapped first it looks again before
//! retrying, so one key never gets two values. Replaced tables are freed once
//! no reader can see them. Values are never removed.
//!
//! Keys are not stored: callers give a 64-bit hash and an equality test on
//! the value, so lookups work on borrowed data.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_epoch::{self as epoch, Atomic, Owned};

use crate::metric::Padded;

const SHARDS: usize = 32;

/// One shard's values, sorted by hash.
type Table<V> = Vec<(u64, Arc<V>)>;

pub(crate) struct CowMap<V> {
    shards: Box<[Padded<Atomic<Table<V>>>]>,
    len: AtomicUsize,
    /// The value found first, found again without an epoch pin (a memory
    /// fence) or a search: the only one of many maps (a route's handlers, a
    /// handler's statuses), the most used of others.
    first: OnceLock<(u64, Arc<V>)>,
}

/// The hash of a key made of `parts`, for [`CowMap`]: eight bytes a step
/// (mixed as [`AddressHasher`] mixes words), each part ended by its length,
/// the high bits folded into the low ones that pick the shard.
pub(crate) fn hash_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    use std::hash::Hasher;
    let mut h = AddressHasher::default();
    for part in parts {
        let mut chunks = part.as_bytes().chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h.write_u64(u64::from_le_bytes(word));
        }
        let mut word = [0u8; 8];
        word[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h.write_u64(u64::from_le_bytes(word));
        h.write_u64(part.len() as u64);
    }
    let h = h.finish();
    h ^ (h >> 32)
}

/// Hashes words that need no protection from collisions (addresses and
/// lengths of texts) with one multiply each (FxHash's mix), for the maps
/// that find texts by address while encoding a batch of spans.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl std::hash::BuildHasher for AddressHasher {
    type Hasher = AddressHasher;

    fn build_hasher(&self) -> AddressHasher {
        AddressHasher(0)
    }
}

/// Why [`CowMap::get_or_insert`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

impl<V> CowMap<V> {
    pub(crate) fn new() -> Self {
        CowMap {
            shards: (0..SHARDS)
                .map(|_| Padded(Atomic::new(Vec::new())))
                .collect(),
            len: AtomicUsize::new(0),
            first: OnceLock::new(),
        }
    }

    fn shard(&self, hash: u64) -> &Atomic<Table<V>> {
        &self.shards[(hash as usize) % SHARDS].0
    }

    fn find(table: &Table<V>, hash: u64, eq: &impl Fn(&V) -> bool) -> Option<Arc<V>> {
        let start = table.partition_point(|(h, _)| *h < hash);
        table[start..]
            .iter()
            .take_while(|(h, _)| *h == hash)
            .find(|(_, v)| eq(v))
            .map(|(_, v)| Arc::clone(v))
    }

    /// The value with `hash` for which `eq` holds.
    #[cfg(test)]
    pub(crate) fn get(&self, hash: u64, eq: impl Fn(&V) -> bool) -> Option<Arc<V>> {
        let guard = epoch::pin();
        // SAFETY: tables are freed only through `defer_destroy` after being
        // swapped out, so a table loaded under `guard` lives until it drops.
        let table = unsafe { self.shard(hash).load(Ordering::Acquire, &guard).as_ref() }?;
        Self::find(table, hash, &eq)
    }

    /// The existing value, or a new one from `make` if there are fewer than
    /// `max` values.
    pub(crate) fn get_or_insert(
        &self,
        hash: u64,
        eq: impl Fn(&V) -> bool,
        make: impl FnOnce() -> V,
        max: usize,
    ) -> Result<Arc<V>, Full> {
        if let Some(first) = self.first(hash, &eq) {
            return Ok(Arc::clone(first));
        }
        let found = self.find_or_insert(hash, eq, make, max);
        if let Ok(value) = &found {
            let _ = self.first.set((hash, Arc::clone(value)));
        }
        found
    }

    /// [`get_or_insert`](Self::get_or_insert), lending the value to `f`:
    /// the first value without its reference count touched (an atomic
    /// operation every thread would do on the same cache line).
    pub(crate) fn with<R>(
        &self,
        hash: u64,
        eq: impl Fn(&V) -> bool,
        make: impl FnOnce() -> V,
        max: usize,
        f: impl FnOnce(&V) -> R,
    ) -> Result<R, Full> {
        match self.first(hash, &eq) {
            Some(first) => Ok(f(first)),
            None => self
                .get_or_insert(hash, eq, make, max)
                .map(|value| f(&value)),
        }
    }

    /// The value found first, if it is the one with `hash` for which `eq`
    /// holds.
    fn first(&self, hash: u64, eq: &impl Fn(&V) -> bool) -> Option<&Arc<V>> {
        self.first
            .get()
            .filter(|(first_hash, first)| *first_hash == hash && eq(first))
            .map(|(_, first)| first)
    }

    fn find_or_insert(
        &self,
        hash: u64,
        eq: impl Fn(&V) -> bool,
        make: impl FnOnce() -> V,
        max: usize,
    ) -> Result<Arc<V>, Full> {
        let shard = self.shard(hash);
        let guard = epoch::pin();
        let mut make = Some(make);
        let mut fresh: Option<Arc<V>> = None;
        loop {
            let current = shard.load(Ordering::Acquire, &guard);
            // SAFETY: as in `get`.
            let Some(table) = (unsafe { current.as_ref() }) else {
                return Err(Full);
            };
            if let Some(found) = Self::find(table, hash, &eq) {
                return Ok(found);
            }
            if self.len.load(Ordering::Relaxed) >= max {
                return Err(Full);
            }
            let value = match (&fresh, make.take()) {
                (Some(value), _) => Arc::clone(value),
                (None, Some(make)) => Arc::clone(fresh.insert(Arc::new(make()))),
                (None, None) => return Err(Full), // unreachable: `make` goes with the first value
            };
            let at = table.partition_point(|(h, _)| *h <= hash);
            let mut next = Vec::with_capacity(table.len() + 1);
            next.extend(table[..at].iter().map(|(h, v)| (*h, Arc::clone(v))));
            next.push((hash, Arc::clone(&value)));
            next.extend(table[at..].iter().map(|(h, v)| (*h, Arc::clone(v))));
            if shard
                .compare_exchange(
                    current,
                    Owned::new(next),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                    &guard,
                )
                .is_ok()
            {
                self.len.fetch_add(1, Ordering::Relaxed);
                // SAFETY: `current` is no longer reachable from the shard;
                // readers that loaded it are pinned and keep it alive until
                // they unpin.
                unsafe { guard.defer_destroy(current) };
                return Ok(value);
            }
        }
    }

    /// Every value, as a snapshot.
    pub(crate) fn values(&self) -> Vec<Arc<V>> {
        let guard = epoch::pin();
        let mut all = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            // SAFETY: as in `get`.
            if let Some(table) = unsafe { shard.0.load(Ordering::Acquire, &guard).as_ref() } {
                all.extend(table.iter().map(|(_, v)| Arc::clone(v)));
            }
        }
        all
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

impl<V> Drop for CowMap<V> {
    fn drop(&mut self) {
        for shard in self.shards.iter() {
            // SAFETY: `&mut self`: nothing else can reach the tables.
            unsafe {
                let table = shard.0.load(Ordering::Relaxed, epoch::unprotected());
                if !table.is_null() {
                    drop(table.into_owned());
                }
            }
        }
    }
}

impl<V> std::fmt::Debug for CowMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CowMap").field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn one_value_per_key_under_contention() {
        let map: CowMap<(u64, u64)> = CowMap::new();
        thread::scope(|s| {
            for t in 0..8u64 {
                let map = &map;
                s.spawn(move || {
                    for k in 0..500u64 {
                        // Colliding hashes on purpose: equality decides.
                        let v = map
                            .get_or_insert(k % 7, |v| v.0 == k, || (k, t), usize::MAX)
                            .unwrap();
                        assert_eq!(v.0, k);
                    }
                });
            }
        });
        assert_eq!(map.len(), 500);
        assert_eq!(map.values().len(), 500);
        assert!(map.get(3, |v| v.0 == 10).is_some());
        assert!(map.get(3, |v| v.0 == 11).is_none());
    }

    #[test]
    fn refuses_past_the_limit() {
        let map: CowMap<u64> = CowMap::new();
        assert!(map.get_or_insert(1, |v| *v == 1, || 1, 2).is_ok());
        assert!(map.get_or_insert(2, |v| *v == 2, || 2, 2).is_ok());
        assert_eq!(map.get_or_insert(3, |v| *v == 3, || 3, 2), Err(Full));
        assert!(
            map.get_or_insert(1, |v| *v == 1, || 1, 2).is_ok(),
            "existing keys are still found"
        );
    }
}
