//! The versioning view: every version of a key during its retention —
//! listing them, checking one exists, and deleting one by id.
//!
//! The current version lives in `CF_OBJECTS`, the noncurrent ones and delete
//! markers in `CF_VERSIONS` (newest first within a key). A key whose newest
//! entry is a delete marker has no `CF_OBJECTS` row.

use crate::engine::Batch;

use crate::changes::{ChangeEntry, ChangeEvent};
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_OBJECTS, CF_PURGE, CF_VERSIONS};
use crate::locks::WriteLock;
use crate::rows::{self, ObjectRow, PurgeEntry};
use crate::store::{now_ms, Store};
use crate::usage::Usage;
use crate::version_cursor::VersionCursor;

/// One entry of a version listing.
// Most entries are versions: boxing them would add an allocation per entry
// to save space on the rare CommonPrefix.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum VersionItem {
    /// A version or delete marker of `key`.
    Version {
        /// Object key.
        key: String,
        /// The version (`delete_marker` tells which kind).
        row: ObjectRow,
        /// Whether it is the key's current state.
        is_latest: bool,
    },
    /// Keys rolled up at the delimiter.
    CommonPrefix(String),
}

/// A page of a version listing.
#[derive(Debug, Clone)]
pub struct VersionPage {
    /// Entries by key, newest version first within a key.
    pub items: Vec<VersionItem>,
    /// Whether more entries follow.
    pub truncated: bool,
}

/// Where a version listing starts (S3's `key-marker` / `version-id-marker`).
#[derive(Debug, Clone, Default)]
pub struct VersionStart {
    /// Start after this key, or within it when `version_id` is set.
    pub key: Option<String>,
    /// Start after this version of `key`.
    pub version_id: Option<String>,
}

/// What DeleteObject with a version id did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedVersion {
    /// The deleted version was a delete marker.
    pub delete_marker: bool,
}

impl Store {
    /// Lists versions and delete markers of `bucket` under `prefix`, keys in
    /// order, newest first within a key, at most `max` entries
    /// (CommonPrefixes count as one). Reads only the rows of the page (and
    /// the one that shows it is truncated), wherever it starts: a page that
    /// continues within a key seeks to the version after its marker.
    pub fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        start: &VersionStart,
        max: usize,
    ) -> StorageResult<VersionPage> {
        self.require_bucket(bucket)?;
        let mut page = VersionPage {
            items: Vec::new(),
            truncated: false,
        };
        let mut cursor = VersionCursor::new(self, bucket, prefix)?;
        let Some(mut resumed_key) = position(&mut cursor, prefix, delimiter, start)? else {
            return Ok(page);
        };
        while let Some(key) = cursor.next_key()? {
            let more = match rollup(&key, prefix, delimiter) {
                Some(cp) => page_prefix(&mut cursor, &mut page, cp, max)?,
                None => {
                    // The newest version of a key continued from an earlier
                    // page was on that page.
                    let first = resumed_key.take().is_none_or(|k| k != key);
                    page_versions(&mut cursor, &mut page, &key, first, max)?
                }
            };
            if !more {
                break;
            }
        }
        cursor.status()?;
        Ok(page)
    }

    /// Whether `bucket`/`key` is deleted: no current version, and its newest
    /// noncurrent one is a delete marker.
    pub fn latest_is_delete_marker(&self, bucket: &str, key: &str) -> StorageResult<bool> {
        if self.current(bucket, key)?.is_some() {
            return Ok(false);
        }
        let prefix = keys::version_key_prefix(bucket, key)?;
        let mut it = self.bounded(CF_VERSIONS, prefix.clone());
        it.seek(&prefix);
        let latest = match (it.valid(), it.value()) {
            (true, Some(v)) => rows::decode::<ObjectRow>(v)?.delete_marker,
            _ => false,
        };
        it.status()?;
        Ok(latest)
    }

    /// Whether version `seq` of `bucket`/`key` still exists (current or noncurrent).
    pub(crate) fn version_exists(&self, bucket: &str, key: &str, seq: u64) -> StorageResult<bool> {
        if let Some(raw) = self
            .inner
            .db
            .get(self.cf(CF_OBJECTS), keys::object_key(bucket, key)?)?
        {
            if rows::decode::<ObjectRow>(&raw)?.seq == seq {
                return Ok(true);
            }
        }
        Ok(self
            .inner
            .db
            .get(self.cf(CF_VERSIONS), keys::version_key(bucket, key, seq)?)?
            .is_some())
    }

    /// Deletes one version for good (S3 DeleteObject with `versionId`). It
    /// disappears at once; its files are purged as soon as no download reads
    /// them. If that leaves the key without a current version and its newest
    /// remaining version is not a delete marker, that version becomes current
    /// again — deleting a delete marker restores the object, as in S3.
    /// `Ok(None)` if the version does not exist.
    pub fn delete_version(
        &self,
        lock: &WriteLock,
        bucket: &str,
        key: &str,
        seq: u64,
    ) -> StorageResult<Option<DeletedVersion>> {
        assert_eq!(
            lock.key(),
            keys::object_key(bucket, key)?.as_slice(),
            "write lock of another key"
        );
        let _bucket = self.commit_guard();
        let object_key = keys::object_key(bucket, key)?;
        // The version promoted below must not be one a purge is unlinking.
        let _latch = self.inner.latches.key(&object_key);
        self.retry_guarded(|| self.try_delete_version(&object_key, bucket, key, seq))
    }

    /// One attempt of [`Store::delete_version`]. On a shared engine every
    /// row it read guards its commit: the current row, the deleted row, and
    /// the row it promotes (so a concurrent delete, restore, tagging or
    /// purge on another front end makes it read again).
    fn try_delete_version(
        &self,
        object_key: &[u8],
        bucket: &str,
        key: &str,
        seq: u64,
    ) -> StorageResult<Option<DeletedVersion>> {
        let (mut current, raw) = self.current_for_update(bucket, key)?;
        let mut batch = Batch::default();
        self.expect_read(&mut batch, CF_OBJECTS, object_key, raw.as_deref());
        let removed = match current.take_if(|r| r.seq == seq) {
            Some(row) => {
                batch.delete_cf(self.cf(CF_OBJECTS), object_key);
                crate::search_index::stage(self, &mut batch, bucket, key, Some(&row), None)?;
                self.add_usage(&mut batch, bucket, Usage::live(&row, -1));
                // The key loses its current version: its URL dies.
                self.unpublish_in(&mut batch, bucket, key)?;
                row
            }
            None => {
                let vkey = keys::version_key(bucket, key, seq)?;
                let Some(raw) = self.inner.db.get_owned(self.cf(CF_VERSIONS), &vkey)? else {
                    return Ok(None);
                };
                self.expect_read(&mut batch, CF_VERSIONS, &vkey, Some(&raw));
                batch.delete_cf(self.cf(CF_VERSIONS), &vkey);
                let row: ObjectRow = rows::decode(&raw)?;
                self.add_usage(&mut batch, bucket, Usage::trash(&row, -1));
                row
            }
        };
        let mut changes = vec![ChangeEntry::of(ChangeEvent::Delete, key, &removed)];
        if current.is_none() {
            if let Some(restored) = self.promote_newest(&mut batch, bucket, key, seq)? {
                changes.push(ChangeEntry::of(ChangeEvent::Restore, key, &restored));
            }
        }
        let entry = PurgeEntry {
            bucket: bucket.to_string(),
            key: key.to_string(),
            seq,
            chunks: removed.chunks().iter().map(rows::ChunkAt::from).collect(),
        };
        batch.put_cf(
            self.cf(CF_PURGE),
            keys::purge_key(now_ms(), seq),
            rows::encode(&entry),
        );
        self.write_logged(batch, bucket, &changes)?;
        Ok(Some(DeletedVersion {
            delete_marker: removed.delete_marker,
        }))
    }

    /// Adds to `batch`: every noncurrent version and delete marker of
    /// `bucket` is removed now and queued for immediate purging. Run when
    /// the bucket itself is deleted, so a bucket created later under the
    /// same name starts empty and nothing of the old one leaks.
    /// At most `max` versions go into `batch` (an engine that limits its
    /// commits takes them a page at a time); returns how many went.
    pub(crate) fn drop_bucket_versions(
        &self,
        batch: &mut Batch,
        bucket: &str,
        max: usize,
    ) -> StorageResult<usize> {
        let prefix = keys::bucket_prefix(bucket)?;
        let mut it = self.bounded(CF_VERSIONS, prefix.clone());
        it.seek(&prefix);
        let now = now_ms();
        let mut dropped = 0;
        while it.valid() && dropped < max {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            let (key, seq) = keys::version_key_parts(prefix.len(), k)
                .ok_or_else(|| StorageError::Corrupt("version key".into()))?;
            let row: ObjectRow = rows::decode(v)?;
            let entry = PurgeEntry {
                bucket: bucket.to_string(),
                key,
                seq,
                chunks: row.chunks().iter().map(rows::ChunkAt::from).collect(),
            };
            batch.delete_cf(self.cf(CF_VERSIONS), k);
            batch.put_cf(
                self.cf(CF_PURGE),
                keys::purge_key(now, seq),
                rows::encode(&entry),
            );
            dropped += 1;
            it.next();
        }
        it.status()?;
        Ok(dropped)
    }

    /// Adds to `batch`: the newest noncurrent version of `bucket`/`key`
    /// other than `except` becomes current, unless it is a delete marker.
    /// Returns the version made current.
    fn promote_newest(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
        except: u64,
    ) -> StorageResult<Option<ObjectRow>> {
        let mut it = self.bounded(CF_VERSIONS, keys::version_key_prefix(bucket, key)?);
        it.seek(keys::version_key_prefix(bucket, key)?);
        // Newer versions sort first: the rows before the promoted one must
        // stay the ones seen (only `except`), so that a marker another
        // front end stacks meanwhile is never hidden behind a restore.
        let mut from = keys::version_key_prefix(bucket, key)?;
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            let mut row: ObjectRow = rows::decode(v)?;
            if row.seq == except {
                self.expect_none_in(batch, CF_VERSIONS, &from, k);
                from = k.to_vec();
                from.push(0);
                it.next();
                continue;
            }
            // Still the newest, unchanged, when the batch commits (on a
            // shared engine): a purge or a delete of it on another front
            // end must not be undone by this promotion.
            self.expect_none_in(batch, CF_VERSIONS, &from, k);
            self.expect_read(batch, CF_VERSIONS, k, Some(v));
            if !row.delete_marker {
                // Its pending purge entry finds no version row (or a later
                // due time) and so leaves it alone.
                batch.delete_cf(self.cf(CF_VERSIONS), k);
                self.add_usage(
                    batch,
                    bucket,
                    Usage::trash(&row, -1).plus(Usage::live(&row, 1)),
                );
                row.expires_ms = 0;
                batch.put_cf(
                    self.cf(CF_OBJECTS),
                    keys::object_key(bucket, key)?,
                    rows::encode(&row),
                );
                crate::search_index::stage(self, batch, bucket, key, None, Some(&row))?;
                it.status()?;
                return Ok(Some(row));
            }
            break;
        }
        it.status()?;
        Ok(None)
    }
}

/// Positions `cursor` where a listing from `start` begins (S3's
/// `key-marker` / `version-id-marker`): after that version of the marker
/// key, or after the marker key (or its CommonPrefix) altogether. Returns
/// `None` if nothing can follow, else the key the listing continues within.
fn position(
    cursor: &mut VersionCursor<'_>,
    prefix: &str,
    delimiter: Option<&str>,
    start: &VersionStart,
) -> StorageResult<Option<Option<String>>> {
    let Some(k) = start.key.as_deref().filter(|k| *k >= prefix) else {
        cursor.seek_key(prefix.as_bytes())?;
        return Ok(Some(None));
    };
    let marker_seq = start.version_id.as_deref().and_then(rows::parse_version_id);
    match (marker_seq, rollup(k, prefix, delimiter)) {
        (Some(seq), _) => {
            cursor.seek_after_version(k, seq)?;
            return Ok(Some(Some(k.to_string())));
        }
        (None, Some(cp)) if cp == k => match keys::prefix_successor(cp.as_bytes()) {
            Some(next) => cursor.seek_key(&next)?,
            None => return Ok(None),
        },
        (None, _) => {
            // The smallest key after `k` is `k` followed by a NUL.
            let mut past = k.as_bytes().to_vec();
            past.push(0);
            cursor.seek_key(&past)?;
        }
    }
    Ok(Some(None))
}

/// Adds CommonPrefix `cp` to the page and moves past every key under it.
/// `false` when the listing ends here (page full, or nothing can follow).
fn page_prefix(
    cursor: &mut VersionCursor<'_>,
    page: &mut VersionPage,
    cp: &str,
    max: usize,
) -> StorageResult<bool> {
    if page.items.len() == max {
        page.truncated = true;
        return Ok(false);
    }
    page.items.push(VersionItem::CommonPrefix(cp.to_string()));
    match keys::prefix_successor(cp.as_bytes()) {
        Some(next) => cursor.seek_key(&next).map(|()| true),
        None => Ok(false),
    }
}

/// Adds the versions of `key` to the page, newest first, until the page is
/// full; `first` says whether the key's newest version is among them (a
/// delete marker in that place is the latest). `false` when the page is full.
fn page_versions(
    cursor: &mut VersionCursor<'_>,
    page: &mut VersionPage,
    key: &str,
    mut first: bool,
    max: usize,
) -> StorageResult<bool> {
    while let Some((row, current)) = cursor.next_version(key)? {
        if page.items.len() == max {
            page.truncated = true;
            return Ok(false);
        }
        let is_latest = current || (first && row.delete_marker);
        first = false;
        page.items.push(VersionItem::Version {
            key: key.to_string(),
            row,
            is_latest,
        });
    }
    Ok(true)
}

/// The CommonPrefix `key` rolls up into, if any.
fn rollup<'a>(key: &'a str, prefix: &str, delimiter: Option<&str>) -> Option<&'a str> {
    let d = delimiter?;
    let rest = key.get(prefix.len()..)?;
    rest.find(d).map(|i| &key[..prefix.len() + i + d.len()])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::objects::NewObject;
    use crate::{Store, StoreConfig};

    fn store(dir: &std::path::Path, retention: Duration) -> Store {
        Store::open(StoreConfig {
            data_dir: dir.to_path_buf(),
            chunk_size: 16,
            inline_threshold: 4,
            retention,
        })
        .unwrap()
    }

    fn put(s: &Store, bucket: &str, key: &str, body: &[u8]) -> ObjectRow {
        let lock = s.lock_key(bucket, key).unwrap();
        let mut w = s.object_writer();
        w.write(body).unwrap();
        let data = w.finish().unwrap();
        s.commit_object(&lock, bucket, key, data, NewObject::default())
            .unwrap()
    }

    fn files(dir: &std::path::Path) -> usize {
        walk(&dir.join("chunks"))
    }

    fn walk(p: &std::path::Path) -> usize {
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

    #[test]
    fn bucket_retention_overrides_the_server_default() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Duration::from_secs(86400));
        s.create_bucket("keep").unwrap();
        s.create_bucket("notrash").unwrap();
        assert_eq!(s.bucket_retention("notrash").unwrap(), None);
        s.set_bucket_retention("notrash", Some(Duration::ZERO))
            .unwrap();
        assert_eq!(s.bucket_retention("notrash").unwrap(), Some(Duration::ZERO));
        assert_eq!(
            s.effective_retention("keep").unwrap(),
            Duration::from_secs(86400)
        );
        for b in ["keep", "notrash"] {
            put(&s, b, "k", &[1; 40]);
            put(&s, b, "k", &[2; 40]);
        }
        assert_eq!(files(dir.path()), 12);
        assert_eq!(
            s.purge_due().unwrap(),
            1,
            "only the no-trash bucket's version"
        );
        assert_eq!(files(dir.path()), 9);
        let page = s
            .list_versions("keep", "", None, &VersionStart::default(), 100)
            .unwrap();
        assert_eq!(page.items.len(), 2);
        let page = s
            .list_versions("notrash", "", None, &VersionStart::default(), 100)
            .unwrap();
        assert_eq!(page.items.len(), 1);
        // Back to the default, and unknown buckets are refused.
        s.set_bucket_retention("notrash", None).unwrap();
        assert_eq!(s.bucket_retention("notrash").unwrap(), None);
        assert!(matches!(
            s.set_bucket_retention("nope", None),
            Err(StorageError::NoSuchBucket)
        ));
    }

    #[test]
    fn a_new_retention_applies_to_versions_already_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Duration::from_secs(86400));
        s.create_bucket("b").unwrap();
        put(&s, "b", "k", &[1; 40]);
        put(&s, "b", "k", &[2; 40]);
        put(&s, "b", "gone", &[3; 40]);
        let lock = s.lock_key("b", "gone").unwrap();
        s.delete_object(&lock, "b", "gone").unwrap();
        drop(lock);
        assert_eq!(s.purge_due().unwrap(), 0);
        s.set_bucket_retention("b", Some(Duration::from_secs(3600)))
            .unwrap();
        assert_eq!(s.purge_due().unwrap(), 0, "an hour has not passed");
        s.set_bucket_retention("b", Some(Duration::ZERO)).unwrap();
        assert_eq!(
            s.purge_due().unwrap(),
            3,
            "k's old version, gone and its marker"
        );
        assert_eq!(files(dir.path()), 3);
        let page = s
            .list_versions("b", "", None, &VersionStart::default(), 100)
            .unwrap();
        assert_eq!(page.items.len(), 1);
    }

    /// Pages of every size give the same listing, CommonPrefixes included.
    #[test]
    fn paging_with_a_delimiter() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Duration::from_secs(86400));
        s.create_bucket("b").unwrap();
        for key in ["a", "a", "b/1", "b/2", "b\0x", "c", "c", "c"] {
            put(&s, "b", key, b"x");
        }
        let describe = |items: &[VersionItem]| -> Vec<String> {
            items
                .iter()
                .map(|i| match i {
                    VersionItem::Version {
                        key,
                        row,
                        is_latest,
                    } => {
                        format!("{key}:{}:{is_latest}", row.seq)
                    }
                    VersionItem::CommonPrefix(p) => format!("CP {p}"),
                })
                .collect()
        };
        let all = s
            .list_versions("b", "", Some("/"), &VersionStart::default(), 1000)
            .unwrap();
        assert!(!all.truncated);
        let expected = describe(&all.items);
        assert_eq!(expected.len(), 2 + 1 + 1 + 3);
        assert_eq!(expected[3], "CP b/", "\\0 sorts before /");
        for page in 1..=4 {
            let mut got = Vec::new();
            let mut start = VersionStart::default();
            loop {
                let p = s.list_versions("b", "", Some("/"), &start, page).unwrap();
                assert!(p.items.len() <= page);
                got.extend(describe(&p.items));
                if !p.truncated {
                    break;
                }
                start = match p.items.last().unwrap() {
                    VersionItem::Version { key, row, .. } => VersionStart {
                        key: Some(key.clone()),
                        version_id: Some(row.version_id()),
                    },
                    VersionItem::CommonPrefix(p) => VersionStart {
                        key: Some(p.clone()),
                        version_id: None,
                    },
                };
            }
            assert_eq!(got, expected, "page size {page}");
        }
        // A key marker alone starts after every version of that key.
        let p = s
            .list_versions(
                "b",
                "",
                None,
                &VersionStart {
                    key: Some("b/2".into()),
                    version_id: None,
                },
                1000,
            )
            .unwrap();
        assert_eq!(describe(&p.items).len(), 3, "c's three versions");
    }

    /// Delete markers, latest or not, and pages that end within a key: every
    /// page size gives the one-page listing, `is_latest` included.
    #[test]
    fn paging_through_delete_markers() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Duration::from_secs(86400));
        s.create_bucket("b").unwrap();
        // Delete markers are what clients of a versioned bucket see.
        s.set_bucket_versioning("b", true).unwrap();
        let delete = |key: &str| {
            let lock = s.lock_key("b", key).unwrap();
            s.delete_object(&lock, "b", key).unwrap().unwrap();
        };
        put(&s, "b", "a", b"1");
        put(&s, "b", "a", b"2");
        delete("a");
        put(&s, "b", "b", b"1");
        delete("b");
        put(&s, "b", "b", b"2");
        let describe = |items: &[VersionItem]| -> Vec<String> {
            items
                .iter()
                .map(|i| match i {
                    VersionItem::Version {
                        key,
                        row,
                        is_latest,
                    } => format!("{key}:{}:{}:{is_latest}", row.seq, row.delete_marker),
                    VersionItem::CommonPrefix(p) => format!("CP {p}"),
                })
                .collect()
        };
        let all = s
            .list_versions("b", "", None, &VersionStart::default(), 1000)
            .unwrap();
        let expected = describe(&all.items);
        assert_eq!(expected.len(), 6);
        assert!(expected[0].ends_with(":true:true"), "a's marker is latest");
        assert!(
            expected[3].ends_with(":false:true"),
            "b's current is latest"
        );
        for page in 1..=5 {
            let mut got = Vec::new();
            let mut start = VersionStart::default();
            loop {
                let p = s.list_versions("b", "", None, &start, page).unwrap();
                got.extend(describe(&p.items));
                if !p.truncated {
                    break;
                }
                let Some(VersionItem::Version { key, row, .. }) = p.items.last() else {
                    unreachable!()
                };
                start = VersionStart {
                    key: Some(key.clone()),
                    version_id: Some(row.version_id()),
                };
            }
            assert_eq!(got, expected, "page size {page}");
        }
    }

    #[test]
    fn deleting_a_bucket_drops_its_versions() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Duration::from_secs(86400));
        s.create_bucket("gone").unwrap();
        put(&s, "gone", "k", &[1; 40]);
        let lock = s.lock_key("gone", "k").unwrap();
        s.delete_object(&lock, "gone", "k").unwrap();
        drop(lock);
        s.delete_bucket("gone").unwrap();
        s.create_bucket("gone").unwrap();
        let page = s
            .list_versions("gone", "", None, &VersionStart::default(), 100)
            .unwrap();
        assert!(page.items.is_empty());
        assert_eq!(s.purge_due().unwrap(), 2);
        assert_eq!(files(dir.path()), 0);
    }

    #[test]
    fn a_reader_keeps_a_version_deleted_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Duration::from_secs(86400));
        s.create_bucket("b").unwrap();
        let v1 = put(&s, "b", "k", &[7; 40]);
        put(&s, "b", "k", &[8; 40]);
        let (_, mut reader) = s.open_object("b", "k", Some(&v1.version_id())).unwrap();
        let lock = s.lock_key("b", "k").unwrap();
        s.delete_version(&lock, "b", "k", v1.seq).unwrap().unwrap();
        assert!(matches!(
            s.get_object("b", "k", Some(&v1.version_id())),
            Err(StorageError::NoSuchVersion)
        ));
        assert_eq!(s.purge_due().unwrap(), 0, "deferred while read");
        let mut buf = vec![0; 40];
        let mut got = 0;
        while got < 40 {
            got += reader.read(&mut buf[got..]).unwrap();
        }
        assert_eq!(buf, vec![7; 40]);
        drop(reader);
        assert_eq!(s.purge_due().unwrap(), 1);
        assert_eq!(files(dir.path()), 3);
    }

    /// Writes `n` noncurrent versions of `key` (seq 1..=n) and a current
    /// one (seq n+1) straight into the column families: a fixture of many
    /// versions without a synced commit for each.
    fn many_versions(s: &Store, key: &str, n: u64) {
        let row = |seq: u64| ObjectRow {
            seq,
            delete_marker: false,
            size: 1,
            etag: "\"x\"".into(),
            modified_ms: seq,
            headers: vec![("content-type".into(), "text/plain".into())],
            checksums: Vec::new(),
            part_sizes: Vec::new(),
            data: rows::DataLocation::Inline(b"x".to_vec()),
            expires_ms: u64::MAX,
            null_version: false,
            tags: Vec::new(),
            part_checksums: Vec::new(),
        };
        let mut batch = Batch::default();
        for seq in 1..=n {
            batch.put_cf(
                s.cf(CF_VERSIONS),
                keys::version_key("b", key, seq).unwrap(),
                rows::encode(&row(seq)),
            );
        }
        batch.put_cf(
            s.cf(CF_OBJECTS),
            keys::object_key("b", key).unwrap(),
            rows::encode(&row(n + 1)),
        );
        s.inner
            .db
            .commit(batch, crate::engine::Durability::Buffered)
            .unwrap();
    }

    /// ListObjectVersions of a key with 20,000 versions reads about as many
    /// rows per page as one with 200 (issue 10 §4): a page, wherever it
    /// starts, costs its size, so a partner who overwrites one key all day
    /// cannot make each listing load every version.
    #[test]
    fn a_page_of_versions_reads_only_its_rows() {
        use std::sync::atomic::Ordering::Relaxed;
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Duration::from_secs(86400));
        s.create_bucket("b").unwrap();
        for (key, n) in [("cold", 200), ("hot", 20_000)] {
            many_versions(&s, key, n);
            let list = |start: &VersionStart| {
                s.inner.listed_rows.store(0, Relaxed);
                let page = s.list_versions("b", key, None, start, 100).unwrap();
                (page, s.inner.listed_rows.load(Relaxed))
            };
            let seqs = |p: &VersionPage| -> Vec<u64> {
                p.items
                    .iter()
                    .map(|i| match i {
                        VersionItem::Version { row, .. } => row.seq,
                        VersionItem::CommonPrefix(_) => 0,
                    })
                    .collect()
            };
            let (first, read) = list(&VersionStart::default());
            assert!(first.truncated);
            assert_eq!(seqs(&first), (n - 98..=n + 1).rev().collect::<Vec<_>>());
            assert!(read <= 101, "{key}: {read} rows read for the first page");
            // Continue exactly after a version in the middle, as S3 does.
            let middle = VersionStart {
                key: Some(key.into()),
                version_id: Some(rows::version_id(n / 2)),
            };
            let (next, read) = list(&middle);
            let older: Vec<u64> = (1..n / 2).rev().take(100).collect();
            assert_eq!(seqs(&next), older);
            assert_eq!(next.truncated, n / 2 - 1 > 100);
            assert!(read <= 101, "{key}: {read} rows read for a middle page");
        }
    }
}
