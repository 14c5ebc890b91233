//! The search index: a secondary index of each bucket's *current* objects by
//! tag, user metadata, size and Last-Modified, kept in `CF_SEARCH` and
//! written in the same write batch as every change of which version is
//! current ([`stage`]), so a search never sees an object that did not commit
//! nor misses one that did.
//!
//! Every entry is a key with an empty value:
//!
//! ```text
//! bucket prefix · 'd' · modified ms (u64 BE) · object key
//! bucket prefix · 's' · size (u64 BE)        · object key
//! bucket prefix · 't' · name⁎ · value⁎        · object key    tag, as text
//! bucket prefix · 'u' · name⁎ · number (8 B)  · object key    tag value that is a number
//! bucket prefix · 'v' · name⁎ · date ms (8 B) · object key    tag value that is a date
//! bucket prefix · 'm' / 'n' / 'o'                             the same for user metadata
//! ```
//!
//! (`⁎`: terminated form, see `keys.rs`, so names and values sort as
//! strings and never run into each other.) Numbers and dates get an entry of
//! their own beside the text one, so a numeric or date range reads only the
//! entries in range. Delete markers have no entries.

use std::collections::BTreeSet;

use crate::engine::Batch;

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_OBJECTS, CF_SEARCH};
use crate::rows::{self, ObjectRow};
use crate::store::Store;

/// Entry kind: Last-Modified.
pub(crate) const KIND_MODIFIED: u8 = b'd';
/// Entry kind: size.
pub(crate) const KIND_SIZE: u8 = b's';

/// Whether a field is an object tag or a user-metadata entry (`x-amz-meta-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An S3 object tag.
    Tag,
    /// User metadata (`x-amz-meta-<name>`, name lowercase).
    Meta,
}

/// How a field value is ordered in a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Text,
    Number,
    Date,
}

/// The kind byte of `field`'s entries of `ty`.
pub(crate) fn field_kind(field: FieldKind, ty: ValueType) -> u8 {
    match (field, ty) {
        (FieldKind::Tag, ValueType::Text) => b't',
        (FieldKind::Tag, ValueType::Number) => b'u',
        (FieldKind::Tag, ValueType::Date) => b'v',
        (FieldKind::Meta, ValueType::Text) => b'm',
        (FieldKind::Meta, ValueType::Number) => b'n',
        (FieldKind::Meta, ValueType::Date) => b'o',
    }
}

/// `value` as a number, if it is a finite decimal number.
pub(crate) fn as_number(value: &str) -> Option<f64> {
    // `f64::from_str` also takes "inf" and "NaN": not numbers to a partner.
    let first = value.bytes().next()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    value.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `value` as a date (RFC 3339, or a bare `YYYY-MM-DD` meaning midnight
/// UTC), in ms since the epoch.
pub fn as_date_ms(value: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if value.len() < 10 || !value.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let t = match time::OffsetDateTime::parse(value, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let f = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(value, &f).ok()?.midnight().assume_utc()
        }
    };
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// An `f64` as 8 bytes whose byte order is the numeric order.
pub(crate) fn sortable_f64(f: f64) -> [u8; 8] {
    let f = if f == 0.0 { 0.0 } else { f }; // -0 and 0 are one number
    let bits = f.to_bits();
    let bits = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    bits.to_be_bytes()
}

/// An `i64` as 8 bytes whose byte order is the numeric order.
pub(crate) fn sortable_i64(i: i64) -> [u8; 8] {
    ((i as u64) ^ (1 << 63)).to_be_bytes()
}

/// The start of every entry of `field` `name` of `kind`: bucket prefix,
/// kind, terminated name.
pub(crate) fn field_prefix(bucket_prefix: &[u8], kind: u8, name: &str) -> Vec<u8> {
    let mut out = bucket_prefix.to_vec();
    out.push(kind);
    keys::push_terminated(&mut out, name);
    out
}

/// The user-metadata entries of `row`: (name without `x-amz-meta-`, value).
pub fn user_metadata(row: &ObjectRow) -> impl Iterator<Item = (&str, &str)> {
    row.headers
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("x-amz-meta-")?, v.as_str())))
}

/// Every index entry of `row` as the current version of `key`, sorted.
pub(crate) fn entries(bucket_prefix: &[u8], key: &str, row: &ObjectRow) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    if row.delete_marker {
        return out;
    }
    let fixed = |kind: u8, n: [u8; 8]| {
        let mut e = bucket_prefix.to_vec();
        e.push(kind);
        e.extend_from_slice(&n);
        e.extend_from_slice(key.as_bytes());
        e
    };
    out.insert(fixed(KIND_MODIFIED, row.modified_ms.to_be_bytes()));
    out.insert(fixed(KIND_SIZE, row.size.to_be_bytes()));
    let tags = row
        .tags
        .iter()
        .map(|(k, v)| (FieldKind::Tag, k.as_str(), v.as_str()));
    let meta = user_metadata(row).map(|(k, v)| (FieldKind::Meta, k, v));
    for (field, name, value) in tags.chain(meta) {
        let mut e = field_prefix(bucket_prefix, field_kind(field, ValueType::Text), name);
        keys::push_terminated(&mut e, value);
        e.extend_from_slice(key.as_bytes());
        out.insert(e);
        if let Some(n) = as_number(value) {
            let mut e = field_prefix(bucket_prefix, field_kind(field, ValueType::Number), name);
            e.extend_from_slice(&sortable_f64(n));
            e.extend_from_slice(key.as_bytes());
            out.insert(e);
        }
        if let Some(ms) = as_date_ms(value) {
            let mut e = field_prefix(bucket_prefix, field_kind(field, ValueType::Date), name);
            e.extend_from_slice(&sortable_i64(ms));
            e.extend_from_slice(key.as_bytes());
            out.insert(e);
        }
    }
    out
}

/// The object key an index entry (bucket prefix of `bp_len` bytes) points at.
pub(crate) fn entry_object_key(bp_len: usize, raw: &[u8]) -> Option<&str> {
    let rest = raw.get(bp_len..)?;
    let (&kind, rest) = rest.split_first()?;
    let rest = match kind {
        KIND_MODIFIED | KIND_SIZE => rest.get(8..)?,
        b't' | b'm' => {
            let rest = &rest[skip_terminated(rest)?..];
            &rest[skip_terminated(rest)?..]
        }
        b'u' | b'v' | b'n' | b'o' => rest[skip_terminated(rest)?..].get(8..)?,
        _ => return None,
    };
    std::str::from_utf8(rest).ok()
}

/// The length of the terminated string `raw` starts with, terminator included.
fn skip_terminated(raw: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        match (raw.get(i)?, raw.get(i + 1)) {
            (0, Some(0xFF)) => i += 2,
            (0, Some(0x01)) => return Some(i + 2),
            (0, _) => return None,
            _ => i += 1,
        }
    }
}

/// Adds to `batch` the index change of `bucket`/`key`'s current version
/// going from `old` to `new` (either `None` when the key has no current
/// version, before or after). The one place the index is maintained: every
/// change of which version is current, or of a current version's tags or
/// metadata in place, calls it in the batch that makes the change.
pub(crate) fn stage(
    store: &Store,
    batch: &mut Batch,
    bucket: &str,
    key: &str,
    old: Option<&ObjectRow>,
    new: Option<&ObjectRow>,
) -> StorageResult<()> {
    let bp = keys::bucket_prefix(bucket)?;
    let old = old.map(|r| entries(&bp, key, r)).unwrap_or_default();
    let new = new.map(|r| entries(&bp, key, r)).unwrap_or_default();
    let cf = store.cf(CF_SEARCH);
    for gone in old.difference(&new) {
        batch.delete_cf(cf, gone);
    }
    for added in new.difference(&old) {
        batch.put_cf(cf, added, []);
    }
    Ok(())
}

/// What a rebuild of a bucket's index found and fixed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReindexReport {
    /// Current objects indexed.
    pub objects: u64,
    /// Index entries after the rebuild.
    pub entries: u64,
    /// Entries that were missing and were added.
    pub added: u64,
    /// Entries that pointed at nothing current and were removed.
    pub removed: u64,
}

impl Store {
    /// Every raw index entry of `bucket`, in order: for checking that the
    /// maintained index equals a rebuilt one.
    pub fn search_index_entries(&self, bucket: &str) -> StorageResult<Vec<Vec<u8>>> {
        let bp = keys::bucket_prefix(bucket)?;
        let mut it = self.bounded(CF_SEARCH, bp.clone());
        it.seek(&bp);
        let mut out = Vec::new();
        while let Some(k) = it.key() {
            out.push(k.to_vec());
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// Rebuilds `bucket`'s index from its current versions: computes every
    /// entry the current objects should have, compares with the stored
    /// index, and writes the difference in one batch. Commits into every
    /// bucket wait meanwhile (a rebuild is an operator's repair, run rarely),
    /// so no change slips between the scan and the write.
    ///
    /// On a shared engine the barrier holds only this front end's commits:
    /// there [`Store::reindex_guarded`] writes the difference in pages, each
    /// requiring the rows of the objects it touches as they were read.
    pub fn reindex(&self, bucket: &str) -> StorageResult<ReindexReport> {
        let _no_commits = self.commit_barrier();
        self.require_bucket(bucket)?;
        if self.shared() {
            return self.retry_guarded(|| self.reindex_guarded(bucket));
        }
        let bp = keys::bucket_prefix(bucket)?;
        let mut wanted = BTreeSet::new();
        let mut objects = 0;
        let mut it = self.bounded(CF_OBJECTS, bp.clone());
        it.seek(&bp);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let key = keys::object_key_name(bp.len(), k)
                .ok_or_else(|| StorageError::Corrupt("object key".into()))?;
            let row: ObjectRow = rows::decode(v)?;
            objects += 1;
            wanted.extend(entries(&bp, key, &row));
            it.next();
        }
        it.status()?;
        let existing: BTreeSet<Vec<u8>> = self.search_index_entries(bucket)?.into_iter().collect();
        let mut report = ReindexReport {
            objects,
            entries: wanted.len() as u64,
            ..Default::default()
        };
        let mut batch = Batch::default();
        let cf = self.cf(CF_SEARCH);
        for gone in existing.difference(&wanted) {
            batch.delete_cf(cf, gone);
            report.removed += 1;
        }
        for added in wanted.difference(&existing) {
            batch.put_cf(cf, added, []);
            report.added += 1;
        }
        if !batch.is_empty() {
            self.write_synced(batch)?;
        }
        Ok(report)
    }
}

impl Store {
    /// [`Store::reindex`] on a shared engine. Objects and index are read at
    /// one snapshot; the difference goes in pages (etcd's limits), each
    /// guarded by the rows of the objects its entries name, as read (or
    /// absent). A write of an object commits its row and its entries
    /// together, so an unchanged row means its entries at the snapshot are
    /// still all it has; a changed one fails the page (`Conflict`), and the
    /// rebuild runs again. Pages already written were right when written.
    fn reindex_guarded(&self, bucket: &str) -> StorageResult<ReindexReport> {
        use std::collections::BTreeMap;

        use crate::engine::ReadBounds;
        const PAGE_OPS: usize = 90;
        const PAGE_GUARDS: usize = 90;

        let bp = keys::bucket_prefix(bucket)?;
        let snapshot = self.inner.db.snapshot()?;
        // Object key -> its row as read.
        let mut rows_read: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut wanted = BTreeSet::new();
        let mut it = self
            .inner
            .db
            .cursor(self.cf(CF_OBJECTS), ReadBounds::prefix(&bp).at(&snapshot));
        it.seek(&bp);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let key = keys::object_key_name(bp.len(), k)
                .ok_or_else(|| StorageError::Corrupt("object key".into()))?;
            let row: ObjectRow = rows::decode(v)?;
            wanted.extend(entries(&bp, key, &row));
            rows_read.insert(key.to_string(), v.to_vec());
            it.next();
        }
        it.status()?;
        let mut existing = BTreeSet::new();
        let mut it = self
            .inner
            .db
            .cursor(self.cf(CF_SEARCH), ReadBounds::prefix(&bp).at(&snapshot));
        it.seek(&bp);
        while let Some(k) = it.key() {
            existing.insert(k.to_vec());
            it.next();
        }
        it.status()?;
        let mut report = ReindexReport {
            objects: rows_read.len() as u64,
            entries: wanted.len() as u64,
            ..Default::default()
        };
        // The difference by the object each entry names (`None`: an entry
        // naming nothing readable, removed unguarded).
        let mut by_object: BTreeMap<Option<String>, Vec<(Vec<u8>, bool)>> = BTreeMap::new();
        for gone in existing.difference(&wanted) {
            let object = entry_object_key(bp.len(), gone).map(str::to_string);
            by_object
                .entry(object)
                .or_default()
                .push((gone.clone(), false));
            report.removed += 1;
        }
        for added in wanted.difference(&existing) {
            let object = entry_object_key(bp.len(), added).map(str::to_string);
            by_object
                .entry(object)
                .or_default()
                .push((added.clone(), true));
            report.added += 1;
        }
        let cf = self.cf(CF_SEARCH);
        let mut batch = Batch::default();
        let mut guards = 0;
        for (object, diff) in by_object {
            if !batch.is_empty()
                && (batch.ops.len() + diff.len() > PAGE_OPS || guards >= PAGE_GUARDS)
            {
                self.write_synced(std::mem::take(&mut batch))?;
                guards = 0;
            }
            if let Some(object) = &object {
                let row_key = keys::object_key(bucket, object)?;
                let read = rows_read.get(object).map(Vec::as_slice);
                self.expect_read(&mut batch, CF_OBJECTS, row_key, read);
                guards += 1;
            }
            for (entry, add) in diff {
                if add {
                    batch.put_cf(cf, entry, []);
                } else {
                    batch.delete_cf(cf, entry);
                }
            }
        }
        if !batch.is_empty() {
            self.write_synced(batch)?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_sort_as_bytes() {
        let nums = [-1e9, -2.5, -0.0, 0.0, 1e-3, 2.0, 20.0, 1e12];
        for w in nums.windows(2) {
            assert!(sortable_f64(w[0]) <= sortable_f64(w[1]), "{w:?}");
        }
        assert_eq!(sortable_f64(-0.0), sortable_f64(0.0));
        assert!(sortable_i64(-5) < sortable_i64(3));
        assert_eq!(as_number("0000000000020"), Some(20.0));
        assert_eq!(as_number("inf"), None);
        assert_eq!(as_number("NaN"), None);
        assert_eq!(as_number("12abc"), None);
        assert_eq!(as_date_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(as_date_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(as_date_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(as_date_ms("yesterday!"), None);
    }

    #[test]
    fn entries_name_their_object() {
        let row = ObjectRow {
            seq: 1,
            delete_marker: false,
            size: 5,
            etag: "\"e\"".into(),
            modified_ms: 7,
            headers: vec![
                ("content-type".into(), "x/y".into()),
                ("x-amz-meta-when".into(), "2026-11-01".into()),
            ],
            checksums: Vec::new(),
            part_sizes: Vec::new(),
            data: rows::DataLocation::Inline(Vec::new()),
            expires_ms: 0,
            null_version: true,
            part_checksums: Vec::new(),
            tags: vec![("dst".into(), "0020".into()), ("a\0b".into(), "\0".into())],
        };
        let bp = keys::bucket_prefix("bkt").unwrap();
        let all = entries(&bp, "dir/k\0ey", &row);
        // d, s, meta text + date, dst text + number, a\0b text.
        assert_eq!(all.len(), 7);
        for e in &all {
            assert_eq!(entry_object_key(bp.len(), e), Some("dir/k\0ey"), "{e:?}");
        }
        let marker = ObjectRow {
            delete_marker: true,
            ..row
        };
        assert!(entries(&bp, "k", &marker).is_empty());
    }
}
