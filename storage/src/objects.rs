//! Object versions: commit, lookup, delete.
//!
//! Every change is one synced write batch: the new current row, the chunk
//! references, and the previous version moved to `CF_VERSIONS` with its
//! purge-queue entry all land together or not at all.

use crate::engine::Batch;

use crate::changes::{ChangeEntry, ChangeEvent};
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_CHUNKS, CF_OBJECTS, CF_PURGE, CF_VERSIONS};
use crate::locks::WriteLock;
use crate::reader::ObjectReader;
use crate::rows::{self, DataLocation, ObjectRow, PurgeEntry, Versioning};
use crate::search_index;
use crate::store::{now_ms, Store};
use crate::usage::Usage;
use crate::writer::WrittenData;

/// Metadata of an object about to be committed.
#[derive(Debug, Clone, Default)]
pub struct NewObject {
    /// Entity tag, quoted.
    pub etag: String,
    /// Stored response headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Checksums: (algorithm, base64 value).
    pub checksums: Vec<(String, String)>,
    /// Part sizes for multipart objects.
    pub part_sizes: Vec<u64>,
    /// Object tags (S3 tagging).
    pub tags: Vec<(String, String)>,
    /// `Some(true)` publishes the key (keeping an existing token),
    /// `Some(false)` unpublishes it, `None` keeps its state: an update of a
    /// published key stays published.
    pub public: Option<bool>,
}

impl Store {
    /// Takes the write lock of `bucket`/`key`; [`StorageError::Conflict`] if
    /// another write of that key is in progress.
    pub fn lock_key(&self, bucket: &str, key: &str) -> StorageResult<WriteLock> {
        self.inner.locks.try_lock(keys::object_key(bucket, key)?)
    }

    /// Whether a write of `bucket`/`key` is in progress.
    pub fn is_writing(&self, bucket: &str, key: &str) -> bool {
        // A name the keys cannot hold has no write in progress either.
        keys::object_key(bucket, key).is_ok_and(|k| self.inner.locks.is_locked(&k))
    }

    /// The current version (possibly a delete marker), checking the bucket exists.
    pub fn current(&self, bucket: &str, key: &str) -> StorageResult<Option<ObjectRow>> {
        match self
            .inner
            .db
            .get(self.cf(CF_OBJECTS), keys::object_key(bucket, key)?)?
        {
            Some(raw) => Ok(Some(rows::decode(&raw)?)),
            None => {
                self.require_bucket(bucket)?;
                Ok(None)
            }
        }
    }

    /// A version by id (`"null"`: the key's `null` version), or the current
    /// one. Errors with `NoSuchKey` / `NoSuchVersion` when absent.
    pub fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> StorageResult<ObjectRow> {
        let current = self.current(bucket, key)?;
        let Some(version_id) = version_id else {
            return current
                .filter(|r| !r.delete_marker)
                .ok_or(StorageError::NoSuchKey);
        };
        if version_id == "null" {
            return self
                .null_version(bucket, key)?
                .ok_or(StorageError::NoSuchVersion);
        }
        let seq = rows::parse_version_id(version_id).ok_or(StorageError::NoSuchVersion)?;
        if let Some(row) = current.filter(|r| r.seq == seq) {
            return Ok(row);
        }
        match self
            .inner
            .db
            .get(self.cf(CF_VERSIONS), keys::version_key(bucket, key, seq)?)?
        {
            Some(raw) => Ok(rows::decode(&raw)?),
            None => Err(StorageError::NoSuchVersion),
        }
    }

    /// Resolves a version and registers a reader on it, so its data outlives
    /// any replacement, deletion or purge until the reader is dropped.
    pub fn open_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> StorageResult<(ObjectRow, ObjectReader)> {
        loop {
            let row = self.get_object(bucket, key, version_id)?;
            // A purge may have started between the lookup and the
            // registration; then the version is gone: look again. Once
            // registered no purge can begin, so if the version still exists
            // now its files stay until the reader is dropped.
            if let Some(guard) = self.inner.readers.register(row.seq)? {
                if !self.version_exists(bucket, key, row.seq)? {
                    continue;
                }
                let reader = ObjectReader::new(
                    self.inner.chunks.clone(),
                    row.data.clone(),
                    0,
                    row.size,
                    guard,
                );
                return Ok((row, reader));
            }
        }
    }

    /// Makes `data` the current version of `bucket`/`key`, atomically and durably.
    pub fn commit_object(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
        data: WrittenData,
        new: NewObject,
    ) -> StorageResult<ObjectRow> {
        self.commit_object_with(lock, bucket, key, data, new, |_| Ok(()))
    }

    /// [`Store::commit_object`], with `also` adding rows of its own to the
    /// commit's batch (an upload link's counters): one batch, one change.
    /// `also` runs again for each attempt (see [`Store::retry_guarded`]).
    pub(crate) fn commit_object_with(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
        data: WrittenData,
        new: NewObject,
        mut also: impl FnMut(&mut Batch) -> StorageResult<()>,
    ) -> StorageResult<ObjectRow> {
        let object_key = keys::object_key(bucket, key)?;
        assert_eq!(
            lock.key(),
            object_key.as_slice(),
            "write lock of another key"
        );
        let _bucket = self.commit_guard();
        let template = ObjectRow {
            seq: 0,
            delete_marker: false,
            size: data.size,
            etag: new.etag,
            modified_ms: 0,
            headers: new.headers,
            checksums: new.checksums,
            part_sizes: new.part_sizes,
            data: data.location.clone(),
            expires_ms: 0,
            null_version: false,
            tags: new.tags,
            part_checksums: Vec::new(),
        };
        // The row of the last attempt, kept to read its commit point again
        // if the commit's answer is lost (`unknown_outcome.rs`).
        let mut sent: Option<ObjectRow> = None;
        let result = self.retry_guarded(|| {
            // The key's current row must still be the one replaced here
            // when the batch commits (another front end may delete or
            // restore a version of the key meanwhile).
            let (previous, raw) = self.current_for_update(bucket, key)?;
            let mut batch = Batch::default();
            let floor = self.version_floor(&mut batch, bucket, key, previous.as_ref())?;
            let mut row = ObjectRow {
                seq: self.next_seq_from(floor)?,
                modified_ms: now_ms(),
                ..template.clone()
            };
            let change = ChangeEntry::put(key, &row, previous.as_ref());
            self.expect_read(&mut batch, CF_OBJECTS, &object_key, raw.as_deref());
            self.stage_current(&mut batch, bucket, key, &mut row, previous, new.public)?;
            also(&mut batch)?;
            let written = self.write_logged(batch, bucket, &[change]);
            sent = Some(row);
            written
        });
        let mut row = || sent.take().expect("an attempt was sent");
        match result {
            Ok(()) => {
                data.cleanup.disarm();
                Ok(row())
            }
            Err(StorageError::CommitUnknown(why)) => {
                // Whatever the answer, the chunk files stay.
                data.cleanup.disarm();
                let row = row();
                self.settle_unknown(why, || self.version_committed(bucket, key, row.seq))?;
                Ok(row)
            }
            Err(e) => Err(e),
        }
    }

    /// Adds to `batch` what making `row` the key's current version takes
    /// (shared by single uploads, copies and completed multipart uploads):
    /// the row, flagged as the key's `null` version unless the bucket's
    /// versioning is `Enabled`, its chunks' owner entries, the previous
    /// version retired for the bucket's retention period, and the published
    /// state changed if `public` says so.
    pub(crate) fn stage_current(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
        row: &mut ObjectRow,
        previous: Option<ObjectRow>,
        public: Option<bool>,
    ) -> StorageResult<()> {
        // One read of the bucket's row serves its versioning and retention
        // (and, on a shared engine, guards that both still hold).
        let bucket_row = self.bucket_for_update(batch, bucket)?;
        row.null_version = bucket_row.versioning != Versioning::Enabled;
        // A current `null` version is replaced by being retired below.
        if row.null_version && !previous.as_ref().is_some_and(|p| p.null_version) {
            self.drop_replaced_null_marker(batch, bucket, key)?;
        }
        let object_key = keys::object_key(bucket, key)?;
        batch.put_cf(self.cf(CF_OBJECTS), &object_key, rows::encode(row));
        search_index::stage(self, batch, bucket, key, previous.as_ref(), Some(row))?;
        let mut delta = Usage::live(row, 1);
        if let Some(prev) = &previous {
            delta = delta.plus(Usage::live(prev, -1));
        }
        self.add_usage(batch, bucket, delta);
        for c in row.chunks() {
            batch.put_cf(self.cf(CF_CHUNKS), c.id, row.seq.to_be_bytes());
        }
        let lifecycle = self.lifecycle_for_update(batch, bucket)?;
        self.stage_expiry(batch, lifecycle.as_ref(), bucket, key, row)?;
        if let Some(prev) = previous {
            let due = self.trash_due(lifecycle.as_ref(), &bucket_row, key, &prev, row.modified_ms);
            self.retire(batch, bucket, key, prev, due)?;
        }
        match public {
            Some(true) => {
                self.publish_in(batch, bucket, key)?;
            }
            Some(false) => self.unpublish_in(batch, bucket, key)?,
            None => {}
        }
        Ok(())
    }

    /// DeleteObject without a version id. The current version (if any)
    /// becomes noncurrent, recoverable for the retention period, behind a
    /// new delete marker, which is returned. By the bucket's versioning:
    /// - unversioned: nothing happens to a key without a current version;
    ///   the marker is kura's record that the key is deleted (S3 clients
    ///   never see it) and is the key's `null` version;
    /// - `Enabled`: a marker is always added, stacked on earlier ones and
    ///   also for a key that never existed, as in S3;
    /// - `Suspended`: the marker is the key's `null` version, replacing the
    ///   previous one; if that is already the latest marker, nothing changes
    ///   and it is returned.
    pub fn delete_object(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
    ) -> StorageResult<Option<ObjectRow>> {
        self.delete_object_in(lock, bucket, key, Batch::default())
    }

    /// [`Store::delete_object`], committing `batch` (already holding other
    /// rows of the same logical change, e.g. a lifecycle queue entry's
    /// removal) with it.
    pub(crate) fn delete_object_in(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
        batch: Batch,
    ) -> StorageResult<Option<ObjectRow>> {
        let object_key = keys::object_key(bucket, key)?;
        assert_eq!(
            lock.key(),
            object_key.as_slice(),
            "write lock of another key"
        );
        let _bucket = self.commit_guard();
        self.retry_guarded(|| self.try_delete_object(&object_key, bucket, key, batch.clone()))
    }

    /// One attempt of [`Store::delete_object_in`] (the caller holds the
    /// key's write lock and the commit guard).
    pub(crate) fn try_delete_object(
        &self,
        object_key: &[u8],
        bucket: &str,
        key: &str,
        mut batch: Batch,
    ) -> StorageResult<Option<ObjectRow>> {
        let bucket_row = self.bucket_for_update(&mut batch, bucket)?;
        let versioning = bucket_row.versioning;
        let (current, raw) = self.current_for_update(bucket, key)?;
        self.expect_read(&mut batch, CF_OBJECTS, object_key, raw.as_deref());
        let null_marker = versioning != Versioning::Enabled;
        let mut floor = self.version_floor(&mut batch, bucket, key, current.as_ref())?;
        if current.is_none() {
            match versioning {
                Versioning::Enabled => {}
                Versioning::Unversioned => return Ok(None),
                Versioning::Suspended => {
                    let latest = self.newest_version_row(bucket, key)?;
                    floor = floor.max(latest.as_ref().map_or(0, |r| r.seq + 1));
                    if let Some(latest) = latest.filter(|r| r.delete_marker && r.null_version) {
                        return Ok(Some(latest));
                    }
                }
            }
        }
        let now = now_ms();
        let lifecycle = self.lifecycle_for_update(&mut batch, bucket)?;
        let marker = ObjectRow {
            seq: self.next_seq_from(floor)?,
            delete_marker: true,
            size: 0,
            etag: String::new(),
            modified_ms: now,
            headers: Vec::new(),
            checksums: Vec::new(),
            part_sizes: Vec::new(),
            data: DataLocation::Inline(Vec::new()),
            expires_ms: 0,
            null_version: null_marker,
            tags: Vec::new(),
            part_checksums: Vec::new(),
        };
        if null_marker && !current.as_ref().is_some_and(|c| c.null_version) {
            self.drop_replaced_null_marker(&mut batch, bucket, key)?;
        }
        if let Some(prev) = current {
            batch.delete_cf(self.cf(CF_OBJECTS), object_key);
            search_index::stage(self, &mut batch, bucket, key, Some(&prev), None)?;
            self.add_usage(&mut batch, bucket, Usage::live(&prev, -1));
            let due = self.trash_due(lifecycle.as_ref(), &bucket_row, key, &prev, now);
            self.retire(&mut batch, bucket, key, prev, due)?;
            // A deleted object's public URL dies with it.
            self.unpublish_in(&mut batch, bucket, key)?;
        }
        let due = self.trash_due(lifecycle.as_ref(), &bucket_row, key, &marker, now);
        self.retire(&mut batch, bucket, key, marker.clone(), due)?;
        let change = ChangeEntry::of(ChangeEvent::Delete, key, &marker);
        self.write_logged(batch, bucket, &[change])?;
        Ok(Some(marker))
    }

    /// Adds to `batch`: `row` becomes a noncurrent version due for purging
    /// at `due` (ms since the epoch).
    pub(crate) fn retire(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
        mut row: ObjectRow,
        due: u64,
    ) -> StorageResult<()> {
        row.expires_ms = due;
        self.add_usage(batch, bucket, Usage::trash(&row, 1));
        batch.put_cf(
            self.cf(CF_VERSIONS),
            keys::version_key(bucket, key, row.seq)?,
            rows::encode(&row),
        );
        let entry = PurgeEntry {
            bucket: bucket.to_string(),
            key: key.to_string(),
            seq: row.seq,
            chunks: Vec::new(),
        };
        batch.put_cf(
            self.cf(CF_PURGE),
            keys::purge_key(due, row.seq),
            rows::encode(&entry),
        );
        Ok(())
    }
}
