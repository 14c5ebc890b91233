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
                    // the record of a completion if this entry is the
                    // record's own deadline. An entry read before a Complete
                    // committed (here or on another front end) is the
                    // upload's old deadline: the record it just wrote stays.
                    let at = u64::from_be_bytes(expiry_key[..8].try_into().expect("8 bytes"));
                    let mut batch = Batch::default();
                    batch.delete_cf(self.cf(CF_UPLOAD_EXPIRY), &expiry_key);
                    let record = self
                        .inner
                        .db
                        .get_owned(self.cf(CF_COMPLETED_UPLOADS), &ukey)?;
                    if let Some(raw) = record {
                        let rec: crate::completed::CompletedUpload = rows::decode(&raw)?;
                        if rec.expires_ms <= at {
                            self.expect_read(&mut batch, CF_COMPLETED_UPLOADS, &ukey, Some(&raw));
                            batch.delete_cf(self.cf(CF_COMPLETED_UPLOADS), &ukey);
                        }
                    }
                    match self.write_synced(batch) {
                        // The record changed meanwhile: the next pass decides.
                        Ok(()) | Err(crate::StorageError::Conflict) => continue,
                        Err(e) => return Err(e),
                    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::engine::Batch;
    use crate::keys::{self, CF_UPLOAD_EXPIRY};
    use crate::multipart::{NewPart, NewUpload};
    use crate::objects::NewObject;
    use crate::rows::{self, UploadRef};
    use crate::store::now_ms;

    /// The expiry pass read an upload's deadline entry, then a Complete
    /// (on this or another front end) committed before the pass looked
    /// at the upload: the entry is the upload's old deadline, and the
    /// record the Complete just wrote (remembered much longer) stays, so
    /// a repeated Complete still gets the first answer.
    #[test]
    fn an_old_deadline_entry_leaves_a_fresh_completion_record() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::test_support::store(dir.path(), Duration::from_secs(60));
        s.create_bucket("b").unwrap();
        let deadline = now_ms() + 60_000;
        let (id, _) = s
            .create_upload(
                "b",
                "k",
                NewUpload {
                    expires_ms: deadline,
                    ..NewUpload::default()
                },
            )
            .unwrap();
        let lock = s.lock_part("b", "k", &id, 1).unwrap();
        let mut w = s.part_writer();
        w.write(b"part one").unwrap();
        let part = NewPart {
            etag: "\"p1\"".into(),
            checksum: None,
            crc64nvme: None,
        };
        s.commit_part(&lock, ("b", "k", &id), 1, w.finish().unwrap(), part)
            .unwrap();
        drop(lock);
        let lock = s.lock_key("b", "k").unwrap();
        let chosen = [(1, "\"p1\"".to_string())];
        let new = NewObject {
            etag: "\"e-1\"".into(),
            ..NewObject::default()
        };
        s.complete_upload(&lock, "b", "k", &id, &chosen, new, now_ms() + 3_600_000)
            .unwrap();
        // The upload's own deadline entry, as the pass read it before the
        // Complete removed it; and that deadline now past.
        let ukey = keys::upload_key("b", "k", &id).unwrap();
        let past = now_ms() - 1;
        let mut batch = Batch::default();
        let upload = UploadRef {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: id.clone(),
        };
        batch.put_cf(
            s.cf(CF_UPLOAD_EXPIRY),
            keys::upload_expiry_key(past, &ukey),
            rows::encode(&upload),
        );
        s.write_synced(batch).unwrap();
        s.expire_uploads().unwrap();
        let record = s.completed_upload("b", "k", &id).unwrap();
        assert_eq!(record.map(|r| r.etag), Some("\"e-1\"".to_string()));
    }
}
