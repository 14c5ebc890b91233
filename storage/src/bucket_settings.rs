//! Per-bucket settings changed at run time (through the admin API).

use crate::engine::Batch;

use crate::error::StorageResult;
use crate::keys::CF_BUCKETS;
use crate::rows::{self, Versioning};
use crate::store::Store;

impl Store {
    /// Sets (or with `None` clears) the bucket's own upload size limit.
    pub fn set_bucket_max_object_size(&self, bucket: &str, max: Option<u64>) -> StorageResult<()> {
        // The bucket lock keeps this read-modify-write from racing a deletion.
        let _guard = self.bucket_lock(bucket)?;
        self.retry_guarded(|| {
            let mut batch = Batch::default();
            // Guarded on a shared engine: another front end's change of
            // the row (or deletion of the bucket) makes this read again.
            let mut row = self.bucket_for_update(&mut batch, bucket)?;
            row.max_object_size = max;
            batch.put_cf(self.cf(CF_BUCKETS), bucket.as_bytes(), rows::encode(&row));
            self.write_synced(batch)
        })
    }

    /// Sets the bucket's S3 versioning state (PutBucketVersioning):
    /// `Enabled` when `enabled`, else `Suspended`. A bucket never returns to
    /// [`Versioning::Unversioned`], as in S3. Existing versions are
    /// untouched: the state applies to the writes that follow.
    pub fn set_bucket_versioning(&self, bucket: &str, enabled: bool) -> StorageResult<()> {
        let state = if enabled {
            Versioning::Enabled
        } else {
            Versioning::Suspended
        };
        let _guard = self.bucket_lock(bucket)?;
        self.retry_guarded(|| {
            let mut batch = Batch::default();
            let mut row = self.bucket_for_update(&mut batch, bucket)?;
            if row.versioning == state {
                return Ok(());
            }
            row.versioning = state;
            batch.put_cf(self.cf(CF_BUCKETS), bucket.as_bytes(), rows::encode(&row));
            self.write_synced(batch)
        })
    }
}
