//! Read-modify-write commits that hold across front ends.
//!
//! On one process the key's write lock, its latch, the bucket commit lock
//! and the multipart mutex keep every "read rows, then commit a batch that
//! depends on them" atomic. Front ends sharing a metadata engine (etcd) do
//! not share those locks, so there each such commit carries guards
//! ([`Batch::expect`]): the rows it read must still hold what it read, or
//! the engine refuses the whole batch with [`StorageError::Conflict`] and
//! the operation reads again and retries ([`Store::retry_guarded`]).
//!
//! Two changes must also stop others before they read: completing,
//! aborting or expiring a multipart upload (no part may land after its
//! parts were read) and deleting a bucket (no object may land after it was
//! found empty). Each first commits a *claim* record (`closing/<upload>`,
//! `deleting/<bucket>` in `meta`); the commits they exclude guard that the
//! claim is absent. A claim older than [`CLAIM_STALE_MS`] belongs to a front
//! end that died between its two commits and is ignored (and may be taken
//! over).
//!
//! On an engine only this process writes (RocksDB) every guard here is
//! left out: the in-process locks already serialise these sections, and a
//! guarded RocksDB commit would take the engine's commit lock exclusively
//! (a synced write then waits for every other commit, and the WAL's group
//! commit is lost). `docs/design.md` ("Read-modify-write across front
//! ends") lists each site.

use std::time::Duration;

use rand::RngCore;

use crate::engine::{Batch, Expect};
use crate::error::{StorageError, StorageResult};
use crate::keys::{CF_BUCKETS, CF_META};
use crate::rows::{self, BucketRow};
use crate::store::{now_ms, Store};

/// Attempts of a guarded operation before its `Conflict` reaches the client
/// (409 `OperationAborted`); with the back-off below about half a second.
pub(crate) const RETRIES: u32 = 12;

/// Owner lists (see `chunk_owners.rs`) a metadata-only update guards at
/// most: etcd takes 128 compares per transaction. The purge always guards
/// the lists it edits, so past the bound a lost race can only leave a file
/// with a stale owner (kept, never removed under a live version).
pub(crate) const MAX_OWNER_GUARDS: usize = 32;

/// A claim older than this was left by a front end that died between the
/// claim and its final commit (both take milliseconds).
pub(crate) const CLAIM_STALE_MS: u64 = 30_000;

/// A claim record: when it was taken (ms) and 8 random bytes, so that only
/// its taker's final commit matches it.
pub(crate) struct Claim {
    key: Vec<u8>,
    token: Vec<u8>,
}

fn claim_is_stale(raw: &[u8]) -> bool {
    let at = raw
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes);
    now_ms().saturating_sub(at) > CLAIM_STALE_MS
}

/// `meta` key of the claim of a multipart upload being closed.
pub(crate) fn closing_key(upload_key: &[u8]) -> Vec<u8> {
    let mut k = b"closing/".to_vec();
    k.extend_from_slice(upload_key);
    k
}

/// `meta` key of the claim of a bucket being deleted.
pub(crate) fn deleting_key(bucket: &str) -> Vec<u8> {
    let mut k = b"deleting/".to_vec();
    k.extend_from_slice(bucket.as_bytes());
    k
}

impl Store {
    /// Whether other front ends commit to this store's metadata engine.
    #[inline]
    pub(crate) fn shared(&self) -> bool {
        self.inner.db.is_shared()
    }

    /// Adds to `batch` (on a shared engine): `key` of `cf` must still hold
    /// `read` (`None`: must still be absent).
    pub(crate) fn expect_read(
        &self,
        batch: &mut Batch,
        cf: &'static str,
        key: impl AsRef<[u8]>,
        read: Option<&[u8]>,
    ) {
        if self.shared() {
            let expect = match read {
                Some(v) => Expect::Value(v.to_vec()),
                None => Expect::Absent,
            };
            batch.expect(self.cf(cf), key, expect);
        }
    }

    /// Adds to `batch` (on a shared engine): no key of `cf` in `[from, to)`.
    pub(crate) fn expect_none_in(
        &self,
        batch: &mut Batch,
        cf: &'static str,
        from: &[u8],
        to: &[u8],
    ) {
        if self.shared() && from < to {
            batch.expect(self.cf(cf), from, Expect::NoneIn(to.to_vec()));
        }
    }

    /// Adds to `batch` (on a shared engine): `key` of `cf` must still exist.
    pub(crate) fn expect_present(
        &self,
        batch: &mut Batch,
        cf: &'static str,
        key: impl AsRef<[u8]>,
    ) {
        if self.shared() {
            batch.expect(self.cf(cf), key, Expect::Present);
        }
    }

    /// Runs `attempt` again while it fails with `Conflict` on a shared
    /// engine (a guard found a row another front end changed since it was
    /// read), with a short growing pause, at most [`RETRIES`] times. On an
    /// unshared engine `Conflict` only comes from the in-process locks and
    /// is returned at once, as before.
    pub(crate) fn retry_guarded<T>(
        &self,
        mut attempt: impl FnMut() -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut tries = 0;
        loop {
            match attempt() {
                Err(StorageError::Conflict) if self.shared() && tries < RETRIES => {
                    let pause = (1u64 << tries.min(6)).min(50);
                    std::thread::sleep(Duration::from_millis(pause));
                    tries += 1;
                }
                r => return r,
            }
        }
    }

    /// The bucket's row, read for a commit into the bucket: on a shared
    /// engine `batch` then requires the row unchanged (its versioning and
    /// retention decided the batch; a deletion removes it) and no deletion
    /// of the bucket under way (`Conflict` while one is).
    pub(crate) fn bucket_for_update(
        &self,
        batch: &mut Batch,
        bucket: &str,
    ) -> StorageResult<BucketRow> {
        if !self.shared() {
            return self.require_bucket(bucket);
        }
        let raw = self
            .inner
            .db
            .get_owned(self.cf(CF_BUCKETS), bucket.as_bytes())?
            .ok_or(StorageError::NoSuchBucket)?;
        self.expect_unclaimed(batch, &deleting_key(bucket))?;
        self.expect_read(batch, CF_BUCKETS, bucket.as_bytes(), Some(&raw));
        rows::decode(&raw)
    }

    /// Adds to `batch` (on a shared engine): the claim `key` is absent (or
    /// as stale as now). `Conflict` if a live claim holds it.
    pub(crate) fn expect_unclaimed(&self, batch: &mut Batch, key: &[u8]) -> StorageResult<()> {
        if !self.shared() {
            return Ok(());
        }
        match self.inner.db.get_owned(self.cf(CF_META), key)? {
            None => self.expect_read(batch, CF_META, key, None),
            Some(raw) if claim_is_stale(&raw) => self.expect_read(batch, CF_META, key, Some(&raw)),
            Some(_) => return Err(StorageError::Conflict),
        }
        Ok(())
    }

    /// Takes the claim `key` (on a shared engine; `None` elsewhere) in one
    /// commit that also requires `row` of `cf` to hold `read`: the claimed
    /// thing exists as the caller saw it. `Conflict` if another live claim
    /// holds it or the row changed.
    pub(crate) fn take_claim(
        &self,
        key: Vec<u8>,
        cf: &'static str,
        row: &[u8],
        read: Option<&[u8]>,
    ) -> StorageResult<Option<Claim>> {
        if !self.shared() {
            return Ok(None);
        }
        let mut batch = Batch::default();
        self.expect_unclaimed(&mut batch, &key)?;
        self.expect_read(&mut batch, cf, row, read);
        let mut token = now_ms().to_be_bytes().to_vec();
        token.extend_from_slice(&rand::thread_rng().next_u64().to_be_bytes());
        batch.put_cf(self.cf(CF_META), &key, &token);
        self.write_synced(batch)?;
        Ok(Some(Claim { key, token }))
    }

    /// Adds to `batch`: the claim is still ours, and ends with the batch.
    pub(crate) fn finish_claim(&self, batch: &mut Batch, claim: &Option<Claim>) {
        if let Some(c) = claim {
            batch.expect(self.cf(CF_META), &c.key, Expect::Value(c.token.clone()));
            batch.delete_cf(self.cf(CF_META), &c.key);
        }
    }

    /// Gives the claim up (the operation failed): best effort, a claim left
    /// behind goes stale.
    pub(crate) fn drop_claim(&self, claim: Option<Claim>) {
        if claim.is_some() {
            let mut batch = Batch::default();
            self.finish_claim(&mut batch, &claim);
            if let Err(e) = self.write_synced(batch) {
                tracing::warn!(error = %e, "could not release a claim; it goes stale");
            }
        }
    }
}

impl Store {
    /// The current row of `bucket`/`key` for a commit that replaces or
    /// removes it, with (on a shared engine) its encoded bytes for the
    /// commit's guard ([`Store::expect_read`]; `None` there: absent).
    pub(crate) fn current_for_update(
        &self,
        bucket: &str,
        key: &str,
    ) -> StorageResult<(Option<crate::rows::ObjectRow>, Option<Vec<u8>>)> {
        if !self.shared() {
            return Ok((self.current(bucket, key)?, None));
        }
        let raw = self.inner.db.get_owned(
            self.cf(crate::keys::CF_OBJECTS),
            crate::keys::object_key(bucket, key)?,
        )?;
        match raw {
            Some(raw) => Ok((Some(rows::decode(&raw)?), Some(raw))),
            None => {
                self.require_bucket(bucket)?;
                Ok((None, None))
            }
        }
    }

    /// The smallest sequence number a new version of `bucket`/`key` may
    /// take: above its newest version (the current one, or on a shared
    /// engine the newest noncurrent one when there is no current one), so a
    /// key's versions stay in order however many front ends write it. On a
    /// shared engine without a current version, `batch` also requires that
    /// no newer noncurrent version appears meanwhile (a marker another
    /// front end stacks); a current one is guarded by its own row.
    pub(crate) fn version_floor(
        &self,
        batch: &mut Batch,
        bucket: &str,
        key: &str,
        current: Option<&crate::rows::ObjectRow>,
    ) -> StorageResult<u64> {
        Ok(match current {
            Some(c) => c.seq + 1,
            None if self.shared() => {
                let newest = self.newest_version_row(bucket, key)?;
                let prefix = crate::keys::version_key_prefix(bucket, key)?;
                let end = match &newest {
                    Some(r) => crate::keys::version_key(bucket, key, r.seq)?,
                    None => crate::keys::prefix_successor(&prefix).unwrap_or_default(),
                };
                self.expect_none_in(batch, crate::keys::CF_VERSIONS, &prefix, &end);
                newest.map_or(0, |r| r.seq + 1)
            }
            None => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::Durability;
    use crate::keys::CF_VERSIONS;

    fn store(dir: &std::path::Path) -> Store {
        crate::test_support::store(dir, Duration::from_secs(60))
    }

    #[test]
    fn a_floor_past_the_block_reserves_a_new_one_above_every_number_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let a = s.next_seq().unwrap();
        // Inside this front end's block: taken as it is.
        assert_eq!(s.next_seq_from(a + 10).unwrap(), a + 10);
        // Past it (another front end's block, say): a fresh block, at
        // least the floor, and every later number above it.
        let far = a + (3 << 20);
        let b = s.next_seq_from(far).unwrap();
        assert!(b >= far);
        let c = s.next_seq().unwrap();
        assert!(c > b);
        let stored = s
            .inner
            .db
            .get_owned(s.cf(CF_META), crate::keys::META_LAST_SEQ)
            .unwrap()
            .unwrap();
        assert!(u64::from_be_bytes(stored.try_into().unwrap()) > c);
        // A floor below what was handed out never goes back.
        assert!(s.next_seq_from(a).unwrap() > c);
    }

    #[test]
    fn a_range_guard_fails_once_a_key_appears_in_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let cf = s.cf(CF_VERSIONS);
        let guarded = || {
            let mut b = Batch::default();
            b.expect(cf, b"k/1", Expect::NoneIn(b"k/5".to_vec()));
            b.put_cf(cf, b"k/9", b"v");
            b
        };
        // Keys at the range's edges do not count: [from, to).
        let mut b = Batch::default();
        b.put_cf(cf, b"k/0", b"x");
        b.put_cf(cf, b"k/5", b"x");
        s.inner.db.commit(b, Durability::Synced).unwrap();
        s.inner.db.commit(guarded(), Durability::Synced).unwrap();
        let mut b = Batch::default();
        b.put_cf(cf, b"k/3", b"x");
        s.inner.db.commit(b, Durability::Synced).unwrap();
        s.inner
            .db
            .commit(guarded(), Durability::Synced)
            .unwrap_err();
    }

    #[test]
    fn claims_are_left_out_on_an_unshared_engine_and_stale_ones_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        assert!(!s.shared());
        s.create_bucket("b").unwrap();
        let claim = s
            .take_claim(deleting_key("b"), CF_BUCKETS, b"b", None)
            .unwrap();
        assert!(claim.is_none());
        let mut batch = Batch::default();
        s.bucket_for_update(&mut batch, "b").unwrap();
        assert!(batch.guards.is_empty(), "no guard on RocksDB: {batch:?}");
        let mut old = (now_ms() - CLAIM_STALE_MS - 1).to_be_bytes().to_vec();
        old.extend_from_slice(&[0; 8]);
        assert!(claim_is_stale(&old));
        let mut fresh = now_ms().to_be_bytes().to_vec();
        fresh.extend_from_slice(&[0; 8]);
        assert!(!claim_is_stale(&fresh));
    }
}
