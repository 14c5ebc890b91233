//! Discarding multipart uploads: past their deadline, or with their bucket.
//!
//! Deadlines are rows in `upload_expiry`, written with the upload, so a
//! restart resumes them; each discard is one batch (rows), then the files.

use crate::engine::{Batch, ReadBounds};

use crate::error::StorageResult;
use crate::keys::{self, CF_COMPLETED_UPLOADS, CF_UPLOADS, CF_UPLOAD_EXPIRY};
use crate::multipart::UploadRow;
use crate::rows;
use crate::rows::UploadRef;
use crate::store::{now_ms, Store};

impl Store {
    /// Discards every upload whose deadline has passed. Returns how many.
    pub fn expire_uploads(&self) -> StorageResult<usize> {
        let now = now_ms();
        let mut due = Vec::new();
        for item in self
            .inner
            .db
            .entries(self.cf(CF_UPLOAD_EXPIRY), ReadBounds::all(), None)
        {
            let (k, v) = item?;
            let at = k
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes);
            if at.is_none_or(|d| d > now) {
                break;
            }
            due.push((k.to_vec(), rows::decode::<UploadRef>(&v)?));
            if due.len() >= 1000 {
                break;
            }
        }
        let mut expired = 0;
        for (expiry_key, r) in due {
            let removed = {
                let _mp = self.inner.multipart.lock();
                let ukey = keys::upload_key(&r.bucket, &r.key, &r.upload_id)?;
                let exists = self.inner.db.get(self.cf(CF_UPLOADS), &ukey)?;
                if exists.is_some() {
                    let at = u64::from_be_bytes(expiry_key[..8].try_into().expect("8 bytes"));
                    match self.remove_upload_rows(&r.bucket, &r.key, &r.upload_id, at) {
                        Ok(removed) => removed,
                        // Closed (or being closed) by another front end
                        // meanwhile; a claim left by a dead one goes stale
                        // and the next pass takes it over.
                        Err(crate::StorageError::NoSuchUpload | crate::StorageError::Conflict) => {
                            continue
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    // Completed or aborted: only the queue entry is left, and
                    // the record of a completion (remembered until now).
                    let mut batch = Batch::default();
                    batch.delete_cf(self.cf(CF_UPLOAD_EXPIRY), &expiry_key);
                    batch.delete_cf(self.cf(CF_COMPLETED_UPLOADS), &ukey);
                    self.write_synced(batch)?;
                    continue;
                }
            };
            self.remove_chunk_files(&removed);
            expired += 1;
        }
        Ok(expired)
    }

    /// Discards every upload of `bucket` (after the bucket was deleted: its
    /// unfinished uploads must not reappear if the name is reused).
    pub fn discard_bucket_uploads(&self, bucket: &str) -> StorageResult<usize> {
        let bprefix = keys::bucket_prefix(bucket)?;
        let mut found = Vec::new();
        for item in self.bounded_from(CF_UPLOADS, &bprefix, &bprefix) {
            let (k, v) = item?;
            if let Some((key, upload_id)) = keys::parse_upload_key(&k[bprefix.len()..]) {
                found.push((key, upload_id, rows::decode::<UploadRow>(&v)?.expires_ms));
            }
        }
        for (key, upload_id, expires_ms) in &found {
            let removed = {
                let _mp = self.inner.multipart.lock();
                match self.remove_upload_rows(bucket, key, upload_id, *expires_ms) {
                    Ok(removed) => removed,
                    Err(crate::StorageError::NoSuchUpload | crate::StorageError::Conflict) => {
                        continue
                    }
                    Err(e) => return Err(e),
                }
            };
            self.remove_chunk_files(&removed);
        }
        self.forget_completed_uploads(bucket)?;
        Ok(found.len())
    }
}
