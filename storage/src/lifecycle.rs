//! Bucket lifecycle rules (S3's lifecycle configuration): what they match,
//! and when they make a version due.
//!
//! A bucket's configuration is its own row in `CF_LIFECYCLE` (never part of
//! `BucketRow`). Three actions act on kura's data:
//! * `Expiration` (`Days` / `Date`): a current object matching the rule is
//!   deleted as a DeleteObject would delete it (so it goes to the trash) at
//!   its due time. Due times sit in a queue (`lifecycle_queue.rs`), written
//!   in the batch of every write that makes a matching object current.
//! * `NoncurrentVersionExpiration` (`NoncurrentDays`): a replaced or deleted
//!   version matching the rule leaves the trash `NoncurrentDays` after it
//!   stopped being current, instead of after the bucket's retention.
//! * `AbortIncompleteMultipartUpload` (`DaysAfterInitiation`): an upload of
//!   a matching key gets that deadline if it is earlier than the bucket's
//!   (or the server's) multipart expiry.
//!
//! A lifecycle "day" is 24 hours, unless the server was started with the
//! test-only time scale ([`Store::set_lifecycle_day`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::engine::Batch;
use serde::{Deserialize, Serialize};

use crate::error::StorageResult;
use crate::keys::{self, CF_LIFECYCLE, CF_META};
use crate::rows::{self, BucketRow, ObjectRow, Row};
use crate::store::Store;

/// One real day in milliseconds.
pub(crate) const DAY_MS: u64 = 86_400_000;

/// Which objects a rule applies to: all conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFilter {
    /// Keys starting with this (empty: every key).
    pub prefix: String,
    /// Tags the object must carry, each with this exact value.
    pub tags: Vec<(String, String)>,
    /// Only objects larger than this many bytes.
    pub size_greater_than: Option<u64>,
    /// Only objects smaller than this many bytes.
    pub size_less_than: Option<u64>,
}

impl RuleFilter {
    /// Whether an object (or version) with this key, size and tags matches.
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|t| tags.contains(t))
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
    }
}

/// One lifecycle rule, as far as kura acts on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// The rule's `ID`.
    pub id: String,
    /// `Status` is `Enabled` (a `Disabled` rule is kept but does nothing).
    pub enabled: bool,
    /// What it applies to.
    pub filter: RuleFilter,
    /// `Expiration/Days`: current objects expire this many days after they were written.
    pub expiration_days: Option<u32>,
    /// `Expiration/Date` (ms since the epoch, midnight UTC): current objects expire then.
    pub expiration_date_ms: Option<u64>,
    /// `NoncurrentVersionExpiration/NoncurrentDays`: replaced and deleted
    /// versions leave the trash this many days after they stopped being current.
    pub noncurrent_days: Option<u32>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    pub abort_upload_days: Option<u32>,
}

/// A bucket's lifecycle configuration: the document as answered on GET, and
/// the rules kura applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    /// The `LifecycleConfiguration` XML answered by GetBucketLifecycleConfiguration.
    pub xml: String,
    /// The rules, in document order.
    pub rules: Vec<LifecycleRule>,
}

impl Row for LifecycleConfig {}

/// A bucket's own multipart expiry (`kura admin bucket set --multipart-expiry`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct UploadExpiryRow {
    secs: u64,
}

impl Row for UploadExpiryRow {}

/// `start` plus `days` lifecycle days. With real days the result is rounded
/// up to the next midnight UTC, as S3 does; the test time scale is not rounded.
fn after_days(start: u64, days: u32, day_ms: u64) -> u64 {
    let t = start.saturating_add(u64::from(days).saturating_mul(day_ms));
    if day_ms == DAY_MS && t % DAY_MS != 0 {
        (t / DAY_MS + 1).saturating_mul(DAY_MS)
    } else {
        t
    }
}

impl LifecycleConfig {
    fn active(&self) -> impl Iterator<Item = &LifecycleRule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// When the current version `row` of `key` expires: the earliest due
    /// time of the enabled `Expiration` rules matching it, if any.
    pub fn expiry_due(&self, key: &str, row: &ObjectRow, day_ms: u64) -> Option<u64> {
        if row.delete_marker {
            return None;
        }
        self.active()
            .filter(|r| r.filter.matches(key, row.size, &row.tags))
            .flat_map(|r| {
                let by_days = r
                    .expiration_days
                    .map(|d| after_days(row.modified_ms, d, day_ms));
                [by_days, r.expiration_date_ms]
            })
            .flatten()
            .min()
    }

    /// When the noncurrent version `row` of `key`, retired at `retired_ms`,
    /// leaves the trash under a `NoncurrentVersionExpiration` rule, if one
    /// matches (the earliest wins).
    pub fn noncurrent_due(
        &self,
        key: &str,
        row: &ObjectRow,
        retired_ms: u64,
        day_ms: u64,
    ) -> Option<u64> {
        self.active()
            .filter(|r| r.filter.matches(key, row.size, &row.tags))
            .filter_map(|r| r.noncurrent_days)
            .map(|d| after_days(retired_ms, d, day_ms))
            .min()
    }

    /// The earliest `AbortIncompleteMultipartUpload` deadline for an upload
    /// of `key` started at `created_ms`, with the id of the rule setting it.
    /// Rules filtering on size never match an upload (its size is unknown).
    pub fn abort_due(
        &self,
        key: &str,
        tags: &[(String, String)],
        created_ms: u64,
        day_ms: u64,
    ) -> Option<(u64, String)> {
        self.active()
            .filter(|r| r.filter.size_greater_than.is_none() && r.filter.size_less_than.is_none())
            .filter(|r| r.filter.matches(key, 0, tags))
            .filter_map(|r| {
                r.abort_upload_days
                    .map(|d| (after_days(created_ms, d, day_ms), r.id.clone()))
            })
            .min_by_key(|(due, _)| *due)
    }

    /// Whether any enabled rule has an `Expiration` action.
    pub(crate) fn expires_objects(&self) -> bool {
        self.active()
            .any(|r| r.expiration_days.is_some() || r.expiration_date_ms.is_some())
    }
}

/// Key of a bucket's configuration in `CF_LIFECYCLE`.
pub(crate) fn config_key(bucket: &str) -> Vec<u8> {
    let mut out = vec![b'c'];
    out.extend_from_slice(bucket.as_bytes());
    out
}

/// Key of a bucket's unfinished enqueue pass in `CF_LIFECYCLE`: its value is
/// the `CF_OBJECTS` key to continue from.
pub(crate) fn scan_key(bucket: &str) -> Vec<u8> {
    let mut out = vec![b's'];
    out.extend_from_slice(bucket.as_bytes());
    out
}

/// Meta key of a bucket's own multipart expiry.
fn upload_expiry_key(bucket: &str) -> Vec<u8> {
    let mut out = b"multipart-expiry/".to_vec();
    out.extend_from_slice(bucket.as_bytes());
    out
}

impl Store {
    /// Sets the length of a lifecycle "day". Only for tests: the server's
    /// `--lifecycle-day-secs` makes `Days: 1` mean one second.
    pub fn set_lifecycle_day(&self, day: Duration) {
        let ms = u64::try_from(day.as_millis()).unwrap_or(u64::MAX).max(1);
        self.inner.lifecycle_day_ms.store(ms, Ordering::Relaxed);
    }

    /// The length of a lifecycle day in ms.
    pub fn lifecycle_day_ms(&self) -> u64 {
        self.inner.lifecycle_day_ms.load(Ordering::Relaxed)
    }

    /// `bucket`'s lifecycle configuration, if it has one. Does not check
    /// that the bucket exists.
    pub fn bucket_lifecycle(&self, bucket: &str) -> StorageResult<Option<LifecycleConfig>> {
        match self
            .inner
            .db
            .get(self.cf(CF_LIFECYCLE), config_key(bucket))?
        {
            Some(raw) => Ok(Some(rows::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// `bucket`'s lifecycle configuration, read for a commit whose rows
    /// depend on it (an expiry queued, a trash deadline, an expiry acted
    /// on): on a shared engine `batch` then requires it unchanged, so a
    /// commit that read the rules before another front end changed them
    /// retries under the new ones (an object written meanwhile could
    /// otherwise miss both its own queue entry and the enqueue pass).
    pub(crate) fn lifecycle_for_update(
        &self,
        batch: &mut Batch,
        bucket: &str,
    ) -> StorageResult<Option<LifecycleConfig>> {
        if !self.shared() {
            return self.bucket_lifecycle(bucket);
        }
        let key = config_key(bucket);
        let raw = self.inner.db.get_owned(self.cf(CF_LIFECYCLE), &key)?;
        self.expect_read(batch, CF_LIFECYCLE, &key, raw.as_deref());
        raw.map(|r| rows::decode(&r)).transpose()
    }

    /// Puts (replaces) `bucket`'s lifecycle configuration. Objects already
    /// in the bucket are enqueued by a background pass
    /// ([`Store::run_lifecycle`]), resumable after a crash; the trash is
    /// re-scheduled for the new `NoncurrentVersionExpiration` rules before
    /// this returns (as a retention change does).
    pub fn put_bucket_lifecycle(
        &self,
        bucket: &str,
        config: &LifecycleConfig,
    ) -> StorageResult<()> {
        self.change_lifecycle(bucket, Some(config))
    }

    /// Removes `bucket`'s lifecycle configuration; `false` if it had none.
    /// Queued expiries find no rule when due and are dropped; the trash goes
    /// back to the bucket's retention.
    pub fn delete_bucket_lifecycle(&self, bucket: &str) -> StorageResult<bool> {
        self.require_bucket(bucket)?;
        if self.bucket_lifecycle(bucket)?.is_none() {
            return Ok(false);
        }
        self.change_lifecycle(bucket, None)?;
        Ok(true)
    }

    fn change_lifecycle(
        &self,
        bucket: &str,
        config: Option<&LifecycleConfig>,
    ) -> StorageResult<()> {
        let _guard = self.bucket_lock(bucket)?;
        let mut batch = Batch::default();
        // The bucket lock keeps a deletion out on every front end; the
        // guard (shared engine) also refuses a bucket being deleted.
        self.bucket_for_update(&mut batch, bucket)?;
        match config {
            Some(c) => {
                batch.put_cf(self.cf(CF_LIFECYCLE), config_key(bucket), rows::encode(c));
                if c.expires_objects() {
                    batch.put_cf(
                        self.cf(CF_LIFECYCLE),
                        scan_key(bucket),
                        keys::bucket_prefix(bucket)?,
                    );
                } else {
                    batch.delete_cf(self.cf(CF_LIFECYCLE), scan_key(bucket));
                }
            }
            None => {
                batch.delete_cf(self.cf(CF_LIFECYCLE), config_key(bucket));
                batch.delete_cf(self.cf(CF_LIFECYCLE), scan_key(bucket));
            }
        }
        batch.put_cf(
            self.cf(CF_META),
            keys::reschedule_key(bucket),
            keys::bucket_prefix(bucket)?,
        );
        {
            // Waits for writes in flight: each either committed before this
            // (and the enqueue pass finds it) or reads the new rules.
            let _no_commits = self.commit_barrier();
            self.write_synced(batch)?;
        }
        self.reschedule(bucket)
    }

    /// Adds to `batch`: the expiry queue entry of `row`, just made the
    /// current version of `bucket`/`key`, if a rule of `config` expires it.
    /// Every write that makes a version current calls this.
    pub(crate) fn stage_expiry(
        &self,
        batch: &mut Batch,
        config: Option<&LifecycleConfig>,
        bucket: &str,
        key: &str,
        row: &ObjectRow,
    ) -> StorageResult<()> {
        if let Some(due) = config.and_then(|c| c.expiry_due(key, row, self.lifecycle_day_ms())) {
            self.enqueue_expiry(batch, bucket, key, row.seq, due);
        }
        Ok(())
    }

    /// When `row` (a version of `key`, in the bucket whose row is `bucket`,
    /// retired at `retired_ms`) leaves the trash: after a matching rule's
    /// `NoncurrentDays`, else after the bucket's retention.
    pub(crate) fn trash_due(
        &self,
        config: Option<&LifecycleConfig>,
        bucket: &BucketRow,
        key: &str,
        row: &ObjectRow,
        retired_ms: u64,
    ) -> u64 {
        let by_rule =
            config.and_then(|c| c.noncurrent_due(key, row, retired_ms, self.lifecycle_day_ms()));
        by_rule.unwrap_or_else(|| retired_ms.saturating_add(self.retention_ms_of(bucket)))
    }

    /// The deadline of an upload of `bucket`/`key` starting at `created_ms`:
    /// the bucket's own multipart expiry (else `server_default`) after
    /// `created_ms`, or a matching `AbortIncompleteMultipartUpload` rule's
    /// if earlier — then with that rule's id.
    pub fn upload_deadline(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
        created_ms: u64,
        server_default: Duration,
    ) -> StorageResult<(u64, Option<String>)> {
        let expiry = self
            .bucket_multipart_expiry(bucket)?
            .unwrap_or(server_default);
        let by_expiry =
            created_ms.saturating_add(u64::try_from(expiry.as_millis()).unwrap_or(u64::MAX));
        let by_rule = self
            .bucket_lifecycle(bucket)?
            .and_then(|c| c.abort_due(key, tags, created_ms, self.lifecycle_day_ms()));
        Ok(match by_rule {
            Some((due, id)) if due < by_expiry => (due, Some(id)),
            _ => (by_expiry, None),
        })
    }

    /// `bucket`'s own multipart expiry (`None`: the server's).
    pub fn bucket_multipart_expiry(&self, bucket: &str) -> StorageResult<Option<Duration>> {
        self.require_bucket(bucket)?;
        match self
            .inner
            .db
            .get(self.cf(CF_META), upload_expiry_key(bucket))?
        {
            Some(raw) => Ok(Some(Duration::from_secs(
                rows::decode::<UploadExpiryRow>(&raw)?.secs,
            ))),
            None => Ok(None),
        }
    }

    /// Sets (or with `None` clears) `bucket`'s own multipart expiry. Applies
    /// to uploads created from now on.
    pub fn set_bucket_multipart_expiry(
        &self,
        bucket: &str,
        expiry: Option<Duration>,
    ) -> StorageResult<()> {
        let _guard = self.bucket_lock(bucket)?;
        let mut batch = Batch::default();
        self.bucket_for_update(&mut batch, bucket)?;
        match expiry {
            Some(d) => batch.put_cf(
                self.cf(CF_META),
                upload_expiry_key(bucket),
                rows::encode(&UploadExpiryRow { secs: d.as_secs() }),
            ),
            None => batch.delete_cf(self.cf(CF_META), upload_expiry_key(bucket)),
        }
        self.write_synced(batch)
    }

    /// Adds to `batch`: `bucket`'s lifecycle rows and settings go with it
    /// (queued expiries find no bucket and are dropped when due).
    pub(crate) fn drop_bucket_lifecycle(&self, batch: &mut Batch, bucket: &str) {
        batch.delete_cf(self.cf(CF_LIFECYCLE), config_key(bucket));
        batch.delete_cf(self.cf(CF_LIFECYCLE), scan_key(bucket));
        batch.delete_cf(self.cf(CF_META), upload_expiry_key(bucket));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(size: u64, modified_ms: u64, tags: &[(&str, &str)]) -> ObjectRow {
        ObjectRow {
            seq: 1,
            delete_marker: false,
            size,
            etag: String::new(),
            modified_ms,
            headers: vec![],
            checksums: vec![],
            part_sizes: vec![],
            data: crate::rows::DataLocation::Inline(vec![]),
            expires_ms: 0,
            null_version: false,
            part_checksums: vec![],
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn rule(prefix: &str) -> LifecycleRule {
        LifecycleRule {
            id: format!("r-{prefix}"),
            enabled: true,
            filter: RuleFilter {
                prefix: prefix.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn filters_match_prefix_tags_and_size() {
        let f = RuleFilter {
            prefix: "in/".into(),
            tags: vec![("dst".into(), "20".into())],
            size_greater_than: Some(10),
            size_less_than: Some(100),
        };
        let tags = vec![("dst".into(), "20".into()), ("x".into(), "y".into())];
        assert!(f.matches("in/a", 50, &tags));
        assert!(!f.matches("out/a", 50, &tags), "prefix");
        assert!(!f.matches("in/a", 10, &tags), "not greater than 10");
        assert!(!f.matches("in/a", 100, &tags), "not less than 100");
        assert!(
            !f.matches("in/a", 50, &[("dst".into(), "21".into())]),
            "tag value"
        );
        assert!(RuleFilter::default().matches("anything", 0, &[]));
    }

    #[test]
    fn real_days_round_up_to_midnight_and_test_days_do_not() {
        let noon = 10 * DAY_MS + DAY_MS / 2;
        assert_eq!(after_days(noon, 1, DAY_MS), 12 * DAY_MS);
        assert_eq!(after_days(10 * DAY_MS, 1, DAY_MS), 11 * DAY_MS);
        assert_eq!(after_days(noon, 2, 1000), noon + 2000);
    }

    #[test]
    fn the_earliest_matching_rule_wins() {
        let mut a = rule("a/");
        a.expiration_days = Some(3);
        let mut b = rule("");
        b.expiration_date_ms = Some(5000);
        let mut off = rule("a/");
        off.expiration_days = Some(1);
        off.enabled = false;
        let c = LifecycleConfig {
            xml: String::new(),
            rules: vec![a, b, off],
        };
        assert_eq!(c.expiry_due("a/x", &row(1, 0, &[]), 1000), Some(3000));
        assert_eq!(c.expiry_due("a/x", &row(1, 9000, &[]), 1000), Some(5000));
        assert_eq!(c.expiry_due("b/x", &row(1, 0, &[]), 1000), Some(5000));
        let mut marker = row(0, 0, &[]);
        marker.delete_marker = true;
        assert_eq!(c.expiry_due("a/x", &marker, 1000), None);
    }

    #[test]
    fn noncurrent_and_abort_rules() {
        let mut n = rule("logs/");
        n.noncurrent_days = Some(2);
        let mut t = rule("");
        t.abort_upload_days = Some(1);
        let mut sized = rule("");
        sized.abort_upload_days = Some(0);
        sized.filter.size_greater_than = Some(1);
        let c = LifecycleConfig {
            xml: String::new(),
            rules: vec![n, t, sized],
        };
        assert_eq!(
            c.noncurrent_due("logs/1", &row(1, 0, &[]), 500, 1000),
            Some(2500)
        );
        assert_eq!(c.noncurrent_due("data/1", &row(1, 0, &[]), 500, 1000), None);
        assert_eq!(
            c.abort_due("k", &[], 100, 1000),
            Some((1100, "r-".to_string()))
        );
    }
}
