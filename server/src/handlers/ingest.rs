//! Streaming a request payload into the storage writer.
//!
//! Bytes are copied into 256 KiB batches; each batch is hashed and written
//! on the blocking pool while the next one is read from the socket, so disk
//! and network overlap. Two batch buffers alternate; copying lets hyper
//! reuse its read buffer at once (holding its frames instead pinned several
//! read buffers per upload: 300 MiB for 64 concurrent uploads). If the
//! request is dropped (client gone), the writer is dropped with it and
//! removes every chunk file it created.

use kura_protocol::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
use kura_protocol::S3Result;
use kura_storage::{ObjectWriter, WrittenData};
use md5::{Digest, Md5};
use tokio::task::JoinHandle;

use crate::body::Payload;
use crate::errors::internal;

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

struct Sink {
    writer: ObjectWriter,
    md5: Md5,
    checksums: Vec<ChecksumHasher>,
}

/// The sink and the batch buffer it wrote, handed back for reuse.
type Pending = JoinHandle<std::io::Result<(Sink, Vec<u8>)>>;

/// Reads the whole payload into `writer` and syncs it, computing the
/// `checksums` algorithms on the way.
pub async fn ingest_with(
    writer: ObjectWriter,
    payload: &mut Payload,
    checksums: &[ChecksumAlgorithm],
) -> S3Result<Ingested> {
    let mut sink = Some(Sink {
        writer,
        md5: Md5::new(),
        checksums: checksums.iter().map(|a| ChecksumHasher::new(*a)).collect(),
    });
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
                batch.reserve(BATCH.max(data.len()));
            }
            batch.extend_from_slice(&data);
        }
        if batch.len() >= BATCH || (end && !batch.is_empty()) {
            if let Some(p) = pending.take() {
                let (s, buf) = join(p).await?;
                sink = Some(s);
                spare = buf;
            }
            let mut s = sink.take().expect("sink is back");
            let mut data = std::mem::replace(&mut batch, std::mem::take(&mut spare));
            pending = Some(tokio::task::spawn_blocking(move || {
                s.md5.update(&data);
                for c in &mut s.checksums {
                    c.update(&data);
                }
                s.writer.write(&data)?;
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
    let Sink {
        writer,
        md5,
        checksums,
    } = sink.expect("sink is back");
    let data = tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(internal)?
        .map_err(internal)?;
    Ok(Ingested {
        data,
        md5: md5.finalize().into(),
        checksums: checksums
            .into_iter()
            .map(ChecksumHasher::finalize)
            .collect(),
    })
}

async fn join(p: Pending) -> S3Result<(Sink, Vec<u8>)> {
    p.await.map_err(internal)?.map_err(internal)
}
