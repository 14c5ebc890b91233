//! Reading a byte range of one version. Blocking: run it on a blocking thread.
//!
//! The reader holds a [`ReadGuard`] for its version, so the purger leaves the
//! chunk files alone until the download is over, even if the version was
//! replaced or deleted meanwhile.
//!
//! Chunk bytes are read with `pread` into buffers and verified against the
//! chunk's block checksums before any of them is handed out (see
//! `integrity.rs`): a read covers whole checksum blocks, and what the caller
//! did not ask for yet stays in the reader for its next frames. Downloads
//! used to map chunk files instead, which saved one copy but let a chunk
//! file truncated behind kura's back kill the process with SIGBUS; since
//! verification reads every byte anyway, the copy costs little (see the
//! README's durability section for the measurements).

use std::io;

use bytes::Bytes;

use crate::chunk_store::{ChunkStore, OpenChunk};
use crate::integrity::{damaged, verify_blocks};
use crate::locks::ReadGuard;
use crate::rows::{ChunkRef, DataLocation, CHECKSUM_BLOCK};

/// Streams `[start, end)` of one version.
#[derive(Debug)]
pub struct ObjectReader {
    source: Source,
    pos: u64,
    end: u64,
    _guard: ReadGuard,
}

#[derive(Debug)]
enum Source {
    Inline(Vec<u8>),
    Chunks {
        store: ChunkStore,
        chunks: Vec<ChunkRef>,
        /// The chunk last used: its index in `chunks`, and the open chunk.
        open: Option<(usize, OpenChunk)>,
        /// Bytes read and verified but not handed out yet.
        verified: Option<Verified>,
    },
}

/// Verified bytes of chunk `index` from `start`.
#[derive(Debug)]
struct Verified {
    index: usize,
    start: u64,
    data: Bytes,
}

impl Verified {
    /// Up to `want` bytes from `offset` of chunk `index`, if held here.
    fn take(&self, index: usize, offset: u64, want: usize) -> Option<Bytes> {
        if index != self.index || offset < self.start {
            return None;
        }
        let from = (offset - self.start) as usize;
        if from >= self.data.len() {
            return None;
        }
        let to = (from + want).min(self.data.len());
        Some(self.data.slice(from..to))
    }
}

impl ObjectReader {
    pub(crate) fn new(
        store: ChunkStore,
        data: DataLocation,
        start: u64,
        end: u64,
        guard: ReadGuard,
    ) -> Self {
        let source = match data {
            DataLocation::Inline(v) => Source::Inline(v),
            DataLocation::Chunks(chunks) => Source::Chunks {
                store,
                chunks,
                open: None,
                verified: None,
            },
        };
        ObjectReader {
            source,
            pos: start,
            end,
            _guard: guard,
        }
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    /// Reads the next bytes into `buf`; 0 at the end of the range.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let frame = self.next_frame(buf.len())?;
        buf[..frame.len()].copy_from_slice(&frame);
        Ok(frame.len())
    }

    /// The next at most `max` bytes of the range as one frame, verified
    /// against the chunk's checksums (a frame never spans two chunks, so it
    /// may be shorter than `max`). Empty at the end of the range. A damaged
    /// chunk (checksum mismatch, short or missing file) is an error: the
    /// caller must fail the transfer, never pass on a short or wrong body.
    pub fn next_frame(&mut self, max: usize) -> io::Result<Bytes> {
        let want = (max as u64).min(self.remaining()) as usize;
        if want == 0 {
            return Ok(Bytes::new());
        }
        let frame = match &mut self.source {
            Source::Inline(v) => {
                let start = self.pos as usize;
                Bytes::copy_from_slice(&v[start..start + want])
            }
            Source::Chunks {
                store,
                chunks,
                open,
                verified,
            } => {
                let (index, offset) = locate(chunks, self.pos)?;
                match verified.as_ref().and_then(|v| v.take(index, offset, want)) {
                    Some(frame) => frame,
                    None => {
                        let held = read_verified(store, chunks, open, index, offset, want)?;
                        let frame = held.take(index, offset, want).expect("read covers offset");
                        *verified = Some(held);
                        frame
                    }
                }
            }
        };
        self.pos += frame.len() as u64;
        Ok(frame)
    }

    /// Narrows the reader to `[start, end)` of the version (before reading).
    pub fn set_range(&mut self, start: u64, end: u64) {
        debug_assert!(start <= end && end <= self.end);
        self.pos = start;
        self.end = end;
    }
}

/// Reads chunk `index` from `offset` for at least `want` bytes (fewer at the
/// chunk's end), widened to whole checksum blocks, and verifies it.
fn read_verified(
    store: &ChunkStore,
    chunks: &[ChunkRef],
    open: &mut Option<(usize, OpenChunk)>,
    index: usize,
    offset: u64,
    want: usize,
) -> io::Result<Verified> {
    let chunk = &chunks[index];
    let wanted_end = (offset + want as u64).min(chunk.len);
    let (start, end) = if chunk.is_checksummed() {
        let start = offset - offset % CHECKSUM_BLOCK;
        let end = wanted_end.div_ceil(CHECKSUM_BLOCK) * CHECKSUM_BLOCK;
        (start, end.min(chunk.len))
    } else {
        (offset, wanted_end)
    };
    let file = open_chunk(store, chunk, open, index)?;
    let len = (end - start) as usize;
    let mut buf = pooled_buffer(len);
    match file.read_into(start, len, &mut buf) {
        Ok(n) if n == len => {}
        Ok(_) => return Err(damaged(chunk, short_file())),
        Err(e) => return Err(damaged(chunk, e)),
    }
    verify_blocks(chunk, start, &buf)?;
    Ok(Verified {
        index,
        start,
        data: Bytes::from_owner(PooledBuf(buf)),
    })
}

/// Read buffers kept for reuse: a fresh 1 MiB allocation per frame came from
/// newly mapped pages (a page fault per 4 KiB, then an unmap with its TLB
/// flush when hyper dropped the frame), which halved GET 1 MiB ×16.
static POOL: parking_lot::Mutex<Vec<Vec<u8>>> = parking_lot::Mutex::new(Vec::new());
/// Buffers kept at most (each about a frame: 1 MiB plus a block).
const POOL_MAX: usize = 32;
/// Larger buffers are not kept.
const POOL_BUF_MAX: usize = 2 << 20;

/// An empty buffer with room for `len` bytes, reused if one is free.
fn pooled_buffer(len: usize) -> Vec<u8> {
    let mut buf = POOL.lock().pop().unwrap_or_default();
    buf.clear();
    buf.reserve(len);
    buf
}

/// A frame's bytes; the buffer goes back to the pool when hyper drops the frame.
struct PooledBuf(Vec<u8>);

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() <= POOL_BUF_MAX {
            let mut pool = POOL.lock();
            if pool.len() < POOL_MAX {
                pool.push(buf);
            }
        }
    }
}

/// Chunk `index`: the one already open, else opened now.
fn open_chunk<'a>(
    store: &ChunkStore,
    chunk: &ChunkRef,
    open: &'a mut Option<(usize, OpenChunk)>,
    index: usize,
) -> io::Result<&'a mut OpenChunk> {
    if !matches!(open, Some((i, _)) if *i == index) {
        let file = store
            .open(chunk.backend, &chunk.id)
            .map_err(|e| damaged(chunk, e))?;
        *open = Some((index, file));
    }
    Ok(&mut open.as_mut().expect("chunk file open").1)
}

/// A chunk file holds fewer bytes than its row records.
fn short_file() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "chunk file shorter than recorded",
    )
}

/// The chunk holding byte `pos` of the version and the offset within it
/// (chunks are few; a linear walk is fine).
fn locate(chunks: &[ChunkRef], pos: u64) -> io::Result<(usize, u64)> {
    let mut chunk_start = 0u64;
    for (index, chunk) in chunks.iter().enumerate() {
        if pos < chunk_start + chunk.len {
            return Ok((index, pos - chunk_start));
        }
        chunk_start += chunk.len;
    }
    Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "object shorter than its metadata",
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::integrity::BlockSums;
    use crate::locks::Readers;

    /// Chunk files holding `parts`, in order, with checksums if `summed`;
    /// each records `recorded_extra` more bytes than it holds.
    fn chunks_of(
        store: &ChunkStore,
        parts: &[&[u8]],
        recorded_extra: u64,
        summed: bool,
    ) -> Vec<ChunkRef> {
        parts
            .iter()
            .map(|data| {
                let id = ChunkStore::new_id();
                let mut sink = store.create(0, &id, data.len() as u64).unwrap();
                sink.write_all(data).unwrap();
                sink.commit().unwrap();
                let mut sums = BlockSums::default();
                sums.update(data);
                ChunkRef {
                    id,
                    len: data.len() as u64 + recorded_extra,
                    crcs: if summed { sums.finish() } else { Vec::new() },
                    backend: crate::rows::SERVER_BACKEND,
                }
            })
            .collect()
    }

    fn reader_of(store: &ChunkStore, chunks: Vec<ChunkRef>) -> ObjectReader {
        let total = chunks.iter().map(|c| c.len).sum();
        let guard = Arc::new(Readers::default()).register(1).unwrap().unwrap();
        ObjectReader::new(store.clone(), DataLocation::Chunks(chunks), 0, total, guard)
    }

    fn reader_over(tmp: &tempfile::TempDir, parts: &[&[u8]], recorded_extra: u64) -> ObjectReader {
        let store = ChunkStore::local(tmp.path().join("chunks")).unwrap();
        let chunks = chunks_of(&store, parts, recorded_extra, true);
        reader_of(&store, chunks)
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn read_frames(reader: &mut ObjectReader, max: usize) -> io::Result<Vec<u8>> {
        let mut got = Vec::new();
        loop {
            let frame = reader.next_frame(max)?;
            if frame.is_empty() {
                return Ok(got);
            }
            assert!(frame.len() <= max);
            got.extend_from_slice(&frame);
        }
    }

    #[test]
    fn frames_cover_unaligned_ranges_across_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let block = CHECKSUM_BLOCK as usize;
        let (a, b) = (pattern(block + 10_000, 1), pattern(2 * block + 7_001, 2));
        let whole = [a.clone(), b.clone()].concat();
        for summed in [true, false] {
            let store = ChunkStore::local(tmp.path().join(format!("c{summed}"))).unwrap();
            for (start, end, max) in [
                (4_097, block + 15_000, 4_000),
                (0, whole.len(), 1 << 20),
                (block + 9_999, whole.len() - 1, 100_000),
            ] {
                let mut reader = reader_of(&store, chunks_of(&store, &[&a, &b], 0, summed));
                reader.set_range(start as u64, end as u64);
                assert_eq!(read_frames(&mut reader, max).unwrap(), &whole[start..end]);
                assert_eq!(reader.remaining(), 0);
            }
        }
    }

    #[test]
    fn a_one_byte_range_reads_one_block() {
        let tmp = tempfile::tempdir().unwrap();
        let data = pattern(4 * CHECKSUM_BLOCK as usize, 9);
        let mut reader = reader_over(&tmp, &[&data], 0);
        let mid = 2 * CHECKSUM_BLOCK + 123;
        reader.set_range(mid, mid + 1);
        assert_eq!(
            reader.next_frame(1 << 20).unwrap()[..],
            data[mid as usize..][..1]
        );
        let Source::Chunks { verified, .. } = &reader.source else {
            panic!()
        };
        assert_eq!(verified.as_ref().unwrap().data.len() as u64, CHECKSUM_BLOCK);
    }

    #[test]
    fn a_corrupted_byte_fails_the_read_before_any_byte_of_its_block() {
        let tmp = tempfile::tempdir().unwrap();
        let data = pattern(3 * CHECKSUM_BLOCK as usize, 4);
        let store = ChunkStore::local(tmp.path().join("chunks")).unwrap();
        let chunks = chunks_of(&store, &[&data], 0, true);
        let path = store.local_files().unwrap().path(&chunks[0].id);
        let mut on_disk = std::fs::read(&path).unwrap();
        on_disk[CHECKSUM_BLOCK as usize + 77] ^= 0x20;
        std::fs::write(&path, on_disk).unwrap();
        let before = crate::corrupt_chunk_reads();
        let mut reader = reader_of(&store, chunks);
        let first = reader.next_frame(CHECKSUM_BLOCK as usize).unwrap();
        assert_eq!(first[..], data[..CHECKSUM_BLOCK as usize]);
        let err = reader.next_frame(CHECKSUM_BLOCK as usize).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(crate::corrupt_chunk_reads() > before);
    }

    #[test]
    fn a_chunk_file_shorter_than_recorded_is_an_error_not_a_crash() {
        let tmp = tempfile::tempdir().unwrap();
        let mut reader = reader_over(&tmp, &[&pattern(5_000, 3)], 100);
        let err = reader.next_frame(4_096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// A file truncated while a reader has it open: mapped reads died of
    /// SIGBUS here; reads now fail with an error.
    #[test]
    fn a_chunk_file_truncated_mid_read_is_an_error_not_a_crash() {
        let tmp = tempfile::tempdir().unwrap();
        let data = pattern(3 * CHECKSUM_BLOCK as usize, 5);
        for summed in [true, false] {
            let store = ChunkStore::local(tmp.path().join(format!("c{summed}"))).unwrap();
            let chunks = chunks_of(&store, &[&data], 0, summed);
            let path = store.local_files().unwrap().path(&chunks[0].id);
            let mut reader = reader_of(&store, chunks);
            assert_eq!(reader.next_frame(4_096).unwrap()[..], data[..4_096]);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(CHECKSUM_BLOCK + 5)
                .unwrap();
            let err = read_frames(&mut reader, 1 << 20).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{summed}");
        }
    }
}
