//! The expiry queue: when current objects fall due under their bucket's
//! lifecycle `Expiration` rules, without scanning buckets.
//!
//! An entry `q · due (ms, BE) · seq (BE)` → (bucket, key, seq) is written in
//! the batch of each write that makes a matching version current
//! ([`Store::stage_expiry`]). When a configuration is put, one background
//! pass enqueues the objects already there, in windows, from a cursor kept
//! in `CF_LIFECYCLE` (so a restart resumes it). [`Store::run_lifecycle`],
//! called by the server's purge scheduler, pops due entries in order and
//! re-checks each under the key's write lock: still the current version,
//! still due under the rules now in force? Then it is deleted exactly like
//! a DeleteObject (into the trash, a `delete` change), and the entry goes in
//! the same batch. Stale entries (overwritten, deleted, rules changed or
//! removed) are dropped or moved to their new due time.

use crate::engine::Batch;
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_LIFECYCLE, CF_OBJECTS};
use crate::lifecycle::{scan_key, LifecycleConfig};
use crate::rows::{self, ObjectRow, Row};
use crate::store::{now_ms, Store};

/// Objects one enqueue window reads (one batch).
const SCAN_WINDOW: usize = if cfg!(test) { 2 } else { 1000 };
/// Objects enqueued per call of `run_lifecycle` at most, over all buckets.
const SCAN_PASS: usize = 10 * SCAN_WINDOW;
/// Due entries one call of `run_lifecycle` handles at most.
const EXPIRE_PASS: usize = 1000;

/// A queued expiry: one version of one key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct DueEntry {
    bucket: String,
    key: String,
    seq: u64,
}

impl Row for DueEntry {}

fn queue_key(due_ms: u64, seq: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    out.push(b'q');
    out.extend_from_slice(&due_ms.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out
}

fn queue_key_due(raw: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(raw.get(1..9)?.try_into().ok()?))
}

/// What one call of [`Store::run_lifecycle`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecyclePass {
    /// Existing objects enqueued by configuration passes.
    pub enqueued: usize,
    /// Objects expired (deleted into the trash).
    pub expired: usize,
}

/// What to do with one due entry.
enum Verdict {
    /// Stale: remove the entry.
    Drop,
    /// Due later under the rules now in force: move the entry.
    Later(u64),
    /// Due: delete the object.
    Expire,
}

impl Store {
    /// Adds to `batch`: version `seq` of `bucket`/`key` expires at `due_ms`.
    pub(crate) fn enqueue_expiry(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
        seq: u64,
        due_ms: u64,
    ) {
        let entry = DueEntry {
            bucket: bucket.into(),
            key: key.into(),
            seq,
        };
        batch.put_cf(
            self.cf(CF_LIFECYCLE),
            queue_key(due_ms, seq),
            rows::encode(&entry),
        );
    }

    /// One step of lifecycle work, run by the purge scheduler: continues
    /// the enqueue passes of newly put configurations, then expires the
    /// objects due by now (bounded per call; a backlog goes over several).
    pub fn run_lifecycle(&self) -> StorageResult<LifecyclePass> {
        let enqueued = self.continue_scans()?;
        let expired = self.expire_due_objects()?;
        Ok(LifecyclePass { enqueued, expired })
    }

    /// Number of queued expiries (tests and diagnostics).
    pub fn lifecycle_queue_len(&self) -> StorageResult<usize> {
        let mut it = self.bounded(CF_LIFECYCLE, b"q".to_vec());
        it.seek(b"q");
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next();
        }
        it.status()?;
        Ok(n)
    }

    fn continue_scans(&self) -> StorageResult<usize> {
        let mut pending = Vec::new();
        for item in self.bounded_from(CF_LIFECYCLE, b"s", b"s") {
            let (k, v) = item?;
            pending.push((String::from_utf8_lossy(&k[1..]).into_owned(), v.to_vec()));
        }
        let mut done = 0;
        for (bucket, mut from) in pending {
            while done < SCAN_PASS {
                let (n, next) = self.scan_window(&bucket, &from)?;
                done += n;
                match next {
                    Some(k) => from = k,
                    None => break,
                }
            }
        }
        Ok(done)
    }

    /// Enqueues up to [`SCAN_WINDOW`] current objects of `bucket` from
    /// `from` (a `CF_OBJECTS` key) in one batch with the moved cursor.
    /// Returns how many were read and where the next window starts.
    fn scan_window(&self, bucket: &str, from: &[u8]) -> StorageResult<(usize, Option<Vec<u8>>)> {
        let mut batch = Batch::default();
        let config = match self.bucket(bucket)? {
            Some(_) => self.bucket_lifecycle(bucket)?,
            None => None,
        };
        let Some(config) = config else {
            batch.delete_cf(self.cf(CF_LIFECYCLE), scan_key(bucket));
            self.write_synced(batch)?;
            return Ok((0, None));
        };
        let prefix = keys::bucket_prefix(bucket)?;
        let day = self.lifecycle_day_ms();
        let mut read = 0;
        let mut next = None;
        for item in self.bounded_from(CF_OBJECTS, &prefix, from) {
            let (k, v) = item?;
            if read == SCAN_WINDOW {
                next = Some(k.to_vec());
                break;
            }
            read += 1;
            let key = keys::object_key_name(prefix.len(), &k)
                .ok_or_else(|| StorageError::Corrupt("object key".into()))?;
            let row: ObjectRow = rows::decode(&v)?;
            if let Some(due) = config.expiry_due(key, &row, day) {
                self.enqueue_expiry(&mut batch, bucket, key, row.seq, due);
            }
        }
        match &next {
            Some(k) => batch.put_cf(self.cf(CF_LIFECYCLE), scan_key(bucket), k),
            None => batch.delete_cf(self.cf(CF_LIFECYCLE), scan_key(bucket)),
        }
        self.write_synced(batch)?;
        Ok((read, next))
    }

    fn expire_due_objects(&self) -> StorageResult<usize> {
        let now = now_ms();
        let mut due = Vec::new();
        for item in self.bounded_from(CF_LIFECYCLE, b"q", b"q") {
            let (k, v) = item?;
            if queue_key_due(&k).is_none_or(|d| d > now) || due.len() >= EXPIRE_PASS {
                break;
            }
            due.push((k.to_vec(), rows::decode::<DueEntry>(&v)?));
        }
        let mut expired = 0;
        for (qkey, entry) in due {
            if self.expire_one(&qkey, &entry, now)? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Re-checks one due entry and acts on it. `true` if it expired the object.
    ///
    /// Under the key's write lock (leased on a shared engine, so no front
    /// end writes the key meanwhile). On a shared engine the commit also
    /// requires what the verdict was drawn from: the entry still queued (a
    /// purger that lost its role mid-pass and its successor never both act
    /// on it), the rules and the current row as read (a tag change or new
    /// rules on another front end take the key's lock no more than this
    /// does); on `Conflict` the verdict is drawn again.
    fn expire_one(&self, qkey: &[u8], entry: &DueEntry, now: u64) -> StorageResult<bool> {
        let lock = match self.lock_key(&entry.bucket, &entry.key) {
            Ok(lock) => lock,
            // A write of the key is in progress: it decides; look again next pass.
            Err(StorageError::Conflict) => return Ok(false),
            Err(e) => return Err(e),
        };
        let object_key = keys::object_key(&entry.bucket, &entry.key)?;
        let _bucket = self.commit_guard();
        let expired = self.retry_guarded(|| {
            let mut batch = Batch::default();
            self.expect_present(&mut batch, CF_LIFECYCLE, qkey);
            let config = self.lifecycle_for_update(&mut batch, &entry.bucket)?;
            let current = match self.current_for_update(&entry.bucket, &entry.key) {
                Ok((row, raw)) => {
                    self.expect_read(&mut batch, CF_OBJECTS, &object_key, raw.as_deref());
                    row
                }
                Err(StorageError::NoSuchBucket) => None,
                Err(e) => return Err(e),
            };
            let verdict = verdict(
                config.as_ref(),
                entry,
                current.as_ref(),
                now,
                self.lifecycle_day_ms(),
            );
            batch.delete_cf(self.cf(CF_LIFECYCLE), qkey);
            match verdict {
                Verdict::Drop => {
                    self.write_synced(batch)?;
                    Ok(false)
                }
                Verdict::Later(at) => {
                    self.enqueue_expiry(&mut batch, &entry.bucket, &entry.key, entry.seq, at);
                    self.write_synced(batch)?;
                    Ok(false)
                }
                Verdict::Expire => {
                    self.try_delete_object(&object_key, &entry.bucket, &entry.key, batch)?;
                    Ok(true)
                }
            }
        });
        drop(lock);
        match expired {
            Ok(true) => {
                tracing::info!(bucket = %entry.bucket, key = %entry.key, "lifecycle expiry");
                Ok(true)
            }
            Ok(false) => Ok(false),
            // Still changing under it after the retries (or the entry gone
            // with another purger): the next pass looks again.
            Err(StorageError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn verdict(
    config: Option<&LifecycleConfig>,
    entry: &DueEntry,
    current: Option<&ObjectRow>,
    now: u64,
    day_ms: u64,
) -> Verdict {
    let (Some(config), Some(row)) = (config, current) else {
        return Verdict::Drop;
    };
    if row.seq != entry.seq {
        return Verdict::Drop;
    }
    match config.expiry_due(&entry.key, row, day_ms) {
        None => Verdict::Drop,
        Some(at) if at > now => Verdict::Later(at),
        Some(_) => Verdict::Expire,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::lifecycle::{LifecycleConfig, LifecycleRule, RuleFilter};
    use crate::objects::NewObject;
    use crate::rows::ObjectRow;
    use crate::{ChangeEvent, ChangeQuery, ChangeRead, StorageError, Store};

    fn store(dir: &std::path::Path) -> Store {
        let s = crate::test_support::store(dir, Duration::from_secs(3600));
        // A lifecycle day of 1 ms: `Days: 1` rules are due at once.
        s.set_lifecycle_day(Duration::from_millis(1));
        s
    }

    fn put(s: &Store, key: &str, tags: &[(&str, &str)]) -> ObjectRow {
        let lock = s.lock_key("b", key).unwrap();
        let mut w = s.object_writer();
        w.write(b"hello world, more than four bytes").unwrap();
        let data = w.finish().unwrap();
        let new = NewObject {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..NewObject::default()
        };
        s.commit_object(&lock, "b", key, data, new).unwrap()
    }

    fn config(prefix: &str, tags: &[(&str, &str)], days: u32) -> LifecycleConfig {
        LifecycleConfig {
            xml: "<LifecycleConfiguration/>".into(),
            rules: vec![LifecycleRule {
                id: "r".into(),
                enabled: true,
                filter: RuleFilter {
                    prefix: prefix.into(),
                    tags: tags
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Default::default()
                },
                expiration_days: Some(days),
                ..Default::default()
            }],
        }
    }

    fn gone(s: &Store, key: &str) -> bool {
        matches!(s.get_object("b", key, None), Err(StorageError::NoSuchKey))
    }

    /// Objects written after the configuration are enqueued by their write
    /// and expire into the trash (a `delete` change, restorable); objects
    /// outside the rule stay.
    #[test]
    fn writes_under_a_rule_expire_into_the_trash() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        s.put_bucket_lifecycle("b", &config("tmp/", &[], 1))
            .unwrap();
        let v = put(&s, "tmp/a", &[]);
        put(&s, "keep/a", &[]);
        assert_eq!(
            s.lifecycle_queue_len().unwrap(),
            1,
            "only the matching write"
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.run_lifecycle().unwrap().expired, 1);
        assert!(gone(&s, "tmp/a"));
        assert!(!gone(&s, "keep/a"));
        assert_eq!(s.lifecycle_queue_len().unwrap(), 0);
        // In the trash, under its own version id.
        assert_eq!(
            s.get_object("b", "tmp/a", Some(&v.version_id()))
                .unwrap()
                .seq,
            v.seq
        );
        let q = ChangeQuery {
            max: 100,
            ..Default::default()
        };
        let ChangeRead::Page(page) = s.changes("b", &q).unwrap() else {
            panic!("the log is kept");
        };
        assert!(page
            .entries
            .iter()
            .any(|(_, e)| e.key == "tmp/a" && e.event == ChangeEvent::Delete));
    }

    /// A configuration put over existing objects enqueues them in windows
    /// (2 in tests) from a cursor that survives a restart; tags filter.
    #[test]
    fn existing_objects_are_enqueued_by_a_resumable_pass() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = store(dir.path());
            s.create_bucket("b").unwrap();
            for i in 0..5 {
                put(&s, &format!("k{i}"), &[("dst", "20")]);
            }
            put(&s, "other", &[("dst", "21")]);
            s.put_bucket_lifecycle("b", &config("", &[("dst", "20")], 1))
                .unwrap();
            assert_eq!(s.lifecycle_queue_len().unwrap(), 0, "nothing enqueued yet");
            s.scan_window("b", &crate::keys::bucket_prefix("b").unwrap())
                .unwrap();
            assert_eq!(
                s.lifecycle_queue_len().unwrap(),
                2,
                "one window, then 'crash'"
            );
        }
        let s = store(dir.path());
        std::thread::sleep(Duration::from_millis(5));
        let pass = s.run_lifecycle().unwrap();
        assert_eq!(pass.enqueued, 4, "the rest of the bucket");
        assert_eq!(pass.expired, 5);
        for i in 0..5 {
            assert!(gone(&s, &format!("k{i}")));
        }
        assert!(!gone(&s, "other"), "tag value differs");
    }

    /// Overwritten, re-tagged, un-configured: stale entries are dropped,
    /// and a later rule moves the entry instead of expiring early.
    #[test]
    fn stale_entries_are_rechecked() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        s.set_bucket_versioning("b", true).unwrap();
        s.put_bucket_lifecycle("b", &config("", &[], 1)).unwrap();
        put(&s, "a", &[]);
        put(&s, "a", &[]);
        assert_eq!(s.lifecycle_queue_len().unwrap(), 2);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            s.run_lifecycle().unwrap().expired,
            1,
            "only the current version"
        );
        assert!(gone(&s, "a"));
        assert_eq!(s.lifecycle_queue_len().unwrap(), 0);
        assert!(s.latest_is_delete_marker("b", "a").unwrap());

        // The rule now says later: the entry moves, the object stays.
        put(&s, "d", &[]);
        s.put_bucket_lifecycle("b", &config("", &[], 1_000_000))
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.run_lifecycle().unwrap().expired, 0);
        assert!(!gone(&s, "d"));
        assert_eq!(
            s.lifecycle_queue_len().unwrap(),
            1,
            "moved, and the pass found it again"
        );

        // Rule removed: the entry is dropped, the object stays.
        s.put_bucket_lifecycle("b", &config("", &[], 1)).unwrap();
        put(&s, "c", &[]);
        assert!(s.delete_bucket_lifecycle("b").unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.run_lifecycle().unwrap().expired, 0);
        assert!(!gone(&s, "c"));
        assert_eq!(s.lifecycle_queue_len().unwrap(), 1, "only d's, not due yet");
        assert!(!s.delete_bucket_lifecycle("b").unwrap());
    }

    /// NoncurrentDays replaces the retention for matching versions.
    #[test]
    fn noncurrent_days_shorten_the_trash() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        let mut c = config("logs/", &[], 1);
        c.rules[0].expiration_days = None;
        c.rules[0].noncurrent_days = Some(1);
        s.put_bucket_lifecycle("b", &c).unwrap();
        let old = put(&s, "logs/x", &[]);
        put(&s, "logs/x", &[]);
        let kept = put(&s, "data/x", &[]);
        put(&s, "data/x", &[]);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.purge_due().unwrap(), 1);
        assert!(s
            .get_object("b", "logs/x", Some(&old.version_id()))
            .is_err());
        assert!(s
            .get_object("b", "data/x", Some(&kept.version_id()))
            .is_ok());
    }

    /// A configuration put over a trash that already holds versions
    /// re-schedules them; deleting it puts them back on the retention.
    #[test]
    fn noncurrent_days_reschedule_the_existing_trash() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        let old = put(&s, "logs/x", &[]);
        put(&s, "logs/x", &[]);
        let mut c = config("logs/", &[], 1);
        c.rules[0].expiration_days = None;
        c.rules[0].noncurrent_days = Some(1_000_000);
        s.put_bucket_lifecycle("b", &c).unwrap();
        assert!(s.delete_bucket_lifecycle("b").unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.purge_due().unwrap(), 0, "back on the 1 h retention");
        c.rules[0].noncurrent_days = Some(1);
        s.put_bucket_lifecycle("b", &c).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.purge_due().unwrap(), 1);
        assert!(s
            .get_object("b", "logs/x", Some(&old.version_id()))
            .is_err());
    }

    /// A bucket's rules and settings go with it: a new bucket of the same
    /// name starts without them (the old bucket's queue entry stays until
    /// due, when its version is not found and it is dropped).
    #[test]
    fn a_recreated_bucket_starts_without_rules() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_bucket("b").unwrap();
        s.put_bucket_lifecycle("b", &config("", &[], 1_000_000))
            .unwrap();
        s.set_bucket_multipart_expiry("b", Some(Duration::from_secs(60)))
            .unwrap();
        put(&s, "k", &[]);
        let lock = s.lock_key("b", "k").unwrap();
        s.delete_version(&lock, "b", "k", s.current("b", "k").unwrap().unwrap().seq)
            .unwrap();
        drop(lock);
        s.delete_bucket("b").unwrap();
        s.create_bucket("b").unwrap();
        assert_eq!(s.bucket_lifecycle("b").unwrap(), None);
        assert_eq!(s.bucket_multipart_expiry("b").unwrap(), None);
        put(&s, "k", &[]);
        assert_eq!(
            s.lifecycle_queue_len().unwrap(),
            1,
            "the old bucket's entry only"
        );
        s.set_lifecycle_day(Duration::from_millis(1));
        s.put_bucket_lifecycle("b", &config("nothing/", &[], 1))
            .unwrap();
        assert_eq!(s.run_lifecycle().unwrap().expired, 0);
        assert!(!gone(&s, "k"));
    }
}
