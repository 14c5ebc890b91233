//! Physical removal: versions whose retention ended, and orphan chunk files.
//!
//! What is due is recorded in `CF_PURGE` in the same batch that retired the
//! version, so a crash never forgets a purge. Purging a version first
//! removes its row (under the key's latch, so a restore cannot promote it at
//! the same moment) and lists its files in its entry, then removes the
//! files, then the entry: a crash anywhere re-runs the purge on restart, and
//! removing a missing file is not an error — idempotent. No row ever points
//! at a removed file.

use crate::engine::{Batch, Durability, ReadBounds};

use crate::changes::{ChangeEntry, ChangeEvent};
use crate::chunk_owners;
use crate::error::StorageResult;
use crate::keys::{self, CF_CHUNKS, CF_PURGE, CF_VERSIONS};
use crate::rows::{self, ChunkAt, ObjectRow, PurgeEntry};
use crate::store::{now_ms, Store};

/// Due purge entries read at once.
const PURGE_WINDOW: usize = 1000;
/// Due purge entries one call of `purge_due` goes through at most.
const PURGE_PASS: usize = 10 * PURGE_WINDOW;
/// How old an unreferenced chunk in a remote backend must be before the
/// start-up sweep removes it (see `sweep_orphan_chunks`).
const REMOTE_SWEEP_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

impl Store {
    /// Whether this process runs the purge, lifecycle and expiry loops:
    /// always on the embedded engine; on a shared one, only the front end
    /// holding the leased `purger` record (taken here when no live front
    /// end holds it, so another takes over within seconds of its death).
    pub fn is_purger(&self) -> bool {
        match self.inner.db.coord() {
            None => true,
            Some(coord) => coord.hold_purger(),
        }
    }

    /// Whether this process holds the purger role now, without trying to
    /// take it ([`Store::is_purger`] does, once a second): for the tasks
    /// that follow the purger (webhook delivery).
    pub fn holds_purger(&self) -> bool {
        match self.inner.db.coord() {
            None => true,
            Some(coord) => coord.purger_held(),
        }
    }

    /// Purges the versions due by now, up to 10,000 of them per call
    /// (a large backlog goes over several calls). Versions with active
    /// readers are skipped, and retried on a later call, without holding up
    /// the ones due after them. Returns the number purged.
    pub fn purge_due(&self) -> StorageResult<usize> {
        let now = now_ms();
        let mut purged = 0;
        let mut seen = 0;
        // Due entries are read in windows, so a large backlog is never held
        // in memory at once; each window starts after the previous one.
        let mut after: Option<Vec<u8>> = None;
        while seen < PURGE_PASS {
            let mode = after.as_deref();
            let mut due = Vec::new();
            for item in self
                .inner
                .db
                .entries(self.cf(CF_PURGE), ReadBounds::all(), mode)
            {
                let (k, v) = item?;
                if after.as_deref() == Some(&k[..]) {
                    continue;
                }
                if keys::purge_key_due(&k).is_none_or(|d| d > now) {
                    break;
                }
                due.push((k.to_vec(), rows::decode::<PurgeEntry>(&v)?));
                if due.len() >= PURGE_WINDOW {
                    break;
                }
            }
            let full = due.len() == PURGE_WINDOW;
            seen += due.len();
            after = due.last().map(|(k, _)| k.clone());
            for (purge_key, entry) in due {
                if self.purge_version(&purge_key, &entry)? {
                    purged += 1;
                }
            }
            if !full {
                break;
            }
        }
        Ok(purged)
    }

    fn purge_version(&self, purge_key: &[u8], entry: &PurgeEntry) -> StorageResult<bool> {
        if !self.inner.readers.begin_purge(entry.seq) {
            tracing::info!(
                version = %rows::version_id(entry.seq),
                "purge deferred: a download is reading this version"
            );
            return Ok(false);
        }
        let result = self.purge_version_files(purge_key, entry);
        self.inner.readers.end_purge(entry.seq);
        result
    }

    /// Purges one version in two steps, so that a version whose files are
    /// being removed can never become current again, not even after a crash
    /// in the middle: first its row goes (and its entry lists its files),
    /// then its files, then what is left of its metadata.
    /// `false` when it waits for downloads on other front ends.
    fn purge_version_files(&self, purge_key: &[u8], entry: &PurgeEntry) -> StorageResult<bool> {
        let Some(files) = self.unlink_due_version(purge_key, entry)? else {
            return Ok(true);
        };
        // On a shared engine a download on another front end may hold the
        // version: its row is gone now, so no new one can register (a
        // reader re-checks the row after registering); wait for those that
        // did. The entry lists the files, so a later pass resumes here.
        if self.inner.readers.read_elsewhere(entry.seq)? {
            tracing::info!(
                version = %rows::version_id(entry.seq),
                "purge deferred: a download on another front end is reading this version"
            );
            return Ok(false);
        }
        for c in &files {
            self.inner.chunks.remove(c.backend, &c.id)?;
        }
        #[cfg(test)]
        if let Some(hook) = &*self.inner.purge_hook.lock() {
            if !hook(entry.seq) {
                return Err(std::io::Error::other("simulated crash").into());
            }
        }
        // On an engine that limits its commits (etcd) the owner rows go in
        // pages first: each deletion is idempotent, and the entry, deleted
        // last, keeps the purge running again until all are gone.
        let page = self.inner.db.max_ops_per_commit().unwrap_or(usize::MAX);
        let mut rows = files.chunks(page.saturating_sub(1).max(1)).peekable();
        while let Some(group) = rows.next() {
            let mut batch = Batch::default();
            for c in group {
                batch.delete_cf(self.cf(CF_CHUNKS), c.id);
            }
            if rows.peek().is_none() {
                batch.delete_cf(self.cf(CF_PURGE), purge_key);
            }
            // Not synced: if this is lost, the entry runs again after a
            // restart, and removing what is already gone is harmless.
            self.inner.db.commit(batch, Durability::Buffered)?;
        }
        if files.is_empty() {
            let mut batch = Batch::default();
            batch.delete_cf(self.cf(CF_PURGE), purge_key);
            self.inner.db.commit(batch, Durability::Buffered)?;
        }
        Ok(true)
    }

    /// Step one of a purge, under the key's latch, so no restore (which
    /// promotes a noncurrent version under the same latch) can read the row
    /// between this check and this commit: removes the version's row if it
    /// is still due, and rewrites the entry to list every file to remove.
    /// Returns those files, or `None` if there are none and the entry is
    /// already gone too (a delete marker, an inline object, a stale entry).
    fn unlink_due_version(
        &self,
        purge_key: &[u8],
        entry: &PurgeEntry,
    ) -> StorageResult<Option<Vec<ChunkAt>>> {
        let _latch = self
            .inner
            .latches
            .key(&keys::object_key(&entry.bucket, &entry.key)?);
        self.retry_guarded(|| self.try_unlink_due_version(purge_key, entry))
    }

    /// One attempt of [`Store::unlink_due_version`]. On a shared engine the
    /// version row and the owner lists it read guard the commit: a restore
    /// (promotion) or a tagging of the row on another front end, or a
    /// metadata-only update adding an owner, makes it read again.
    fn try_unlink_due_version(
        &self,
        purge_key: &[u8],
        entry: &PurgeEntry,
    ) -> StorageResult<Option<Vec<ChunkAt>>> {
        let version_key = keys::version_key(&entry.bucket, &entry.key, entry.seq)?;
        let mut batch = Batch::default();
        let row: Option<ObjectRow> = match self.inner.db.get(self.cf(CF_VERSIONS), &version_key)? {
            Some(raw) => {
                self.expect_read(&mut batch, CF_VERSIONS, &version_key, Some(&raw));
                Some(rows::decode(&raw)?)
            }
            None => None,
        };
        // The entry itself: another front end's purger (before the purger
        // became a leased singleton) may have taken this step already.
        self.expect_present(&mut batch, CF_PURGE, purge_key);
        let mut changes = Vec::new();
        // A version restored and retired again has a later due time and its
        // own, later purge entry: this stale one only removes itself. A
        // version deleted by id has no row any more; its entry lists its files.
        let due = keys::purge_key_due(purge_key).unwrap_or(0);
        let row = row.filter(|r| r.expires_ms <= due);
        let mut candidates = entry.chunks.clone();
        if let Some(row) = &row {
            candidates.extend(row.chunks().iter().map(ChunkAt::from));
            batch.delete_cf(self.cf(CF_VERSIONS), &version_key);
            self.add_usage(
                &mut batch,
                &entry.bucket,
                crate::usage::Usage::trash(row, -1),
            );
            changes.push(ChangeEntry::of(ChangeEvent::Purge, &entry.key, row));
        }
        // A file another version still uses (a metadata-only update shares
        // them) only loses this version from its owners, in this batch.
        let mut files = Vec::with_capacity(candidates.len());
        // One batched read (a round trip per page on etcd, not per file).
        let ids: Vec<[u8; 16]> = candidates.iter().map(|c| c.id).collect();
        let owners = self.chunk_owners_of(&ids)?;
        for (chunk, owners) in candidates.into_iter().zip(owners) {
            let id = chunk.id;
            let others: Vec<u64> = owners.iter().copied().filter(|&s| s != entry.seq).collect();
            if others.is_empty() {
                // No live version owns it (a metadata-only update only
                // adds owners to the current version's files, which list
                // that version): no guard needed.
                files.push(chunk);
            } else {
                // A metadata-only update on another front end may add an
                // owner meanwhile: it must not be lost.
                self.expect_read(
                    &mut batch,
                    CF_CHUNKS,
                    id,
                    Some(&chunk_owners::encode(&owners)),
                );
                batch.put_cf(self.cf(CF_CHUNKS), id, chunk_owners::encode(&others));
            }
        }
        let kept_some =
            files.len() < entry.chunks.len() + row.as_ref().map_or(0, |r| r.chunks().len());
        if files.is_empty() {
            batch.delete_cf(self.cf(CF_PURGE), purge_key);
            self.write_logged(batch, &entry.bucket, &changes)?;
            return Ok(None);
        }
        if row.is_some() || kept_some {
            let listed = PurgeEntry {
                chunks: files.clone(),
                ..entry.clone()
            };
            batch.put_cf(self.cf(CF_PURGE), purge_key, rows::encode(&listed));
            self.write_logged(batch, &entry.bucket, &changes)?;
        }
        Ok(Some(files))
    }

    /// Removes chunks that no committed row refers to. Run at start-up,
    /// before any request, when no upload of this process can be in
    /// progress. A remote backend may be shared with other front ends whose
    /// uploads are in progress, so there only chunks older than
    /// [`REMOTE_SWEEP_GRACE`] go (younger ones wait for the next start, or
    /// `kura fsck --repair`).
    ///
    /// Every bucket backend (`chunk_backends.rs`) is swept the same way,
    /// as a remote one; one that cannot be reached now is left for the next
    /// start (it must not keep the server from starting).
    pub(crate) fn sweep_orphan_chunks(&self) -> StorageResult<usize> {
        let mut removed = self.sweep_orphan_chunks_in(crate::rows::SERVER_BACKEND)?;
        for n in self.backend_numbers()? {
            match self.sweep_orphan_chunks_in(n) {
                Ok(r) => removed += r,
                Err(e) => {
                    tracing::warn!(backend = n, error = %e, "could not sweep a bucket's chunk backend")
                }
            }
        }
        Ok(removed)
    }

    /// [`Store::sweep_orphan_chunks`] of backend `n`.
    fn sweep_orphan_chunks_in(&self, n: u16) -> StorageResult<usize> {
        let mut orphans = Vec::new();
        let mut lookup_error = None;
        let remote = n != crate::rows::SERVER_BACKEND || self.inner.chunks.is_remote();
        let now = std::time::SystemTime::now();
        self.inner.chunks.list_in(n, |listed| {
            if remote
                && listed
                    .modified()
                    .is_none_or(|t| now.duration_since(t).unwrap_or_default() < REMOTE_SWEEP_GRACE)
            {
                return;
            }
            let referenced = match listed.id {
                Some(id) => match self.inner.db.get(self.cf(CF_CHUNKS), id) {
                    Ok(v) => v.is_some(),
                    Err(e) => {
                        lookup_error.get_or_insert(e);
                        true
                    }
                },
                None => false,
            };
            if !referenced {
                orphans.push(listed);
            }
        })?;
        if let Some(e) = lookup_error {
            return Err(e);
        }
        for listed in &orphans {
            self.inner.chunks.remove_listed(listed)?;
        }
        Ok(orphans.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::objects::NewObject;
    use crate::rows::ObjectRow;
    use crate::{StorageError, Store};

    fn store(dir: &std::path::Path) -> Store {
        // Every retired version is due at once.
        crate::test_support::store(dir, Duration::ZERO)
    }

    fn put(s: &Store, key: &str, body: &[u8]) -> ObjectRow {
        let lock = s.lock_key("b", key).unwrap();
        let mut w = s.object_writer();
        w.write(body).unwrap();
        let data = w.finish().unwrap();
        s.commit_object(&lock, "b", key, data, NewObject::default())
            .unwrap()
    }

    /// A multi-chunk object, deleted: its version is due for purging now,
    /// behind the returned delete marker.
    fn deleted_object(s: &Store, body: &[u8]) -> (ObjectRow, ObjectRow) {
        s.create_bucket("b").unwrap();
        let v = put(s, "k", body);
        assert!(v.chunks().len() > 4);
        let lock = s.lock_key("b", "k").unwrap();
        let marker = s.delete_object(&lock, "b", "k").unwrap().unwrap();
        (v, marker)
    }

    /// Deletes the delete marker: the object is restored if its version is
    /// still there.
    fn restore(s: &Store, marker: &ObjectRow) {
        let lock = s.lock_key("b", "k").unwrap();
        s.delete_version(&lock, "b", "k", marker.seq).unwrap();
    }

    /// The key either has no current version, or its current version reads
    /// back whole.
    fn assert_whole_or_absent(s: &Store, body: &[u8]) {
        match s.open_object("b", "k", None) {
            Err(StorageError::NoSuchKey) => {}
            Err(e) => panic!("lookup failed: {e}"),
            Ok((row, mut reader)) => {
                let mut got = Vec::new();
                let read = read_all(&mut reader, &mut got);
                assert!(
                    read.is_ok(),
                    "current version {} points at missing files: {read:?}",
                    row.version_id()
                );
                assert_eq!(got, body, "current version's bytes");
            }
        }
    }

    fn read_all(reader: &mut crate::ObjectReader, out: &mut Vec<u8>) -> std::io::Result<()> {
        let mut buf = [0; 64];
        while reader.remaining() > 0 {
            let n = reader.read(&mut buf)?;
            out.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }

    /// A restore that lands while the purger has removed the version's files
    /// but not yet its rows must not make that version current.
    #[test]
    fn a_restore_during_a_purge_never_promotes_removed_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let body: Vec<u8> = (0..100u8).collect();
        let (v, marker) = deleted_object(&s, &body);
        let (reached_tx, reached) = mpsc::channel();
        let (go, go_rx) = mpsc::channel::<()>();
        *s.inner.purge_hook.lock() = Some(Box::new(move |seq| {
            if seq == v.seq {
                reached_tx.send(()).unwrap();
                go_rx.recv().unwrap();
            }
            true
        }));
        let purger = {
            let s = s.clone();
            std::thread::spawn(move || s.purge_due())
        };
        reached.recv().unwrap();
        restore(&s, &marker);
        go.send(()).unwrap();
        purger.join().unwrap().unwrap();
        assert_whole_or_absent(&s, &body);
    }

    /// A crash between removing a version's files and removing its rows,
    /// then a restore after the restart: the version must not come back.
    #[test]
    fn a_restore_after_a_crash_mid_purge_never_promotes_removed_files() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..100u8).collect();
        let marker = {
            let s = store(dir.path());
            let (v, marker) = deleted_object(&s, &body);
            *s.inner.purge_hook.lock() = Some(Box::new(move |seq| seq != v.seq));
            assert!(s.purge_due().is_err(), "the simulated crash");
            marker
        };
        let s = store(dir.path());
        restore(&s, &marker);
        assert_whole_or_absent(&s, &body);
        s.purge_due().unwrap();
        assert_whole_or_absent(&s, &body);
    }
}
