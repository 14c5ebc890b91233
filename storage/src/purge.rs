//! Physical removal: versions whose retention ended, and orphan chunk files.
//!
//! What is due is recorded in `CF_PURGE` in the same batch that retired the
//! version, so a crash never forgets a purge. Purging a version removes its
//! files first and its rows second; a crash in between re-runs the purge on
//! restart, and removing a missing file is not an error — idempotent.

use rocksdb::{Direction, IteratorMode, WriteBatch};

use crate::changes::{ChangeEntry, ChangeEvent};
use crate::error::StorageResult;
use crate::keys::{self, CF_CHUNKS, CF_PURGE, CF_VERSIONS};
use crate::rows::{self, ObjectRow, PurgeEntry};
use crate::store::{now_ms, Store};

/// Due purge entries read at once.
const PURGE_WINDOW: usize = 1000;
/// Due purge entries one call of `purge_due` goes through at most.
const PURGE_PASS: usize = 10 * PURGE_WINDOW;

impl Store {
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
            let mode = match &after {
                Some(k) => IteratorMode::From(k, Direction::Forward),
                None => IteratorMode::Start,
            };
            let mut due = Vec::new();
            for item in self.inner.db.iterator_cf(self.cf(CF_PURGE), mode) {
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
        result.map(|_| true)
    }

    fn purge_version_files(&self, purge_key: &[u8], entry: &PurgeEntry) -> StorageResult<()> {
        let version_key = keys::version_key(&entry.bucket, &entry.key, entry.seq);
        let row: Option<ObjectRow> = match self
            .inner
            .db
            .get_pinned_cf(self.cf(CF_VERSIONS), &version_key)?
        {
            Some(raw) => Some(rows::decode(&raw)?),
            None => None,
        };
        let mut batch = WriteBatch::default();
        let mut changes = Vec::new();
        // A version restored and retired again has a later due time and its
        // own, later purge entry: this stale one only removes itself.
        let due = keys::purge_key_due(purge_key).unwrap_or(0);
        if let Some(row) = row.filter(|r| r.expires_ms <= due) {
            for chunk in row.chunks() {
                self.inner.chunks.remove(&chunk.id)?;
                batch.delete_cf(self.cf(CF_CHUNKS), chunk.id);
            }
            batch.delete_cf(self.cf(CF_VERSIONS), &version_key);
            changes.push(ChangeEntry::of(ChangeEvent::Purge, &entry.key, &row));
        }
        // A version deleted by id has no row any more; its entry lists its files.
        for id in &entry.chunks {
            self.inner.chunks.remove(id)?;
            batch.delete_cf(self.cf(CF_CHUNKS), id);
        }
        batch.delete_cf(self.cf(CF_PURGE), purge_key);
        self.write_logged(batch, &entry.bucket, &changes)
    }

    /// Removes chunk files that no committed row refers to. Run at start-up,
    /// before any request, when no upload can be in progress.
    pub(crate) fn sweep_orphan_chunks(&self) -> StorageResult<usize> {
        let mut orphans = Vec::new();
        let mut lookup_error = None;
        self.inner.chunks.walk(|id, path| {
            let referenced = match id {
                Some(id) => match self.inner.db.get_pinned_cf(self.cf(CF_CHUNKS), id) {
                    Ok(v) => v.is_some(),
                    Err(e) => {
                        lookup_error.get_or_insert(e);
                        true
                    }
                },
                None => false,
            };
            if !referenced {
                orphans.push(path.to_path_buf());
            }
        })?;
        if let Some(e) = lookup_error {
            return Err(e.into());
        }
        for path in &orphans {
            std::fs::remove_file(path)?;
        }
        Ok(orphans.len())
    }
}
