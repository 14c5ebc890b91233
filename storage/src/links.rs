//! Share links: upload links ("file requests": anyone holding the URL may
//! drop files into one folder) and expiring download links (anyone holding
//! the URL may read one object version), each until it expires, is used up
//! or is revoked.
//!
//! One row per link in `CF_LINKS`, keyed `l · id`. The URL's token is never
//! stored: the row keeps its SHA-256, and the id is derived from that hash
//! by the server, so a leaked metadata store does not hand out working
//! links. Revoking keeps the row (marked) so the holder of a revoked link
//! is told so, and `kura share --list` still shows it.
//!
//! An upload through a link commits the object and the link's new counters
//! (files, bytes) in one write batch, after re-checking the link under a
//! mutex: concurrent uploads can never take more than the link allows, and a
//! link revoked while a file streamed refuses that file.

use crate::engine::{Batch, ReadBounds};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::keys::CF_LINKS;
use crate::locks::WriteLock;
use crate::objects::NewObject;
use crate::rows::{self, ObjectRow};
use crate::store::Store;
use crate::writer::WrittenData;

/// Serialises the read-check-write of link counters. Uploads through links
/// are few next to plain PUTs; one mutex for every link is enough and keeps
/// the counters exact.
static LINK_COUNTERS: Mutex<()> = Mutex::new(());

/// What a link gives access to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum LinkTarget {
    /// Uploads into one folder of the bucket.
    Upload {
        /// The folder: every key written through the link starts with it
        /// (empty: the whole bucket; otherwise it ends with `/`).
        prefix: String,
        /// Largest single file (`None`: the server's and bucket's limits only).
        max_file_size: Option<u64>,
        /// Most files the link accepts in all.
        max_files: Option<u64>,
        /// Most bytes the link accepts in all.
        max_bytes: Option<u64>,
    },
    /// Downloads of one object version.
    Download {
        /// The object key.
        key: String,
        /// The version served (its id, as S3 clients see it).
        version_id: String,
    },
}

/// A share link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkRow {
    /// SHA-256 of the URL's token.
    pub token_sha256: [u8; 32],
    /// The bucket.
    pub bucket: String,
    /// The bucket's creation time when the link was made: a bucket deleted
    /// and created again under the same name is another bucket, which the
    /// link must not reach.
    pub bucket_created_ms: u64,
    /// What the link opens.
    pub target: LinkTarget,
    /// Text shown to the holder (e.g. what to upload); may be empty.
    pub label: String,
    /// The access key that made the link: it acts with that key's rights,
    /// re-checked at every use.
    pub created_by: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// The link works until this time, ms since the epoch.
    pub expires_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<u64>,
    /// Files uploaded through the link.
    pub files: u64,
    /// Bytes uploaded through the link.
    pub bytes: u64,
}

impl rows::Row for LinkRow {}

/// Why a link refuses to be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Past its expiry.
    Expired,
    /// Revoked by its owner.
    Revoked,
    /// Its file count is used up.
    FilesUsedUp,
    /// Its byte budget is used up (or the file would cross it).
    BytesUsedUp,
}

impl LinkRow {
    /// Whether the link may be used at `now_ms` (not revoked, not expired,
    /// an upload link with room for one more file).
    pub fn usable(&self, now_ms: u64) -> Result<(), LinkRefusal> {
        if self.revoked_ms.is_some() {
            return Err(LinkRefusal::Revoked);
        }
        if now_ms >= self.expires_ms {
            return Err(LinkRefusal::Expired);
        }
        if let LinkTarget::Upload {
            max_files,
            max_bytes,
            ..
        } = &self.target
        {
            if max_files.is_some_and(|m| self.files >= m) {
                return Err(LinkRefusal::FilesUsedUp);
            }
            if max_bytes.is_some_and(|m| self.bytes >= m) {
                return Err(LinkRefusal::BytesUsedUp);
            }
        }
        Ok(())
    }

    /// Whether a file of `size` bytes may be added at `now_ms`.
    pub fn admits(&self, size: u64, now_ms: u64) -> Result<(), LinkRefusal> {
        self.usable(now_ms)?;
        if let LinkTarget::Upload {
            max_bytes: Some(m), ..
        } = &self.target
        {
            if self.bytes.saturating_add(size) > *m {
                return Err(LinkRefusal::BytesUsedUp);
            }
        }
        Ok(())
    }

    /// Bytes the link still accepts (`None`: no byte budget).
    pub fn bytes_left(&self) -> Option<u64> {
        match &self.target {
            LinkTarget::Upload {
                max_bytes: Some(m), ..
            } => Some(m.saturating_sub(self.bytes)),
            _ => None,
        }
    }

    /// Files the link still accepts (`None`: no file count).
    pub fn files_left(&self) -> Option<u64> {
        match &self.target {
            LinkTarget::Upload {
                max_files: Some(m), ..
            } => Some(m.saturating_sub(self.files)),
            _ => None,
        }
    }
}

fn link_key(id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(b'l');
    k.extend_from_slice(id.as_bytes());
    k
}

impl Store {
    /// Stores a new link under `id`; `false` (nothing written) if a link
    /// with that id exists already.
    pub fn create_link(&self, id: &str, row: &LinkRow) -> StorageResult<bool> {
        let _guard = LINK_COUNTERS.lock();
        if self.link(id)?.is_some() {
            return Ok(false);
        }
        let mut batch = Batch::default();
        batch.put_cf(self.cf(CF_LINKS), link_key(id), rows::encode(row));
        // Another front end may create the same id meanwhile.
        self.expect_read(&mut batch, CF_LINKS, link_key(id), None);
        match self.write_synced(batch) {
            Err(StorageError::Conflict) => Ok(false),
            r => r.map(|()| true),
        }
    }

    /// The link `id`, if it exists (revoked and expired links too).
    pub fn link(&self, id: &str) -> StorageResult<Option<LinkRow>> {
        match self.inner.db.get(self.cf(CF_LINKS), link_key(id))? {
            Some(raw) => Ok(Some(rows::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// Every link, by id.
    pub fn links(&self) -> StorageResult<Vec<(String, LinkRow)>> {
        let mut out = Vec::new();
        let it = self
            .inner
            .db
            .entries(self.cf(CF_LINKS), ReadBounds::prefix(b"l"), None);
        for item in it {
            let (k, v) = item?;
            let Some(id) = k.strip_prefix(b"l") else {
                break;
            };
            let id = std::str::from_utf8(id)
                .map_err(|_| StorageError::Corrupt("link key".into()))?
                .to_string();
            out.push((id, rows::decode(&v)?));
        }
        Ok(out)
    }

    /// Revokes link `id` at `now_ms` (a revoked link stays revoked); the
    /// row as it is now, or `None` if there is no such link.
    pub fn revoke_link(&self, id: &str, now_ms: u64) -> StorageResult<Option<LinkRow>> {
        let _guard = LINK_COUNTERS.lock();
        self.retry_guarded(|| {
            let Some(raw) = self.inner.db.get_owned(self.cf(CF_LINKS), link_key(id))? else {
                return Ok(None);
            };
            let mut row: LinkRow = rows::decode(&raw)?;
            if row.revoked_ms.is_none() {
                row.revoked_ms = Some(now_ms);
                let mut batch = Batch::default();
                // Counters another front end adds meanwhile are kept.
                self.expect_read(&mut batch, CF_LINKS, link_key(id), Some(&raw));
                batch.put_cf(self.cf(CF_LINKS), link_key(id), rows::encode(&row));
                self.write_synced(batch)?;
            }
            Ok(Some(row))
        })
    }

    /// Commits a file uploaded through upload link `id` as `bucket`/`key`
    /// (like [`Store::commit_object`]), counting it against the link in the
    /// same batch. The link is checked again first ([`LinkRow::admits`] at
    /// `now_ms`): [`StorageError::Link`] if it no longer admits the file,
    /// and then nothing is stored. Returns the new version and the link's
    /// row with its new counters.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_link_upload(
        &self,
        lock: &WriteLock,
        id: &str,
        bucket: &str,
        key: &str,
        data: WrittenData,
        new: NewObject,
        now_ms: u64,
    ) -> StorageResult<(ObjectRow, LinkRow)> {
        let _guard = LINK_COUNTERS.lock();
        let size = data.size;
        let mut counted = None;
        // Read again on each attempt: on a shared engine another front end
        // may count a file against the link meanwhile, and the guard on the
        // row read makes this commit see it.
        let row = self.commit_object_with(lock, bucket, key, data, new, |batch| {
            let lkey = link_key(id);
            let raw = self
                .inner
                .db
                .get_owned(self.cf(CF_LINKS), &lkey)?
                .ok_or(StorageError::NoSuchLink)?;
            let mut link: LinkRow = rows::decode(&raw)?;
            link.admits(size, now_ms).map_err(StorageError::Link)?;
            link.files += 1;
            link.bytes += size;
            self.expect_read(batch, CF_LINKS, &lkey, Some(&raw));
            batch.put_cf(self.cf(CF_LINKS), lkey, rows::encode(&link));
            counted = Some(link);
            Ok(())
        })?;
        Ok((row, counted.expect("counted in the committed attempt")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(max_files: Option<u64>, max_bytes: Option<u64>) -> LinkRow {
        LinkRow {
            token_sha256: [7; 32],
            bucket: "b".into(),
            bucket_created_ms: 1,
            target: LinkTarget::Upload {
                prefix: "in/".into(),
                max_file_size: None,
                max_files,
                max_bytes,
            },
            label: String::new(),
            created_by: "K".into(),
            created_ms: 0,
            expires_ms: 1000,
            revoked_ms: None,
            files: 0,
            bytes: 0,
        }
    }

    #[test]
    fn what_a_link_admits() {
        let mut l = upload(Some(2), Some(100));
        assert_eq!(l.admits(100, 10), Ok(()));
        assert_eq!(l.admits(101, 10), Err(LinkRefusal::BytesUsedUp));
        assert_eq!(l.usable(1000), Err(LinkRefusal::Expired));
        l.files = 2;
        assert_eq!(l.usable(10), Err(LinkRefusal::FilesUsedUp));
        l.files = 1;
        l.bytes = 100;
        assert_eq!(l.usable(10), Err(LinkRefusal::BytesUsedUp));
        assert_eq!((l.files_left(), l.bytes_left()), (Some(1), Some(0)));
        l.bytes = 0;
        l.revoked_ms = Some(5);
        assert_eq!(l.usable(10), Err(LinkRefusal::Revoked));
        let open = upload(None, None);
        assert_eq!(open.admits(u64::MAX, 999), Ok(()));
        assert_eq!((open.files_left(), open.bytes_left()), (None, None));
    }

    #[test]
    fn rows_round_trip() {
        let l = upload(Some(3), None);
        assert_eq!(rows::decode::<LinkRow>(&rows::encode(&l)).unwrap(), l);
    }
}
