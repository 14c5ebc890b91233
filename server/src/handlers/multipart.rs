//! Multipart uploads: Create, UploadPart, Complete and Abort.
//!
//! Parts are written like objects (streamed, synced, cleaned up on drop)
//! and committed one by one; completion copies no data — the parts' chunk
//! files become the object's (see `storage/src/multipart.rs`).

use http::{Response, StatusCode};
use kura_protocol::checksum::multipart_checksum;
use kura_protocol::headers;
use kura_protocol::names::validate_object_key;
use kura_protocol::xml::{CompleteMultipartUpload, CompletedPart, InitiateMultipartUploadResult};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{NewObject, NewPart, NewUpload, PartRow, StorageError, UploadRow};
use md5::{Digest, Md5};

use super::kit::checksum::{self, Requested};
use super::kit::completed;
use super::kit::ingest::ingest_with;
use super::kit::versioning::written_version_id;
use super::kit::writes::{check_write_conditions, payload_length, upload_algorithm, MIN_PART_SIZE};
use super::kit::{bucket_limit, now_ms, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// The largest part S3 accepts.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest CompleteMultipartUpload body read (10,000 parts with checksums fit).
const MAX_COMPLETE_BODY: usize = 4 * 1024 * 1024;

/// CreateMultipartUpload.
pub async fn create(ctx: Ctx, bucket: String, key: String) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let h = &ctx.parts.headers;
    let stored_headers = headers::stored_object_headers(h)?;
    let checksum = multipart_checksum(h)?;
    let tags = super::kit::tags::request_tags(h, ctx.state.max_tags)?;
    // As on PutObject: `public-read` publishes the object once completed.
    let public = headers::canned_acl(h)?.is_some_and(|acl| acl.is_public());
    let server_expiry = ctx.state.multipart_expiry;
    let store = ctx.state.store.clone();
    let (b, k) = (bucket.clone(), key.clone());
    let (upload_id, expires_ms, rule_id) = blocking(move || {
        // The ticket's deadline: the bucket's (or server's) multipart
        // expiry, or a lifecycle rule's earlier one. Whole seconds, so the
        // `x-amz-abort-date` HTTP date is the exact deadline; rounded up,
        // so an upload lives at least its expiry (rounded down, a 3 s
        // expiry left it between 2 and 3 s: an UploadPart 2.6 s in got
        // NoSuchUpload, docs/scale-out.md).
        let (deadline, rule_id) = store
            .upload_deadline(&b, &k, &tags, now_ms(), server_expiry)
            .s3()?;
        let expires_ms = deadline.div_ceil(1000) * 1000;
        let (upload_id, _) = store
            .create_upload(
                &b,
                &k,
                NewUpload {
                    headers: stored_headers,
                    checksum_algorithm: checksum.map(|(a, _)| a.as_str().to_string()),
                    checksum_type: checksum.map(|(_, t)| t.as_str().to_string()),
                    expires_ms,
                    public,
                    tags,
                },
            )
            .s3()?;
        Ok((upload_id, expires_ms, rule_id))
    })
    .await?;
    let doc = InitiateMultipartUploadResult {
        bucket,
        key,
        upload_id,
    };
    let mut r = response::xml(doc.to_xml());
    let abort_date = headers::format_http_date(crate::clock::system_time(expires_ms));
    response::set_header(&mut r, "x-amz-abort-date", &abort_date);
    if let Some(id) = rule_id {
        response::set_header(&mut r, "x-amz-abort-rule-id", &id);
    }
    if let Some((a, t)) = checksum {
        response::set_header(&mut r, "x-amz-checksum-algorithm", a.as_str());
        response::set_header(&mut r, "x-amz-checksum-type", t.as_str());
    }
    Ok(r)
}

/// UploadPart: streams one part to disk; a 200 means it is synced and committed.
pub async fn upload_part(
    ctx: Ctx,
    bucket: String,
    key: String,
    upload_id: String,
    part_number: u32,
) -> S3Result<Response<Body>> {
    let h = &ctx.parts.headers;
    let length = payload_length(h, ctx.verified.payload.is_streaming())?;
    if length.is_some_and(|l| l > MAX_PART_SIZE) {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
    }
    let content_md5 = headers::content_md5(h)?;
    let mut requested = checksum::requested(h, ctx.verified.payload.has_trailer())?;
    let store = ctx.state.store.clone();
    // Refuse before reading a byte of the body.
    let upload = store.upload(&bucket, &key, &upload_id).s3()?;
    let limit = bucket_limit(&store, &bucket)?.map_or(MAX_PART_SIZE, |b| b.min(MAX_PART_SIZE));
    if length.is_some_and(|l| l > limit) {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
    }
    if let Some(want) = upload_algorithm(&upload) {
        match &requested {
            Some(r) if r.algorithm != want => {
                return Err(S3Error::invalid_request(format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    want.as_str().to_lowercase(),
                    r.algorithm.as_str().to_lowercase()
                )))
            }
            Some(_) => {}
            // The upload needs every part's checksum: compute it ourselves.
            None => {
                requested = Some(Requested {
                    algorithm: want,
                    value: None,
                    trailer: false,
                })
            }
        }
    }
    let lock = store
        .lock_part(&bucket, &key, &upload_id, part_number)
        .s3()?;
    let room = super::kit::admission::admit_write(&ctx.state, &bucket, None, length)?;
    let (payload, _rest) = ctx.payload(length);
    let mut payload = payload.with_limit(limit).with_quota(room);
    let default = upload_algorithm(&upload).is_none();
    let algorithms = checksum::algorithms(requested.as_ref(), default);
    let ingested = ingest_with(
        store.part_writer_in(&bucket).s3()?,
        &mut payload,
        &algorithms,
    )
    .await?;
    let checksum = checksum::verify(requested.as_ref(), &ingested.checksums, payload.trailers())?;
    let crc64nvme = default
        .then(|| checksum::computed(&ingested.checksums, checksum::DEFAULT_ALGORITHM))
        .flatten()
        .map(|c| c.to_base64());
    if let Some(want) = content_md5 {
        if want != ingested.md5 {
            return Err(S3Error::new(S3ErrorCode::BadDigest));
        }
    }
    let new = NewPart {
        etag: format!("\"{}\"", hex::encode(ingested.md5)),
        checksum: checksum.as_ref().map(checksum::stored),
        crc64nvme,
    };
    let part = blocking(move || {
        store
            .commit_part(
                &lock,
                (&bucket, &key, &upload_id),
                part_number,
                ingested.data,
                new,
            )
            .s3()
    })
    .await?;
    Ok(part_response(&part))
}

fn part_response(part: &PartRow) -> Response<Body> {
    let mut r = response::empty(StatusCode::OK);
    response::set_header(&mut r, "etag", &part.etag);
    if let Some(c) = &part.checksum {
        checksum::set_header(&mut r, c);
    }
    r
}

/// AbortMultipartUpload: the upload and its parts are removed.
pub async fn abort(
    ctx: Ctx,
    bucket: String,
    key: String,
    upload_id: String,
) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    blocking(move || store.abort_upload(&bucket, &key, &upload_id).s3()).await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}

/// CompleteMultipartUpload: validates the part list and makes the parts the object.
pub async fn complete(
    ctx: Ctx,
    bucket: String,
    key: String,
    upload_id: String,
) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    let remember_until_ms = now_ms().saturating_add(ctx.state.multipart_expiry.as_millis() as u64);
    // Gone: perhaps completed already, and this is the client's retry.
    let upload = missing_as_none(store.upload(&bucket, &key, &upload_id))?;
    let (mut payload, rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_COMPLETE_BODY).await?;
    let request = CompleteMultipartUpload::parse(&body)?;
    let h = &rest.parts.headers;
    if upload.is_none() {
        return completed::repeat(&store, &rest, (bucket, key, &upload_id), &request);
    }

    // Under the key's write lock, like any write of the key: conditions
    // are checked and the object committed without a racing writer.
    let lock = store.lock_key(&bucket, &key).s3()?;
    // A first attempt may have completed it while this one waited for the body.
    let Some(upload) = missing_as_none(store.upload(&bucket, &key, &upload_id))? else {
        return completed::repeat(&store, &rest, (bucket, key, &upload_id), &request);
    };
    check_write_conditions(&store, h, &bucket, &key)?;
    // Up to 10,000 parts: a scan, so on the blocking pool.
    let (s, b, k, u) = (
        store.clone(),
        bucket.clone(),
        key.clone(),
        upload_id.clone(),
    );
    let (stored, _) = blocking(move || s.list_parts(&b, &k, &u, 0, usize::MAX).s3()).await?;
    let chosen = validate_parts(&request.parts, &stored)?;
    let total: u64 = chosen.iter().map(|(_, p)| p.size).sum();
    if bucket_limit(&store, &bucket)?.is_some_and(|max| total > max) {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
    }
    // The parts were held to the quota as they came; the object they make
    // is counted now (a replaced version's bytes are freed).
    super::kit::admission::quota_room(&rest.state, &bucket, Some(&key), Some(total))?;

    let mut md5s = Md5::new();
    for (_, part) in &chosen {
        let hex = part.etag.trim_matches('"');
        md5s.update(hex::decode(hex).map_err(crate::errors::internal)?);
    }
    let etag = format!("\"{}-{}\"", hex::encode(md5s.finalize()), chosen.len());
    let object_checksum =
        super::kit::complete_checksum::object_checksum(&upload, &request.parts, &chosen, h)?;

    let new = NewObject {
        etag: etag.clone(),
        headers: upload.headers.clone(),
        checksums: object_checksum.iter().cloned().collect(),
        part_sizes: Vec::new(),
        tags: upload.tags.clone(),
        // Otherwise a completed upload keeps the key's published state, as
        // an update does.
        public: upload.public.then_some(true),
    };
    let chosen: Vec<(u32, String)> = chosen.iter().map(|(n, p)| (*n, p.etag.clone())).collect();
    let (b, k) = (bucket.clone(), key.clone());
    let row = blocking(move || {
        store
            .complete_upload(&lock, &b, &k, &upload_id, &chosen, new, remember_until_ms)
            .s3()
    })
    .await?;
    Ok(completed::Answer {
        bucket,
        key,
        etag,
        version_id: written_version_id(&row),
        checksums: &row.checksums,
        checksum_type: upload.checksum_type.clone(),
    }
    .response(&rest))
}

/// `None` for an upload that does not exist (any more).
fn missing_as_none(r: Result<UploadRow, StorageError>) -> S3Result<Option<UploadRow>> {
    match r {
        Ok(u) => Ok(Some(u)),
        Err(StorageError::NoSuchUpload) => Ok(None),
        Err(e) => Err(e).s3(),
    }
}

/// Checks the listed parts against the uploaded ones: ascending numbers
/// (`InvalidPartOrder`), each uploaded with that ETag (`InvalidPart`), all
/// but the last at least 5 MiB (`EntityTooSmall`).
fn validate_parts<'a>(
    listed: &[CompletedPart],
    stored: &'a [(u32, PartRow)],
) -> S3Result<Vec<(u32, &'a PartRow)>> {
    let mut chosen = Vec::with_capacity(listed.len());
    let mut previous = 0;
    for p in listed {
        if p.part_number <= previous {
            return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
        }
        previous = p.part_number;
        let part = stored
            .binary_search_by_key(&p.part_number, |(n, _)| *n)
            .ok()
            .map(|i| &stored[i].1)
            .filter(|part| part.etag.trim_matches('"') == p.etag.trim_matches('"'))
            .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidPart))?;
        chosen.push((p.part_number, part));
    }
    if let Some((_, all_but_last)) = chosen.split_last() {
        if all_but_last.iter().any(|(_, p)| p.size < MIN_PART_SIZE) {
            return Err(S3Error::new(S3ErrorCode::EntityTooSmall));
        }
    }
    Ok(chosen)
}
