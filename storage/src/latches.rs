//! Latches: short exclusive sections over one key's version rows.
//!
//! A key's [`crate::WriteLock`] is held for a whole upload and refuses
//! rather than waits, which suits client writes but not the background
//! work that also rewrites version rows (the purger, a retention
//! reschedule): it would either stall behind a slow upload or make clients
//! see 409s. Instead, every read-modify-write of a key's noncurrent rows that
//! can meet one of them — deleting a version by id (and so promoting
//! another), unlinking a version at purge time, rewriting a due time — holds
//! that key's latch from its reads to its commit. Latches are a fixed array
//! of mutexes picked by hash (as TiKV's scheduler latches), held for one
//! metadata read and one batch, never across I/O on chunk files or a client.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use parking_lot::{Mutex, MutexGuard};

/// Number of latch slots: enough that unrelated keys rarely share one.
const SLOTS: usize = 256;

/// The latch table of a store.
#[derive(Debug)]
pub(crate) struct Latches {
    slots: Vec<Mutex<()>>,
}

impl Default for Latches {
    fn default() -> Self {
        Latches {
            slots: (0..SLOTS).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl Latches {
    fn slot(object_key: &[u8]) -> usize {
        let mut h = DefaultHasher::new();
        object_key.hash(&mut h);
        (h.finish() % SLOTS as u64) as usize
    }

    /// Waits for and holds the latch of one key (`keys::object_key`).
    pub(crate) fn key(&self, object_key: &[u8]) -> MutexGuard<'_, ()> {
        self.slots[Self::slot(object_key)].lock()
    }

    /// Waits for and holds the latches of several keys, taken in slot order
    /// so two holders of several latches never wait on each other.
    pub(crate) fn keys<'a>(
        &self,
        object_keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<MutexGuard<'_, ()>> {
        let mut slots: Vec<usize> = object_keys.into_iter().map(Self::slot).collect();
        slots.sort_unstable();
        slots.dedup();
        slots.into_iter().map(|i| self.slots[i].lock()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_key_and_sets_in_order() {
        let l = Latches::default();
        let held = l.keys([&b"a"[..], b"b", b"a"]);
        assert!(!held.is_empty() && held.len() <= 2);
        assert!(l.slots[Latches::slot(b"a")].try_lock().is_none());
        drop(held);
        let g = l.key(b"a");
        assert!(l.slots[Latches::slot(b"a")].try_lock().is_none());
        drop(g);
        assert!(l.slots[Latches::slot(b"a")].try_lock().is_some());
    }
}
