//! How long replaced and deleted versions stay recoverable: server-wide
//! (`StoreConfig::retention`), overridable per bucket (`BucketRow`).
//!
//! A version's purge time is set when it is replaced or deleted, from the
//! bucket's retention at that moment. Changing a bucket's retention
//! re-schedules the versions it already holds: each is then due its new
//! retention after it stopped being current (when its successor was
//! written, or when the delete marker was). That goes in windows of at most
//! 1,000 rows, each one batch under its keys' latches (so no purge or
//! restore meets it), and resumes after a crash from a marker in `CF_META`.

use std::time::Duration;

use crate::engine::{Batch, ReadBounds};

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_BUCKETS, CF_META, CF_PURGE, CF_VERSIONS};
use crate::rows::{self, BucketRow, ObjectRow, PurgeEntry};
use crate::store::Store;

/// Version rows rescheduled per batch, under one set of latches.
const RESCHEDULE_WINDOW: usize = if cfg!(test) { 3 } else { 1000 };

impl Store {
    /// Sets `bucket`'s own retention; `None` returns it to the server-wide
    /// default. [`crate::StorageError::NoSuchBucket`] if it does not exist.
    pub fn set_bucket_retention(
        &self,
        bucket: &str,
        retention: Option<Duration>,
    ) -> StorageResult<()> {
        // Serialised with bucket creation/deletion by the bucket-name lock.
        let _guard = self.bucket_lock(bucket)?;
        let mut row = self.require_bucket(bucket)?;
        row.retention_secs = retention.map(|d| d.as_secs());
        let mut batch = Batch::default();
        batch.put_cf(self.cf(CF_BUCKETS), bucket.as_bytes(), rows::encode(&row));
        // The kept versions are re-scheduled in windows after this batch;
        // the marker says how far that got, so a crash midway resumes it at
        // the next start instead of leaving some versions on the old period.
        batch.put_cf(
            self.cf(CF_META),
            keys::reschedule_key(bucket),
            keys::bucket_prefix(bucket)?,
        );
        self.write_synced(batch)?;
        self.reschedule(bucket)
    }

    /// Finishes the re-schedules a crash interrupted. Run at start-up.
    pub(crate) fn resume_reschedules(&self) -> StorageResult<()> {
        let mut pending = Vec::new();
        let prefix = keys::RESCHEDULE_PREFIX;
        for item in self
            .inner
            .db
            .entries(self.cf(CF_META), ReadBounds::all(), Some(prefix))
        {
            let (k, _) = item?;
            let Some(bucket) = k.strip_prefix(prefix) else {
                break;
            };
            pending.push(String::from_utf8_lossy(bucket).into_owned());
        }
        for bucket in pending {
            if self.bucket(&bucket)?.is_none() {
                let mut batch = Batch::default();
                batch.delete_cf(self.cf(CF_META), keys::reschedule_key(&bucket));
                self.write_synced(batch)?;
                continue;
            }
            self.reschedule(&bucket)?;
        }
        Ok(())
    }

    /// Makes every noncurrent version of `bucket` due its retention (or a
    /// matching lifecycle rule's `NoncurrentDays`) after it stopped being current, window by window from the marker in
    /// `CF_META` until the marker is gone.
    pub(crate) fn reschedule(&self, bucket: &str) -> StorageResult<()> {
        let retention = self.retention_ms(bucket)?;
        let marker = keys::reschedule_key(bucket);
        while let Some(from) = self.inner.db.get_owned(self.cf(CF_META), &marker)? {
            // On a shared engine a row another front end purges, restores
            // or retags meanwhile fails the window's guard: read again.
            self.retry_guarded(|| self.reschedule_window(bucket, retention, &from))?;
        }
        Ok(())
    }

    /// Re-schedules up to [`RESCHEDULE_WINDOW`] version rows from `from` (a
    /// `CF_VERSIONS` key) in one batch, holding the latches of their keys so
    /// no purge or restore changes those rows in between, and moves the
    /// marker past them (or removes it at the end of the bucket).
    fn reschedule_window(&self, bucket: &str, retention: u64, from: &[u8]) -> StorageResult<()> {
        let prefix = keys::bucket_prefix(bucket)?;
        let names = self.window_keys(&prefix, from)?;
        let object_keys: Vec<Vec<u8>> = names
            .iter()
            .map(|k| keys::object_key(bucket, k))
            .collect::<StorageResult<_>>()?;
        let _latches = self
            .inner
            .latches
            .keys(object_keys.iter().map(Vec::as_slice));

        let mut batch = Batch::default();
        let lifecycle = self.lifecycle_for_update(&mut batch, bucket)?;
        let mut it = self
            .inner
            .db
            .cursor(self.cf(CF_VERSIONS), ReadBounds::all());
        // (key, when the next-newer version of it was written)
        let mut successor = self.newer_version_before(&prefix, from)?;
        it.seek(from);
        let mut done = 0;
        // Three rows per version: an engine that limits its commits (etcd)
        // takes smaller windows.
        let window = match self.inner.db.max_ops_per_commit() {
            Some(limit) => RESCHEDULE_WINDOW.min(limit / 3 - 1),
            None => RESCHEDULE_WINDOW,
        };
        while it.valid() && done < window {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !k.starts_with(&prefix) {
                break;
            }
            let (key, _) = keys::version_key_parts(prefix.len(), k)
                .ok_or_else(|| StorageError::Corrupt("version key".into()))?;
            if !names.contains(&key) {
                // Its first version came after the window was chosen: its
                // latch is not held; the next window starts here.
                break;
            }
            let row: ObjectRow = rows::decode(v)?;
            let next_newer = match &successor {
                Some((k, at)) if *k == key => Some(*at),
                // The newest noncurrent version was replaced by the current one.
                _ => self.current(bucket, &key)?.map(|c| c.modified_ms),
            };
            successor = Some((key.clone(), row.modified_ms));
            let due = |retired: u64| match &lifecycle {
                Some(c) => c
                    .noncurrent_due(&key, &row, retired, self.lifecycle_day_ms())
                    .unwrap_or(retired.saturating_add(retention)),
                None => retired.saturating_add(retention),
            };
            let retired = if row.delete_marker {
                Some(row.modified_ms)
            } else {
                next_newer
            };
            if let Some(due) = retired.map(due) {
                self.expect_read(&mut batch, CF_VERSIONS, k, Some(v));
                self.reschedule_row(&mut batch, bucket, key, k, row, due);
            }
            done += 1;
            it.next();
        }
        it.status()?;
        match it.key().filter(|k| it.valid() && k.starts_with(&prefix)) {
            Some(next) => batch.put_cf(self.cf(CF_META), keys::reschedule_key(bucket), next),
            None => batch.delete_cf(self.cf(CF_META), keys::reschedule_key(bucket)),
        }
        self.write_synced(batch)
    }

    /// Adds to `batch`: version `row` (at `version_key`) becomes due at
    /// `due`, counted from when it stopped being current, which for a
    /// version is when its successor was written and for a delete marker
    /// its own time.
    fn reschedule_row(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: String,
        version_key: &[u8],
        mut row: ObjectRow,
        due: u64,
    ) {
        if due == row.expires_ms {
            return;
        }
        batch.delete_cf(self.cf(CF_PURGE), keys::purge_key(row.expires_ms, row.seq));
        let entry = PurgeEntry {
            bucket: bucket.to_string(),
            key,
            seq: row.seq,
            chunks: Vec::new(),
        };
        batch.put_cf(
            self.cf(CF_PURGE),
            keys::purge_key(due, row.seq),
            rows::encode(&entry),
        );
        row.expires_ms = due;
        batch.put_cf(self.cf(CF_VERSIONS), version_key, rows::encode(&row));
    }

    /// The object keys of the (at most [`RESCHEDULE_WINDOW`]) version rows
    /// of the bucket with `prefix` from `from` on.
    fn window_keys(&self, prefix: &[u8], from: &[u8]) -> StorageResult<Vec<String>> {
        let mut it = self
            .inner
            .db
            .cursor(self.cf(CF_VERSIONS), ReadBounds::all());
        it.seek(from);
        let mut names: Vec<String> = Vec::new();
        for _ in 0..RESCHEDULE_WINDOW {
            let Some(k) = it.key().filter(|k| it.valid() && k.starts_with(prefix)) else {
                break;
            };
            let (key, _) = keys::version_key_parts(prefix.len(), k)
                .ok_or_else(|| StorageError::Corrupt("version key".into()))?;
            if names.last() != Some(&key) {
                names.push(key);
            }
            it.next();
        }
        it.status()?;
        Ok(names)
    }

    /// The version row just before `from` (so newer than it, if it is of
    /// the same key): its key and when it was written. A window that starts
    /// within a key takes its first row's successor from there.
    fn newer_version_before(
        &self,
        prefix: &[u8],
        from: &[u8],
    ) -> StorageResult<Option<(String, u64)>> {
        let mut it = self
            .inner
            .db
            .cursor(self.cf(CF_VERSIONS), ReadBounds::all());
        it.seek_for_prev(from);
        if it.valid() && it.key() == Some(from) {
            it.prev();
        }
        let found = match (it.valid(), it.key(), it.value()) {
            (true, Some(k), Some(v)) if k.starts_with(prefix) && k != prefix => {
                let (key, _) = keys::version_key_parts(prefix.len(), k)
                    .ok_or_else(|| StorageError::Corrupt("version key".into()))?;
                Some((key, rows::decode::<ObjectRow>(v)?.modified_ms))
            }
            _ => None,
        };
        it.status()?;
        Ok(found)
    }

    /// `bucket`'s own retention, `None` when it follows the server default.
    pub fn bucket_retention(&self, bucket: &str) -> StorageResult<Option<Duration>> {
        Ok(self
            .require_bucket(bucket)?
            .retention_secs
            .map(Duration::from_secs))
    }

    /// The retention that applies to `bucket` now.
    pub fn effective_retention(&self, bucket: &str) -> StorageResult<Duration> {
        Ok(self
            .bucket_retention(bucket)?
            .unwrap_or(self.inner.config.retention))
    }

    /// [`Store::effective_retention`] in milliseconds.
    pub(crate) fn retention_ms(&self, bucket: &str) -> StorageResult<u64> {
        Ok(self.retention_ms_of(&self.require_bucket(bucket)?))
    }

    /// The retention in milliseconds of the bucket whose row is `row`
    /// (for callers that already read it).
    pub(crate) fn retention_ms_of(&self, row: &BucketRow) -> u64 {
        row.retention_secs
            .map(Duration::from_secs)
            .unwrap_or(self.inner.config.retention)
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::engine::Batch;

    use crate::keys::{self, CF_BUCKETS, CF_META};
    use crate::rows;
    use crate::Store;

    fn store(dir: &std::path::Path) -> Store {
        crate::test_support::store(dir, Duration::from_secs(86400))
    }

    use crate::test_support::put;

    /// Keys with more versions than a window (3 in tests), and windows that
    /// start within a key: every kept version is re-scheduled.
    #[test]
    fn every_window_is_rescheduled() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        for i in 0..8u8 {
            put(&s, "a", &[i; 20]);
        }
        for i in 0..3u8 {
            put(&s, "c", &[i; 20]);
        }
        let lock = s.lock_key("b", "c").unwrap();
        s.delete_object(&lock, "b", "c").unwrap();
        drop(lock);
        assert_eq!(s.purge_due().unwrap(), 0);
        s.set_bucket_retention("b", Some(Duration::ZERO)).unwrap();
        assert_eq!(s.purge_due().unwrap(), 7 + 3 + 1, "a's, c's and the marker");
        let meta = s
            .inner
            .db
            .get_owned(s.cf(CF_META), keys::reschedule_key("b"));
        assert_eq!(meta.unwrap(), None, "the marker is gone once done");
    }

    /// A crash after the new retention was stored but before the versions
    /// were re-scheduled: the next start finishes the job.
    #[test]
    fn a_reschedule_cut_off_by_a_crash_resumes_at_start() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = store(dir.path());
            s.create_bucket("b").unwrap();
            for i in 0..5u8 {
                put(&s, "k", &[i; 20]);
            }
            // What `set_bucket_retention` commits first, then "crash".
            let mut row = s.require_bucket("b").unwrap();
            row.retention_secs = Some(0);
            let mut batch = Batch::default();
            batch.put_cf(s.cf(CF_BUCKETS), b"b", rows::encode(&row));
            batch.put_cf(
                s.cf(CF_META),
                keys::reschedule_key("b"),
                keys::bucket_prefix("b").unwrap(),
            );
            s.write_synced(batch).unwrap();
            assert_eq!(s.purge_due().unwrap(), 0, "still on the old schedule");
        }
        let s = store(dir.path());
        assert_eq!(s.purge_due().unwrap(), 4);
    }
}
