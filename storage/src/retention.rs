//! How long replaced and deleted versions stay recoverable: server-wide
//! (`StoreConfig::retention`), overridable per bucket (`BucketRow`).
//!
//! A version's purge time is fixed when it is replaced or deleted, from the
//! bucket's retention at that moment; changing the retention applies to
//! versions retired from then on.

use std::time::Duration;

use rocksdb::WriteBatch;

use crate::error::StorageResult;
use crate::keys::CF_BUCKETS;
use crate::rows;
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
        self.write_synced(batch)
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
