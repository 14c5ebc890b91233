//! TEST-ONLY fault switches, for proving that the power-loss test
//! (tests/powercut.rs) can fail. Never set these in production: each one
//! breaks the durability contract on purpose.
//!
//! `KURA_TEST_SKIP_FSYNC` is a comma-separated list of syncs to skip:
//! - `chunk-dir`: the shard directories' fsync after new chunk files
//!   (their names may vanish in a power cut while metadata lists them);
//! - `chunk-data`: the chunk files' own fsync (their bytes may vanish).

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
