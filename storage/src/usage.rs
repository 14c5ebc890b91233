//! Per-bucket usage counters and quotas.
//!
//! A bucket's usage is four signed counters in `CF_USAGE`: current
//! objects and their bytes, noncurrent versions ("trash": replaced and
//! deleted versions waiting for their retention to end, or kept by
//! versioning) and their bytes. Delete markers count nowhere. Every change
//! of an object row adds its delta to the SAME write batch as a RocksDB
//! merge operand; the column family's associative merge operator sums them,
//! so concurrent writers never read-modify-write the counters and a crash
//! can never leave counters and rows disagreeing.
//! [`Store::recompute_usage`] rebuilds them from a scan of the rows.
//!
//! On a shared engine (etcd) a merge is a read-modify-write guarded by the
//! counter's revision, so every commit into one bucket would contend on one
//! key. There each delta goes to one of [`USAGE_SHARDS`] rows picked at
//! random, `<bucket>\0<shard>` (no bucket name holds a NUL, so a bucket's
//! shards sort right after its own row and before any other bucket), and a
//! read sums the bucket's row and its shards in one range read.
//!
//! Quotas live in their own rows (`CF_META`, `quota/<bucket>`), not in the
//! bucket row.

use crate::engine::{Batch, ReadBounds, Snapshot};
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_META, CF_OBJECTS, CF_USAGE, CF_VERSIONS};
use crate::rows::{self, ObjectRow};
use crate::store::Store;

/// A bucket's usage (or a change of it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Current objects (delete markers are not objects).
    pub objects: i64,
    /// Bytes of the current objects.
    pub bytes: i64,
    /// Noncurrent versions: the trash, purged when their retention ends.
    pub trash_objects: i64,
    /// Bytes of the noncurrent versions.
    pub trash_bytes: i64,
}

const USAGE_LEN: usize = 32;

/// Counter rows per bucket on a shared engine: concurrent commits into one
/// bucket rarely pick the same one, so they seldom retry.
pub(crate) const USAGE_SHARDS: u8 = 64;

/// The range holding `bucket`'s counters: its own row and its shards.
fn usage_range(bucket: &str) -> (Vec<u8>, Vec<u8>) {
    let from = bucket.as_bytes().to_vec();
    let mut to = from.clone();
    to.push(1);
    (from, to)
}

/// The bucket a usage row (or shard) counts for.
fn usage_bucket(key: &[u8]) -> &[u8] {
    match key.iter().position(|&b| b == 0) {
        Some(i) => &key[..i],
        None => key,
    }
}

impl Usage {
    pub(crate) fn encode(&self) -> [u8; USAGE_LEN] {
        let mut out = [0u8; USAGE_LEN];
        for (i, v) in [
            self.objects,
            self.bytes,
            self.trash_objects,
            self.trash_bytes,
        ]
        .into_iter()
        .enumerate()
        {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub(crate) fn decode(raw: &[u8]) -> Option<Usage> {
        if raw.len() != USAGE_LEN {
            return None;
        }
        let f = |i: usize| i64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(Usage {
            objects: f(0),
            bytes: f(1),
            trash_objects: f(2),
            trash_bytes: f(3),
        })
    }

    fn add(&mut self, o: &Usage) {
        self.objects = self.objects.wrapping_add(o.objects);
        self.bytes = self.bytes.wrapping_add(o.bytes);
        self.trash_objects = self.trash_objects.wrapping_add(o.trash_objects);
        self.trash_bytes = self.trash_bytes.wrapping_add(o.trash_bytes);
    }

    fn is_zero(&self) -> bool {
        *self == Usage::default()
    }

    /// `row` as a current object, with `sign` +1 (added) or -1 (removed).
    pub(crate) fn live(row: &ObjectRow, sign: i64) -> Usage {
        if row.delete_marker {
            return Usage::default();
        }
        Usage {
            objects: sign,
            bytes: sign * row.size as i64,
            ..Usage::default()
        }
    }

    /// `row` as a noncurrent version, with `sign` +1 (added) or -1 (removed).
    pub(crate) fn trash(row: &ObjectRow, sign: i64) -> Usage {
        if row.delete_marker {
            return Usage::default();
        }
        Usage {
            trash_objects: sign,
            trash_bytes: sign * row.size as i64,
            ..Usage::default()
        }
    }

    /// The sum of `self` and `other`.
    pub(crate) fn plus(mut self, other: Usage) -> Usage {
        self.add(&other);
        self
    }
}

/// The merge operator of `CF_USAGE`: sums the counters (associative, so
/// RocksDB may combine operands in any grouping). A malformed operand is
/// skipped rather than poisoning every later read of the row.
pub(crate) fn fold_usage<'a>(
    existing: Option<&[u8]>,
    operands: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let mut total = existing.and_then(Usage::decode).unwrap_or_default();
    for op in operands {
        if let Some(d) = Usage::decode(op) {
            total.add(&d);
        }
    }
    total.encode().to_vec()
}

/// A bucket's quota: limits on its current bytes and objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRow {
    /// Largest total size of the current objects, in bytes.
    pub max_bytes: Option<u64>,
    /// Largest number of current objects.
    pub max_objects: Option<u64>,
}

impl rows::Row for QuotaRow {}

fn quota_key(bucket: &str) -> Vec<u8> {
    let mut k = b"quota/".to_vec();
    k.extend_from_slice(bucket.as_bytes());
    k
}

/// Which limit a write would cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaLimit {
    /// The byte quota.
    Bytes,
    /// The object-count quota.
    Objects,
}

impl Store {
    /// Adds `delta` to `bucket`'s usage counters within `batch`.
    pub(crate) fn add_usage(&self, batch: &mut Batch, bucket: &str, delta: Usage) {
        if delta.is_zero() {
            return;
        }
        if self.shared() {
            let mut key = bucket.as_bytes().to_vec();
            key.extend_from_slice(&[0, rand::random::<u8>() % USAGE_SHARDS]);
            batch.merge_cf(self.cf(CF_USAGE), key, delta.encode());
        } else {
            batch.merge_cf(self.cf(CF_USAGE), bucket.as_bytes(), delta.encode());
        }
    }

    /// `bucket`'s usage counters (zero for a bucket without objects).
    pub fn usage(&self, bucket: &str) -> StorageResult<Usage> {
        if self.shared() {
            return self.sharded_usage(bucket, None);
        }
        match self.inner.db.get(self.cf(CF_USAGE), bucket.as_bytes())? {
            Some(raw) => {
                Usage::decode(&raw).ok_or_else(|| StorageError::Corrupt("usage counters".into()))
            }
            None => Ok(Usage::default()),
        }
    }

    /// The sum of `bucket`'s counter row and shards (at `snapshot`).
    fn sharded_usage(&self, bucket: &str, snapshot: Option<&Snapshot<'_>>) -> StorageResult<Usage> {
        let (from, to) = usage_range(bucket);
        let bounds = match snapshot {
            Some(s) => ReadBounds::range(&from, &to).at(s),
            None => ReadBounds::range(&from, &to),
        };
        let mut total = Usage::default();
        for item in self.inner.db.entries(self.cf(CF_USAGE), bounds, None) {
            let (_, v) = item?;
            let part =
                Usage::decode(&v).ok_or_else(|| StorageError::Corrupt("usage counters".into()))?;
            total.add(&part);
        }
        Ok(total)
    }

    /// Scans `bucket`'s object and version rows and returns what the
    /// counters should say.
    pub fn scan_usage(&self, bucket: &str) -> StorageResult<Usage> {
        let snapshot = self.inner.db.snapshot()?;
        self.scan_usage_at(bucket, &snapshot)
    }

    fn scan_usage_at(&self, bucket: &str, snapshot: &Snapshot<'_>) -> StorageResult<Usage> {
        let prefix = keys::bucket_prefix(bucket)?;
        let mut total = Usage::default();
        for (cf, as_trash) in [(CF_OBJECTS, false), (CF_VERSIONS, true)] {
            let bounds = ReadBounds::prefix(&prefix).at(snapshot);
            let mut it = self.inner.db.cursor(self.cf(cf), bounds);
            it.seek(&prefix);
            while let Some(v) = it.value() {
                let row: ObjectRow = rows::decode(v)?;
                total.add(&if as_trash {
                    Usage::trash(&row, 1)
                } else {
                    Usage::live(&row, 1)
                });
                it.next();
            }
            it.status()?;
        }
        Ok(total)
    }

    /// Rebuilds `bucket`'s counters from a scan, returning (counters before,
    /// scan). Counters and rows are read at one snapshot, and the
    /// correction is added as a merge operand (the difference, not an
    /// overwrite), so writes and purges may go on meanwhile: whatever they
    /// add after the snapshot is kept.
    ///
    /// Under the bucket's lock (leased on a shared engine): two recomputes
    /// of one bucket, on one front end or two, would each add the same
    /// correction, and one finishing after the bucket's deletion would
    /// leave counters for a later bucket of the same name.
    pub fn recompute_usage(&self, bucket: &str) -> StorageResult<(Usage, Usage)> {
        let _guard = self.bucket_lock(bucket)?;
        let mut batch = Batch::default();
        self.bucket_for_update(&mut batch, bucket)?;
        let snapshot = self.inner.db.snapshot()?;
        let before = if self.shared() {
            self.sharded_usage(bucket, Some(&snapshot))?
        } else {
            match self
                .inner
                .db
                .get_at(&snapshot, self.cf(CF_USAGE), bucket.as_bytes())?
            {
                Some(raw) => Usage::decode(&raw)
                    .ok_or_else(|| StorageError::Corrupt("usage counters".into()))?,
                None => Usage::default(),
            }
        };
        let scanned = self.scan_usage_at(bucket, &snapshot)?;
        if before != scanned {
            let diff = Usage {
                objects: scanned.objects - before.objects,
                bytes: scanned.bytes - before.bytes,
                trash_objects: scanned.trash_objects - before.trash_objects,
                trash_bytes: scanned.trash_bytes - before.trash_bytes,
            };
            self.add_usage(&mut batch, bucket, diff);
            self.write_synced(batch)?;
        }
        Ok((before, scanned))
    }

    /// Every usage row's bucket and counters, by bucket name.
    pub fn all_usage(&self) -> StorageResult<Vec<(String, Usage)>> {
        let mut out: Vec<(String, Usage)> = Vec::new();
        for item in self
            .inner
            .db
            .entries(self.cf(CF_USAGE), ReadBounds::all(), None)
        {
            let (k, v) = item?;
            let name = String::from_utf8(usage_bucket(&k).to_vec())
                .map_err(|_| StorageError::Corrupt("usage bucket name".into()))?;
            let usage =
                Usage::decode(&v).ok_or_else(|| StorageError::Corrupt("usage counters".into()))?;
            // A bucket's shards follow its own row in key order.
            match out.last_mut() {
                Some((last, total)) if *last == name => total.add(&usage),
                _ => out.push((name, usage)),
            }
        }
        Ok(out)
    }

    /// `bucket`'s quota, if it has one.
    pub fn quota(&self, bucket: &str) -> StorageResult<Option<QuotaRow>> {
        match self.inner.db.get(self.cf(CF_META), quota_key(bucket))? {
            Some(raw) => Ok(Some(rows::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// Changes `bucket`'s quota: each limit given is set (`Some(None)`
    /// removes it), the others kept; a quota with neither limit is removed.
    pub fn update_quota(
        &self,
        bucket: &str,
        max_bytes: Option<Option<u64>>,
        max_objects: Option<Option<u64>>,
    ) -> StorageResult<()> {
        let _guard = self.bucket_lock(bucket)?;
        self.require_bucket(bucket)?;
        let mut quota = self.quota(bucket)?.unwrap_or_default();
        if let Some(b) = max_bytes {
            quota.max_bytes = b;
        }
        if let Some(o) = max_objects {
            quota.max_objects = o;
        }
        let mut batch = Batch::default();
        if quota == QuotaRow::default() {
            batch.delete_cf(self.cf(CF_META), quota_key(bucket));
        } else {
            batch.put_cf(self.cf(CF_META), quota_key(bucket), rows::encode(&quota));
        }
        self.write_synced(batch)
    }

    /// Adds to `batch`: `bucket`'s quota and counters are gone (the bucket is deleted).
    pub(crate) fn drop_bucket_usage(&self, batch: &mut Batch, bucket: &str) {
        batch.delete_cf(self.cf(CF_META), quota_key(bucket));
        if self.shared() {
            let (from, to) = usage_range(bucket);
            batch.delete_range_cf(self.cf(CF_USAGE), from, to);
        } else {
            batch.delete_cf(self.cf(CF_USAGE), bucket.as_bytes());
        }
    }

    /// Whether adding `objects` objects of `bytes` bytes in total to
    /// `bucket`, in place of `replaced` (the current version's size, if one
    /// is replaced), would cross its quota. Cheap: one read when the bucket
    /// has no quota, two when it has.
    pub fn check_quota(
        &self,
        bucket: &str,
        bytes: u64,
        replaced: Option<u64>,
    ) -> StorageResult<Option<QuotaLimit>> {
        let Some(q) = self.quota(bucket)? else {
            return Ok(None);
        };
        let u = self.usage(bucket)?;
        let (add_objects, freed) = match replaced {
            Some(size) => (0, size),
            None => (1, 0),
        };
        if let Some(max) = q.max_objects {
            if add_objects > 0 && u.objects.max(0) as u64 + add_objects > max {
                return Ok(Some(QuotaLimit::Objects));
            }
        }
        if let Some(max) = q.max_bytes {
            let after = (u.bytes.max(0) as u64)
                .saturating_sub(freed)
                .saturating_add(bytes);
            if after > max {
                return Ok(Some(QuotaLimit::Bytes));
            }
        }
        Ok(None)
    }

    /// The bytes `bucket` may still take before its byte quota (`None`: no byte quota).
    pub fn quota_room(&self, bucket: &str, replaced: Option<u64>) -> StorageResult<Option<u64>> {
        let Some(max) = self.quota(bucket)?.and_then(|q| q.max_bytes) else {
            return Ok(None);
        };
        let used = (self.usage(bucket)?.bytes.max(0) as u64).saturating_sub(replaced.unwrap_or(0));
        Ok(Some(max.saturating_sub(used)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::objects::NewObject;
    use crate::Versioning;

    fn store(dir: &std::path::Path) -> Store {
        crate::test_support::store(dir, Duration::from_secs(86400))
    }

    fn put(s: &Store, key: &str, body: &[u8]) -> ObjectRow {
        let lock = s.lock_key("b", key).unwrap();
        let mut w = s.object_writer();
        w.write(body).unwrap();
        let data = w.finish().unwrap();
        s.commit_object(&lock, "b", key, data, NewObject::default())
            .unwrap()
    }

    fn check(s: &Store, want: Usage) {
        assert_eq!(s.usage("b").unwrap(), want);
        assert_eq!(
            s.scan_usage("b").unwrap(),
            want,
            "the counters equal a scan"
        );
    }

    fn u(objects: i64, bytes: i64, trash_objects: i64, trash_bytes: i64) -> Usage {
        Usage {
            objects,
            bytes,
            trash_objects,
            trash_bytes,
        }
    }

    /// Every kind of row change moves the counters as a scan says it should:
    /// new objects, overwrites, deletes (markers count nowhere), deletes of
    /// a version (current, with the next one promoted, and noncurrent), and
    /// purges.
    #[test]
    fn counters_follow_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        check(&s, Usage::default());
        put(&s, "a", &[1; 3]); // inline
        put(&s, "b", &[2; 40]); // chunked
        check(&s, u(2, 43, 0, 0));
        put(&s, "a", &[3; 10]);
        check(&s, u(2, 50, 1, 3));
        let lock = s.lock_key("b", "b").unwrap();
        s.delete_object(&lock, "b", "b").unwrap();
        drop(lock);
        check(&s, u(1, 10, 2, 43));
        // Deleting the current version by id promotes the noncurrent one.
        let current = s.current("b", "a").unwrap().unwrap();
        let lock = s.lock_key("b", "a").unwrap();
        s.delete_version(&lock, "b", "a", current.seq).unwrap();
        drop(lock);
        check(&s, u(1, 3, 1, 40));
        s.set_bucket_versioning("b", true).unwrap();
        let old = put(&s, "c", &[4; 20]);
        put(&s, "c", &[5; 21]);
        check(&s, u(2, 24, 2, 60));
        let lock = s.lock_key("b", "c").unwrap();
        s.delete_version(&lock, "b", "c", old.seq).unwrap();
        drop(lock);
        check(&s, u(2, 24, 1, 40));
        s.set_bucket_retention("b", Some(Duration::ZERO)).unwrap();
        s.purge_due().unwrap();
        check(&s, u(2, 24, 0, 0));
        assert_eq!(
            s.require_bucket("b").unwrap().versioning,
            Versioning::Enabled
        );
        // Counters that drifted are put right by a recompute.
        let mut batch = Batch::default();
        s.add_usage(&mut batch, "b", u(5, 5, 5, 5));
        s.write_synced(batch).unwrap();
        let (before, scanned) = s.recompute_usage("b").unwrap();
        assert_eq!(before, u(7, 29, 5, 5));
        assert_eq!(scanned, u(2, 24, 0, 0));
        check(&s, u(2, 24, 0, 0));
    }

    #[test]
    fn quotas_refuse_what_would_cross_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        assert_eq!(s.check_quota("b", 1 << 40, None).unwrap(), None);
        s.update_quota("b", Some(Some(100)), None).unwrap();
        s.update_quota("b", None, Some(Some(2))).unwrap();
        assert_eq!(
            s.quota("b").unwrap(),
            Some(QuotaRow {
                max_bytes: Some(100),
                max_objects: Some(2)
            })
        );
        put(&s, "a", &[1; 60]);
        assert_eq!(s.check_quota("b", 40, None).unwrap(), None);
        assert_eq!(
            s.check_quota("b", 41, None).unwrap(),
            Some(QuotaLimit::Bytes)
        );
        // Replacing "a" frees its 60 bytes.
        assert_eq!(s.check_quota("b", 100, Some(60)).unwrap(), None);
        assert_eq!(s.quota_room("b", None).unwrap(), Some(40));
        put(&s, "b", &[1; 10]);
        assert_eq!(
            s.check_quota("b", 1, None).unwrap(),
            Some(QuotaLimit::Objects)
        );
        assert_eq!(
            s.check_quota("b", 1, Some(10)).unwrap(),
            None,
            "an overwrite adds no object"
        );
        s.update_quota("b", Some(None), Some(None)).unwrap();
        assert_eq!(s.quota("b").unwrap(), None);
    }
}
