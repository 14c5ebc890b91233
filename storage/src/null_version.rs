//! S3's `null` version on top of kura's versions.
//!
//! Every version kura keeps has its own id (its sequence number). A write in
//! a bucket that is unversioned or Suspended is flagged
//! [`ObjectRow::null_version`]; the newest flagged row of a key is the one
//! S3 clients address as `versionId=null`. An older flagged row was replaced
//! by it — S3 would have dropped it; kura keeps its bytes in the trash for
//! the retention period under its own id. Nothing is rewritten when the
//! `null` name moves on, so a replaced version's row (and its purge entry)
//! stays as it was.
//!
//! A replaced `null` delete marker has no bytes to keep and would only show
//! up as an extra marker, so it is dropped when its successor is written.

use crate::engine::{Batch, ReadBounds};

use crate::error::StorageResult;
use crate::keys::{self, CF_VERSIONS};
use crate::rows::{self, ObjectRow};
use crate::store::Store;

impl Store {
    /// The key's `null` version (possibly a delete marker), if it has one.
    /// Looks through the noncurrent versions newer than it, so it costs one
    /// row per version written since versioning was enabled.
    pub fn null_version(&self, bucket: &str, key: &str) -> StorageResult<Option<ObjectRow>> {
        if let Some(current) = self.current(bucket, key)? {
            // The current version is the newest row of its key.
            if current.null_version {
                return Ok(Some(current));
            }
        }
        self.newest_noncurrent(bucket, key, |r| r.null_version)
    }

    /// The key's newest noncurrent version or delete marker.
    pub(crate) fn newest_version_row(
        &self,
        bucket: &str,
        key: &str,
    ) -> StorageResult<Option<ObjectRow>> {
        self.newest_noncurrent(bucket, key, |_| true)
    }

    /// Adds to `batch`: the key's `null` version is removed if it is a
    /// noncurrent delete marker. Called before a new `null` version is
    /// written when the current version is not the `null` one.
    pub(crate) fn drop_replaced_null_marker(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
    ) -> StorageResult<()> {
        if let Some(row) = self.newest_noncurrent(bucket, key, |r| r.null_version)? {
            if row.delete_marker {
                // Its purge entry then finds no row and only removes itself.
                let vkey = keys::version_key(bucket, key, row.seq)?;
                // Not deleted by another front end meanwhile.
                self.expect_present(batch, CF_VERSIONS, &vkey);
                batch.delete_cf(self.cf(CF_VERSIONS), vkey);
            }
        }
        Ok(())
    }

    /// The newest noncurrent row of `bucket`/`key` that `wanted` accepts.
    fn newest_noncurrent(
        &self,
        bucket: &str,
        key: &str,
        wanted: impl Fn(&ObjectRow) -> bool,
    ) -> StorageResult<Option<ObjectRow>> {
        let prefix = keys::version_key_prefix(bucket, key)?;
        let mut it = self
            .inner
            .db
            .cursor(self.cf(CF_VERSIONS), ReadBounds::prefix(&prefix));
        it.seek(&prefix);
        while it.valid() {
            let Some(v) = it.value() else { break };
            let row: ObjectRow = rows::decode(v)?;
            if wanted(&row) {
                return Ok(Some(row));
            }
            it.next();
        }
        it.status()?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::objects::NewObject;
    use crate::rows::ObjectRow;
    use crate::versions::{VersionItem, VersionStart};
    use crate::Store;

    fn put(s: &Store, key: &str, body: &[u8]) -> ObjectRow {
        let lock = s.lock_key("b", key).unwrap();
        let mut w = s.object_writer();
        w.write(body).unwrap();
        let data = w.finish().unwrap();
        s.commit_object(&lock, "b", key, data, NewObject::default())
            .unwrap()
    }

    fn delete(s: &Store, key: &str) -> Option<ObjectRow> {
        let lock = s.lock_key("b", key).unwrap();
        s.delete_object(&lock, "b", key).unwrap()
    }

    /// (seq, delete marker, null flag) of every version of `key`, newest first.
    fn versions(s: &Store, key: &str) -> Vec<(u64, bool, bool)> {
        s.list_versions("b", key, None, &VersionStart::default(), 1000)
            .unwrap()
            .items
            .into_iter()
            .filter_map(|i| match i {
                VersionItem::Version { row, .. } => {
                    Some((row.seq, row.delete_marker, row.null_version))
                }
                VersionItem::CommonPrefix(_) => None,
            })
            .collect()
    }

    fn store(dir: &std::path::Path) -> Store {
        let s = crate::test_support::store(dir, Duration::from_secs(86400));
        s.create_bucket("b").unwrap();
        s
    }

    #[test]
    fn unversioned_writes_are_null_and_deletes_keep_the_trash() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        assert_eq!(
            s.bucket("b").unwrap().unwrap().versioning,
            crate::Versioning::Unversioned
        );
        assert_eq!(delete(&s, "k"), None, "nothing to delete, no marker");
        let v1 = put(&s, "k", b"one");
        let v2 = put(&s, "k", b"two");
        assert!(v1.null_version && v2.null_version);
        assert_eq!(s.null_version("b", "k").unwrap().unwrap().seq, v2.seq);
        let t = delete(&s, "k").unwrap();
        assert!(t.delete_marker && t.null_version);
        assert_eq!(delete(&s, "k"), None, "already deleted");
        // The tombstone is the null version now; v1 and v2 stay in the trash.
        assert_eq!(s.null_version("b", "k").unwrap().unwrap().seq, t.seq);
        assert_eq!(
            versions(&s, "k"),
            vec![
                (t.seq, true, true),
                (v2.seq, false, true),
                (v1.seq, false, true)
            ]
        );
        // Writing again replaces the tombstone, which has no bytes to keep.
        let v3 = put(&s, "k", b"three");
        assert_eq!(
            versions(&s, "k"),
            vec![
                (v3.seq, false, true),
                (v2.seq, false, true),
                (v1.seq, false, true)
            ]
        );
    }

    #[test]
    fn enabled_stacks_markers_and_suspended_replaces_the_null_version() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let n1 = put(&s, "k", b"null");
        s.set_bucket_versioning("b", true).unwrap();
        let e1 = put(&s, "k", b"e1");
        assert!(!e1.null_version);
        let m1 = delete(&s, "k").unwrap();
        let m2 = delete(&s, "k").unwrap();
        assert!(m2.seq > m1.seq && !m2.null_version, "stacked markers");
        let m3 = delete(&s, "never").unwrap();
        assert!(
            m3.delete_marker,
            "a marker even for a key that never existed"
        );
        assert_eq!(s.null_version("b", "k").unwrap().unwrap().seq, n1.seq);

        s.set_bucket_versioning("b", false).unwrap();
        let sm = delete(&s, "k").unwrap();
        assert!(sm.null_version && sm.delete_marker);
        assert_eq!(
            delete(&s, "k").unwrap().seq,
            sm.seq,
            "the null marker stays"
        );
        let n2 = put(&s, "k", b"null2");
        assert!(n2.null_version);
        assert_eq!(s.null_version("b", "k").unwrap().unwrap().seq, n2.seq);
        // The replaced null marker is gone; the replaced null version n1
        // stays in the trash under its own id.
        assert_eq!(
            versions(&s, "k"),
            vec![
                (n2.seq, false, true),
                (m2.seq, true, false),
                (m1.seq, true, false),
                (e1.seq, false, false),
                (n1.seq, false, true),
            ]
        );
        assert_eq!(
            s.get_object("b", "k", Some("null")).unwrap().seq,
            n2.seq,
            "GET ?versionId=null"
        );
        assert_eq!(
            s.get_object("b", "k", Some(&n1.version_id())).unwrap().seq,
            n1.seq
        );
    }
}
