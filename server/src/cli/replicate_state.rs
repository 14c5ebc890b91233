//! The durable state of `kura replicate`: the feed cursor it resumes after,
//! and the deletes it holds back under `--keep-deleted` (key → when the
//! delete is due, ms since the epoch). One small JSON file, replaced
//! atomically and fsynced, so a restart neither loses a pending delete nor
//! skips a change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What the replicator keeps between runs.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplicaState {
    /// The source feed's cursor: every change up to it is applied (or, for
    /// held-back deletes, recorded in `pending`).
    pub cursor: Option<String>,
    /// Deletes seen on the source but not yet applied on the target: key →
    /// due time (ms since the epoch). Absent in files of older builds.
    #[serde(default)]
    pub pending: BTreeMap<String, u64>,
}

impl ReplicaState {
    /// Reads `path`; a missing file is a fresh start.
    pub fn load(path: &Path) -> anyhow::Result<ReplicaState> {
        match std::fs::read(path) {
            Ok(raw) => serde_json::from_slice(&raw).context("state file"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ReplicaState::default()),
            Err(e) => Err(e).context("reading the state file"),
        }
    }

    /// Replaces `path` atomically and durably (write, fsync, rename, fsync dir).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        let tmp: PathBuf = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(self)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }

    /// Holds back the delete of `key` until `due` (ms); `false` if it was
    /// already pending. A delete already pending keeps its earlier due time:
    /// re-reading the feed after a restart must not postpone it.
    pub fn hold_delete(&mut self, key: &str, due: u64) -> bool {
        if self.pending.contains_key(key) {
            return false;
        }
        self.pending.insert(key.to_string(), due);
        true
    }

    /// The keys whose delete is due at `now_ms`.
    pub fn due(&self, now_ms: u64) -> Vec<String> {
        self.pending
            .iter()
            .filter(|(_, due)| **due <= now_ms)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_files_of_older_builds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.state");
        assert_eq!(ReplicaState::load(&path).unwrap(), ReplicaState::default());
        std::fs::write(&path, br#"{"cursor":"42"}"#).unwrap();
        let old = ReplicaState::load(&path).unwrap();
        assert_eq!(old.cursor.as_deref(), Some("42"));
        assert!(old.pending.is_empty());
        let mut s = old;
        s.hold_delete("a", 100);
        s.hold_delete("a", 500);
        s.hold_delete("b", 50);
        s.save(&path).unwrap();
        let back = ReplicaState::load(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            back.pending["a"], 100,
            "a repeated delete keeps its due time"
        );
        assert_eq!(back.due(99), vec!["b".to_string()]);
        assert_eq!(back.due(100).len(), 2);
    }
}
