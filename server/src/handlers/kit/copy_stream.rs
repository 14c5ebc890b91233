//! The one copy stream of server-side copies (CopyObject, UploadPartCopy):
//! the source version's reader into a new writer, hashed on the way.
//!
//! The copy runs on the blocking pool in steps of [`STEP`] bytes. Between
//! steps the request future can be dropped (client gone), which stops the
//! copy and drops the writer, removing what it wrote; no step holds a
//! blocking thread for more than a few milliseconds of disk time, whatever
//! the size of the copy (up to 5 GiB for a part).

use kura_protocol::checksum::ChecksumAlgorithm;
use kura_protocol::S3Result;
use kura_storage::{ObjectReader, ObjectWriter};

use super::ingest::{Ingested, Sink};
use crate::errors::internal;

/// Bytes copied per blocking step.
const STEP: u64 = 8 << 20;
/// Read buffer of one step.
const BUF: usize = 256 * 1024;

/// Moves the reader's (remaining, ranged) bytes into the writer, computing
/// MD5 and the `checksums` algorithms, then syncs the writer.
pub async fn copy_stream(
    reader: ObjectReader,
    writer: ObjectWriter,
    checksums: &[ChecksumAlgorithm],
) -> S3Result<Ingested> {
    let mut state = (reader, Sink::new(writer, checksums));
    loop {
        let (done, next) = tokio::task::spawn_blocking(move || {
            let (mut reader, mut sink) = state;
            let mut buf = vec![0u8; BUF];
            let mut copied = 0u64;
            while copied < STEP {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    return Ok::<_, std::io::Error>((true, (reader, sink)));
                }
                sink.absorb(&buf[..n])?;
                copied += n as u64;
            }
            Ok((reader.remaining() == 0, (reader, sink)))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        state = next;
        if done {
            break;
        }
    }
    let (reader, sink) = state;
    // Release the source version before the (possibly slow) sync.
    drop(reader);
    tokio::task::spawn_blocking(move || sink.finish())
        .await
        .map_err(internal)?
        .map_err(internal)
}
