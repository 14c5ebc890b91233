//! CopyObject: a server-side copy, streamed from the source version's reader
//! into a new object writer. Nothing is buffered beyond one batch, and the
//! copy commits under the target key's write lock with the same durability
//! as a PUT (chunk files synced, then one synced metadata batch).

use http::{Response, StatusCode};
use kura_protocol::headers::{self, Conditions, MetadataDirective};
use kura_protocol::names::validate_object_key;
use kura_protocol::xml::{Checksums, CopyObjectResult};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{NewObject, ObjectReader, ObjectWriter, WrittenData};
use md5::{Digest, Md5};

use super::get::system_time;
use super::list::timestamp;
use super::put::check_write_conditions;
use super::Ctx;
use crate::errors::{blocking, internal, StorageResultExt};
use crate::response::{self, Body};

/// Bytes copied per blocking step. Between steps the request future can be
/// dropped (client gone), which stops the copy and removes what it wrote.
const STEP: u64 = 8 << 20;
/// Read buffer of one step.
const BUF: usize = 256 * 1024;

/// Copies `x-amz-copy-source` to `bucket`/`key`.
pub async fn copy_object(ctx: Ctx, bucket: String, key: String) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let h = &ctx.parts.headers;
    let source = headers::parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or_default())?;
    let directive = headers::metadata_directive(h)?;
    let source_conditions = Conditions::from_copy_source_headers(h);
    let replaced_headers = match directive {
        MetadataDirective::Replace => Some(headers::stored_object_headers(h)?),
        MetadataDirective::Copy => None,
    };
    let store = ctx.state.store.clone();
    let target_row = super::existing_bucket(&store, &bucket)?;
    // The target's lock first: a self-copy then reads the version that is
    // current under the lock, and no other write can slip in between.
    let lock = store.lock_key(&bucket, &key).s3()?;
    check_write_conditions(&store, h, &bucket, &key)?;

    let (row, reader) = super::copy_source::open_copy_source(&ctx.state, &source, (&bucket, &key))?;
    source_conditions.evaluate_copy_source(&row.etag, system_time(row.modified_ms))?;
    let self_copy = source.bucket == bucket && source.key == key && source.version_id.is_none();
    if self_copy && directive == MetadataDirective::Copy {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata, storage class, website redirect location \
             or encryption attributes.",
        ));
    }
    if row.size > ctx.state.max_object_size {
        return Err(S3Error::invalid_request(format!(
            "The specified copy source is larger than the maximum allowable size for a copy \
             source: {}",
            ctx.state.max_object_size
        )));
    }
    if target_row.max_object_size.is_some_and(|max| row.size > max) {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
    }

    let (data, md5) = stream_copy(reader, store.object_writer()).await?;
    // A copy is a new single-part object: its ETag is the MD5 of its bytes,
    // whatever the source's was. Full-object checksums still describe the
    // bytes; composite ones (multipart sources) would not.
    let checksums = if row.part_sizes.is_empty() {
        row.checksums.clone()
    } else {
        Vec::new()
    };
    let new = NewObject {
        etag: format!("\"{}\"", hex::encode(md5)),
        headers: replaced_headers.unwrap_or_else(|| row.headers.clone()),
        checksums,
        part_sizes: Vec::new(),
        // As on PutObject: only `public-read` changes the key's published state.
        public: super::public::canned_acl(h)?.filter(|p| *p),
    };
    let committed =
        blocking(move || store.commit_object(&lock, &bucket, &key, data, new).s3()).await?;

    let result = CopyObjectResult {
        etag: committed.etag.clone(),
        last_modified: timestamp(committed.modified_ms),
        checksums: Checksums::default(),
    };
    let mut r = response::xml(result.to_xml());
    *r.status_mut() = StatusCode::OK;
    if let Some(v) = &source.version_id {
        response::set_header(&mut r, "x-amz-copy-source-version-id", v);
    }
    if let Some(v) = super::versions::written_version_id(&committed) {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    Ok(r)
}

/// Moves the reader's bytes into the writer in blocking steps of [`STEP`]
/// bytes, hashing them on the way, then syncs the writer.
async fn stream_copy(
    reader: ObjectReader,
    writer: ObjectWriter,
) -> S3Result<(WrittenData, [u8; 16])> {
    let mut state = (reader, writer, Md5::new());
    loop {
        let (done, next) = tokio::task::spawn_blocking(move || {
            let (mut reader, mut writer, mut md5) = state;
            let mut buf = vec![0u8; BUF];
            let mut copied = 0u64;
            while copied < STEP {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    return Ok::<_, std::io::Error>((true, (reader, writer, md5)));
                }
                md5.update(&buf[..n]);
                writer.write(&buf[..n])?;
                copied += n as u64;
            }
            Ok((reader.remaining() == 0, (reader, writer, md5)))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        state = next;
        if done {
            break;
        }
    }
    let (reader, writer, md5) = state;
    // Release the source version before the (possibly slow) sync.
    drop(reader);
    let data = tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(internal)?
        .map_err(internal)?;
    Ok((data, md5.finalize().into()))
}
