//! Consistent online backups: `kura admin backup DIR`.
//!
//! A backup is a data directory of its own: restore = start kura on it.
//! The metadata is a RocksDB checkpoint (one consistent point, SST files
//! hard-linked when on the same file system), the bytes are the chunk
//! files, copied (or hard-linked: chunk files never change once written)
//! after the checkpoint. Between the checkpoint and the last copied file, a
//! purge could remove a file the checkpoint still refers to; so every chunk
//! removal is deferred while a backup runs ([`DeferredRemovals`]) and done
//! when it ends. Files the checkpoint does not refer to (uploads in flight,
//! objects committed after it) are copied too and swept as orphans by the
//! restored server's first start.

use std::fs;
use std::io;
use std::path::Path;

use parking_lot::Mutex;

use crate::chunks::{sync_dir, ChunkId};
use crate::error::{StorageError, StorageResult};
use crate::store::Store;

/// Chunk removals held back while backups run.
#[derive(Debug, Default)]
pub(crate) struct DeferredRemovals {
    /// Backups running, and the removals they hold back.
    state: Mutex<(usize, Vec<(u16, ChunkId)>)>,
}

impl DeferredRemovals {
    /// Holds back the removal of `id` from backend `n` if a backup runs
    /// (returns `true`).
    pub(crate) fn defer(&self, n: u16, id: &ChunkId) -> bool {
        let mut s = self.state.lock();
        if s.0 == 0 {
            return false;
        }
        s.1.push((n, *id));
        true
    }
}

/// Ends a backup's deferral, doing the removals held back once none runs.
struct Deferral<'a>(&'a Store);

impl Drop for Deferral<'_> {
    fn drop(&mut self) {
        let chunks = &self.0.inner.chunks;
        let held = {
            let mut s = chunks.deferred().state.lock();
            s.0 -= 1;
            if s.0 > 0 {
                return;
            }
            std::mem::take(&mut s.1)
        };
        for (n, id) in held {
            if let Err(e) = chunks.remove_now(n, &id) {
                // Left as an orphan: the next start sweeps it.
                tracing::warn!(chunk = %hex::encode(id), error = %e, "deferred chunk removal failed");
            }
        }
    }
}

/// What a backup wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupStats {
    /// Chunk files copied or linked.
    pub chunk_files: u64,
    /// Their bytes.
    pub chunk_bytes: u64,
}

/// Hard-links `from` to `to`, or copies (and syncs) it across file systems.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => {
            fs::copy(from, to)?;
            fs::File::open(to)?.sync_all()
        }
    }
}

impl Store {
    /// Writes a consistent backup of the whole data directory into `dir`,
    /// which must not exist yet (its parent is created). Writes go on
    /// meanwhile; the backup holds what was committed when it began.
    pub fn backup(&self, dir: &Path) -> StorageResult<BackupStats> {
        if dir.exists() {
            return Err(StorageError::Io(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists already", dir.display()),
            )));
        }
        fs::create_dir_all(dir)?;
        {
            let mut s = self.inner.chunks.deferred().state.lock();
            s.0 += 1;
        }
        let _deferral = Deferral(self);
        // RocksDB flushes the memtables first, so the checkpoint is SST
        // files (hard-linked when on the same file system) and holds every
        // write acknowledged before this call.
        self.inner.db.checkpoint(&dir.join("meta"))?;
        let mut stats = BackupStats::default();
        // Chunks in a remote backend stay there (the backend keeps its own
        // copies): the backup holds the metadata, which names them, and
        // restores by starting kura on it with the same `--blobs`.
        if let Some(local) = self.inner.chunks.local_files() {
            self.copy_chunk_files(local.root(), &dir.join("chunks"), &mut stats)?;
        }
        // The key file that opens the sealed access keys, the root
        // credentials: every plain file of the data directory.
        for entry in fs::read_dir(&self.inner.config.data_dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let to = dir.join(entry.file_name());
                fs::copy(entry.path(), &to)?;
                fs::File::open(&to)?.sync_all()?;
            }
        }
        sync_dir(dir)?;
        crate::file_modes::restrict(dir)?;
        Ok(stats)
    }

    /// Links or copies every file of the chunk tree `root` into `chunks_dir`.
    fn copy_chunk_files(
        &self,
        root: &Path,
        chunks_dir: &Path,
        stats: &mut BackupStats,
    ) -> StorageResult<()> {
        let mut shards: Vec<_> = fs::read_dir(root)?.collect::<Result<_, _>>()?;
        shards.sort_by_key(|e| e.file_name());
        fs::create_dir(chunks_dir)?;
        for shard in shards {
            if !shard.file_type()?.is_dir() {
                continue;
            }
            let to_shard = chunks_dir.join(shard.file_name());
            fs::create_dir(&to_shard)?;
            for file in fs::read_dir(shard.path())? {
                let file = file?;
                let to = to_shard.join(file.file_name());
                match link_or_copy(&file.path(), &to) {
                    Ok(()) => {
                        stats.chunk_files += 1;
                        stats.chunk_bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
                    }
                    // An unreferenced file of an upload that failed meanwhile.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            sync_dir(&to_shard)?;
        }
        sync_dir(chunks_dir)?;
        Ok(())
    }
}

#[cfg(test)]
impl Store {
    fn chunks_deferral_begin(&self) {
        self.inner.chunks.deferred().state.lock().0 += 1;
    }

    fn chunks_deferral_end(&self) {
        drop(Deferral(self));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::objects::NewObject;
    use crate::Store;

    fn store(dir: &std::path::Path) -> Store {
        crate::test_support::store(dir, Duration::ZERO)
    }

    /// A purge during a backup cannot remove a file the backup's
    /// checkpoint refers to: removals wait for the backup's end.
    #[test]
    fn removals_wait_for_the_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(&tmp.path().join("data"));
        s.create_bucket("b").unwrap();
        let put = |body: &[u8]| {
            let lock = s.lock_key("b", "k").unwrap();
            let mut w = s.object_writer();
            w.write(body).unwrap();
            let data = w.finish().unwrap();
            s.commit_object(&lock, "b", "k", data, NewObject::default())
                .unwrap();
        };
        put(&[1; 40]);
        put(&[2; 40]);
        let files = |dir: &std::path::Path| {
            let mut n = 0;
            for shard in std::fs::read_dir(dir.join("chunks")).unwrap() {
                n += std::fs::read_dir(shard.unwrap().path()).unwrap().count();
            }
            n
        };
        assert_eq!(files(&tmp.path().join("data")), 6, "3 chunks per version");
        s.chunks_deferral_begin();
        // The replaced version is due now (retention 0): its files are held back.
        assert_eq!(s.purge_due().unwrap(), 1);
        assert_eq!(files(&tmp.path().join("data")), 6);
        s.chunks_deferral_end();
        assert_eq!(files(&tmp.path().join("data")), 3);
        // A backup restores as a data directory of its own.
        s.backup(&tmp.path().join("backup")).unwrap();
        assert!(
            s.backup(&tmp.path().join("backup")).is_err(),
            "never overwrites"
        );
        drop(s);
        let restored = store(&tmp.path().join("backup"));
        let (row, reader) = restored.open_object("b", "k", None).unwrap();
        assert_eq!(row.size, 40);
        drop(reader);
    }
}
