//! Streaming an object's bytes to disk.
//!
//! Small objects (up to the inline threshold) stay in memory and end up in
//! their metadata row; anything larger is cut into chunk files of at most
//! `chunk_size` bytes, each fsync'd when full. Until the metadata commit
//! succeeds, the files written are owned by a cleanup guard that removes
//! them on drop — an aborted upload (client gone, bad checksum, server
//! error) leaves nothing behind.

use std::io;

use crate::chunk_store::{ChunkId, ChunkSink, ChunkStore};
use crate::integrity::BlockSums;
use crate::rows::{ChunkRef, DataLocation};

/// Removes chunks on drop unless disarmed by a successful commit.
#[derive(Debug)]
pub(crate) struct ChunkCleanup {
    store: ChunkStore,
    /// The backend the chunks are in.
    backend: u16,
    ids: Vec<ChunkId>,
    /// The commit of the last full chunk, if still running when the
    /// upload was dropped (a remote chunk is removed only after it).
    pending: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl ChunkCleanup {
    pub(crate) fn disarm(mut self) {
        self.ids.clear();
    }
}

impl Drop for ChunkCleanup {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            let ids = std::mem::take(&mut self.ids);
            self.store
                .remove_abandoned(self.backend, ids, self.pending.take());
        }
    }
}

/// Writes one object's bytes. Blocking: call it from a blocking thread.
#[derive(Debug)]
pub struct ObjectWriter {
    chunk_size: u64,
    inline_max: usize,
    inline: Vec<u8>,
    /// The chunk being written: its sink, bytes so far, and block checksums.
    current: Option<(ChunkSink, u64, BlockSums)>,
    /// The commit (fsync, or a remote put) of the previous full chunk,
    /// running while the next one is written: a synchronous fsync per chunk
    /// left the disk idle while the next chunk was hashed and copied (PUT
    /// 1 GiB at half the disk's rate).
    syncing: Option<std::thread::JoinHandle<io::Result<()>>>,
    chunks: Vec<ChunkRef>,
    cleanup: ChunkCleanup,
    size: u64,
}

/// Bytes written and synced, ready to be committed by a metadata write.
#[derive(Debug)]
pub struct WrittenData {
    pub(crate) location: DataLocation,
    pub(crate) size: u64,
    pub(crate) cleanup: ChunkCleanup,
}

impl WrittenData {
    /// Total bytes written.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl ObjectWriter {
    /// A writer into backend number `backend` of `store` (the bucket's,
    /// taken when the upload starts: it finishes there whatever happens
    /// to the bucket's setting meanwhile).
    pub(crate) fn new(store: ChunkStore, backend: u16, chunk_size: u64, inline_max: usize) -> Self {
        ObjectWriter {
            chunk_size: chunk_size.max(1),
            inline_max,
            inline: Vec::new(),
            current: None,
            syncing: None,
            chunks: Vec::new(),
            cleanup: ChunkCleanup {
                store,
                backend,
                ids: Vec::new(),
                pending: None,
            },
            size: 0,
        }
    }

    /// Bytes accepted so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether writing `more` bytes (and then finishing) stays in memory:
    /// no file is created, written or synced, so the caller may do it
    /// without moving to a blocking thread.
    pub fn stays_in_memory(&self, more: usize) -> bool {
        self.chunks.is_empty()
            && self.current.is_none()
            && self.inline.len().saturating_add(more) <= self.inline_max
    }

    /// Appends bytes.
    pub fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.size += data.len() as u64;
        if self.chunks.is_empty() && self.current.is_none() {
            if self.inline.len() + data.len() <= self.inline_max {
                self.inline.extend_from_slice(data);
                return Ok(());
            }
            // Outgrew inline storage: what was buffered becomes the start of the first chunk.
            let buffered = std::mem::take(&mut self.inline);
            self.write_chunked(&buffered)?;
        }
        while !data.is_empty() {
            let n = self.write_chunked(data)?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes as much of `data` as fits in the current chunk; returns bytes taken.
    fn write_chunked(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.current.is_none() {
            let id = ChunkStore::new_id();
            // Registered for cleanup before the file exists, so no window leaks it.
            self.cleanup.ids.push(id);
            let file = self
                .cleanup
                .store
                .create(self.cleanup.backend, &id, self.chunk_size)?;
            self.chunks.push(ChunkRef {
                id,
                len: 0,
                crcs: Vec::new(),
                backend: self.cleanup.backend,
            });
            self.current = Some((file, 0, BlockSums::default()));
        }
        let (file, written, sums) = self.current.as_mut().expect("chunk open");
        let room = (self.chunk_size - *written) as usize;
        let n = room.min(data.len());
        file.write_all(&data[..n])?;
        sums.update(&data[..n]);
        *written += n as u64;
        self.chunks.last_mut().expect("chunk listed").len = *written;
        if *written == self.chunk_size {
            self.close_chunk()?;
        }
        Ok(n)
    }

    /// Syncs the full current chunk on its own thread, after the previous
    /// chunk's sync has finished (so at most one runs per upload).
    fn close_chunk(&mut self) -> io::Result<()> {
        self.wait_for_sync()?;
        if let Some((file, _, sums)) = self.current.take() {
            self.seal_sums(sums);
            self.syncing = Some(std::thread::spawn(move || file.commit()));
        }
        Ok(())
    }

    /// Records the finished chunk's block checksums in its reference.
    fn seal_sums(&mut self, sums: BlockSums) {
        self.chunks.last_mut().expect("chunk listed").crcs = sums.finish();
    }

    fn wait_for_sync(&mut self) -> io::Result<()> {
        match self.syncing.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("chunk sync thread panicked"))?,
            None => Ok(()),
        }
    }

    /// Syncs everything written (file data and directory entries).
    pub fn finish(mut self) -> io::Result<WrittenData> {
        self.wait_for_sync()?;
        if let Some((file, _, sums)) = self.current.take() {
            self.seal_sums(sums);
            file.commit()?;
        }
        let location = if self.chunks.is_empty() {
            DataLocation::Inline(std::mem::take(&mut self.inline))
        } else {
            self.cleanup
                .store
                .sync_dirs_of(self.cleanup.backend, &self.cleanup.ids)?;
            DataLocation::Chunks(std::mem::take(&mut self.chunks))
        };
        let cleanup = ChunkCleanup {
            store: self.cleanup.store.clone(),
            backend: self.cleanup.backend,
            ids: std::mem::take(&mut self.cleanup.ids),
            pending: None,
        };
        Ok(WrittenData {
            location,
            size: self.size,
            cleanup,
        })
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        // An upload dropped while a chunk commit runs: its clean-up waits
        // for that commit (see `ChunkStore::remove_abandoned`).
        self.cleanup.pending = self.syncing.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ChunkStore) {
        let tmp = tempfile::tempdir().unwrap();
        let s = ChunkStore::local(tmp.path().join("c")).unwrap();
        (tmp, s)
    }

    fn files(s: &ChunkStore) -> usize {
        let mut n = 0;
        s.list(|_| n += 1).unwrap();
        n
    }

    #[test]
    fn small_objects_stay_inline() {
        let (_t, s) = store();
        let mut w = ObjectWriter::new(s.clone(), 0, 10, 8);
        assert!(w.stays_in_memory(8));
        w.write(b"abc").unwrap();
        assert!(w.stays_in_memory(5) && !w.stays_in_memory(6));
        w.write(b"defgh").unwrap();
        assert!(w.stays_in_memory(0));
        let d = w.finish().unwrap();
        assert_eq!(d.location, DataLocation::Inline(b"abcdefgh".to_vec()));
        assert_eq!(files(&s), 0);
    }

    #[test]
    fn large_objects_are_chunked_and_cleaned_on_drop() {
        let (_t, s) = store();
        let mut w = ObjectWriter::new(s.clone(), 0, 10, 4);
        w.write(b"abc").unwrap();
        w.write(&[7u8; 25]).unwrap();
        assert!(!w.stays_in_memory(0), "its chunks need syncing");
        let d = w.finish().unwrap();
        let DataLocation::Chunks(c) = &d.location else {
            panic!()
        };
        assert_eq!(c.iter().map(|c| c.len).collect::<Vec<_>>(), vec![10, 10, 8]);
        let first = std::fs::read(s.local_files().unwrap().path(&c[0].id)).unwrap();
        assert_eq!(&first[..3], b"abc");
        assert_eq!(files(&s), 3);
        drop(d);
        assert_eq!(files(&s), 0, "uncommitted chunks are removed");
    }

    #[test]
    fn dropped_writer_cleans_up() {
        let (_t, s) = store();
        let mut w = ObjectWriter::new(s.clone(), 0, 10, 0);
        w.write(&[1u8; 15]).unwrap();
        assert_eq!(files(&s), 2);
        drop(w);
        assert_eq!(files(&s), 0);
    }
}
