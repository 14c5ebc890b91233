//! Reading a byte range of one version. Blocking: run it on a blocking thread.
//!
//! The reader holds a [`ReadGuard`] for its version, so the purger leaves the
//! chunk files alone until the download is over, even if the version was
//! replaced or deleted meanwhile.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use crate::chunks::ChunkStore;
use crate::locks::ReadGuard;
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
        open: Option<(usize, u64, File)>,
    },
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
        let want = (buf.len() as u64).min(self.remaining()) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = match &mut self.source {
            Source::Inline(v) => {
                let start = self.pos as usize;
                buf[..want].copy_from_slice(&v[start..start + want]);
                want
            }
            Source::Chunks {
                store,
                chunks,
                open,
            } => {
                // Find the chunk holding `pos` (chunks are few; a linear walk is fine).
                let mut chunk_start = 0u64;
                let mut index = 0usize;
                while index < chunks.len() && chunk_start + chunks[index].len <= self.pos {
                    chunk_start += chunks[index].len;
                    index += 1;
                }
                let Some(chunk) = chunks.get(index) else {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "object shorter than its metadata",
                    ));
                };
                let offset = self.pos - chunk_start;
                let reuse = matches!(open, Some((i, at, _)) if *i == index && *at == offset);
                if !reuse {
                    let mut file = store.open_read(&chunk.id)?;
                    file.seek(SeekFrom::Start(offset))?;
                    *open = Some((index, offset, file));
                }
                let (_, at, file) = open.as_mut().expect("chunk open");
                let in_chunk = ((chunk.len - offset) as usize).min(want);
                let n = file.read(&mut buf[..in_chunk])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "chunk file shorter than recorded",
                    ));
                }
                *at += n as u64;
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl ObjectReader {
    /// Narrows the reader to `[start, end)` of the version (before reading).
    pub fn set_range(&mut self, start: u64, end: u64) {
        debug_assert!(start <= end && end <= self.end);
        self.pos = start;
        self.end = end;
    }
}
