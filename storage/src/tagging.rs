//! Tags: an object version's tags changed in place (S3 PutObjectTagging /
//! DeleteObjectTagging), and a bucket's own tag set.

use crate::engine::Batch;
use serde::{Deserialize, Serialize};

use crate::changes::{ChangeEntry, ChangeEvent};
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_META, CF_OBJECTS, CF_VERSIONS};
use crate::locks::WriteLock;
use crate::rows::{self, ObjectRow, Row};
use crate::store::Store;

/// A bucket's tag set (PutBucketTagging), kept apart from
/// [`crate::BucketRow`] under its own meta key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct BucketTags {
    pub(crate) tags: Vec<(String, String)>,
}

impl Row for BucketTags {}

impl Store {
    /// Replaces the tags of one version of `bucket`/`key` (`seq`, or the
    /// current version with `None`) in place, as S3 does: no new version,
    /// the same version id, ETag and Last-Modified. One synced batch holds
    /// the rewritten row and a `metadata` entry of the change log. Returns
    /// the updated row; `NoSuchKey` / `NoSuchVersion` when there is no such
    /// version (a delete marker has no tags to set: also `NoSuchKey`).
    pub fn set_tags(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
        seq: Option<u64>,
        tags: Vec<(String, String)>,
    ) -> StorageResult<ObjectRow> {
        let object_key = keys::object_key(bucket, key)?;
        assert_eq!(
            lock.key(),
            object_key.as_slice(),
            "write lock of another key"
        );
        let _bucket = self.commit_guard();
        // A noncurrent row is rewritten: the purger (which removes such rows
        // under this latch) must not remove it between this read and the
        // write, or the write would bring back a row whose files are gone.
        let _latch = self.inner.latches.key(&object_key);
        self.retry_guarded(|| self.try_set_tags(&object_key, bucket, key, seq, tags.clone()))
    }

    /// One attempt of [`Store::set_tags`]; on a shared engine the row it
    /// rewrites must be the one it read when the batch commits.
    fn try_set_tags(
        &self,
        object_key: &[u8],
        bucket: &str,
        key: &str,
        seq: Option<u64>,
        tags: Vec<(String, String)>,
    ) -> StorageResult<ObjectRow> {
        let (current, current_raw) = self.current_for_update(bucket, key)?;
        let (mut row, row_key, cf, raw) = match (seq, current) {
            (None, Some(c)) if !c.delete_marker => {
                (c, object_key.to_vec(), CF_OBJECTS, current_raw)
            }
            (None, _) => return Err(StorageError::NoSuchKey),
            (Some(seq), Some(c)) if c.seq == seq => {
                (c, object_key.to_vec(), CF_OBJECTS, current_raw)
            }
            (Some(seq), _) => {
                let vkey = keys::version_key(bucket, key, seq)?;
                let raw = self
                    .inner
                    .db
                    .get_owned(self.cf(CF_VERSIONS), &vkey)?
                    .ok_or(StorageError::NoSuchVersion)?;
                (
                    rows::decode::<ObjectRow>(&raw)?,
                    vkey,
                    CF_VERSIONS,
                    Some(raw),
                )
            }
        };
        if row.delete_marker {
            return Err(StorageError::NoSuchKey);
        }
        let before = row.clone();
        row.tags = tags;
        let mut batch = Batch::default();
        self.expect_read(&mut batch, cf, &row_key, raw.as_deref());
        batch.put_cf(self.cf(cf), &row_key, rows::encode(&row));
        if cf == CF_OBJECTS {
            // Only current versions are searchable: their index entries
            // follow the new tags in this batch.
            crate::search_index::stage(self, &mut batch, bucket, key, Some(&before), Some(&row))?;
            // Lifecycle rules may filter on tags: the current version is
            // queued again under the new ones (a stale entry is re-checked
            // and dropped when it comes due).
            let lifecycle = self.lifecycle_for_update(&mut batch, bucket)?;
            self.stage_expiry(&mut batch, lifecycle.as_ref(), bucket, key, &row)?;
        }
        let change = ChangeEntry::of(ChangeEvent::Metadata, key, &row);
        self.write_logged(batch, bucket, &[change])?;
        Ok(row)
    }

    /// The bucket's tag set; `None` if it has none (S3's `NoSuchTagSet`).
    pub fn bucket_tags(&self, bucket: &str) -> StorageResult<Option<Vec<(String, String)>>> {
        self.require_bucket(bucket)?;
        match self
            .inner
            .db
            .get(self.cf(CF_META), keys::bucket_tags_key(bucket))?
        {
            Some(raw) => Ok(Some(rows::decode::<BucketTags>(&raw)?.tags)),
            None => Ok(None),
        }
    }

    /// Sets (`Some`) or removes (`None`) the bucket's tag set.
    pub fn set_bucket_tags(
        &self,
        bucket: &str,
        tags: Option<Vec<(String, String)>>,
    ) -> StorageResult<()> {
        // The bucket lock keeps this from racing a deletion of the bucket.
        let _guard = self.bucket_lock(bucket)?;
        self.retry_guarded(|| {
            let mut batch = Batch::default();
            // On a shared engine: not while the bucket is being deleted.
            self.bucket_for_update(&mut batch, bucket)?;
            let k = keys::bucket_tags_key(bucket);
            match &tags {
                Some(tags) => batch.put_cf(
                    self.cf(CF_META),
                    k,
                    rows::encode(&BucketTags { tags: tags.clone() }),
                ),
                None => batch.delete_cf(self.cf(CF_META), k),
            }
            self.write_synced(batch)
        })
    }
}
