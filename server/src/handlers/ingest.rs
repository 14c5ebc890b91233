//! Streaming a request payload into the storage writer.
//!
//! Bytes are gathered into ~1 MiB batches; each batch is hashed and written
//! on the blocking pool while the next one is read from the socket, so disk
//! and network overlap. If the request is dropped (client gone), the writer
//! is dropped with it and removes every chunk file it created.

use bytes::Bytes;
use kura_protocol::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
use kura_protocol::S3Result;
use kura_storage::{ObjectWriter, WrittenData};
use md5::{Digest, Md5};
use tokio::task::JoinHandle;

use crate::body::Payload;
use crate::errors::internal;

const BATCH: usize = 1 << 20;

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

type Pending = JoinHandle<std::io::Result<Sink>>;

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
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batch_len = 0;
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
            batch_len += data.len();
            batch.push(data);
        }
        if batch_len >= BATCH || (end && batch_len > 0) {
            if let Some(p) = pending.take() {
                sink = Some(join(p).await?);
            }
            let mut s = sink.take().expect("sink is back");
            let frames = std::mem::take(&mut batch);
            batch_len = 0;
            pending = Some(tokio::task::spawn_blocking(move || {
                for f in &frames {
                    s.md5.update(f);
                    for c in &mut s.checksums {
                        c.update(f);
                    }
                    s.writer.write(f)?;
                }
                Ok(s)
            }));
        }
        if end {
            break;
        }
    }
    if let Some(p) = pending.take() {
        sink = Some(join(p).await?);
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

async fn join(p: Pending) -> S3Result<Sink> {
    p.await.map_err(internal)?.map_err(internal)
}
