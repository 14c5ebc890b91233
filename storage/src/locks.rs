//! In-memory coordination between requests on the same key or version.
//!
//! * [`LockTable`]: one writer per key at a time. Held only for the duration
//!   of a write request and released on drop, so a cut-off upload releases
//!   its key. Others are refused at once rather than queued (the policy is
//!   "conflicting writes are refused, never silently clobbered").
//! * [`Readers`]: which versions downloads are streaming, so the purger never
//!   removes data under an active reader; it waits and retries instead.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

/// Keys with a write in progress.
#[derive(Debug, Default)]
pub struct LockTable {
    writing: Mutex<HashSet<Vec<u8>>>,
}

/// Exclusive right to write one key; released on drop.
#[derive(Debug)]
pub struct WriteLock {
    table: Arc<LockTable>,
    key: Vec<u8>,
}

impl WriteLock {
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        self.table.writing.lock().remove(&self.key);
    }
}

impl LockTable {
    /// Takes the write lock of `key`, or `None` if another write holds it.
    pub(crate) fn try_lock(self: &Arc<Self>, key: Vec<u8>) -> Option<WriteLock> {
        let mut writing = self.writing.lock();
        if !writing.insert(key.clone()) {
            return None;
        }
        Some(WriteLock {
            table: Arc::clone(self),
            key,
        })
    }

    /// Whether a write of `key` is in progress.
    pub(crate) fn is_locked(&self, key: &[u8]) -> bool {
        self.writing.lock().contains(key)
    }
}

#[derive(Debug, Default)]
struct ReaderState {
    active: HashMap<u64, usize>,
    purging: HashSet<u64>,
}

/// Versions being read, and versions being purged.
#[derive(Debug, Default)]
pub struct Readers {
    state: Mutex<ReaderState>,
}

/// Marks a version as being read; released on drop.
#[derive(Debug)]
pub struct ReadGuard {
    readers: Arc<Readers>,
    seq: u64,
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        let mut s = self.readers.state.lock();
        if let Some(n) = s.active.get_mut(&self.seq) {
            *n -= 1;
            if *n == 0 {
                s.active.remove(&self.seq);
            }
        }
    }
}

impl Readers {
    /// Registers a reader of version `seq`; `None` if its purge has begun.
    pub(crate) fn register(self: &Arc<Self>, seq: u64) -> Option<ReadGuard> {
        let mut s = self.state.lock();
        if s.purging.contains(&seq) {
            return None;
        }
        *s.active.entry(seq).or_insert(0) += 1;
        Some(ReadGuard {
            readers: Arc::clone(self),
            seq,
        })
    }

    /// Starts purging `seq`; `false` while a reader holds it.
    pub(crate) fn begin_purge(&self, seq: u64) -> bool {
        let mut s = self.state.lock();
        if s.active.contains_key(&seq) {
            return false;
        }
        s.purging.insert(seq);
        true
    }

    /// Ends the purge of `seq`.
    pub(crate) fn end_purge(&self, seq: u64) {
        self.state.lock().purging.remove(&seq);
    }

    /// Number of versions with active readers (for metrics and tests).
    #[cfg(test)]
    pub fn active_versions(&self) -> usize {
        self.state.lock().active.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_per_key() {
        let t = Arc::new(LockTable::default());
        let a = t.try_lock(b"k".to_vec()).unwrap();
        assert!(t.try_lock(b"k".to_vec()).is_none());
        assert!(t.try_lock(b"j".to_vec()).is_some());
        assert!(t.is_locked(b"k"));
        drop(a);
        assert!(!t.is_locked(b"k"));
        assert!(t.try_lock(b"k".to_vec()).is_some());
    }

    #[test]
    fn purge_waits_for_readers() {
        let r = Arc::new(Readers::default());
        let g1 = r.register(5).unwrap();
        let g2 = r.register(5).unwrap();
        assert!(!r.begin_purge(5));
        drop(g1);
        assert!(!r.begin_purge(5));
        drop(g2);
        assert!(r.begin_purge(5));
        assert!(
            r.register(5).is_none(),
            "no new reader once the purge began"
        );
        r.end_purge(5);
        assert_eq!(r.active_versions(), 0);
    }
}
