//! Streaming a request payload into the storage writer.
//!
//! Bytes are copied into 256 KiB batches; each batch is hashed and written
//! on the blocking pool while the next one is read from the socket, so disk
//! and network overlap. Two batch buffers alternate; copying lets hyper
//! reuse its read buffer at once (holding its frames instead pinned several
//! read buffers per upload: 300 MiB for 64 concurrent uploads). If the
//! request is dropped (client gone), the writer is dropped with it and
//! removes every chunk file it created.
//!
//! Objects small enough to be stored inline never touch a file, so they are
//! hashed and buffered right here: two trips to the blocking pool per small
//! PUT cost more CPU than the PUT itself.

use bytes::Bytes;
use kura_protocol::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
use kura_protocol::S3Result;
use kura_storage::{ObjectWriter, WrittenData};
use md5::{Digest, Md5};
use tokio::task::JoinHandle;

use crate::body::Payload;
use crate::errors::{internal, io_to_s3};

const BATCH: usize = 256 << 10;

/// The stored bytes and what was computed over them.
pub struct Ingested {
    /// Synced data, committed by the caller.
    pub data: WrittenData,
    /// MD5 of the payload.
    pub md5: [u8; 16],
    /// The additional checksums asked for, computed over the payload.
    pub checksums: Vec<Checksum>,
}

/// A writer and the hashes computed over what it was given: the end of
/// every byte stream into storage (uploads here, copies in `copy_stream.rs`).
pub(super) struct Sink {
    pub(super) writer: ObjectWriter,
    md5: Md5,
    checksums: Vec<ChecksumHasher>,
}

impl Sink {
    /// A sink computing MD5 and the `checksums` algorithms.
    pub(super) fn new(writer: ObjectWriter, checksums: &[ChecksumAlgorithm]) -> Sink {
        Sink {
            writer,
            md5: Md5::new(),
            checksums: checksums.iter().map(|a| ChecksumHasher::new(*a)).collect(),
        }
    }

    /// Syncs the writer (blocking, unless it held everything in memory) and
    /// finalizes the hashes.
    pub(super) fn finish(self) -> std::io::Result<Ingested> {
        Ok(Ingested {
            data: self.writer.finish()?,
            md5: self.md5.finalize().into(),
            checksums: self
                .checksums
                .into_iter()
                .map(ChecksumHasher::finalize)
                .collect(),
        })
    }

    /// Hashes and writes one batch.
    pub(super) fn absorb(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.md5.update(data);
        for c in &mut self.checksums {
            c.update(data);
        }
        self.writer.write(data)
    }
}

/// The sink and the batch buffer it wrote, handed back for reuse.
type Pending = JoinHandle<std::io::Result<(Sink, Vec<u8>)>>;

/// A stream of upload bytes: a request payload, or the file of a form.
pub trait ByteSource {
    /// The next piece; `None` at the end.
    fn next(&mut self) -> impl std::future::Future<Output = S3Result<Option<Bytes>>> + Send;
    /// The length announced, if any (sizes the first buffer).
    fn expected(&self) -> Option<u64>;
}

impl ByteSource for Payload {
    async fn next(&mut self) -> S3Result<Option<Bytes>> {
        Payload::next(self).await
    }

    fn expected(&self) -> Option<u64> {
        Payload::expected(self)
    }
}

/// Reads the whole payload into `writer` and syncs it, computing the
/// `checksums` algorithms on the way.
pub async fn ingest_with(
    writer: ObjectWriter,
    payload: &mut impl ByteSource,
    checksums: &[ChecksumAlgorithm],
) -> S3Result<Ingested> {
    let mut sink = Some(Sink::new(writer, checksums));
    let mut pending: Option<Pending> = None;
    let mut batch: Vec<u8> = Vec::new();
    let mut spare: Vec<u8> = Vec::new();
    loop {
        let next = match payload.next().await {
            Ok(next) => next,
            Err(e) => {
                // Take the in-flight batch back so its files are removed
                // before the error is answered: refused means nothing left.
                if let Some(p) = pending.take() {
                    drop(p.await);
                }
                return Err(e);
            }
        };
        let end = next.is_none();
        if let Some(data) = next {
            if batch.capacity() == 0 {
                // A small object gets a buffer its size, not a whole batch.
                let declared = payload.expected().unwrap_or(u64::MAX);
                let size = (BATCH as u64).min(declared) as usize;
                batch.reserve(size.max(data.len()));
            }
            batch.extend_from_slice(&data);
        }
        if batch.len() >= BATCH || (end && !batch.is_empty()) {
            if let Some(p) = pending.take() {
                let (s, buf) = join(p).await?;
                sink = Some(s);
                spare = buf;
            }
            if let Some(s) = sink
                .as_mut()
                .filter(|s| s.writer.stays_in_memory(batch.len()))
            {
                s.absorb(&batch).map_err(io_to_s3)?;
                batch.clear();
                if end {
                    break;
                }
                continue;
            }
            let mut s = sink.take().expect("sink is back");
            let mut data = std::mem::replace(&mut batch, std::mem::take(&mut spare));
            pending = Some(tokio::task::spawn_blocking(move || {
                s.absorb(&data)?;
                data.clear();
                Ok((s, data))
            }));
        }
        if end {
            break;
        }
    }
    if let Some(p) = pending.take() {
        sink = Some(join(p).await?.0);
    }
    let sink = sink.expect("sink is back");
    if sink.writer.stays_in_memory(0) {
        sink.finish().map_err(io_to_s3)
    } else {
        tokio::task::spawn_blocking(move || sink.finish())
            .await
            .map_err(internal)?
            .map_err(io_to_s3)
    }
}

async fn join(p: Pending) -> S3Result<(Sink, Vec<u8>)> {
    p.await.map_err(internal)?.map_err(io_to_s3)
}
