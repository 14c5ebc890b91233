//! Local chunk files: the embedded default of the chunk store
//! (`chunk_store.rs`), an object's bytes split into files named by random ids.
//!
//! Layout: `<data>/chunks/<first two hex digits>/<32 hex digits>`. Names never
//! derive from bucket or key names. A file is only reachable once a committed
//! row lists it in `CF_CHUNKS`; anything else in this tree is an orphan
//! (an upload cut off by a crash) and is removed at start-up.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

pub use crate::chunk_store::ChunkId;

/// The directory tree holding chunk files.
#[derive(Debug, Clone)]
pub(crate) struct LocalChunks {
    root: PathBuf,
}

impl LocalChunks {
    /// Opens (creating) the chunk tree under `root` with its 256 shard directories.
    pub fn open(root: PathBuf) -> io::Result<LocalChunks> {
        fs::create_dir_all(&root)?;
        for shard in 0..=255u8 {
            let dir = root.join(format!("{shard:02x}"));
            if !dir.exists() {
                fs::create_dir(&dir)?;
            }
        }
        sync_dir(&root)?;
        Ok(LocalChunks { root })
    }

    fn shard_dir(&self, id: &ChunkId) -> PathBuf {
        self.root.join(format!("{:02x}", id[0]))
    }

    /// Path of a chunk file.
    pub fn path(&self, id: &ChunkId) -> PathBuf {
        self.shard_dir(id).join(hex::encode(id))
    }

    /// Creates a new chunk file for writing; fails if it exists.
    pub fn create(&self, id: &ChunkId) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.path(id))
    }

    /// Opens a chunk for reading.
    pub fn open_read(&self, id: &ChunkId) -> io::Result<File> {
        File::open(self.path(id))
    }

    /// Makes the directory entries of `ids` durable (their data is synced by the writer).
    pub fn sync_dirs_of(&self, ids: &[ChunkId]) -> io::Result<()> {
        if crate::test_faults::skip_fsync("chunk-dir") {
            return Ok(());
        }
        let mut shards: Vec<u8> = ids.iter().map(|id| id[0]).collect();
        shards.sort_unstable();
        shards.dedup();
        for shard in shards {
            sync_dir(&self.root.join(format!("{shard:02x}")))?;
        }
        Ok(())
    }

    /// Removes a chunk file; a missing file is fine (purges are idempotent).
    pub(crate) fn remove(&self, id: &ChunkId) -> io::Result<()> {
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The directory of the chunk tree.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Every chunk file on disk, with files whose names are not chunk ids
    /// reported separately (they are removed too: nothing else lives here).
    pub fn walk(&self, mut visit: impl FnMut(Option<ChunkId>, &Path)) -> io::Result<()> {
        for shard in fs::read_dir(&self.root)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let path = entry.path();
                let id = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| hex::decode(n).ok())
                    .and_then(|v| <ChunkId>::try_from(v.as_slice()).ok());
                visit(id, &path);
            }
        }
        Ok(())
    }
}

/// fsyncs a directory so that entries created in it survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn create_walk_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalChunks::open(tmp.path().join("chunks")).unwrap();
        let id = crate::chunk_store::ChunkStore::new_id();
        store.create(&id).unwrap().write_all(b"hello").unwrap();
        assert!(store.create(&id).is_err(), "ids are never reused");
        fs::write(store.shard_dir(&id).join("junk"), b"x").unwrap();
        let mut seen = Vec::new();
        store.walk(|id, _| seen.push(id)).unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen.contains(&Some(id)));
        assert!(seen.contains(&None));
        store.remove(&id).unwrap();
        store.remove(&id).unwrap();
        assert!(!store.path(&id).exists());
    }
}
