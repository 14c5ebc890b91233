//! In-memory coordination between requests on the same key or version.
//!
//! * [`LockTable`]: one writer per key at a time. Held only for the duration
//!   of a write request and released on drop, so a cut-off upload releases
//!   its key. Others are refused at once rather than queued (the policy is
//!   "conflicting writes are refused, never silently clobbered").
//! * [`Readers`]: which versions downloads are streaming, so the purger never
//!   removes data under an active reader; it waits and retries instead.
//!
//! On a shared metadata engine (etcd) both tables stay in front as the fast
//! path of this process, and each entry is also a record bound to the front
//! end's lease (`engine/leases.rs`), so the lock and the guard hold across
//! every front end sharing the engine. On the embedded engine there is no
//! such record: the tables below are all there is.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::engine::leases::{Coord, RemoteLock, RemoteRead};
use crate::error::{StorageError, StorageResult};

/// Keys with a write in progress.
#[derive(Default)]
pub struct LockTable {
    writing: Mutex<HashSet<Vec<u8>>>,
    /// The shared engine's lock records, when there is one.
    remote: Option<Coord>,
}

impl std::fmt::Debug for LockTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockTable").finish_non_exhaustive()
    }
}

/// Exclusive right to write one key; released on drop.
#[derive(Debug)]
pub struct WriteLock {
    /// The shared record: released in `drop` before the local entry, so a
    /// writer of this process that gets the local lock next finds it gone
    /// (and the record's release, retried, can only ever delete this lock's).
    remote: Option<RemoteLock>,
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
        drop(self.remote.take());
        self.table.writing.lock().remove(&self.key);
    }
}

impl LockTable {
    /// A table whose locks are also `remote`'s records when given.
    pub(crate) fn new(remote: Option<Coord>) -> LockTable {
        LockTable {
            writing: Mutex::default(),
            remote,
        }
    }

    /// Takes the write lock of `key`; [`StorageError::Conflict`] if another
    /// write holds it (of this process, or of any front end sharing the engine).
    pub(crate) fn try_lock(self: &Arc<Self>, key: Vec<u8>) -> StorageResult<WriteLock> {
        if !self.writing.lock().insert(key.clone()) {
            return Err(StorageError::Conflict);
        }
        let mut lock = WriteLock {
            remote: None,
            table: Arc::clone(self),
            key,
        };
        if let Some(remote) = &self.remote {
            // On failure `lock` drops, releasing the local entry.
            lock.remote = Some(remote.lock(&lock.key)?);
        }
        Ok(lock)
    }

    /// Whether a write of `key` is in progress.
    pub(crate) fn is_locked(&self, key: &[u8]) -> bool {
        self.writing.lock().contains(key) || self.remote.as_ref().is_some_and(|r| r.is_locked(key))
    }
}

#[derive(Debug, Default)]
struct ReaderState {
    active: HashMap<u64, usize>,
    purging: HashSet<u64>,
}

/// Versions being read, and versions being purged.
#[derive(Default)]
pub struct Readers {
    state: Mutex<ReaderState>,
    /// The shared engine's reader records, when there is one.
    remote: Option<Coord>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").finish_non_exhaustive()
    }
}

/// Marks a version as being read; released on drop.
#[derive(Debug)]
pub struct ReadGuard {
    readers: Arc<Readers>,
    seq: u64,
    _remote: Option<RemoteRead>,
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
    /// A table whose readers are also `remote`'s records when given.
    pub(crate) fn new(remote: Option<Coord>) -> Readers {
        Readers {
            state: Mutex::default(),
            remote,
        }
    }

    /// Registers a reader of version `seq`; `None` if its purge has begun
    /// here. On a shared engine the registration is also a record every
    /// front end's purger sees; the caller re-checks that the version still
    /// exists afterwards (a purger removes the row before it looks for
    /// readers, so one of the two always sees the other).
    pub(crate) fn register(self: &Arc<Self>, seq: u64) -> StorageResult<Option<ReadGuard>> {
        {
            let mut s = self.state.lock();
            if s.purging.contains(&seq) {
                return Ok(None);
            }
            *s.active.entry(seq).or_insert(0) += 1;
        }
        let mut guard = ReadGuard {
            readers: Arc::clone(self),
            seq,
            _remote: None,
        };
        if let Some(remote) = &self.remote {
            guard._remote = Some(remote.register_reader(seq)?);
        }
        Ok(Some(guard))
    }

    /// Whether a front end sharing the engine reads version `seq` (always
    /// `false` on the embedded engine: [`Readers::begin_purge`] saw them all).
    pub(crate) fn read_elsewhere(&self, seq: u64) -> StorageResult<bool> {
        match &self.remote {
            Some(remote) => remote.has_readers(seq),
            None => Ok(false),
        }
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
        assert!(matches!(
            t.try_lock(b"k".to_vec()),
            Err(StorageError::Conflict)
        ));
        assert!(t.try_lock(b"j".to_vec()).is_ok());
        assert!(t.is_locked(b"k"));
        drop(a);
        assert!(!t.is_locked(b"k"));
        assert!(t.try_lock(b"k".to_vec()).is_ok());
    }

    #[test]
    fn purge_waits_for_readers() {
        let r = Arc::new(Readers::default());
        let g1 = r.register(5).unwrap().unwrap();
        let g2 = r.register(5).unwrap().unwrap();
        assert!(!r.begin_purge(5));
        drop(g1);
        assert!(!r.begin_purge(5));
        drop(g2);
        assert!(r.begin_purge(5));
        assert!(
            r.register(5).unwrap().is_none(),
            "no new reader once the purge began"
        );
        r.end_purge(5);
        assert_eq!(r.active_versions(), 0);
    }
}
