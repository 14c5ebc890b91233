//! The answer of CompleteMultipartUpload, and its repeat.
//!
//! A client whose Complete answer was lost sends the request again. The
//! upload is gone by then, but the completion is remembered (in the batch
//! that made the object, for `--multipart-expiry`), so the repeat gets the
//! same 200 — ETag, version id, checksums — instead of `NoSuchUpload`, as S3
//! answers. Only a repeat naming the same part list is one: another list is
//! a different request for an upload that no longer exists.

use http::Response;
use kura_protocol::xml::{url_encode, CompleteMultipartUpload, CompleteMultipartUploadResult};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{CompletedUpload, Store};

use super::CtxRest;
use crate::errors::StorageResultExt;
use crate::response::{self, Body};

/// What a Complete answers, first time or repeated.
pub struct Answer<'a> {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    /// `x-amz-version-id`, when the write answers one.
    pub version_id: Option<String>,
    pub checksums: &'a [(String, String)],
    /// The upload's `x-amz-checksum-type`, if it was created with one.
    pub checksum_type: Option<String>,
}

impl Answer<'_> {
    /// The `<CompleteMultipartUploadResult>` response.
    pub fn response(self, rest: &CtxRest) -> Response<Body> {
        let host = rest
            .parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let mut checksums = self
            .checksums
            .first()
            .map(super::checksum::checksums_of)
            .unwrap_or_default();
        if !self.checksums.is_empty() {
            checksums.checksum_type = Some(self.checksum_type.unwrap_or("FULL_OBJECT".into()));
        }
        let doc = CompleteMultipartUploadResult {
            location: format!(
                "{}://{host}/{}/{}",
                rest.state.scheme,
                self.bucket,
                url_encode(&self.key).replace("%2F", "/")
            ),
            bucket: self.bucket,
            key: self.key,
            etag: self.etag,
            checksums,
        };
        let mut r = response::xml(doc.to_xml());
        if let Some(v) = &self.version_id {
            response::set_header(&mut r, "x-amz-version-id", v);
        }
        r
    }
}

/// Answers a Complete for an upload that no longer exists: the first
/// answer again if it completed with the same part list, else `NoSuchUpload`.
pub fn repeat(
    store: &Store,
    rest: &CtxRest,
    (bucket, key, upload_id): (String, String, &str),
    request: &CompleteMultipartUpload,
) -> S3Result<Response<Body>> {
    let record = store
        .completed_upload(&bucket, &key, upload_id)
        .s3()?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchUpload))?;
    if !same_parts(&record, request) {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchUpload,
            "The multipart upload was already completed with a different part list.",
        ));
    }
    Ok(Answer {
        bucket,
        key,
        etag: record.etag.clone(),
        version_id: record.version_id(),
        checksums: &record.checksums,
        checksum_type: record.checksum_type.clone(),
    }
    .response(rest))
}

/// Whether `request` names the parts the upload was completed with (ETags
/// compared without quotes, as on the first Complete).
fn same_parts(record: &CompletedUpload, request: &CompleteMultipartUpload) -> bool {
    record.parts.len() == request.parts.len()
        && record
            .parts
            .iter()
            .zip(&request.parts)
            .all(|((n, etag), p)| {
                *n == p.part_number && etag.trim_matches('"') == p.etag.trim_matches('"')
            })
}
