//! Reading a byte range of one version. Blocking: run it on a blocking thread.
//!
//! The reader holds a [`ReadGuard`] for its version, so the purger leaves the
//! chunk files alone until the download is over, even if the version was
//! replaced or deleted meanwhile.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use crate::chunks::ChunkStore;
use crate::locks::ReadGuard;
use crate::mapped::{map_range, short_file};
use crate::rows::{ChunkRef, DataLocation};

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
        /// The chunk file last used: its index in `chunks`, and the file.
        open: Option<(usize, ChunkFile)>,
    },
}

/// The next bytes of a reader's range.
enum Span<'a> {
    Inline(&'a [u8]),
    /// `len` bytes of a chunk file from `offset`.
    File {
        chunk: &'a ChunkFile,
        offset: u64,
        len: usize,
    },
}

/// An open chunk file and its length.
#[derive(Debug)]
struct ChunkFile {
    file: File,
    len: u64,
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
        let n = match self.next_span(buf.len())? {
            None => return Ok(0),
            Some(Span::Inline(data)) => {
                buf[..data.len()].copy_from_slice(data);
                data.len()
            }
            Some(Span::File { chunk, offset, len }) => {
                match chunk.file.read_at(&mut buf[..len], offset)? {
                    0 => return Err(short_file()),
                    n => n,
                }
            }
        };
        self.pos += n as u64;
        Ok(n)
    }

    /// The next at most `max` bytes of the range as one frame, without
    /// copying: chunk data is mapped from its file (a frame never spans two
    /// chunks, so it may be shorter than `max`). Empty at the end of the range.
    pub fn next_frame(&mut self, max: usize) -> io::Result<Bytes> {
        let frame = match self.next_span(max)? {
            None => return Ok(Bytes::new()),
            Some(Span::Inline(data)) => Bytes::copy_from_slice(data),
            Some(Span::File { chunk, offset, len }) => {
                map_range(&chunk.file, chunk.len, offset, len)?
            }
        };
        self.pos += frame.len() as u64;
        Ok(frame)
    }

    /// Where the next at most `max` bytes are: inline, or in one chunk file.
    fn next_span(&mut self, max: usize) -> io::Result<Option<Span<'_>>> {
        let want = (max as u64).min(self.remaining()) as usize;
        if want == 0 {
            return Ok(None);
        }
        Ok(Some(match &mut self.source {
            Source::Inline(v) => {
                let start = self.pos as usize;
                Span::Inline(&v[start..start + want])
            }
            Source::Chunks {
                store,
                chunks,
                open,
            } => {
                let (index, offset) = locate(chunks, self.pos)?;
                let len = ((chunks[index].len - offset) as usize).min(want);
                let chunk = open_chunk(store, chunks, open, index)?;
                Span::File { chunk, offset, len }
            }
        }))
    }

    /// Narrows the reader to `[start, end)` of the version (before reading).
    pub fn set_range(&mut self, start: u64, end: u64) {
        debug_assert!(start <= end && end <= self.end);
        self.pos = start;
        self.end = end;
    }
}

/// Chunk `index`'s file: the one already open, else opened now.
fn open_chunk<'a>(
    store: &ChunkStore,
    chunks: &[ChunkRef],
    open: &'a mut Option<(usize, ChunkFile)>,
    index: usize,
) -> io::Result<&'a ChunkFile> {
    if !matches!(open, Some((i, _)) if *i == index) {
        let file = store.open_read(&chunks[index].id)?;
        let len = file.metadata()?.len();
        *open = Some((index, ChunkFile { file, len }));
    }
    Ok(&open.as_ref().expect("chunk file open").1)
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
    use std::io::Write;
    use std::sync::Arc;

    use super::*;
    use crate::locks::Readers;

    /// A reader over chunk files holding `parts`, in order.
    fn reader_over(tmp: &tempfile::TempDir, parts: &[&[u8]], recorded_extra: u64) -> ObjectReader {
        let store = ChunkStore::open(tmp.path().join("chunks")).unwrap();
        let chunks: Vec<ChunkRef> = parts
            .iter()
            .map(|data| {
                let id = ChunkStore::new_id();
                store.create(&id).unwrap().write_all(data).unwrap();
                ChunkRef {
                    id,
                    len: data.len() as u64 + recorded_extra,
                }
            })
            .collect();
        let total = chunks.iter().map(|c| c.len).sum();
        let guard = Arc::new(Readers::default()).register(1).unwrap();
        ObjectReader::new(store, DataLocation::Chunks(chunks), 0, total, guard)
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn frames_cover_unaligned_ranges_across_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (pattern(10_000, 1), pattern(7_001, 2));
        let whole = [a.clone(), b.clone()].concat();
        let mut reader = reader_over(&tmp, &[&a, &b], 0);
        // A range starting off a page boundary and ending inside the second chunk.
        reader.set_range(4_097, 15_000);
        let mut got = Vec::new();
        loop {
            let frame = reader.next_frame(4_000).unwrap();
            if frame.is_empty() {
                break;
            }
            assert!(frame.len() <= 4_000);
            got.extend_from_slice(&frame);
        }
        assert_eq!(got, &whole[4_097..15_000]);
        assert_eq!(reader.remaining(), 0);
    }

    #[test]
    fn a_chunk_file_shorter_than_recorded_is_an_error_not_a_crash() {
        let tmp = tempfile::tempdir().unwrap();
        let mut reader = reader_over(&tmp, &[&pattern(5_000, 3)], 100);
        let first = reader.next_frame(4_096).unwrap();
        assert_eq!(first.len(), 4_096);
        // Mapping past the file's end would raise SIGBUS when touched.
        let err = reader.next_frame(4_096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
