//! Who is calling: SigV4 verification against the known access keys.

use http::request::Parts;
use kura_protocol::sigv4::{parse_request_auth, RequestParts, Verified};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use crate::state::AppState;

/// Verifies the request's signature (header or presigned URL). Anonymous
/// requests are refused: kura has no public objects yet.
pub fn authenticate(state: &AppState, parts: &Parts) -> S3Result<Verified> {
    let request = RequestParts {
        method: &parts.method,
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
    };
    let Some(signed) = parse_request_auth(&request)? else {
        return Err(S3Error::new(S3ErrorCode::AccessDenied));
    };
    // Access key IDs are not secret: a plain comparison is fine here; the
    // signature itself is compared in constant time by `verify`.
    if signed.access_key_id() != state.root.access_key_id {
        return Err(S3Error::new(S3ErrorCode::InvalidAccessKeyId));
    }
    signed.verify(
        &request,
        &state.root.secret,
        &state.region,
        time::OffsetDateTime::now_utc(),
    )
}
