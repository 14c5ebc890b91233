//! Walking a bucket's versions in listing order (key order, then the
//! current version, then noncurrent ones newest first), one row at a time,
//! so a ListObjectVersions page reads and holds only its own rows however
//! many versions a key has: a listing that resumes within a key seeks
//! straight to the version after its marker.

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_OBJECTS, CF_VERSIONS};
use crate::rows::{self, ObjectRow};
use crate::store::Store;

type Iter<'a> = crate::engine::Cursor<'a>;

/// Two iterators, over current rows and over noncurrent rows, both bounded
/// to the listing's prefix and read in step.
pub(crate) struct VersionCursor<'a> {
    #[cfg(test)]
    store: &'a Store,
    bucket: &'a str,
    bucket_len: usize,
    current: Iter<'a>,
    noncurrent: Iter<'a>,
}

impl<'a> VersionCursor<'a> {
    /// A cursor over the keys of `bucket` starting with `prefix`; position
    /// it with [`Self::seek_key`] or [`Self::seek_after_version`].
    pub(crate) fn new(store: &'a Store, bucket: &'a str, prefix: &str) -> StorageResult<Self> {
        Ok(VersionCursor {
            #[cfg(test)]
            store,
            bucket,
            bucket_len: keys::bucket_prefix(bucket)?.len(),
            current: store.bounded(CF_OBJECTS, keys::object_key(bucket, prefix)?),
            noncurrent: store.bounded(CF_VERSIONS, keys::version_key_range_prefix(bucket, prefix)?),
        })
    }

    /// Moves to the first key `>= from` (raw object key bytes).
    pub(crate) fn seek_key(&mut self, from: &[u8]) -> StorageResult<()> {
        let mut current = keys::bucket_prefix(self.bucket)?;
        let mut noncurrent = current.clone();
        current.extend_from_slice(from);
        // The escaping of `keys::version_key_prefix`, without the terminator.
        for &b in from {
            noncurrent.push(b);
            if b == 0 {
                noncurrent.push(0xFF);
            }
        }
        self.current.seek(current);
        self.noncurrent.seek(noncurrent);
        Ok(())
    }

    /// Moves to just after version `seq` of `key`: its older versions, then
    /// the keys after it. The current version is newer than every
    /// noncurrent one, so it is behind any version marker of its key.
    pub(crate) fn seek_after_version(&mut self, key: &str, seq: u64) -> StorageResult<()> {
        let mut past_key = keys::object_key(self.bucket, key)?;
        past_key.push(0);
        self.current.seek(past_key);
        let marker = keys::version_key(self.bucket, key, seq)?;
        self.noncurrent.seek(&marker);
        if self.noncurrent.valid() && self.noncurrent.key() == Some(&marker[..]) {
            self.noncurrent.next();
        }
        Ok(())
    }

    /// The key of the next row, if any.
    pub(crate) fn next_key(&self) -> StorageResult<Option<String>> {
        let current = match (self.current.valid(), self.current.key()) {
            (true, Some(k)) => Some(
                keys::object_key_name(self.bucket_len, k)
                    .ok_or_else(|| StorageError::Corrupt("object key".into()))?
                    .to_string(),
            ),
            _ => None,
        };
        let noncurrent = match (self.noncurrent.valid(), self.noncurrent.key()) {
            (true, Some(k)) => Some(
                keys::version_key_parts(self.bucket_len, k)
                    .ok_or_else(|| StorageError::Corrupt("version key".into()))?
                    .0,
            ),
            _ => None,
        };
        Ok(match (current, noncurrent) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// The next version of `key` (the current one first), and whether it is
    /// the current one; `None` once `key` has no more.
    pub(crate) fn next_version(&mut self, key: &str) -> StorageResult<Option<(ObjectRow, bool)>> {
        let object_key = keys::object_key(self.bucket, key)?;
        if self.current.valid() && self.current.key() == Some(&object_key[..]) {
            let row = self.decode(self.current.value())?;
            self.current.next();
            return Ok(Some((row, true)));
        }
        // A version key is the terminated key then 8 bytes: an exact match
        // of both tells this key's versions from a longer key's.
        let prefix = keys::version_key_prefix(self.bucket, key)?;
        let ours = |k: &[u8]| k.len() == prefix.len() + 8 && k.starts_with(&prefix);
        if self.noncurrent.valid() && self.noncurrent.key().is_some_and(ours) {
            let row = self.decode(self.noncurrent.value())?;
            self.noncurrent.next();
            return Ok(Some((row, false)));
        }
        Ok(None)
    }

    fn decode(&self, raw: Option<&[u8]>) -> StorageResult<ObjectRow> {
        #[cfg(test)]
        self.store
            .inner
            .listed_rows
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rows::decode(raw.unwrap_or_default())
    }

    /// The first error either iterator met, if any.
    pub(crate) fn status(&self) -> StorageResult<()> {
        self.current.status()?;
        self.noncurrent.status()?;
        Ok(())
    }
}
