//! UploadPartCopy: a part made from (a range of) an existing object.
//!
//! The source is streamed from its chunk files into the part's by the copy
//! stream of CopyObject (`kit/copy_stream.rs`): bounded, cancellable steps,
//! never held in memory whole. The source
//! version is resolved once and registered as being read, so a concurrent
//! overwrite or purge cannot change the bytes mid-copy.

use http::Response;
use kura_protocol::headers::{self, Conditions};
use kura_protocol::xml::CopyPartResult;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use super::kit::checksum;
use super::kit::copy_stream::copy_stream;
use super::kit::writes::{upload_algorithm, MIN_PART_SIZE};
use super::kit::{system_time, timestamp, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};
use kura_storage::NewPart;

/// Copies the source object (or `x-amz-copy-source-range` of it) into a part.
pub async fn upload_part_copy(
    ctx: Ctx,
    bucket: String,
    key: String,
    upload_id: String,
    part_number: u32,
) -> S3Result<Response<Body>> {
    let h = &ctx.parts.headers;
    let source = headers::parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or_default())?;
    let store = ctx.state.store.clone();
    let upload = store.upload(&bucket, &key, &upload_id).s3()?;
    let (row, mut reader) =
        super::kit::copy_source::open_copy_source(&ctx.state, &source, (&bucket, &key))?;
    Conditions::from_copy_source_headers(h)
        .evaluate_copy_source(&row.etag, system_time(row.modified_ms))?;
    let (start, end) = match ctx.header("x-amz-copy-source-range") {
        Some(v) => {
            let r = headers::parse_copy_source_range(v, row.size)?;
            (r.start, r.end_inclusive + 1)
        }
        None => (0, row.size),
    };
    if end - start > 5 * 1024 * MIN_PART_SIZE {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
    }
    reader.set_range(start, end);
    super::kit::admission::admit_write(&ctx.state, &bucket, None, Some(end - start))?;
    let lock = store
        .lock_part(&bucket, &key, &upload_id, part_number)
        .s3()?;
    // The upload's algorithm, or the default CRC64NVME if it has none.
    let algorithm = upload_algorithm(&upload);
    let computed = algorithm.unwrap_or(checksum::DEFAULT_ALGORITHM);
    let copied = copy_stream(reader, store.part_writer_in(&bucket).s3()?, &[computed]).await?;
    let sum = &copied.checksums[0];
    let new = NewPart {
        etag: format!("\"{}\"", hex::encode(copied.md5)),
        checksum: algorithm.map(|_| checksum::stored(sum)),
        crc64nvme: algorithm.is_none().then(|| sum.to_base64()),
    };
    let data = copied.data;
    let part = blocking(move || {
        store
            .commit_part(&lock, (&bucket, &key, &upload_id), part_number, data, new)
            .s3()
    })
    .await?;
    let doc = CopyPartResult {
        etag: part.etag.clone(),
        last_modified: timestamp(part.modified_ms),
    };
    let mut r = response::xml(doc.to_xml());
    if source.version_id.is_some() {
        response::set_header(&mut r, "x-amz-copy-source-version-id", &row.version_id());
    }
    if let Some(c) = &part.checksum {
        checksum::set_header(&mut r, c);
    }
    Ok(r)
}
