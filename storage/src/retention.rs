//! How long replaced and deleted versions stay recoverable: server-wide
//! (`StoreConfig::retention`), overridable per bucket (`BucketRow`).
//!
//! A version's purge time is set when it is replaced or deleted, from the
//! bucket's retention at that moment. Changing a bucket's retention
//! re-schedules the versions it already holds: each is then due its new
//! retention after it stopped being current (when its successor was
//! written, or when the delete marker was).

use std::time::Duration;

use rocksdb::WriteBatch;

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_BUCKETS, CF_PURGE, CF_VERSIONS};
use crate::rows::{self, ObjectRow, PurgeEntry};
use crate::store::Store;

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
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_BUCKETS), bucket.as_bytes(), rows::encode(&row));
        let retention = retention
            .unwrap_or(self.inner.config.retention)
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX);
        self.reschedule(&mut batch, bucket, retention)?;
        self.write_synced(batch)
    }

    /// Adds to `batch`: every noncurrent version of `bucket` becomes due
    /// `retention` ms after it stopped being current.
    fn reschedule(
        &self,
        batch: &mut WriteBatch,
        bucket: &str,
        retention: u64,
    ) -> StorageResult<()> {
        let prefix = keys::bucket_prefix(bucket)?;
        let mut it = self.inner.db.raw_iterator_cf(self.cf(CF_VERSIONS));
        it.seek(&prefix);
        // (key, when the next-newer version of it was written)
        let mut successor: Option<(String, Option<u64>)> = None;
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !k.starts_with(&prefix) {
                break;
            }
            let (key, seq) = keys::version_key_parts(prefix.len(), k)
                .ok_or_else(|| StorageError::Corrupt("version key".into()))?;
            let mut row: ObjectRow = rows::decode(v)?;
            let next_newer = match &successor {
                Some((k, at)) if *k == key => *at,
                // The newest noncurrent version was replaced by the current one.
                _ => self.current(bucket, &key)?.map(|c| c.modified_ms),
            };
            let retired = if row.delete_marker {
                Some(row.modified_ms)
            } else {
                next_newer
            };
            successor = Some((key.clone(), Some(row.modified_ms)));
            let Some(retired) = retired else {
                it.next();
                continue;
            };
            let due = retired.saturating_add(retention);
            if due != row.expires_ms {
                batch.delete_cf(self.cf(CF_PURGE), keys::purge_key(row.expires_ms, seq));
                let entry = PurgeEntry {
                    bucket: bucket.to_string(),
                    key,
                    seq,
                    chunks: Vec::new(),
                };
                batch.put_cf(
                    self.cf(CF_PURGE),
                    keys::purge_key(due, seq),
                    rows::encode(&entry),
                );
                row.expires_ms = due;
                batch.put_cf(self.cf(CF_VERSIONS), k, rows::encode(&row));
            }
            it.next();
        }
        it.status()?;
        Ok(())
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
        Ok(self
            .effective_retention(bucket)?
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX))
    }
}
