//! PutObject.

use http::{Response, StatusCode};
use kura_protocol::headers;
use kura_protocol::names::validate_object_key;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{NewObject, ObjectRow};

use super::kit::admission::admit_write;
use super::kit::checksum;
use super::kit::ingest::ingest_with;
use super::kit::public_url::add_public_url;
use super::kit::versioning::written_version_id;
use super::kit::writes::{check_write_conditions, payload_length};
use super::kit::Ctx;
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Stores an object from a streamed body, visible only once complete and synced.
pub async fn put_object(ctx: Ctx, bucket: String, key: String) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let h = &ctx.parts.headers;
    let length = payload_length(h, ctx.verified.payload.is_streaming())?;
    if length.is_some_and(|l| l > ctx.state.max_object_size) {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
    }
    let stored_headers = headers::stored_object_headers(h)?;
    let tags = super::kit::tags::request_tags(h, ctx.state.max_tags)?;
    let content_md5 = headers::content_md5(h)?;
    let requested = checksum::requested(h, ctx.verified.payload.has_trailer())?;
    // Only `public-read` changes anything here: clients that send
    // `x-amz-acl: private` on every upload must not unpublish a key by
    // updating it (an update keeps a published key published).
    let public = headers::canned_acl(h)?
        .filter(|acl| acl.is_public())
        .map(|_| true);
    let store = ctx.state.store.clone();
    // Refuse before reading a byte of the body.
    let bucket_row = super::kit::existing_bucket(&store, &bucket)?;
    let limit = bucket_row
        .max_object_size
        .map_or(ctx.state.max_object_size, |b| {
            b.min(ctx.state.max_object_size)
        });
    if length.is_some_and(|l| l > limit) {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
    }
    let lock = store.lock_key(&bucket, &key).s3()?;
    check_write_conditions(&store, h, &bucket, &key)?;
    let room = admit_write(&ctx.state, &bucket, Some(&key), length)?;

    let (payload, rest) = ctx.payload(length);
    let mut payload = payload.with_limit(limit).with_quota(room);
    let algorithms = checksum::algorithms(requested.as_ref(), requested.is_none());
    let ingested = ingest_with(
        store.object_writer_in(&bucket).s3()?,
        &mut payload,
        &algorithms,
    )
    .await?;
    let checksum =
        match checksum::verify(requested.as_ref(), &ingested.checksums, payload.trailers())? {
            Some(c) => Some(c),
            // Like S3: an object uploaded without a checksum gets a CRC64NVME.
            None => checksum::computed(&ingested.checksums, checksum::DEFAULT_ALGORITHM),
        };
    if let Some(want) = content_md5 {
        if want != ingested.md5 {
            return Err(S3Error::new(S3ErrorCode::BadDigest));
        }
    }
    let etag = format!("\"{}\"", hex::encode(ingested.md5));
    let new = NewObject {
        etag,
        headers: stored_headers,
        checksums: checksum.iter().map(checksum::stored).collect(),
        tags,
        public,
        ..Default::default()
    };
    let (b, k) = (bucket.clone(), key.clone());
    let row = blocking(move || store.commit_object(&lock, &b, &k, ingested.data, new).s3()).await?;
    let mut r = write_response(&row);
    add_public_url(&rest.state, &rest.parts, &mut r, &bucket, &key)?;
    Ok(r)
}

fn write_response(row: &ObjectRow) -> Response<Body> {
    let mut r = response::empty(StatusCode::OK);
    response::set_header(&mut r, "etag", &row.etag);
    for c in &row.checksums {
        checksum::set_header(&mut r, c);
    }
    if !row.checksums.is_empty() {
        // A single PUT's checksum is always of the whole object.
        response::set_header(&mut r, "x-amz-checksum-type", "FULL_OBJECT");
    }
    if let Some(v) = written_version_id(row) {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    r
}
