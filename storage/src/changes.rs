//! The change log: every committed change of an object, per bucket, in
//! commit order — what `GET /{bucket}?changes` serves.
//!
//! An entry is written into the *same* write batch as the change it
//! describes ([`Store::write_logged`]), so no committed change is missing
//! from the log and no entry exists for a change that did not commit.
//!
//! Change sequence numbers are global (one counter for all buckets),
//! strictly increasing and start from the clock in microseconds
//! (`max(last + 1, now_µs)`), so `since=<time>` is a seek and a cursor stays
//! valid across restarts: at start the counter resumes from the largest
//! sequence found in the log.
//!
//! Commits stay concurrent (RocksDB still groups their WAL syncs): numbers
//! are handed out under a mutex just before the write, and a number whose
//! write has not returned yet is *in flight*. Readers only see entries up to
//! the *horizon* — just below the oldest number still in flight — so a
//! reader can never read past an entry that appears later; a number whose
//! write failed is simply a gap. Per key, writes are serialised by the key
//! lock, so the log order of one key is its commit order.
//!
//! Trimming: entries are kept as long as the bucket's retention, or longer
//! when the bucket has a change-log retention of its own (a partner that
//! syncs weekly from a bucket whose trash empties daily). The key with
//! sequence 0 of each bucket holds the bucket's *trim mark*, the last
//! sequence removed. A cursor below it has lost entries and is refused
//! ([`ChangeRead::Expired`]).

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Batch, Expect, ReadBounds};
use serde::{Deserialize, Serialize};

use crate::bucket_configs::BucketConfig;
use crate::change_log::{decode_mark, now_us};
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_CHANGES};
use crate::rows::{self, ObjectRow};
use crate::store::{now_ms, Store};

/// What happened to an object.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChangeEvent {
    /// A new version became current (PUT, copy, completed multipart upload).
    Put,
    /// The object was deleted (a delete marker), or one version was deleted by id.
    Delete,
    /// An older version became current again (its successor or a delete
    /// marker was deleted by id).
    Restore,
    /// A new version with the same content (ETag) and other metadata.
    Metadata,
    /// The key got a public link.
    Publish,
    /// The key's public link was removed.
    Unpublish,
    /// A noncurrent version was removed for good at the end of its retention.
    Purge,
}

impl ChangeEvent {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeEvent::Put => "put",
            ChangeEvent::Delete => "delete",
            ChangeEvent::Restore => "restore",
            ChangeEvent::Metadata => "metadata",
            ChangeEvent::Publish => "publish",
            ChangeEvent::Unpublish => "unpublish",
            ChangeEvent::Purge => "purge",
        }
    }
}

/// One entry of a bucket's change log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeEntry {
    /// What happened.
    pub event: ChangeEvent,
    /// The object key.
    pub key: String,
    /// Sequence number of the version concerned (its version id).
    pub version_seq: u64,
    /// That version's ETag (empty for delete markers).
    pub etag: String,
    /// That version's size.
    pub size: u64,
    /// That version's Last-Modified, ms since the epoch.
    pub modified_ms: u64,
    /// When the change was committed, ms since the epoch.
    pub at_ms: u64,
}

impl crate::rows::Row for ChangeEntry {}

impl ChangeEntry {
    /// An entry about version `row` of `key`.
    pub(crate) fn of(event: ChangeEvent, key: &str, row: &ObjectRow) -> ChangeEntry {
        ChangeEntry {
            event,
            key: key.to_string(),
            version_seq: row.seq,
            etag: row.etag.clone(),
            size: row.size,
            modified_ms: row.modified_ms,
            at_ms: now_ms(),
        }
    }

    /// The entry of `row` becoming `key`'s current version after
    /// `previous`: `metadata` when only the metadata changed (same ETag as a
    /// current version with other headers), else `put`.
    pub(crate) fn put(key: &str, row: &ObjectRow, previous: Option<&ObjectRow>) -> ChangeEntry {
        let metadata_only = previous
            .is_some_and(|p| !p.delete_marker && p.etag == row.etag && p.headers != row.headers);
        let event = if metadata_only {
            ChangeEvent::Metadata
        } else {
            ChangeEvent::Put
        };
        ChangeEntry::of(event, key, row)
    }

    /// The version id of the version concerned.
    pub fn version_id(&self) -> String {
        rows::version_id(self.version_seq)
    }
}

/// What to read from a bucket's log.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    /// Resume strictly after this cursor.
    pub after: Option<u64>,
    /// Without `after`: start at the first change at or after this time (ms).
    pub since_ms: Option<u64>,
    /// Only keys beginning with this.
    pub prefix: String,
    /// When not empty, only keys beginning with one of these as well: the
    /// prefixes a caller with per-folder grants may read (see the server's
    /// access module). Empty: no such restriction.
    pub within: Vec<String>,
    /// At most this many entries.
    pub max: usize,
}

/// A page of a bucket's log.
#[derive(Debug, Clone)]
pub struct ChangePage {
    /// (change sequence, entry), in commit order.
    pub entries: Vec<(u64, ChangeEntry)>,
    /// The cursor to resume after this page.
    pub next: u64,
    /// Whether more entries are available right now.
    pub more: bool,
}

/// The answer to a log read.
#[derive(Debug, Clone)]
pub enum ChangeRead {
    /// The entries asked for.
    Page(ChangePage),
    /// The cursor is older than what the log keeps: list the bucket, then
    /// follow from `restart` (taken before the listing, so nothing is lost).
    Expired {
        /// The cursor to resume from after listing.
        restart: u64,
    },
}

/// Entries one read looks at, matching or not, before it answers with
/// `more` (a narrow `prefix` over a busy bucket then pages through).
const SCAN_LIMIT: usize = 100_000;
/// Entries one trimming batch removes.
const TRIM_BATCH: usize = 1_000;
/// Trimming batches per bucket per call.
const TRIM_BATCHES: usize = 10;

/// Removes its batch from the in-flight set when the write returned (or failed).
struct InFlight<'a> {
    store: &'a Store,
    first: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let log = &self.store.inner.changes;
        let horizon = {
            let mut s = log.state.lock();
            s.in_flight.remove(&self.first);
            s.horizon()
        };
        if let Some(f) = log.listener.read().as_ref() {
            f(horizon);
        }
    }
}

impl Store {
    /// Commits `batch` durably together with `entries` appended to
    /// `bucket`'s change log: the one call every object change goes through.
    pub(crate) fn write_logged(
        &self,
        mut batch: Batch,
        bucket: &str,
        entries: &[ChangeEntry],
    ) -> StorageResult<()> {
        if entries.is_empty() {
            return self.write_synced(batch);
        }
        // Front ends sharing an engine take numbers from their own
        // counters: two may pick the same one for the same bucket. There
        // each entry is guarded `Absent`, and a commit that lost its numbers
        // to another front end's takes new ones (the embedded engine has
        // one counter: no guard, no copy of the batch).
        let shared = self.inner.db.coord().is_some();
        loop {
            let first = {
                let mut s = self.inner.changes.state.lock();
                let first = (s.last + 1).max(now_us());
                s.last = first + entries.len() as u64 - 1;
                s.in_flight.insert(first);
                first
            };
            let _in_flight = InFlight { store: self, first };
            let mut logged = if shared {
                batch.clone()
            } else {
                std::mem::take(&mut batch)
            };
            // Filled only when shared (an empty Vec does not allocate).
            let mut keys = Vec::new();
            for (i, e) in entries.iter().enumerate() {
                let key = keys::change_key(bucket, first + i as u64)?;
                logged.put_cf(self.cf(CF_CHANGES), &key, rows::encode(e));
                if shared {
                    logged.expect(self.cf(CF_CHANGES), &key, Expect::Absent);
                    keys.push(key);
                }
            }
            match self.write_synced(logged) {
                Err(StorageError::Conflict) if shared && self.any_logged(&keys)? => continue,
                r => return r,
            }
        }
    }

    /// Whether another commit holds one of these change-log keys.
    fn any_logged(&self, keys: &[Vec<u8>]) -> StorageResult<bool> {
        for k in keys {
            if self.inner.db.get(self.cf(CF_CHANGES), k)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The sequence up to which every change is committed (or failed): what
    /// readers may see.
    pub fn change_horizon(&self) -> u64 {
        self.inner.changes.horizon()
    }

    /// Calls `f` with the new horizon after every logged commit (used to
    /// wake long polls). Replaces any previous listener.
    pub fn set_change_listener(&self, f: impl Fn(u64) + Send + Sync + 'static) {
        *self.inner.changes.listener.write() = Some(Arc::new(f));
    }

    /// `bucket`'s trim mark: the last sequence trimmed away (0 if none).
    fn change_mark(&self, bucket: &str) -> StorageResult<u64> {
        match self
            .inner
            .db
            .get(self.cf(CF_CHANGES), keys::change_key(bucket, 0)?)?
        {
            Some(raw) => decode_mark(&raw),
            None => Ok(0),
        }
    }

    /// Reads a page of `bucket`'s change log.
    pub fn changes(&self, bucket: &str, q: &ChangeQuery) -> StorageResult<ChangeRead> {
        self.require_bucket(bucket)?;
        // Taken first: whatever commits later has a larger sequence.
        let horizon = self.change_horizon();
        let mark = self.change_mark(bucket)?;
        let start_after = match (q.after, q.since_ms) {
            (Some(after), _) => Some(after),
            (None, Some(ms)) => Some(ms.saturating_mul(1000).saturating_sub(1)),
            (None, None) => None,
        };
        if start_after.is_some_and(|a| a < mark) {
            return Ok(ChangeRead::Expired { restart: horizon });
        }
        let start_after = start_after.unwrap_or(mark);
        let mut entries = Vec::new();
        let mut more = false;
        let mut last_scanned = start_after;
        if start_after < horizon {
            let bounds = ReadBounds::below(keys::change_key(bucket, horizon + 1)?);
            let mut it = self.inner.db.cursor(self.cf(CF_CHANGES), bounds);
            it.seek(keys::change_key(bucket, start_after + 1)?);
            let plen = keys::bucket_prefix(bucket)?.len();
            let mut scanned = 0;
            while it.valid() {
                let (Some(k), Some(v)) = (it.key(), it.value()) else {
                    break;
                };
                if entries.len() == q.max || scanned == SCAN_LIMIT {
                    more = true;
                    break;
                }
                let seq = keys::change_key_seq(plen, k)
                    .ok_or_else(|| StorageError::Corrupt("change key".into()))?;
                let entry: ChangeEntry = rows::decode(v)?;
                if entry.key.starts_with(&q.prefix)
                    && (q.within.is_empty() || q.within.iter().any(|p| entry.key.starts_with(p)))
                {
                    entries.push((seq, entry));
                }
                last_scanned = seq;
                scanned += 1;
                it.next();
            }
            it.status()?;
        }
        let next = if more {
            last_scanned
        } else {
            start_after.max(horizon)
        };
        Ok(ChangeRead::Page(ChangePage {
            entries,
            next,
            more,
        }))
    }

    /// `bucket`'s own change-log retention (`None`: as long as its retention).
    pub fn change_log_retention(&self, bucket: &str) -> StorageResult<Option<Duration>> {
        let Some(raw) = self.bucket_config(bucket, BucketConfig::ChangeLogRetention)? else {
            return Ok(None);
        };
        let secs: [u8; 8] = raw
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Corrupt("change-log retention".into()))?;
        Ok(Some(Duration::from_secs(u64::from_be_bytes(secs))))
    }

    /// Sets (or with `None` clears) how long `bucket`'s change log is kept.
    /// The log is never kept shorter than the bucket's retention: a feed
    /// must be able to show the purge of every version it showed.
    pub fn set_change_log_retention(
        &self,
        bucket: &str,
        keep: Option<Duration>,
    ) -> StorageResult<()> {
        let raw = keep.map(|d| d.as_secs().to_be_bytes());
        self.set_bucket_config(
            bucket,
            BucketConfig::ChangeLogRetention,
            raw.as_ref().map(|r| r.as_slice()),
        )
    }

    /// How long `bucket`'s change-log entries are kept, in ms: its
    /// retention, or its own change-log retention when longer.
    fn change_log_retention_ms(&self, bucket: &str) -> StorageResult<u64> {
        let own = self
            .change_log_retention(bucket)?
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Ok(self.retention_ms(bucket)?.max(own))
    }

    /// Removes change-log entries older than their bucket's log retention, in
    /// batches of at most 1,000 (10 batches per bucket per call). Returns
    /// the number removed.
    pub fn trim_changes(&self) -> StorageResult<usize> {
        let horizon = self.change_horizon();
        let now = now_ms();
        let mut removed = 0;
        for (bucket, _) in self.list_buckets()? {
            let cutoff_ms = now.saturating_sub(self.change_log_retention_ms(&bucket)?);
            // Sequences are at least the commit time in µs, so every entry
            // below this cutoff is older than the retention.
            let cutoff = cutoff_ms.saturating_mul(1000).min(horizon + 1);
            for _ in 0..TRIM_BATCHES {
                let n = self.trim_batch(&bucket, cutoff)?;
                removed += n;
                if n < TRIM_BATCH {
                    break;
                }
            }
        }
        Ok(removed)
    }

    /// One batch of [`Store::trim_changes`]: entries below `cutoff` go, and
    /// the trim mark moves to the last of them, atomically.
    ///
    /// Runs on the purger only. The entries below the cutoff are below
    /// every front end's horizon, so nobody writes among them; the one row
    /// another front end may change meanwhile is the trim mark (a bucket
    /// deletion sets it to its horizon): on a shared engine the batch
    /// requires the mark as read, so a trim never moves it back. On an
    /// engine that limits its commits (etcd) the entries go as one range.
    fn trim_batch(&self, bucket: &str, cutoff: u64) -> StorageResult<usize> {
        let mark = keys::change_key(bucket, 0)?;
        let mut batch = Batch::default();
        if self.shared() {
            let read = self.inner.db.get_owned(self.cf(CF_CHANGES), &mark)?;
            self.expect_read(&mut batch, CF_CHANGES, &mark, read.as_deref());
        }
        let ranged = self.inner.db.max_ops_per_commit().is_some();
        let first = keys::change_key(bucket, 1)?;
        let bounds = ReadBounds::below(keys::change_key(bucket, cutoff)?);
        let mut it = self.inner.db.cursor(self.cf(CF_CHANGES), bounds);
        it.seek(&first);
        let plen = keys::bucket_prefix(bucket)?.len();
        let mut n = 0;
        let mut last = None;
        while it.valid() && n < TRIM_BATCH {
            let Some(k) = it.key() else { break };
            last = keys::change_key_seq(plen, k);
            if !ranged {
                batch.delete_cf(self.cf(CF_CHANGES), k);
            }
            n += 1;
            it.next();
        }
        it.status()?;
        if let Some(last) = last {
            if ranged {
                let end = keys::change_key(bucket, last.saturating_add(1))?;
                batch.delete_range_cf(self.cf(CF_CHANGES), &first, end);
            }
            batch.put_cf(self.cf(CF_CHANGES), &mark, last.to_be_bytes());
            self.write_synced(batch)?;
        }
        Ok(n)
    }

    /// Adds to `batch`: `bucket`'s log is dropped (the bucket is being
    /// deleted), and its trim mark set to the horizon, so a cursor of the
    /// old bucket is refused by a new bucket of the same name.
    pub(crate) fn drop_bucket_changes(&self, batch: &mut Batch, bucket: &str) -> StorageResult<()> {
        let cf = self.cf(CF_CHANGES);
        batch.delete_range_cf(
            cf,
            keys::change_key(bucket, 0)?,
            keys::change_key(bucket, u64::MAX)?,
        );
        batch.delete_cf(cf, keys::change_key(bucket, u64::MAX)?);
        batch.put_cf(
            cf,
            keys::change_key(bucket, 0)?,
            self.change_horizon().to_be_bytes(),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::objects::NewObject;
    use crate::StoreConfig;

    fn open(dir: &std::path::Path, retention: Duration) -> Store {
        Store::open(StoreConfig {
            data_dir: dir.to_path_buf(),
            chunk_size: 16,
            inline_threshold: 4,
            retention,
        })
        .unwrap()
    }

    fn put(s: &Store, key: &str, body: &[u8], headers: Vec<(String, String)>) -> ObjectRow {
        let lock = s.lock_key("b", key).unwrap();
        let mut w = s.object_writer();
        w.write(body).unwrap();
        let data = w.finish().unwrap();
        let new = NewObject {
            etag: format!("\"{}\"", hex::encode(body)),
            headers,
            ..NewObject::default()
        };
        s.commit_object(&lock, "b", key, data, new).unwrap()
    }

    fn page(s: &Store, q: &ChangeQuery) -> ChangePage {
        match s.changes("b", q).unwrap() {
            ChangeRead::Page(p) => p,
            ChangeRead::Expired { .. } => panic!("expired"),
        }
    }

    fn all(s: &Store) -> Vec<(u64, ChangeEntry)> {
        page(
            s,
            &ChangeQuery {
                max: 1000,
                ..Default::default()
            },
        )
        .entries
    }

    fn events(entries: &[(u64, ChangeEntry)]) -> Vec<String> {
        entries
            .iter()
            .map(|(_, e)| format!("{}:{}", e.event.as_str(), e.key))
            .collect()
    }

    #[test]
    fn every_kind_of_change_is_logged_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), Duration::ZERO);
        s.create_bucket("b").unwrap();
        let v1 = put(&s, "k", b"one", vec![]);
        put(&s, "k", b"two", vec![]);
        put(&s, "k", b"two", vec![("content-type".into(), "x/y".into())]);
        let lock = s.lock_key("b", "k").unwrap();
        s.publish(&lock, "b", "k").unwrap();
        s.publish(&lock, "b", "k").unwrap(); // already public: no change
        s.unpublish(&lock, "b", "k").unwrap();
        let marker = s.delete_object(&lock, "b", "k").unwrap().unwrap();
        s.delete_version(&lock, "b", "k", marker.seq).unwrap();
        drop(lock);
        // Retention zero: the replaced versions are purged now.
        assert!(s.purge_due().unwrap() >= 1);
        let got = all(&s);
        assert_eq!(
            events(&got)[..8],
            [
                "put:k",
                "put:k",
                "metadata:k",
                "publish:k",
                "unpublish:k",
                "delete:k",
                "delete:k",
                "restore:k"
            ]
        );
        assert!(events(&got)[8..].iter().all(|e| e == "purge:k"));
        assert!(got.iter().any(|(_, e)| e.version_seq == v1.seq));
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "strictly increasing"
        );
    }

    #[test]
    fn cursors_prefixes_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let before;
        let cursor;
        {
            let s = open(dir.path(), Duration::from_secs(3600));
            s.create_bucket("b").unwrap();
            before = now_ms();
            for k in ["a/1", "b/1", "a/2"] {
                put(&s, k, b"x", vec![]);
            }
            let p = page(
                &s,
                &ChangeQuery {
                    max: 2,
                    ..Default::default()
                },
            );
            assert_eq!(events(&p.entries), ["put:a/1", "put:b/1"]);
            assert!(p.more);
            cursor = p.next;
            let p = page(
                &s,
                &ChangeQuery {
                    prefix: "a/".into(),
                    max: 10,
                    ..Default::default()
                },
            );
            assert_eq!(events(&p.entries), ["put:a/1", "put:a/2"]);
            assert!(!p.more);
            assert_eq!(p.next, s.change_horizon());
            // A caller restricted to some folders sees only their entries.
            let p = page(
                &s,
                &ChangeQuery {
                    within: vec!["b/".into(), "z/".into()],
                    max: 10,
                    ..Default::default()
                },
            );
            assert_eq!(events(&p.entries), ["put:b/1"]);
            let p = page(
                &s,
                &ChangeQuery {
                    prefix: "a/".into(),
                    within: vec!["b/".into()],
                    max: 10,
                    ..Default::default()
                },
            );
            assert!(p.entries.is_empty());
        }
        // Reopened: the cursor resumes exactly, and new sequences are larger.
        let s = open(dir.path(), Duration::from_secs(3600));
        put(&s, "c", b"y", vec![]);
        let p = page(
            &s,
            &ChangeQuery {
                after: Some(cursor),
                max: 10,
                ..Default::default()
            },
        );
        assert_eq!(events(&p.entries), ["put:a/2", "put:c"]);
        assert!(p.entries[0].0 > cursor && p.entries[1].0 > p.entries[0].0);
        let p = page(
            &s,
            &ChangeQuery {
                since_ms: Some(before),
                max: 10,
                ..Default::default()
            },
        );
        assert_eq!(p.entries.len(), 4);
        let p = page(
            &s,
            &ChangeQuery {
                since_ms: Some(now_ms() + 60_000),
                max: 10,
                ..Default::default()
            },
        );
        assert!(p.entries.is_empty());
    }

    #[test]
    fn the_log_outlives_a_shorter_retention_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), Duration::ZERO);
        s.create_bucket("b").unwrap();
        assert_eq!(s.change_log_retention("b").unwrap(), None);
        s.set_change_log_retention("b", Some(Duration::from_secs(3600)))
            .unwrap();
        assert_eq!(
            s.change_log_retention("b").unwrap(),
            Some(Duration::from_secs(3600))
        );
        put(&s, "k", b"x", vec![]);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(s.trim_changes().unwrap(), 0, "kept for the log's hour");
        // Shorter than the retention: the retention wins.
        s.set_bucket_retention("b", Some(Duration::from_secs(7200)))
            .unwrap();
        s.set_change_log_retention("b", Some(Duration::ZERO))
            .unwrap();
        assert_eq!(s.trim_changes().unwrap(), 0, "kept for the retention");
        s.set_bucket_retention("b", None).unwrap();
        s.set_change_log_retention("b", None).unwrap();
        assert_eq!(s.change_log_retention("b").unwrap(), None);
        assert_eq!(s.trim_changes().unwrap(), 1);
    }

    #[test]
    fn trimmed_cursors_expire() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), Duration::from_secs(3600));
        s.create_bucket("b").unwrap();
        put(&s, "k", b"x", vec![]);
        let old = page(&s, &ChangeQuery::default()).next;
        put(&s, "k", b"y", vec![]);
        assert_eq!(s.trim_changes().unwrap(), 0, "within retention");
        s.set_bucket_retention("b", Some(Duration::ZERO)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(s.trim_changes().unwrap(), 2);
        let horizon = s.change_horizon();
        match s
            .changes(
                "b",
                &ChangeQuery {
                    after: Some(old),
                    ..Default::default()
                },
            )
            .unwrap()
        {
            ChangeRead::Expired { restart } => assert_eq!(restart, horizon),
            ChangeRead::Page(_) => panic!("a trimmed cursor must expire"),
        }
        // The horizon is a valid cursor, also after a restart.
        drop(s);
        let s = open(dir.path(), Duration::from_secs(3600));
        put(&s, "k", b"z", vec![]);
        let p = page(
            &s,
            &ChangeQuery {
                after: Some(horizon),
                max: 10,
                ..Default::default()
            },
        );
        assert_eq!(events(&p.entries), ["put:k"]);
        assert!(p.entries[0].0 > horizon);
    }

    #[test]
    fn in_flight_commits_hold_the_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), Duration::from_secs(3600));
        let h0 = s.change_horizon();
        let first = {
            let mut st = s.inner.changes.state.lock();
            let first = (st.last + 1).max(now_us());
            st.last = first;
            st.in_flight.insert(first);
            first
        };
        s.create_bucket("b").unwrap();
        put(&s, "k", b"x", vec![]);
        assert_eq!(s.change_horizon(), first - 1);
        assert!(h0 < first);
        assert!(all(&s).is_empty(), "not visible past an in-flight number");
        drop(InFlight { store: &s, first });
        assert_eq!(all(&s).len(), 1);
    }
}
