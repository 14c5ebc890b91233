//! Chunk-file ranges mapped into memory, handed out as `Bytes`.
//!
//! Serving a download by `read` copies every byte twice in the CPU: from the
//! page cache into a buffer, then from the buffer into the socket. A mapped
//! range skips the first copy: the socket write reads the page cache directly.
//!
//! The one place kura uses `unsafe`. Mapping a file is unsound only if the
//! file changes or shrinks while mapped (reads past its end raise SIGBUS).
//! Chunk files are written once, synced, and never modified or truncated
//! afterwards; they are only unlinked, which leaves existing mappings valid.
//! The mapped length is checked against the file's length before mapping.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;

use bytes::Bytes;
use memmap2::MmapOptions;

/// Page size granularity of mapping offsets.
const PAGE: u64 = 4096;

/// Maps `len` bytes of `file` from `offset`; `file_len` is the file's length.
///
/// The pages are faulted in here (`MAP_POPULATE`), on the caller's blocking
/// thread, so the async thread that writes them to the socket does not wait
/// on the disk.
pub(crate) fn map_range(file: &File, file_len: u64, offset: u64, len: usize) -> io::Result<Bytes> {
    if len == 0 {
        return Ok(Bytes::new());
    }
    if offset + len as u64 > file_len {
        return Err(short_file());
    }
    let aligned = offset - offset % PAGE;
    let skew = (offset - aligned) as usize;
    // SAFETY: chunk files are immutable once written and never truncated
    // (see the module docs), and the range lies within the file.
    let map = unsafe {
        MmapOptions::new()
            .offset(aligned)
            .len(skew + len)
            .populate()
            .map(file)?
    };
    Ok(Bytes::from_owner(map).slice(skew..))
}

/// A chunk file holds fewer bytes than its row records.
pub(crate) fn short_file() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "chunk file shorter than recorded",
    )
}
