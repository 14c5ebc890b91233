//! DeleteObjects (`POST /bucket?delete`): up to 1,000 keys in one request,
//! each deleted on its own (S3 promises no atomicity across keys), with a
//! per-key result or error.

use http::Response;
use kura_protocol::checksum::{requested_checksum, ChecksumHasher};
use kura_protocol::xml::{DeleteError, DeleteRequest, DeleteResult, DeletedEntry};
use kura_protocol::{headers, S3Error, S3ErrorCode, S3Result};
use kura_storage::{Store, Versioning};
use md5::{Digest, Md5};

use super::kit::delete::delete_one;
use super::kit::Ctx;
use crate::access::Principal;
use crate::errors::blocking;
use crate::response::{self, Body};

/// Largest request body: 1,000 keys of up to 1,024 bytes, escaped, fit well within.
const MAX_BODY: usize = 8 << 20;

pub async fn delete_objects(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    let h = &ctx.parts.headers;
    let content_md5 = headers::content_md5(h)?;
    let checksum = requested_checksum(h)?;
    // S3 requires an integrity check on this request: a corrupted body
    // could otherwise delete the wrong keys.
    if content_md5.is_none() && checksum.is_none() {
        return Err(S3Error::invalid_request(
            "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
        ));
    }
    let store = ctx.state.store.clone();
    let who = ctx.principal.clone();
    super::kit::existing_bucket(&store, &bucket)?;
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_BODY).await?;
    if let Some(want) = content_md5 {
        if want != <[u8; 16]>::from(Md5::digest(&body)) {
            return Err(S3Error::new(S3ErrorCode::BadDigest));
        }
    }
    if let Some((algorithm, given)) = checksum {
        // The value comes from its header or, for aws-chunked bodies, the trailer.
        let given = match given {
            Some(g) => Some(g),
            None => payload
                .trailers()
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(algorithm.header_name()))
                .map(|(_, v)| kura_protocol::checksum::Checksum::parse(algorithm, v))
                .transpose()?,
        };
        if let Some(given) = given {
            let mut hasher = ChecksumHasher::new(algorithm);
            hasher.update(&body);
            if hasher.finalize() != given {
                return Err(S3Error::new(S3ErrorCode::BadDigest));
            }
        }
    }
    let request = DeleteRequest::parse(&body)?;
    let result = blocking(move || Ok(delete_each(&store, &who, &bucket, request))).await?;
    Ok(response::xml(result.to_xml()))
}

/// Deletes each key in turn; one key's failure (including an entry `who`
/// may not delete, answered `AccessDenied` as S3 does) does not stop the others.
fn delete_each(
    store: &Store,
    who: &Principal,
    bucket: &str,
    request: DeleteRequest,
) -> DeleteResult {
    let mut result = DeleteResult::default();
    let versioning = match store.bucket(bucket) {
        Ok(Some(row)) => row.versioning,
        // Gone since the request began: each key reports it.
        _ => Versioning::Unversioned,
    };
    for object in request.objects {
        match delete_one(
            store,
            who,
            versioning,
            bucket,
            &object.key,
            object.version_id.as_deref(),
        ) {
            Ok(_) if request.quiet => {}
            Ok(deleted) => {
                // The version id of the delete marker created or removed.
                let marker = deleted.version_id.filter(|_| deleted.delete_marker);
                result.deleted.push(DeletedEntry {
                    key: object.key,
                    version_id: object.version_id,
                    delete_marker: marker.is_some(),
                    delete_marker_version_id: marker,
                })
            }
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::warn!(key = object.key, code = e.code.as_str(), "delete failed");
                }
                result
                    .errors
                    .push(DeleteError::new(object.key, object.version_id, &e));
            }
        }
    }
    result
}
