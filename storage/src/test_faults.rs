//! TEST-ONLY fault switches, for proving that the power-loss test
//! (tests/powercut.rs) can fail. Never set these in production: each one
//! breaks the durability contract on purpose.
//!
//! `KURA_TEST_SKIP_FSYNC` is a comma-separated list of syncs to skip:
//! - `chunk-dir`: the shard directories' fsync after new chunk files
//!   (their names may vanish in a power cut while metadata lists them);
//! - `chunk-data`: the chunk files' own fsync (their bytes may vanish).
//!
//! For the crash test of commits split into several steps (etcd; see
//! `split_commit.rs`): `KURA_TEST_SPLIT_CRASH_AFTER=N` aborts the process
//! right after the N-th early step of any split commit, and
//! `KURA_TEST_SPLIT_SWEEP_GRACE_MS` shortens how old a cut-off commit must
//! be before the start-up sweep undoes it.
//!
//! `KURA_TEST_LOSE_RELEASES=N` (`lose_release`) makes the first N releases
//! of an etcd coordination record fail, as if etcd had gone away.
//!
//! For commits whose outcome is unknown (etcd; the request was sent, the
//! answer never came): `KURA_TEST_ETCD_LOSE_ANSWER=<text>[,<text>…]`
//! applies every commit that puts a key whose `<family>/<key bytes>`
//! contains one of the texts, then reports it as of unknown outcome;
//! `KURA_TEST_ETCD_LOSE_REQUEST` reports such a commit as of unknown
//! outcome without sending it.

use std::sync::OnceLock;

fn skipped() -> &'static [String] {
    static SKIPPED: OnceLock<Vec<String>> = OnceLock::new();
    SKIPPED.get_or_init(|| {
        let list: Vec<String> = std::env::var("KURA_TEST_SKIP_FSYNC")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if !list.is_empty() {
            tracing::warn!(
                skipped = ?list,
                "KURA_TEST_SKIP_FSYNC is set: TEST-ONLY, acknowledged writes can be lost in a power cut"
            );
        }
        list
    })
}

/// Whether the test-only switch says to skip the sync named `what`.
pub(crate) fn skip_fsync(what: &str) -> bool {
    skipped().iter().any(|s| s == what)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Called after the `n`-th early step of a split commit: aborts the process
/// if `KURA_TEST_SPLIT_CRASH_AFTER` says so (a crash between the steps).
pub(crate) fn split_commit_page_written(n: u32) {
    static AFTER: OnceLock<Option<u64>> = OnceLock::new();
    if *AFTER.get_or_init(|| env_u64("KURA_TEST_SPLIT_CRASH_AFTER")) == Some(u64::from(n)) {
        tracing::error!(
            "KURA_TEST_SPLIT_CRASH_AFTER: TEST-ONLY crash between the steps of a commit"
        );
        std::process::abort();
    }
}

/// `KURA_TEST_SPLIT_SWEEP_GRACE_MS`, if set.
pub(crate) fn split_sweep_grace_ms() -> Option<u64> {
    env_u64("KURA_TEST_SPLIT_SWEEP_GRACE_MS")
}

/// `KURA_TEST_LOSE_RELEASES=N`: the first N releases of a coordination
/// record on etcd (a write lock's, a download's) get no answer, as when
/// etcd goes away at that moment (tests/etcd.rs).
pub(crate) fn lose_release() -> bool {
    static LEFT: OnceLock<std::sync::atomic::AtomicU64> = OnceLock::new();
    let left = LEFT.get_or_init(|| {
        std::sync::atomic::AtomicU64::new(env_u64("KURA_TEST_LOSE_RELEASES").unwrap_or(0))
    });
    left.fetch_update(
        std::sync::atomic::Ordering::AcqRel,
        std::sync::atomic::Ordering::Acquire,
        |n| n.checked_sub(1),
    )
    .is_ok()
}

/// What the test-only switches do to one etcd commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CommitFault {
    /// Applied, but reported as of unknown outcome.
    LoseAnswer,
    /// Not sent, and reported as of unknown outcome.
    LoseRequest,
}

/// The fault `KURA_TEST_ETCD_LOSE_ANSWER` / `_REQUEST` puts on a commit of
/// `batch` (one that writes a key containing the configured text).
pub(crate) fn etcd_commit_fault(batch: &crate::engine::Batch) -> Option<CommitFault> {
    static FAULTS: OnceLock<Vec<(CommitFault, Vec<u8>)>> = OnceLock::new();
    let faults = FAULTS.get_or_init(|| {
        let mut v = Vec::new();
        for (name, fault) in [
            ("KURA_TEST_ETCD_LOSE_ANSWER", CommitFault::LoseAnswer),
            ("KURA_TEST_ETCD_LOSE_REQUEST", CommitFault::LoseRequest),
        ] {
            let texts = std::env::var(name).unwrap_or_default();
            for text in texts.split(',').filter(|t| !t.is_empty()) {
                tracing::warn!("{name} is set: TEST-ONLY, commits are reported as failed");
                v.push((fault, text.as_bytes().to_vec()));
            }
        }
        v
    });
    if faults.is_empty() {
        return None;
    }
    faults.iter().find_map(|(fault, text)| {
        batch
            .ops
            .iter()
            .any(|op| match op {
                crate::engine::Op::Put { cf, key, .. } => [cf.0.as_bytes(), b"/", key]
                    .concat()
                    .windows(text.len())
                    .any(|w| w == text.as_slice()),
                _ => false,
            })
            .then_some(*fault)
    })
}
