//! Multipart uploads: the upload, its parts, completion and expiry.
//!
//! A part is written like an object (chunk files, synced, owned by a cleanup
//! guard) and committed with one synced batch: its `parts` row and its
//! `chunks` rows. Completion writes no data: one batch makes the chosen
//! parts' chunks the new object's chunks, removes the upload's rows, and
//! drops the chunk rows of parts left out (their files are removed after the
//! batch; a crash in between leaves orphans that the start-up sweep removes).
//!
//! Each upload has a deadline recorded in `upload_expiry` in the batch that
//! creates it; [`Store::expire_uploads`] aborts uploads past it, so an
//! unfinished upload is discarded even across restarts.
//!
//! The short metadata steps (part commit, complete, abort, expiry) run under
//! one store-wide mutex, so a part can never land in an upload that is being
//! completed or removed. Data is never written under it.

use crate::engine::Batch;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::changes::ChangeEntry;

use crate::completed::CompletedUpload;
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_CHUNKS, CF_OBJECTS, CF_PARTS, CF_UPLOADS, CF_UPLOAD_EXPIRY};
use crate::locks::WriteLock;
use crate::objects::NewObject;
use crate::rows::{self, ChunkAt, ChunkRef, DataLocation, ObjectRow, UploadRef};
use crate::store::{now_ms, Store};
use crate::writer::{ObjectWriter, WrittenData};

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadRow {
    /// Sequence number taken at creation (owner of the parts' chunk rows).
    pub seq: u64,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// When the upload is discarded if not completed, ms since the epoch.
    pub expires_ms: u64,
    /// Headers to store with the object (content-type, x-amz-meta-*, …).
    pub headers: Vec<(String, String)>,
    /// `x-amz-checksum-algorithm` given at creation (`CRC32`, …).
    pub checksum_algorithm: Option<String>,
    /// `x-amz-checksum-type` given at creation (`COMPOSITE` / `FULL_OBJECT`).
    pub checksum_type: Option<String>,
    /// Created with `x-amz-acl: public-read`: the object is published on completion.
    pub public: bool,
    /// Tags given at creation (`x-amz-tagging`), stored with the object on completion.
    pub tags: Vec<(String, String)>,
}

/// `UploadRow` as format 1 wrote it (no tags).
#[derive(Deserialize)]
struct UploadRowV1 {
    seq: u64,
    created_ms: u64,
    expires_ms: u64,
    headers: Vec<(String, String)>,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
    public: bool,
}

impl crate::rows::Row for UploadRow {
    const FORMAT: u8 = crate::rows::FORMAT_V3;

    fn upgrade(format: u8, raw: &[u8]) -> StorageResult<Self> {
        if format != 1 {
            return Err(StorageError::Corrupt(format!(
                "unknown row format {format}"
            )));
        }
        let v1: UploadRowV1 = postcard::from_bytes(raw)
            .map_err(|e| StorageError::Corrupt(format!("undecodable row: {e}")))?;
        Ok(UploadRow {
            seq: v1.seq,
            created_ms: v1.created_ms,
            expires_ms: v1.expires_ms,
            headers: v1.headers,
            checksum_algorithm: v1.checksum_algorithm,
            checksum_type: v1.checksum_type,
            public: v1.public,
            tags: Vec::new(),
        })
    }
}

/// What CreateMultipartUpload asks for.
#[derive(Debug, Clone, Default)]
pub struct NewUpload {
    /// Headers to store with the object (content-type, x-amz-meta-*, …).
    pub headers: Vec<(String, String)>,
    /// `x-amz-checksum-algorithm` (`CRC32`, …).
    pub checksum_algorithm: Option<String>,
    /// `x-amz-checksum-type` (`COMPOSITE` / `FULL_OBJECT`).
    pub checksum_type: Option<String>,
    /// When the upload is discarded if not completed, ms since the epoch.
    pub expires_ms: u64,
    /// Publish the object on completion.
    pub public: bool,
    /// Tags to store with the object (`x-amz-tagging`).
    pub tags: Vec<(String, String)>,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartRow {
    /// Entity tag, quoted (`"md5 hex"`).
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Upload time, ms since the epoch.
    pub modified_ms: u64,
    /// The part's chunk files, in order (empty for an empty part).
    pub chunks: Vec<ChunkRef>,
    /// The part's additional checksum: (algorithm, base64 value).
    pub checksum: Option<(String, String)>,
    /// For uploads created without a checksum algorithm: the part's
    /// CRC64NVME (base64), from which the object's full-object default
    /// checksum is combined.
    pub crc64nvme: Option<String>,
}

/// `PartRow` before format 4 (chunks without checksums).
#[derive(Deserialize)]
struct PartRowV1 {
    etag: String,
    size: u64,
    modified_ms: u64,
    chunks: Vec<rows::ChunkRefV1>,
    checksum: Option<(String, String)>,
    crc64nvme: Option<String>,
}

/// `PartRow` in format 4 (chunks without a backend number).
#[derive(Deserialize)]
struct PartRowV4 {
    etag: String,
    size: u64,
    modified_ms: u64,
    chunks: Vec<rows::ChunkRefV4>,
    checksum: Option<(String, String)>,
    crc64nvme: Option<String>,
}

impl crate::rows::Row for PartRow {
    const FORMAT: u8 = rows::FORMAT_V5;

    fn upgrade(format: u8, raw: &[u8]) -> StorageResult<Self> {
        if format == rows::FORMAT_V4 {
            let old: PartRowV4 = rows::postcard_decode(raw)?;
            return Ok(PartRow {
                etag: old.etag,
                size: old.size,
                modified_ms: old.modified_ms,
                chunks: rows::upgrade_chunks_v4(old.chunks),
                checksum: old.checksum,
                crc64nvme: old.crc64nvme,
            });
        }
        if format >= rows::FORMAT_V4 {
            return Err(StorageError::Corrupt(format!(
                "unknown part row format {format}"
            )));
        }
        // Formats 1 to 3 wrote parts alike (only object and upload rows changed).
        let old: PartRowV1 = rows::postcard_decode(raw)?;
        Ok(PartRow {
            etag: old.etag,
            size: old.size,
            modified_ms: old.modified_ms,
            chunks: rows::upgrade_chunks(old.chunks),
            checksum: old.checksum,
            crc64nvme: old.crc64nvme,
        })
    }
}

/// Metadata of a part about to be committed.
#[derive(Debug, Clone, Default)]
pub struct NewPart {
    /// Entity tag, quoted.
    pub etag: String,
    /// The part's additional checksum: (algorithm, base64 value).
    pub checksum: Option<(String, String)>,
    /// See [`PartRow::crc64nvme`].
    pub crc64nvme: Option<String>,
}

/// One upload in a listing.
#[derive(Debug, Clone)]
pub struct UploadListItem {
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// The upload.
    pub row: UploadRow,
}

/// Upload ids are 32 lowercase hex digits: the creation sequence number
/// (so ids sort by start time) then 64 random bits.
fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Store {
    /// Starts a multipart upload of `bucket`/`key` that is discarded at
    /// `expires_ms` unless completed. Returns its id.
    pub fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        new: NewUpload,
    ) -> StorageResult<(String, UploadRow)> {
        let mut batch = Batch::default();
        // On a shared engine: not into a bucket being deleted.
        self.bucket_for_update(&mut batch, bucket)?;
        let seq = self.next_seq()?;
        let upload_id = format!("{seq:016x}{:016x}", rand::thread_rng().next_u64());
        let expires_ms = new.expires_ms;
        let row = UploadRow {
            seq,
            created_ms: now_ms(),
            expires_ms,
            headers: new.headers,
            checksum_algorithm: new.checksum_algorithm,
            checksum_type: new.checksum_type,
            public: new.public,
            tags: new.tags,
        };
        let ukey = keys::upload_key(bucket, key, &upload_id)?;
        let entry = UploadRef {
            bucket: bucket.into(),
            key: key.into(),
            upload_id: upload_id.clone(),
        };
        batch.put_cf(self.cf(CF_UPLOADS), &ukey, rows::encode(&row));
        batch.put_cf(
            self.cf(CF_UPLOAD_EXPIRY),
            keys::upload_expiry_key(expires_ms, &ukey),
            rows::encode(&entry),
        );
        self.write_synced(batch)?;
        Ok((upload_id, row))
    }

    /// An upload in progress; `NoSuchUpload` if unknown, finished or past its deadline.
    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> StorageResult<UploadRow> {
        if !valid_upload_id(upload_id) {
            return Err(StorageError::NoSuchUpload);
        }
        let ukey = keys::upload_key(bucket, key, upload_id)?;
        match self.inner.db.get(self.cf(CF_UPLOADS), &ukey)? {
            Some(raw) => {
                let row: UploadRow = rows::decode(&raw)?;
                if row.expires_ms <= now_ms() {
                    return Err(StorageError::NoSuchUpload);
                }
                Ok(row)
            }
            None => {
                self.require_bucket(bucket)?;
                Err(StorageError::NoSuchUpload)
            }
        }
    }

    /// A writer for part data: always chunk files (never inline), so the
    /// parts' chunks can become the object's chunks as they are.
    pub fn part_writer(&self) -> ObjectWriter {
        ObjectWriter::new(
            self.inner.chunks.clone(),
            0,
            self.inner.config.chunk_size,
            0,
        )
    }

    /// The exclusive right to upload one part number of one upload;
    /// [`StorageError::Conflict`] while another upload of that part runs.
    pub fn lock_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
    ) -> StorageResult<WriteLock> {
        // Tag 1 keeps part locks apart from object keys (which start with
        // the bucket name's length, 3..=63) and bucket locks (tag 0).
        let mut lock_key = vec![1u8];
        lock_key.extend(keys::part_key(
            &keys::upload_key(bucket, key, upload_id)?,
            part_number,
        ));
        self.inner.locks.try_lock(lock_key)
    }

    /// Commits a part's synced data, replacing any earlier upload of the same number.
    pub fn commit_part(
        &self,
        lock: &WriteLock,
        (bucket, key, upload_id): (&str, &str, &str),
        part_number: u32,
        data: WrittenData,
        new: NewPart,
    ) -> StorageResult<PartRow> {
        let ukey = keys::upload_key(bucket, key, upload_id)?;
        let pkey = keys::part_key(&ukey, part_number);
        assert_eq!(&lock.key()[1..], pkey.as_slice(), "lock of another part");
        let chunks = match &data.location {
            DataLocation::Chunks(c) => c.clone(),
            DataLocation::Inline(v) if v.is_empty() => Vec::new(),
            DataLocation::Inline(_) => {
                return Err(StorageError::Corrupt(
                    "part data must be in chunk files".into(),
                ))
            }
        };
        let row = PartRow {
            etag: new.etag,
            size: data.size,
            modified_ms: now_ms(),
            chunks,
            checksum: new.checksum,
            crc64nvme: new.crc64nvme,
        };
        // What the last attempt would replace, if its answer is lost.
        let mut sent = Vec::new();
        let result = {
            let _mp = self.inner.multipart.lock();
            self.retry_guarded(|| {
                self.try_commit_part(&ukey, &pkey, (bucket, key, upload_id), &row, &mut sent)
            })
        };
        match result {
            Ok(()) => data.cleanup.disarm(),
            Err(StorageError::CommitUnknown(why)) => {
                // Whatever the answer, the chunk files stay
                // (`unknown_outcome.rs`).
                data.cleanup.disarm();
                let encoded = rows::encode(&row);
                self.settle_unknown(why, || self.part_committed(&pkey, &encoded))?;
            }
            Err(e) => return Err(e),
        }
        self.remove_chunk_files(&sent);
        Ok(row)
    }

    /// One attempt of [`Store::commit_part`]'s metadata step. On a shared
    /// engine it requires the upload's row unchanged, no Complete, Abort or
    /// expiry of it under way (their claim absent), and the part's previous
    /// row as read; `replaced` gets the replaced part's chunks (set before
    /// the commit is sent).
    fn try_commit_part(
        &self,
        ukey: &[u8],
        pkey: &[u8],
        (bucket, key, upload_id): (&str, &str, &str),
        row: &PartRow,
        replaced: &mut Vec<ChunkAt>,
    ) -> StorageResult<()> {
        replaced.clear();
        let mut batch = Batch::default();
        let upload = self.upload(bucket, key, upload_id)?;
        if self.shared() {
            self.expect_unclaimed(&mut batch, &crate::guards::closing_key(ukey))?;
            let raw = self.inner.db.get_owned(self.cf(CF_UPLOADS), ukey)?;
            let raw = raw.ok_or(StorageError::NoSuchUpload)?;
            self.expect_read(&mut batch, CF_UPLOADS, ukey, Some(&raw));
        }
        let previous_raw = self.inner.db.get_owned(self.cf(CF_PARTS), pkey)?;
        self.expect_read(&mut batch, CF_PARTS, pkey, previous_raw.as_deref());
        let previous: Option<PartRow> = match &previous_raw {
            Some(raw) => Some(rows::decode(raw)?),
            None => None,
        };
        {
            batch.put_cf(self.cf(CF_PARTS), pkey, rows::encode(row));
            for c in &row.chunks {
                batch.put_cf(self.cf(CF_CHUNKS), c.id, upload.seq.to_be_bytes());
            }
            let previous_chunks: Vec<ChunkAt> = previous
                .map(|p| p.chunks.iter().map(ChunkAt::from).collect())
                .unwrap_or_default();
            for c in &previous_chunks {
                batch.delete_cf(self.cf(CF_CHUNKS), c.id);
            }
            let written = self.write_synced(batch);
            *replaced = previous_chunks;
            written
        }
    }

    /// Completes an upload: the parts `chosen` (number and the ETag the
    /// caller validated, in order) become the object, atomically and durably;
    /// other parts are dropped. `InvalidPart`-like races (a part replaced
    /// since it was validated) are [`StorageError::Conflict`]. The same batch
    /// records the completion until `remember_until_ms`, for repeated
    /// requests ([`Store::completed_upload`]).
    #[allow(clippy::too_many_arguments)]
    pub fn complete_upload(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
        upload_id: &str,
        chosen: &[(u32, String)],
        new: NewObject,
        remember_until_ms: u64,
    ) -> StorageResult<ObjectRow> {
        let object_key = keys::object_key(bucket, key)?;
        assert_eq!(
            lock.key(),
            object_key.as_slice(),
            "write lock of another key"
        );
        let ukey = keys::upload_key(bucket, key, upload_id)?;
        let (row, dropped) = {
            let _mp = self.inner.multipart.lock();
            // On a shared engine: no part may land once the parts are read
            // below, so the upload is claimed first (see `guards.rs`).
            let claim = self.claim_upload(bucket, key, upload_id, &ukey)?;
            let _bucket = self.commit_guard();
            let done = self.retry_guarded(|| {
                self.try_complete_upload(
                    (&object_key, &ukey),
                    (bucket, key, upload_id),
                    chosen,
                    new.clone(),
                    remember_until_ms,
                    &claim,
                )
            });
            if done.is_err() {
                self.drop_claim(claim);
            }
            done?
        };
        self.remove_chunk_files(&dropped);
        Ok(row)
    }

    /// Claims upload `ukey` for closing (on a shared engine; `None`
    /// elsewhere): `NoSuchUpload` if it is gone, `Conflict` while another
    /// front end closes it.
    fn claim_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        ukey: &[u8],
    ) -> StorageResult<Option<crate::guards::Claim>> {
        if !self.shared() {
            return Ok(None);
        }
        self.retry_guarded(|| {
            self.upload(bucket, key, upload_id)?;
            let raw = self
                .inner
                .db
                .get_owned(self.cf(CF_UPLOADS), ukey)?
                .ok_or(StorageError::NoSuchUpload)?;
            self.take_claim(
                crate::guards::closing_key(ukey),
                CF_UPLOADS,
                ukey,
                Some(&raw),
            )
        })
    }

    /// One attempt of [`Store::complete_upload`]'s commit.
    fn try_complete_upload(
        &self,
        (object_key, ukey): (&[u8], &[u8]),
        (bucket, key, upload_id): (&str, &str, &str),
        chosen: &[(u32, String)],
        new: NewObject,
        remember_until_ms: u64,
        claim: &Option<crate::guards::Claim>,
    ) -> StorageResult<(ObjectRow, Vec<ChunkAt>)> {
        {
            let upload = self.upload(bucket, key, upload_id)?;
            let (parts, _) = self.list_parts(bucket, key, upload_id, 0, usize::MAX)?;
            let (previous, previous_raw) = self.current_for_update(bucket, key)?;
            let mut batch = Batch::default();
            self.finish_claim(&mut batch, claim);
            self.expect_read(&mut batch, CF_OBJECTS, object_key, previous_raw.as_deref());
            let floor = self.version_floor(&mut batch, bucket, key, previous.as_ref())?;
            let mut chunks = Vec::new();
            let mut part_sizes = Vec::with_capacity(chosen.len());
            let mut used = std::collections::HashSet::new();
            let mut part_checksums = Vec::with_capacity(chosen.len());
            for (number, etag) in chosen {
                let part = parts
                    .iter()
                    .find(|(n, _)| n == number)
                    .filter(|(_, p)| &p.etag == etag)
                    .map(|(_, p)| p)
                    .ok_or(StorageError::Conflict)?;
                chunks.extend_from_slice(&part.chunks);
                part_sizes.push(part.size);
                part_checksums.push(part.checksum.as_ref().map(|(_, v)| v.clone()));
                used.insert(*number);
            }
            let size = part_sizes.iter().sum();
            let has_checksum = !new.checksums.is_empty();
            let mut row = ObjectRow {
                seq: self.next_seq_from(floor)?,
                delete_marker: false,
                size,
                etag: new.etag,
                modified_ms: now_ms(),
                headers: new.headers,
                checksums: new.checksums,
                part_sizes,
                data: if chunks.is_empty() {
                    DataLocation::Inline(Vec::new())
                } else {
                    DataLocation::Chunks(chunks)
                },
                expires_ms: 0,
                null_version: false,
                tags: new.tags,
                // Listed only when every part has one (and so the object).
                part_checksums: if !has_checksum {
                    Vec::new()
                } else {
                    part_checksums
                        .into_iter()
                        .collect::<Option<Vec<_>>>()
                        .unwrap_or_default()
                },
            };
            let change = ChangeEntry::put(key, &row, previous.as_ref());
            self.stage_current(&mut batch, bucket, key, &mut row, previous, new.public)?;
            // After staging: the record answers with what the object became.
            let record = CompletedUpload {
                etag: row.etag.clone(),
                seq: row.seq,
                checksums: row.checksums.clone(),
                checksum_type: upload.checksum_type.clone(),
                parts: chosen.to_vec(),
                expires_ms: remember_until_ms,
                null_version: row.null_version,
            };
            let upload_ref = UploadRef {
                bucket: bucket.to_string(),
                key: key.to_string(),
                upload_id: upload_id.to_string(),
            };
            self.stage_completed(&mut batch, &upload_ref, ukey, &record);
            let mut dropped = Vec::new();
            let ranged = self.inner.db.max_ops_per_commit().is_some();
            for (number, part) in &parts {
                if !used.contains(number) {
                    for c in &part.chunks {
                        batch.delete_cf(self.cf(CF_CHUNKS), c.id);
                        dropped.push(ChunkAt::from(c));
                    }
                }
                if !ranged {
                    batch.delete_cf(self.cf(CF_PARTS), keys::part_key(ukey, *number));
                }
            }
            if ranged {
                self.delete_parts_range(&mut batch, ukey);
            }
            batch.delete_cf(self.cf(CF_UPLOADS), ukey);
            batch.delete_cf(
                self.cf(CF_UPLOAD_EXPIRY),
                keys::upload_expiry_key(upload.expires_ms, ukey),
            );
            self.write_logged(batch, bucket, &[change])?;
            Ok((row, dropped))
        }
    }

    /// Discards an upload and every part uploaded to it.
    pub fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> StorageResult<()> {
        let removed = {
            let _mp = self.inner.multipart.lock();
            let upload = self.upload(bucket, key, upload_id)?;
            self.remove_upload_rows(bucket, key, upload_id, upload.expires_ms)?
        };
        self.remove_chunk_files(&removed);
        Ok(())
    }

    /// [`Store::remove_upload_rows`], on a shared engine under a claim of
    /// the upload taken first, so that no part lands between the reading
    /// of its parts and their removal. `NoSuchUpload` if it is gone.
    pub(crate) fn remove_upload_rows(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        expires_ms: u64,
    ) -> StorageResult<Vec<ChunkAt>> {
        let ukey = keys::upload_key(bucket, key, upload_id)?;
        let claim = if self.shared() {
            self.retry_guarded(|| {
                let raw = self
                    .inner
                    .db
                    .get_owned(self.cf(CF_UPLOADS), &ukey)?
                    .ok_or(StorageError::NoSuchUpload)?;
                self.take_claim(
                    crate::guards::closing_key(&ukey),
                    CF_UPLOADS,
                    &ukey,
                    Some(&raw),
                )
            })?
        } else {
            None
        };
        let removed = self.remove_upload_rows_claimed(&ukey, expires_ms, &claim);
        if removed.is_err() {
            self.drop_claim(claim);
        }
        removed
    }

    /// One batch removing an upload, its parts, their chunk rows and its
    /// deadline (and ending `claim`); returns the chunk files to remove
    /// afterwards.
    fn remove_upload_rows_claimed(
        &self,
        ukey: &[u8],
        expires_ms: u64,
        claim: &Option<crate::guards::Claim>,
    ) -> StorageResult<Vec<ChunkAt>> {
        let mut batch = Batch::default();
        self.finish_claim(&mut batch, claim);
        let mut removed = Vec::new();
        let ranged = self.inner.db.max_ops_per_commit().is_some();
        for item in self.bounded_from(CF_PARTS, ukey, ukey) {
            let (k, v) = item?;
            let part: PartRow = rows::decode(&v)?;
            for c in &part.chunks {
                batch.delete_cf(self.cf(CF_CHUNKS), c.id);
                removed.push(ChunkAt::from(c));
            }
            if !ranged {
                batch.delete_cf(self.cf(CF_PARTS), &k);
            }
        }
        if ranged {
            self.delete_parts_range(&mut batch, ukey);
        }
        batch.delete_cf(self.cf(CF_UPLOADS), ukey);
        batch.delete_cf(
            self.cf(CF_UPLOAD_EXPIRY),
            keys::upload_expiry_key(expires_ms, ukey),
        );
        self.write_synced(batch)?;
        Ok(removed)
    }

    /// Adds to `batch` the removal of every part of the upload `ukey` as one
    /// range, on an engine that limits its commits (etcd: an upload may have
    /// 10,000 parts); RocksDB deletes each part row (no range tombstone for
    /// its scans to step over).
    fn delete_parts_range(&self, batch: &mut Batch, ukey: &[u8]) {
        let end = keys::prefix_successor(ukey).expect("an upload key ends in its id");
        batch.delete_range_cf(self.cf(CF_PARTS), ukey, end);
    }

    /// Chunk files whose rows are already gone: a failure only leaves an
    /// orphan for the start-up sweep.
    pub(crate) fn remove_chunk_files(&self, chunks: &[ChunkAt]) {
        for c in chunks {
            if let Err(e) = self.inner.chunks.remove(c.backend, &c.id) {
                tracing::warn!(chunk = %hex::encode(c.id), backend = c.backend, error = %e, "could not remove chunk file");
            }
        }
    }
}
