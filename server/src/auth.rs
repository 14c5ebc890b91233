//! Who is calling: SigV4 verification against the known access keys.

use http::request::Parts;
use kura_protocol::sigv2::PresignedV2;
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
    if !parts.headers.contains_key(http::header::AUTHORIZATION) {
        if let Some(v2) = PresignedV2::parse(request.raw_query)? {
            return verify_v2(state, parts, &request, &v2);
        }
    }
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

/// SigV2 presigned URLs (boto3's and aws-cli v1's default presigning).
fn verify_v2(
    state: &AppState,
    parts: &Parts,
    request: &RequestParts<'_>,
    v2: &PresignedV2,
) -> S3Result<Verified> {
    if v2.access_key_id() != state.root.access_key_id {
        return Err(S3Error::new(S3ErrorCode::InvalidAccessKeyId));
    }
    // The signed resource always names the bucket; in virtual-host style
    // requests the path does not.
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let vhost_bucket = state
        .domain
        .as_deref()
        .and_then(|d| host.strip_suffix(d))
        .and_then(|b| b.strip_suffix('.'))
        .filter(|b| !b.is_empty());
    v2.verify(
        request,
        vhost_bucket,
        &state.root.secret,
        time::OffsetDateTime::now_utc(),
    )
}
