//! Completed multipart uploads, remembered so a repeated
//! CompleteMultipartUpload gets the first answer again.
//!
//! A client whose Complete answer was lost (a timeout, a dropped connection)
//! sends the same request again; S3 answers it 200 with the same ETag and
//! version id for a while after completion. The record is written in the
//! completion's own batch (so it exists exactly when the object does) with an
//! `upload_expiry` entry at its own deadline; the expiry sweep removes it
//! then, like an unfinished upload.

use crate::engine::{Batch, ReadBounds};
use serde::{Deserialize, Serialize};

use crate::error::StorageResult;
use crate::keys::{self, CF_COMPLETED_UPLOADS, CF_UPLOAD_EXPIRY};
use crate::rows;
use crate::rows::UploadRef;
use crate::store::{now_ms, Store};

/// What a completed upload answered: enough to answer its repeat the same way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompletedUpload {
    /// The object's ETag, quoted (`"md5-N"`).
    pub etag: String,
    /// Sequence number of the version the upload became.
    pub seq: u64,
    /// The object's checksums: (algorithm, base64 value).
    pub checksums: Vec<(String, String)>,
    /// The upload's `x-amz-checksum-type`, if it was created with one.
    pub checksum_type: Option<String>,
    /// The part list the completion named: (number, ETag as stored).
    pub parts: Vec<(u32, String)>,
    /// When the record is forgotten, ms since the epoch.
    pub expires_ms: u64,
    /// Whether the version is its key's `null` version (then clients were
    /// given no version id).
    pub null_version: bool,
}

impl crate::rows::Row for CompletedUpload {}

impl CompletedUpload {
    /// The version id the completion answered with: none for a `null`
    /// version, as for the first answer.
    pub fn version_id(&self) -> Option<String> {
        (!self.null_version).then(|| rows::version_id(self.seq))
    }
}

impl Store {
    /// Adds `record` for the upload key `ukey` to a completion's `batch`, with
    /// its deadline in the expiry queue.
    pub(crate) fn stage_completed(
        &self,
        batch: &mut Batch,
        upload: &UploadRef,
        ukey: &[u8],
        record: &CompletedUpload,
    ) {
        batch.put_cf(self.cf(CF_COMPLETED_UPLOADS), ukey, rows::encode(record));
        batch.put_cf(
            self.cf(CF_UPLOAD_EXPIRY),
            keys::upload_expiry_key(record.expires_ms, ukey),
            rows::encode(upload),
        );
    }

    /// The record of a completed upload, if it completed within its
    /// remembering period.
    pub fn completed_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StorageResult<Option<CompletedUpload>> {
        let ukey = keys::upload_key(bucket, key, upload_id)?;
        let Some(v) = self.inner.db.get(self.cf(CF_COMPLETED_UPLOADS), &ukey)? else {
            return Ok(None);
        };
        let record: CompletedUpload = rows::decode(&v)?;
        // Past its deadline but not yet swept: already forgotten.
        Ok((record.expires_ms > now_ms()).then_some(record))
    }

    /// Forgets the completed uploads of `bucket` (deleted: a new bucket of
    /// the same name must not answer for them). Their expiry entries then
    /// remove nothing.
    pub(crate) fn forget_completed_uploads(&self, bucket: &str) -> StorageResult<usize> {
        let bprefix = keys::bucket_prefix(bucket)?;
        if self.inner.db.max_ops_per_commit().is_some() {
            // An engine that limits its commits (etcd): one range, however
            // many completions the bucket remembers.
            let n = self
                .inner
                .db
                .entries(
                    self.cf(CF_COMPLETED_UPLOADS),
                    ReadBounds::prefix(&bprefix),
                    Some(&bprefix),
                )
                .count();
            if n > 0 {
                let end =
                    keys::prefix_successor(&bprefix).expect("a bucket prefix has a successor");
                let mut batch = Batch::default();
                batch.delete_range_cf(self.cf(CF_COMPLETED_UPLOADS), &bprefix, end);
                self.write_synced(batch)?;
            }
            return Ok(n);
        }
        let iter = self.inner.db.entries(
            self.cf(CF_COMPLETED_UPLOADS),
            ReadBounds::prefix(&bprefix),
            Some(&bprefix),
        );
        let mut batch = Batch::default();
        let mut n = 0;
        for item in iter {
            let (k, _) = item?;
            batch.delete_cf(self.cf(CF_COMPLETED_UPLOADS), &k);
            n += 1;
        }
        if n > 0 {
            self.write_synced(batch)?;
        }
        Ok(n)
    }
}
