//! Serving one object version: conditions, ranges, parts, headers and the
//! streamed body. Used by GetObject/HeadObject and by public URLs.

use std::time::SystemTime;

use bytes::Bytes;
use http::{Response, StatusCode};
use kura_protocol::headers::{self, ByteRange, Conditions};
use kura_protocol::names::validate_object_key;
use kura_protocol::router::Query;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::rows::DataLocation;
use kura_storage::{ObjectRow, StorageError};

use crate::clock::system_time;
use crate::errors::{conflict, storage_to_s3, StorageResultExt};
use crate::response::{self, Body};
use crate::state::{AppState, ReadsDuringWrite};

/// What to serve: one object version, whole or in part.
pub struct ObjectRead {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// A noncurrent version, or `None` for the current one.
    pub version_id: Option<String>,
    /// One part of a multipart object.
    pub part_number: Option<u32>,
    /// HEAD: headers only.
    pub head: bool,
    /// Honour `response-*` query overrides (signed requests only, as in S3).
    pub overrides: bool,
}

/// Serves one version under the per-key policy (refused while a write of
/// the key is in progress unless `--reads-during-write=previous`), with
/// conditional requests and ranges. Returns the response and the version.
/// The body's first block is read and verified before the response exists,
/// so damage there answers 500 instead of breaking a 200 (see `download.rs`).
pub async fn serve_object(
    state: &AppState,
    parts: &http::request::Parts,
    read: &ObjectRead,
) -> S3Result<(Response<Body>, ObjectRow)> {
    let ObjectRead {
        bucket,
        key,
        version_id,
        part_number,
        head,
        overrides,
    } = read;
    let (part_number, head) = (*part_number, *head);
    validate_object_key(key)?;
    let store = &state.store;
    if state.reads_during_write == ReadsDuringWrite::Reject && store.is_writing(bucket, key) {
        return Err(conflict());
    }
    let (row, mut reader) = match store.open_object(bucket, key, version_id.as_deref()) {
        Ok(found) => found,
        Err(StorageError::NoSuchKey) => {
            // As S3: a key whose latest version is a delete marker says so.
            let deleted = store.latest_is_delete_marker(bucket, key).s3()?;
            let mut e = S3Error::new(S3ErrorCode::NoSuchKey);
            if deleted {
                e = e.header("x-amz-delete-marker", "true");
            }
            return Err(e);
        }
        Err(e) => return Err(storage_to_s3(e)),
    };
    if row.delete_marker {
        // A delete marker has no data: S3 answers 405 for GET/HEAD of one.
        return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)
            .header("x-amz-delete-marker", "true")
            .header("x-amz-version-id", row.version_id()));
    }
    let modified = system_time(row.modified_ms);
    let h = &parts.headers;
    if let Err(e) = Conditions::from_headers(h).evaluate(&row.etag, modified, true) {
        if e.code == S3ErrorCode::NotModified {
            let mut r = response::empty(StatusCode::NOT_MODIFIED);
            response::set_header(&mut r, "etag", &row.etag);
            response::set_header(
                &mut r,
                "last-modified",
                &headers::format_http_date(modified),
            );
            return Ok((r, row));
        }
        return Err(e);
    }
    let range = match part_number {
        Some(n) => Some(part_range(&row, n)?),
        None => match h.get(http::header::RANGE).and_then(|v| v.to_str().ok()) {
            Some(v) => headers::parse_range(v, row.size)?,
            None => None,
        },
    };
    let (status, start, end) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.start, r.end_inclusive + 1),
        None => (StatusCode::OK, 0, row.size),
    };
    let len = end - start;
    let body = if head || len == 0 {
        response::full(Bytes::new())
    } else if let DataLocation::Inline(data) = &row.data {
        response::full(Bytes::copy_from_slice(&data[start as usize..end as usize]))
    } else {
        reader.set_range(start, end);
        crate::download::stream_body(reader, len)
            .await
            .map_err(|e| unreadable(bucket, key, &row, e))?
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    object_headers(&mut r, &row, modified);
    response::set_header(&mut r, "content-length", &len.to_string());
    if let Some(range) = &range {
        response::set_header(
            &mut r,
            "content-range",
            &headers::content_range(range, row.size),
        );
    }
    super::checksum::response_headers(&mut r, &row, h, range.is_none());
    if !row.tags.is_empty() {
        response::set_header(&mut r, "x-amz-tagging-count", &row.tags.len().to_string());
    }
    if part_number.is_some() {
        let parts = row.part_sizes.len().max(1);
        response::set_header(&mut r, "x-amz-mp-parts-count", &parts.to_string());
    }
    if *overrides {
        let query = Query::parse(parts.uri.query().unwrap_or(""))?;
        for (name, value) in headers::response_overrides(&query.0) {
            response::set_header(&mut r, name, &value);
        }
    }
    Ok((r, row))
}

/// The first block of a version could not be read or failed its checksum
/// (the chunk store has logged and counted which chunk): nothing was sent
/// yet, so the client gets a 500 and the access log and audit record it.
fn unreadable(bucket: &str, key: &str, row: &ObjectRow, error: std::io::Error) -> S3Error {
    tracing::error!(
        bucket,
        key,
        version_id = %row.version_id(),
        error = %error,
        "object data unreadable: answered 500 before the body"
    );
    S3Error::new(S3ErrorCode::InternalError)
}

/// The headers describing a stored object.
pub fn object_headers(r: &mut Response<Body>, row: &ObjectRow, modified: SystemTime) {
    response::set_header(r, "etag", &row.etag);
    response::set_header(r, "last-modified", &headers::format_http_date(modified));
    response::set_header(r, "accept-ranges", "bytes");
    if row.header("content-type").is_none() {
        // S3's default for objects stored without a type.
        response::set_header(r, "content-type", "binary/octet-stream");
    }
    for (name, value) in &row.headers {
        response::set_header(r, name, value);
    }
}

/// The byte range of part `n` of a multipart object (a single-part object has one part: all of it).
fn part_range(row: &ObjectRow, n: u32) -> S3Result<ByteRange> {
    let sizes: Vec<u64> = if row.part_sizes.is_empty() {
        vec![row.size]
    } else {
        row.part_sizes.clone()
    };
    let idx = n as usize - 1;
    if idx >= sizes.len() {
        return Err(S3Error::new(S3ErrorCode::InvalidPartNumber));
    }
    let start: u64 = sizes[..idx].iter().sum();
    if sizes[idx] == 0 {
        return Err(S3Error::new(S3ErrorCode::InvalidRange));
    }
    Ok(ByteRange {
        start,
        end_inclusive: start + sizes[idx] - 1,
    })
}
