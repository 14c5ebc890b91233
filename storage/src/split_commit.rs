//! Commits larger than the metadata engine takes at once.
//!
//! etcd refuses a `Txn` of more than 128 operations (`--max-txn-ops`) or a
//! request over 1.5 MiB (`--max-request-bytes`). Most of kura's batches are
//! a handful of rows; what grows with the data is the `CF_CHUNKS` owner rows
//! (one per chunk file: a 5 GiB object has 640). On an engine with a limit
//! ([`crate::engine::Engine::max_ops_per_commit`]) a batch over it commits
//! in steps (see `docs/design.md`, "### etcd", *Limits*):
//!
//! 1. the owner rows go first, in pages of at most [`PAGE_ROWS`] rows, each
//!    page one commit guarded by the values read just before it (so it
//!    changes nothing another writer changed) and holding an *undo page*,
//!    `split/<token>/<n>` in `CF_META`, that lists each row's value before
//!    and after; the first page also creates the *head* `split/<token>`;
//! 2. the rest of the batch — the version rows, the purge queue, the change
//!    log, usage, search — is the last commit and the commit point: it
//!    deletes the head, guarded by the head still being there as written.
//!
//! A head therefore exists exactly while the change is not committed.
//! If the last commit fails, the pages are undone at once; if the process
//! dies between the steps, the start-up sweep ([`Store::sweep_split_commits`])
//! undoes the pages of every head older than [`SWEEP_GRACE_MS`] (another
//! front end may still be committing a younger one), before the orphan
//! chunk sweep, which then removes the files no row names any more. Undo
//! pages whose head is gone belong to committed changes and are dropped.
//!
//! Nobody misreads a row written early: readers follow the version rows,
//! never the owner rows; a purge edits the owner lists of a key's files
//! only under the key's latch, which the writer holds through all the steps
//! (metadata-only updates, purges, completes); and an undo computes each
//! row from its *current* value (the seqs the page added are taken out, the
//! ones it removed put back), so an owner list edited in between keeps the
//! edit. On RocksDB none of this runs: one `WriteBatch`, as always.

use std::collections::BTreeMap;

use crate::chunk_owners;
use crate::engine::{Batch, Durability, Expect, Op, ReadBounds};
use crate::error::{StorageError, StorageResult};
use crate::keys::{CF_CHUNKS, CF_META};
use crate::store::{now_ms, Store};

/// Prefix of the heads and undo pages in `CF_META`.
const SPLIT_PREFIX: &[u8] = b"split/";
/// Owner rows per early commit (each with its guard, plus the undo page and
/// the head: under etcd's 128).
const PAGE_ROWS: usize = 90;
/// Bytes of owner rows per early commit (the undo page holds them twice).
const PAGE_BYTES: usize = 256 << 10;
/// How old a head must be before a start-up sweep undoes it: a younger one
/// may be another front end's commit in progress.
const SWEEP_GRACE_MS: u64 = 10 * 60 * 1000;
/// Head states.
const PENDING: u8 = 0;
const UNDOING: u8 = 1;

/// A failure known to have left the change uncommitted: an unknown
/// outcome of an early step (the commit point was never sent) or of a
/// commit point since fenced off is no longer unknown.
fn not_applied(e: StorageError) -> StorageError {
    match e {
        StorageError::CommitUnknown(why) => StorageError::Io(std::io::Error::other(format!(
            "{why} (the change is not committed)"
        ))),
        e => e,
    }
}

/// One row of an undo page: the key and its value before and after.
type UndoRow = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

fn head_key(token: &[u8; 16]) -> Vec<u8> {
    let mut k = SPLIT_PREFIX.to_vec();
    k.extend_from_slice(hex::encode(token).as_bytes());
    k
}

fn page_key(token: &[u8; 16], n: u32) -> Vec<u8> {
    let mut k = head_key(token);
    k.extend_from_slice(format!("/{n:08}").as_bytes());
    k
}

fn head_value(created_ms: u64, state: u8) -> Vec<u8> {
    let mut v = created_ms.to_be_bytes().to_vec();
    v.push(state);
    v
}

/// (created ms, state) of a head.
fn parse_head(raw: &[u8]) -> Option<(u64, u8)> {
    let (ms, state) = raw.split_at_checked(8)?;
    Some((u64::from_be_bytes(ms.try_into().ok()?), *state.first()?))
}

/// The value `current` goes back to when a page that changed a row from
/// `prior` to `written` is undone: the owners the page added leave, the
/// ones it removed come back, edits made since stay.
fn undone(current: Option<&[u8]>, prior: Option<&[u8]>, written: Option<&[u8]>) -> Option<Vec<u8>> {
    let list = |v: Option<&[u8]>| v.map(chunk_owners::decode).transpose();
    match (list(current), list(prior), list(written)) {
        (Ok(current), Ok(prior), Ok(written)) => {
            let (prior, written) = (prior.unwrap_or_default(), written.unwrap_or_default());
            let mut out: Vec<u64> = current
                .unwrap_or_default()
                .into_iter()
                .filter(|s| !written.contains(s) || prior.contains(s))
                .collect();
            for s in prior {
                if !written.contains(&s) && !out.contains(&s) {
                    out.push(s);
                }
            }
            (!out.is_empty()).then(|| chunk_owners::encode(&out))
        }
        // Not owner lists: put back what was there if nobody changed it.
        _ if current == written => prior.map(<[u8]>::to_vec),
        _ => current.map(<[u8]>::to_vec),
    }
}

impl Store {
    /// Commits `batch` durably, in several steps if the engine limits its
    /// commits and the batch is over the limit (see the module docs).
    pub(crate) fn commit_synced(&self, batch: Batch) -> StorageResult<()> {
        match self.inner.db.max_ops_per_commit() {
            Some(limit) if batch.ops.len() > limit => self.commit_split(batch, limit),
            _ => self.inner.db.commit(batch, Durability::Synced),
        }
    }

    fn commit_split(&self, batch: Batch, limit: usize) -> StorageResult<()> {
        let chunks = self.cf(CF_CHUNKS);
        // The owner rows, the last write of each winning (as in a batch).
        let mut rows: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let mut last = Batch::default();
        for op in batch.ops {
            match op {
                Op::Put { cf, key, value } if cf == chunks => {
                    rows.insert(key, Some(value));
                }
                Op::Delete { cf, key } if cf == chunks => {
                    rows.insert(key, None);
                }
                op => last.ops.push(op),
            }
        }
        // A caller's guard on an owner row goes with the row's page.
        let mut row_guards = BTreeMap::new();
        for g in batch.guards {
            if g.cf == chunks && rows.contains_key(&g.key) {
                row_guards.insert(g.key, g.expect);
            } else {
                last.guards.push(g);
            }
        }
        if rows.is_empty() {
            // Nothing that may go early: the engine says whether it fits.
            return self.inner.db.commit(last, Durability::Synced);
        }
        let token = crate::chunk_store::ChunkStore::new_id();
        let head = head_key(&token);
        let head_pending = head_value(now_ms(), PENDING);
        let mut pages = 0u32;
        let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = rows.into_iter().collect();
        let mut start = 0;
        while start < rows.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < rows.len() && end - start < PAGE_ROWS && bytes < PAGE_BYTES {
                bytes += rows[end].0.len() + rows[end].1.as_ref().map_or(0, Vec::len);
                end += 1;
            }
            let page = &rows[start..end];
            let written = self.write_page(&token, pages, &head_pending, page, &mut row_guards);
            if let Err(e) = written {
                self.undo_after_failure(&token);
                // The commit point was never sent: whatever became of this
                // page, the change is not committed.
                return Err(not_applied(e));
            }
            pages += 1;
            start = end;
            crate::test_faults::split_commit_page_written(pages);
        }
        // The commit point.
        last.delete_cf(self.cf(CF_META), &head);
        last.expect(self.cf(CF_META), &head, Expect::Value(head_pending));
        let inline_pages = last.ops.len() + pages as usize <= limit;
        if inline_pages {
            for n in 0..pages {
                last.delete_cf(self.cf(CF_META), page_key(&token, n));
            }
        }
        if let Err(e) = self.inner.db.commit(last, Durability::Synced) {
            if !matches!(e, StorageError::CommitUnknown(_)) {
                self.undo_after_failure(&token);
                return Err(e);
            }
            // Sent, but no answer: the head says what happened. Gone, the
            // change committed (a sweep removes only heads older than
            // `SWEEP_GRACE_MS`, far beyond a request's timeout); still
            // pending, marking it undoing makes the commit point's guard
            // fail should the request still arrive, and then it never will.
            return match self.fence_split(&token) {
                Ok(true) => {
                    if let Err(e) = self.drop_pages(&token) {
                        tracing::warn!(error = %e, "could not drop the undo pages of a split commit");
                    }
                    Ok(())
                }
                Ok(false) => {
                    self.undo_after_failure(&token);
                    Err(not_applied(e))
                }
                Err(_) => Err(e),
            };
        }
        if !inline_pages {
            // Best-effort: a sweep drops pages whose head is gone.
            if let Err(e) = self.drop_pages(&token) {
                tracing::warn!(error = %e, "could not drop the undo pages of a split commit");
            }
        }
        Ok(())
    }

    /// Commits page `n` of the early owner rows with its undo page (the
    /// first page also creates the head; later ones require it unchanged).
    fn write_page(
        &self,
        token: &[u8; 16],
        n: u32,
        head_pending: &[u8],
        page: &[(Vec<u8>, Option<Vec<u8>>)],
        row_guards: &mut BTreeMap<Vec<u8>, Expect>,
    ) -> StorageResult<()> {
        let chunks = self.cf(CF_CHUNKS);
        let keys: Vec<&[u8]> = page.iter().map(|(k, _)| k.as_slice()).collect();
        let priors = self.inner.db.multi_get(chunks, &keys);
        let mut batch = Batch::default();
        let mut undo: Vec<UndoRow> = Vec::with_capacity(page.len());
        for ((key, value), prior) in page.iter().zip(priors) {
            let prior = prior?.map(|v| v.to_vec());
            let expect = row_guards.remove(key).unwrap_or(match &prior {
                Some(v) => Expect::Value(v.clone()),
                None => Expect::Absent,
            });
            batch.expect(chunks, key, expect);
            match value {
                Some(v) => batch.put_cf(chunks, key, v),
                None => batch.delete_cf(chunks, key),
            }
            undo.push((key.clone(), prior, value.clone()));
        }
        let head = head_key(token);
        if n == 0 {
            batch.put_cf(self.cf(CF_META), &head, head_pending);
            batch.expect(self.cf(CF_META), &head, Expect::Absent);
        } else {
            batch.expect(
                self.cf(CF_META),
                &head,
                Expect::Value(head_pending.to_vec()),
            );
        }
        let encoded = postcard::to_allocvec(&undo).expect("undo page serialization cannot fail");
        batch.put_cf(self.cf(CF_META), page_key(token, n), encoded);
        self.inner.db.commit(batch, Durability::Synced)
    }

    /// Undoes a split commit whose last step failed; what cannot be undone
    /// now is left for the start-up sweep.
    fn undo_after_failure(&self, token: &[u8; 16]) {
        if let Err(e) = self.undo_split(token) {
            tracing::warn!(
                error = %e,
                "could not undo the first steps of a failed commit; the next start-up sweep will"
            );
        }
    }

    /// Undoes the pages of `token` unless its change committed (its head is
    /// gone: then only the pages go). First marks the head as being undone,
    /// so no page of a commit still in progress can land after the scan.
    fn undo_split(&self, token: &[u8; 16]) -> StorageResult<()> {
        if self.fence_split(token)? {
            return self.drop_pages(token);
        }
        let meta = self.cf(CF_META);
        let head = head_key(token);
        let chunks = self.cf(CF_CHUNKS);
        for (page_key, raw) in self.split_pages(token)? {
            let undo: Vec<UndoRow> = crate::rows::postcard_decode(&raw)?;
            let mut attempts = 0;
            loop {
                let keys: Vec<&[u8]> = undo.iter().map(|(k, _, _)| k.as_slice()).collect();
                let currents = self.inner.db.multi_get(chunks, &keys);
                let mut batch = Batch::default();
                for ((key, prior, written), current) in undo.iter().zip(currents) {
                    let current = current?.map(|v| v.to_vec());
                    let back = undone(current.as_deref(), prior.as_deref(), written.as_deref());
                    if back == current {
                        continue;
                    }
                    batch.expect(
                        chunks,
                        key,
                        match &current {
                            Some(v) => Expect::Value(v.clone()),
                            None => Expect::Absent,
                        },
                    );
                    match back {
                        Some(v) => batch.put_cf(chunks, key, v),
                        None => batch.delete_cf(chunks, key),
                    }
                }
                batch.delete_cf(meta, &page_key);
                match self.inner.db.commit(batch, Durability::Synced) {
                    Ok(()) => break,
                    Err(StorageError::Conflict) if attempts < 8 => attempts += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        let mut batch = Batch::default();
        batch.delete_cf(meta, &head);
        self.inner.db.commit(batch, Durability::Synced)
    }

    /// Settles whether the change `token` committed: `true` if it did (its
    /// head is gone), `false` if it never will (its head is now marked
    /// undoing, so its commit point's guard fails).
    fn fence_split(&self, token: &[u8; 16]) -> StorageResult<bool> {
        let meta = self.cf(CF_META);
        let head = head_key(token);
        loop {
            let Some(raw) = self.inner.db.get_owned(meta, &head)? else {
                return Ok(true);
            };
            let (created, state) = parse_head(&raw)
                .ok_or_else(|| StorageError::Corrupt("split commit head".into()))?;
            if state == UNDOING {
                return Ok(false);
            }
            let mut batch = Batch::default();
            batch.put_cf(meta, &head, head_value(created, UNDOING));
            batch.expect(meta, &head, Expect::Value(raw));
            match self.inner.db.commit(batch, Durability::Synced) {
                Ok(()) => return Ok(false),
                Err(StorageError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The undo pages of `token`: (key, value).
    fn split_pages(&self, token: &[u8; 16]) -> StorageResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut prefix = head_key(token);
        prefix.push(b'/');
        self.inner
            .db
            .entries(self.cf(CF_META), ReadBounds::prefix(&prefix), Some(&prefix))
            .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect()
    }

    /// Drops the undo pages of a committed change.
    fn drop_pages(&self, token: &[u8; 16]) -> StorageResult<()> {
        let pages = self.split_pages(token)?;
        let page = self.inner.db.max_ops_per_commit().unwrap_or(1000);
        for group in pages.chunks(page) {
            let mut batch = Batch::default();
            for (k, _) in group {
                batch.delete_cf(self.cf(CF_META), k);
            }
            self.inner.db.commit(batch, Durability::Buffered)?;
        }
        Ok(())
    }

    /// At start-up, on an engine that splits commits: undoes the changes
    /// whose last step never came (a crash between the steps), once their
    /// head is [`SWEEP_GRACE_MS`] old, and drops the undo pages of committed
    /// ones. Returns the number of changes undone. Runs before the orphan
    /// chunk sweep, which then removes the files their rows named.
    pub(crate) fn sweep_split_commits(&self) -> StorageResult<usize> {
        if self.inner.db.max_ops_per_commit().is_none() {
            return Ok(0);
        }
        self.sweep_split_commits_older_than(
            crate::test_faults::split_sweep_grace_ms().unwrap_or(SWEEP_GRACE_MS),
        )
    }

    fn sweep_split_commits_older_than(&self, grace: u64) -> StorageResult<usize> {
        let now = now_ms();
        let mut heads = Vec::new();
        let mut orphan_pages = Vec::new();
        let mut last_head: Option<Vec<u8>> = None;
        let hex_len = SPLIT_PREFIX.len() + 32;
        for item in self.inner.db.entries(
            self.cf(CF_META),
            ReadBounds::prefix(SPLIT_PREFIX),
            Some(SPLIT_PREFIX),
        ) {
            let (k, v) = item?;
            let Some(token) = k
                .get(SPLIT_PREFIX.len()..hex_len)
                .and_then(|h| hex::decode(h).ok())
                .and_then(|t| <[u8; 16]>::try_from(t.as_slice()).ok())
            else {
                continue;
            };
            if k.len() == hex_len {
                last_head = Some(k.to_vec());
                if let Some((created, state)) = parse_head(&v) {
                    if state == UNDOING || now.saturating_sub(created) >= grace {
                        heads.push(token);
                    }
                }
            } else if last_head.as_deref() != Some(&k[..hex_len]) {
                orphan_pages.push(token);
            }
        }
        orphan_pages.dedup();
        for token in &orphan_pages {
            self.drop_pages(token)?;
        }
        for token in &heads {
            self.undo_split(token)?;
        }
        if !heads.is_empty() {
            tracing::info!(
                undone = heads.len(),
                "undid the first steps of commits that a crash cut off"
            );
        }
        Ok(heads.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The split itself runs only on etcd; its logic is engine-neutral, so
    // these drive it on RocksDB with a small limit.
    fn store(dir: &std::path::Path) -> Store {
        crate::test_support::store(dir, std::time::Duration::from_secs(3600))
    }

    fn id(i: u16) -> Vec<u8> {
        let mut k = vec![0xAB; 16];
        k[..2].copy_from_slice(&i.to_be_bytes());
        k
    }

    fn row(s: &Store, i: u16) -> Option<Vec<u8>> {
        s.inner.db.get_owned(s.cf(CF_CHUNKS), id(i)).unwrap()
    }

    fn split_keys(s: &Store) -> usize {
        s.inner
            .db
            .entries(
                s.cf(CF_META),
                ReadBounds::prefix(SPLIT_PREFIX),
                Some(SPLIT_PREFIX),
            )
            .count()
    }

    /// 250 owner rows: 200 new files, 50 shared with version 1 (gaining
    /// version 9), and the commit point `meta/marker`.
    fn large_batch(s: &Store) -> Batch {
        let mut b = Batch::default();
        for i in 0..250 {
            let owners: &[u64] = if i < 200 { &[9] } else { &[1, 9] };
            b.put_cf(s.cf(CF_CHUNKS), id(i), chunk_owners::encode(owners));
        }
        b.put_cf(s.cf(CF_META), b"marker", b"v9");
        b
    }

    fn shared_rows(s: &Store) {
        let mut b = Batch::default();
        for i in 200..250 {
            b.put_cf(s.cf(CF_CHUNKS), id(i), chunk_owners::encode(&[1]));
        }
        s.inner.db.commit(b, Durability::Synced).unwrap();
    }

    #[test]
    fn a_split_commit_lands_whole_and_leaves_no_undo_page() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        shared_rows(&s);
        s.commit_split(large_batch(&s), 20).unwrap();
        assert_eq!(row(&s, 0), owners(&[9]));
        assert_eq!(row(&s, 249), owners(&[1, 9]));
        assert_eq!(
            s.inner
                .db
                .get_owned(s.cf(CF_META), b"marker")
                .unwrap()
                .unwrap(),
            b"v9"
        );
        assert_eq!(split_keys(&s), 0);
    }

    #[test]
    fn a_failed_commit_point_undoes_the_early_pages() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        shared_rows(&s);
        let mut batch = large_batch(&s);
        // The commit point's own guard fails.
        batch.expect(s.cf(CF_META), b"never-written", Expect::Present);
        assert!(matches!(
            s.commit_split(batch, 20),
            Err(StorageError::Conflict)
        ));
        assert_eq!(row(&s, 0), None, "new files' rows undone");
        assert_eq!(
            row(&s, 249),
            owners(&[1]),
            "shared files back to their owner"
        );
        assert_eq!(
            s.inner.db.get_owned(s.cf(CF_META), b"marker").unwrap(),
            None
        );
        assert_eq!(split_keys(&s), 0);
    }

    #[test]
    fn the_sweep_undoes_a_cut_off_commit_and_keeps_later_edits() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        shared_rows(&s);
        // Two early pages land, then the "crash": no commit point.
        let token = [3u8; 16];
        let pending = head_value(now_ms(), PENDING);
        let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = (190..250)
            .map(|i| (id(i), owners(if i < 200 { &[9] } else { &[1, 9] })))
            .collect();
        let mut guards = BTreeMap::new();
        s.write_page(&token, 0, &pending, &rows[..30], &mut guards)
            .unwrap();
        s.write_page(&token, 1, &pending, &rows[30..], &mut guards)
            .unwrap();
        // Meanwhile version 1 was purged from one shared file.
        let mut b = Batch::default();
        b.put_cf(s.cf(CF_CHUNKS), id(249), chunk_owners::encode(&[9]));
        s.inner.db.commit(b, Durability::Synced).unwrap();
        assert_eq!(split_keys(&s), 3);
        // Too young for a sweep (another front end may be committing it).
        assert_eq!(s.sweep_split_commits_older_than(60_000).unwrap(), 0);
        assert_eq!(row(&s, 190), owners(&[9]));
        assert_eq!(s.sweep_split_commits_older_than(0).unwrap(), 1);
        assert_eq!(row(&s, 190), None);
        assert_eq!(row(&s, 200), owners(&[1]));
        assert_eq!(row(&s, 249), None, "the purge of 1 stays done; 9 never was");
        assert_eq!(split_keys(&s), 0);
        // A later page of the cut-off commit cannot land any more.
        let late = s.write_page(&token, 2, &pending, &rows[..1], &mut guards);
        assert!(matches!(late, Err(StorageError::Conflict)));
    }

    fn owners(s: &[u64]) -> Option<Vec<u8>> {
        Some(chunk_owners::encode(s))
    }

    #[test]
    fn undo_takes_out_what_a_page_added_and_keeps_later_edits() {
        // A new file: its row goes.
        assert_eq!(
            undone(owners(&[9]).as_deref(), None, owners(&[9]).as_deref()),
            None
        );
        // A shared file: the new version leaves the list.
        let (p, w) = (owners(&[1]), owners(&[1, 9]));
        assert_eq!(
            undone(w.as_deref(), p.as_deref(), w.as_deref()),
            owners(&[1])
        );
        // ... and a purge of 1 in between stays done.
        assert_eq!(
            undone(owners(&[9]).as_deref(), p.as_deref(), w.as_deref()),
            None
        );
        // A completed upload's part re-pointed from the upload to the object.
        let (p, w) = (owners(&[5]), owners(&[9]));
        assert_eq!(
            undone(w.as_deref(), p.as_deref(), w.as_deref()),
            owners(&[5])
        );
        // A deleted row comes back.
        assert_eq!(undone(None, owners(&[5]).as_deref(), None), owners(&[5]));
    }

    #[test]
    fn heads_and_pages_sort_together() {
        let t = [7u8; 16];
        let (h, p0, p1) = (head_key(&t), page_key(&t, 0), page_key(&t, 1));
        assert!(h < p0 && p0 < p1 && p1.starts_with(&h));
        assert_eq!(parse_head(&head_value(42, UNDOING)), Some((42, UNDOING)));
    }
}
