//! Metadata-only updates: a new current version with other headers or tags
//! that shares the chunk files of the version it replaces, so it costs one
//! metadata batch whatever the object's size (S3 CopyObject of an object
//! onto itself with `x-amz-metadata-directive: REPLACE`).
//!
//! The files then have two owners (see `chunk_owners.rs`): purging either
//! version leaves them to the other, and the last one to go removes them.

use crate::engine::Batch;

use crate::changes::{ChangeEntry, ChangeEvent};
use crate::chunk_owners;
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_CHUNKS, CF_OBJECTS};
use crate::locks::WriteLock;
use crate::rows::ObjectRow;
use crate::store::{now_ms, Store};

/// What a metadata-only update changes.
#[derive(Debug, Clone, Default)]
pub struct MetadataUpdate {
    /// The new stored headers (content-type, x-amz-meta-*, …).
    pub headers: Vec<(String, String)>,
    /// The new tags.
    pub tags: Vec<(String, String)>,
    /// As [`crate::NewObject::public`]: `None` keeps the key's published state.
    pub public: Option<bool>,
}

impl Store {
    /// Makes a new current version of `bucket`/`key` with the bytes, ETag,
    /// checksums and parts of the current version `source_seq` and the
    /// headers and tags of `update`; the replaced version is retired as by
    /// any write. No byte is copied: the new version's row points at the
    /// same chunk files (or holds the same inline bytes). One synced batch,
    /// with a `metadata` entry in the change log. `NoSuchKey` if
    /// `source_seq` is not (or no longer) the key's current version.
    pub fn update_metadata(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
        source_seq: u64,
        update: MetadataUpdate,
    ) -> StorageResult<ObjectRow> {
        let object_key = keys::object_key(bucket, key)?;
        assert_eq!(
            lock.key(),
            object_key.as_slice(),
            "write lock of another key"
        );
        let _bucket = self.commit_guard();
        // Owner lists of the shared files are read and rewritten under the
        // latch a purge of an older version holds while it edits them.
        let _latch = self.inner.latches.key(&object_key);
        self.retry_guarded(|| {
            self.try_update_metadata(&object_key, bucket, key, source_seq, update.clone())
        })
    }

    /// One attempt of [`Store::update_metadata`]; on a shared engine the
    /// current row and the shared files' owner lists it read guard its
    /// commit.
    fn try_update_metadata(
        &self,
        object_key: &[u8],
        bucket: &str,
        key: &str,
        source_seq: u64,
        update: MetadataUpdate,
    ) -> StorageResult<ObjectRow> {
        let (current, raw) = self.current_for_update(bucket, key)?;
        let previous = current
            .filter(|p| p.seq == source_seq && !p.delete_marker)
            .ok_or(StorageError::NoSuchKey)?;
        let mut batch = Batch::default();
        self.expect_read(&mut batch, CF_OBJECTS, object_key, raw.as_deref());
        let mut row = ObjectRow {
            seq: self.next_seq_from(previous.seq + 1)?,
            modified_ms: now_ms(),
            headers: update.headers,
            tags: update.tags,
            expires_ms: 0,
            ..previous.clone()
        };
        let change = ChangeEntry::of(ChangeEvent::Metadata, key, &row);
        self.stage_current(
            &mut batch,
            bucket,
            key,
            &mut row,
            Some(previous),
            update.public,
        )?;
        // `stage_current` names the new version as the files' only owner;
        // these later puts of the same keys win within the batch and keep
        // every earlier owner too.
        let ids: Vec<[u8; 16]> = row.chunks().iter().map(|c| c.id).collect();
        let owners = self.chunk_owners_of(&ids)?;
        for (id, mut owners) in ids.iter().zip(owners) {
            if self.shared() && ids.len() <= crate::guards::MAX_OWNER_GUARDS {
                // A purge of an older version on another front end edits
                // these lists too. (Beyond the bound the purge's own guard
                // on the list keeps the files; a lost edit here can only
                // keep a file longer, see `guards.rs`.)
                let read = (!owners.is_empty()).then(|| chunk_owners::encode(&owners));
                self.expect_read(&mut batch, CF_CHUNKS, id, read.as_deref());
            }
            if !owners.contains(&row.seq) {
                owners.push(row.seq);
            }
            batch.put_cf(self.cf(CF_CHUNKS), id, chunk_owners::encode(&owners));
        }
        self.write_logged(batch, bucket, &[change])?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::NewObject;

    fn store(dir: &Path) -> Store {
        // Every retired version is due at once.
        crate::test_support::store(dir, Duration::ZERO)
    }

    fn chunk_files(dir: &Path) -> usize {
        fn walk(p: &Path) -> usize {
            std::fs::read_dir(p)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    if e.file_type().unwrap().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        }
        walk(&dir.join("chunks"))
    }

    /// What the key's current version reads back.
    fn current_bytes(s: &Store) -> Vec<u8> {
        let (_, mut reader) = s.open_object("b", "k", None).unwrap();
        let mut out = Vec::new();
        let mut buf = [0; 64];
        while reader.remaining() > 0 {
            let n = reader.read(&mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    fn setup(s: &Store, body: &[u8]) -> ObjectRow {
        s.create_bucket("b").unwrap();
        let lock = s.lock_key("b", "k").unwrap();
        let mut w = s.object_writer();
        w.write(body).unwrap();
        let data = w.finish().unwrap();
        let v1 = s
            .commit_object(&lock, "b", "k", data, NewObject::default())
            .unwrap();
        assert!(v1.chunks().len() > 4);
        v1
    }

    fn update(s: &Store, source: u64) -> ObjectRow {
        let lock = s.lock_key("b", "k").unwrap();
        let update = MetadataUpdate {
            headers: vec![("x-amz-meta-state".into(), "sorted".into())],
            tags: vec![("dst".into(), "0020".into())],
            public: None,
        };
        s.update_metadata(&lock, "b", "k", source, update).unwrap()
    }

    /// Purging the replaced version leaves the shared files to the new one;
    /// purging the new one then removes them.
    #[test]
    fn purging_the_old_version_keeps_the_shared_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let body: Vec<u8> = (0..200u8).collect();
        let v1 = setup(&s, &body);
        let files = chunk_files(dir.path());
        let v2 = update(&s, v1.seq);
        assert_eq!(v2.chunks(), v1.chunks(), "no byte copied");
        assert_eq!((v2.etag.as_str(), v2.size), (v1.etag.as_str(), v1.size));
        assert_eq!(chunk_files(dir.path()), files);

        assert_eq!(s.purge_due().unwrap(), 1, "v1 purged");
        assert!(!s.version_exists("b", "k", v1.seq).unwrap());
        assert_eq!(chunk_files(dir.path()), files);
        assert_eq!(current_bytes(&s), body);
        assert_eq!(s.sweep_orphan_chunks().unwrap(), 0);

        let lock = s.lock_key("b", "k").unwrap();
        s.delete_object(&lock, "b", "k").unwrap();
        drop(lock);
        s.purge_due().unwrap();
        assert_eq!(chunk_files(dir.path()), 0, "the last owner took the files");
    }

    /// The other order: the new version is deleted by id (the old one comes
    /// back) and purged; the old one still reads whole.
    #[test]
    fn purging_the_new_version_keeps_the_old_ones_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let body: Vec<u8> = (0..200u8).rev().collect();
        let v1 = setup(&s, &body);
        let files = chunk_files(dir.path());
        let v2 = update(&s, v1.seq);
        let lock = s.lock_key("b", "k").unwrap();
        s.delete_version(&lock, "b", "k", v2.seq).unwrap();
        drop(lock);
        assert_eq!(s.current("b", "k").unwrap().unwrap().seq, v1.seq);
        s.purge_due().unwrap();
        assert_eq!(chunk_files(dir.path()), files);
        assert_eq!(current_bytes(&s), body);

        // Two updates in a row: three owners, each purge drops one.
        let v3 = update(&s, v1.seq);
        let v4 = update(&s, v3.seq);
        s.purge_due().unwrap();
        assert_eq!(chunk_files(dir.path()), files);
        assert_eq!(s.current("b", "k").unwrap().unwrap().seq, v4.seq);
        assert_eq!(current_bytes(&s), body);
        let lock = s.lock_key("b", "k").unwrap();
        s.delete_version(&lock, "b", "k", v4.seq).unwrap();
        drop(lock);
        s.purge_due().unwrap();
        assert_eq!(chunk_files(dir.path()), 0);
    }

    #[test]
    fn the_source_must_be_current() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let v1 = setup(&s, &[7; 100]);
        let _v2 = update(&s, v1.seq);
        let lock = s.lock_key("b", "k").unwrap();
        let stale = s.update_metadata(&lock, "b", "k", v1.seq, MetadataUpdate::default());
        assert!(matches!(stale, Err(StorageError::NoSuchKey)));
    }
}
