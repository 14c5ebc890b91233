//! CopyObject: a server-side copy, streamed from the source version's reader
//! into a new object writer (`kit/copy_stream.rs`). Nothing is buffered beyond one batch, and the
//! copy commits under the target key's write lock with the same durability
//! as a PUT (chunk files synced, then one synced metadata batch).
//!
//! A copy of the current version onto its own key that replaces metadata
//! or tags copies nothing: the new version shares the old one's chunk
//! files (`Store::update_metadata`), in constant time.

use http::{Response, StatusCode};
use kura_protocol::headers::{self, canned_acl, Conditions, MetadataDirective};
use kura_protocol::names::validate_object_key;
use kura_protocol::xml::{Checksums, CopyObjectResult};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{MetadataUpdate, NewObject, ObjectRow};

use super::kit::copy_stream::copy_stream;
use super::kit::tags;
use super::kit::writes::check_write_conditions;
use super::kit::{system_time, timestamp, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Copies `x-amz-copy-source` to `bucket`/`key`.
pub async fn copy_object(ctx: Ctx, bucket: String, key: String) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let h = &ctx.parts.headers;
    let source = headers::parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or_default())?;
    let directive = headers::metadata_directive(h)?;
    // S3 reads `x-amz-tagging` only with the REPLACE tagging directive.
    let replaced_tags = match tags::replace_tags(h)? {
        true => Some(tags::request_tags(h, ctx.state.max_tags)?),
        false => None,
    };
    let source_conditions = Conditions::from_copy_source_headers(h);
    let replaced_headers = match directive {
        MetadataDirective::Replace => Some(headers::stored_object_headers(h)?),
        MetadataDirective::Copy => None,
    };
    let store = ctx.state.store.clone();
    let target_row = super::kit::existing_bucket(&store, &bucket)?;
    // The target's lock first: a self-copy then reads the version that is
    // current under the lock, and no other write can slip in between.
    let lock = store.lock_key(&bucket, &key).s3()?;
    check_write_conditions(&store, h, &bucket, &key)?;

    let (row, reader) =
        super::kit::copy_source::open_copy_source(&ctx.state, &source, (&bucket, &key))?;
    source_conditions.evaluate_copy_source(&row.etag, system_time(row.modified_ms))?;
    let same_key = source.bucket == bucket && source.key == key;
    let changes_metadata = directive == MetadataDirective::Replace || replaced_tags.is_some();
    if same_key && source.version_id.is_none() && !changes_metadata {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata, storage class, website redirect location \
             or encryption attributes.",
        ));
    }
    // As in S3: only `public-read` changes the key's published state.
    let public = canned_acl(h)?.filter(|acl| acl.is_public()).map(|_| true);
    let is_current = || -> S3Result<bool> {
        Ok(store
            .current(&bucket, &key)
            .s3()?
            .is_some_and(|c| c.seq == row.seq))
    };
    if same_key && changes_metadata && is_current()? {
        // A metadata-only update of the current version: the new version
        // shares its chunk files, so no byte is read or written, whatever
        // the size; the ETag and checksums stay those of the same bytes.
        drop(reader);
        let update = MetadataUpdate {
            headers: replaced_headers.unwrap_or_else(|| row.headers.clone()),
            tags: replaced_tags.unwrap_or_else(|| row.tags.clone()),
            public,
        };
        let seq = row.seq;
        let committed = blocking(move || {
            store
                .update_metadata(&lock, &bucket, &key, seq, update)
                .s3()
        })
        .await?;
        return Ok(copy_response(&committed, source.version_id.as_deref()));
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
    super::kit::admission::admit_write(&ctx.state, &bucket, Some(&key), Some(row.size))?;

    let copied = copy_stream(reader, store.object_writer_in(&bucket).s3()?, &[]).await?;
    // A copy is a new single-part object: its ETag is the MD5 of its bytes,
    // whatever the source's was. Full-object checksums still describe the
    // bytes; composite ones (multipart sources) would not.
    let checksums = if row.part_sizes.is_empty() {
        row.checksums.clone()
    } else {
        Vec::new()
    };
    let new = NewObject {
        etag: format!("\"{}\"", hex::encode(copied.md5)),
        headers: replaced_headers.unwrap_or_else(|| row.headers.clone()),
        checksums,
        part_sizes: Vec::new(),
        // S3's default tagging directive is COPY.
        tags: replaced_tags.unwrap_or_else(|| row.tags.clone()),
        public,
    };
    let committed = blocking(move || {
        store
            .commit_object(&lock, &bucket, &key, copied.data, new)
            .s3()
    })
    .await?;

    Ok(copy_response(&committed, source.version_id.as_deref()))
}

fn copy_response(committed: &ObjectRow, source_version: Option<&str>) -> Response<Body> {
    let result = CopyObjectResult {
        etag: committed.etag.clone(),
        last_modified: timestamp(committed.modified_ms),
        checksums: Checksums::default(),
    };
    let mut r = response::xml(result.to_xml());
    *r.status_mut() = StatusCode::OK;
    if let Some(v) = source_version {
        response::set_header(&mut r, "x-amz-copy-source-version-id", v);
    }
    if let Some(v) = super::kit::versioning::written_version_id(committed) {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    r
}
