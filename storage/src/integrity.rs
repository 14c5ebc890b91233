//! Chunk checksums: computed as chunk files are written, verified as they
//! are read.
//!
//! Each chunk carries the CRC32C of every [`CHECKSUM_BLOCK`] bytes in its
//! metadata ([`ChunkRef::crcs`]). A read verifies whole blocks before handing
//! out any of their bytes, so a flipped bit on disk (or a file truncated or
//! rewritten behind kura's back) is an error, never served as good data.
//! Every mismatch is logged and counted ([`corrupt_chunk_reads`]).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rows::{ChunkRef, CHECKSUM_BLOCK};

static CORRUPT_READS: AtomicU64 = AtomicU64::new(0);

/// Reads that found a chunk damaged since the process started (bytes not
/// matching their checksum, a file shorter than recorded, or missing), in
/// downloads, copies and scrubs: for metrics.
pub fn corrupt_chunk_reads() -> u64 {
    CORRUPT_READS.load(Ordering::Relaxed)
}

/// Block checksums of a chunk being written.
#[derive(Debug, Default)]
pub(crate) struct BlockSums {
    crcs: Vec<u8>,
    /// CRC of the current, unfinished block, and its bytes so far.
    crc: u32,
    fill: u64,
}

impl BlockSums {
    /// Adds the next bytes of the chunk.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = ((CHECKSUM_BLOCK - self.fill) as usize).min(data.len());
            self.crc = crc32c::crc32c_append(self.crc, &data[..take]);
            self.fill += take as u64;
            data = &data[take..];
            if self.fill == CHECKSUM_BLOCK {
                self.seal();
            }
        }
    }

    fn seal(&mut self) {
        self.crcs.extend_from_slice(&self.crc.to_le_bytes());
        self.crc = 0;
        self.fill = 0;
    }

    /// The checksums of every block, the last (short) one included.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.fill > 0 {
            self.seal();
        }
        self.crcs
    }
}

/// Checks `data`, the bytes of `chunk` from `offset` (a block boundary) to
/// a block boundary or the chunk's end, against the recorded checksums.
/// Chunks without checksums (older rows) pass unchecked.
pub(crate) fn verify_blocks(chunk: &ChunkRef, offset: u64, data: &[u8]) -> io::Result<()> {
    if !chunk.is_checksummed() {
        return Ok(());
    }
    debug_assert_eq!(offset % CHECKSUM_BLOCK, 0);
    let first = (offset / CHECKSUM_BLOCK) as usize;
    for (i, block) in data.chunks(CHECKSUM_BLOCK as usize).enumerate() {
        let index = first + i;
        let expected = chunk.block_crc(index);
        if expected != Some(crc32c::crc32c(block)) {
            return Err(corrupt(chunk, index));
        }
    }
    Ok(())
}

/// Logs and counts a chunk file that is missing or shorter than recorded,
/// and returns `error` (the read fails with it).
pub(crate) fn damaged(chunk: &ChunkRef, error: io::Error) -> io::Error {
    CORRUPT_READS.fetch_add(1, Ordering::Relaxed);
    tracing::error!(chunk = %hex::encode(chunk.id), error = %error, "chunk file damaged; read aborted");
    error
}

/// Logs and counts a checksum mismatch and returns the error that aborts the read.
fn corrupt(chunk: &ChunkRef, block: usize) -> io::Error {
    CORRUPT_READS.fetch_add(1, Ordering::Relaxed);
    let id = hex::encode(chunk.id);
    tracing::error!(
        chunk = %id,
        block,
        offset = block as u64 * CHECKSUM_BLOCK,
        "chunk data does not match its checksum: corrupted on disk; read aborted"
    );
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("chunk {id}: block {block} does not match its checksum"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_of(data: &[u8], pieces: &[usize]) -> ChunkRef {
        let mut sums = BlockSums::default();
        let mut rest = data;
        for &n in pieces {
            let n = n.min(rest.len());
            sums.update(&rest[..n]);
            rest = &rest[n..];
        }
        sums.update(rest);
        ChunkRef {
            id: [7; 16],
            len: data.len() as u64,
            crcs: sums.finish(),
            backend: crate::rows::SERVER_BACKEND,
        }
    }

    #[test]
    fn sums_do_not_depend_on_how_writes_are_cut() {
        let data: Vec<u8> = (0..(CHECKSUM_BLOCK as usize * 2 + 1000))
            .map(|i| (i * 7) as u8)
            .collect();
        let a = chunk_of(&data, &[]);
        let b = chunk_of(&data, &[1, 4095, CHECKSUM_BLOCK as usize, 17]);
        assert_eq!(a.crcs.len(), 3 * 4);
        assert_eq!(a.crcs, b.crcs);
        verify_blocks(&a, 0, &data).unwrap();
        verify_blocks(&a, CHECKSUM_BLOCK, &data[CHECKSUM_BLOCK as usize..]).unwrap();
    }

    #[test]
    fn a_flipped_byte_fails_and_is_counted() {
        let mut data = vec![5u8; CHECKSUM_BLOCK as usize + 10];
        let chunk = chunk_of(&data, &[]);
        data[CHECKSUM_BLOCK as usize + 3] ^= 1;
        let before = corrupt_chunk_reads();
        verify_blocks(&chunk, 0, &data[..CHECKSUM_BLOCK as usize]).unwrap();
        let err = verify_blocks(&chunk, 0, &data).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(corrupt_chunk_reads() > before);
        // Old chunks carry no sums and pass.
        let old = ChunkRef {
            crcs: Vec::new(),
            ..chunk
        };
        verify_blocks(&old, 0, &data).unwrap();
    }
}
