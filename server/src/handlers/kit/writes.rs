//! What the write handlers (PutObject, CopyObject, multipart) check the
//! same way: declared lengths, write preconditions, part limits.

use kura_protocol::checksum::ChecksumAlgorithm;
use kura_protocol::headers;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{Store, UploadRow};

use crate::errors::StorageResultExt;

/// Every part but the last must be at least this large (S3's limit).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The object size a PUT declares: `x-amz-decoded-content-length` for
/// aws-chunked bodies, Content-Length otherwise; `None` for a body sent with
/// `Transfer-Encoding: chunked` and no length (some SDKs and proxies stream
/// so), which the caller must hold to its size limit while it streams
/// ([`crate::body::Payload::with_limit`]). Neither is 411, as in S3.
pub fn payload_length(h: &http::HeaderMap, streaming: bool) -> S3Result<Option<u64>> {
    let declared = if streaming {
        headers::decoded_content_length(h)?
    } else {
        headers::content_length(h)?
    };
    match declared {
        Some(n) => Ok(Some(n)),
        None if !streaming && chunked_transfer(h) => Ok(None),
        None => Err(S3Error::new(S3ErrorCode::MissingContentLength)),
    }
}

/// Whether the body comes with `Transfer-Encoding: chunked` (hyper undoes
/// the framing; the length is known only at the end).
fn chunked_transfer(h: &http::HeaderMap) -> bool {
    h.get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
}

/// `If-None-Match: *` (create only) and `If-Match: "etag"` (replace only that
/// version). Checked under the key's write lock, so they cannot race.
pub fn check_write_conditions(
    store: &Store,
    h: &http::HeaderMap,
    bucket: &str,
    key: &str,
) -> S3Result<()> {
    let if_none_match = h
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let if_match = h.get(http::header::IF_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match.is_none() && if_match.is_none() {
        return Ok(());
    }
    let current = store
        .current(bucket, key)
        .s3()?
        .filter(|r| !r.delete_marker);
    if let Some(v) = if_none_match {
        if v.trim() != "*" {
            return Err(S3Error::new(S3ErrorCode::NotImplemented));
        }
        if current.is_some() {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }
    }
    if let Some(v) = if_match {
        let Some(current) = current else {
            return Err(S3Error::new(S3ErrorCode::NoSuchKey));
        };
        let matches = v
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_matches('"') == current.etag.trim_matches('"'));
        if !matches {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }
    }
    Ok(())
}

/// The upload's checksum algorithm, if it was created with one.
pub fn upload_algorithm(upload: &UploadRow) -> Option<ChecksumAlgorithm> {
    upload
        .checksum_algorithm
        .as_deref()
        .and_then(ChecksumAlgorithm::from_name)
}
