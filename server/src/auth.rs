//! Who is calling: SigV4 verification against the known access keys, then
//! the key's state and IP allow-list.

use std::net::{IpAddr, Ipv4Addr};

use http::request::Parts;
use kura_protocol::sigv2::PresignedV2;
use kura_protocol::sigv4::{parse_request_auth, RequestParts, Verified};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use crate::access::ip::{client_ip, PeerAddr};
use crate::access::Principal;
use crate::state::AppState;

/// The client address of a request (behind trusted proxies, the forwarded one).
pub fn request_client_ip(state: &AppState, parts: &Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        // Only absent if a request did not come through the accept loop.
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    client_ip(peer, &parts.headers, &state.trusted_proxies)
}

/// Verifies the request's signature (header or presigned URL) and returns
/// the caller. Anonymous requests are refused: kura has no public objects yet.
pub fn authenticate(state: &AppState, parts: &Parts) -> S3Result<(Verified, Principal)> {
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
    let now = time::OffsetDateTime::now_utc();
    // Access key IDs are not secret: a plain comparison is fine here; the
    // signature itself is compared in constant time by `verify`.
    if signed.access_key_id() == state.root.access_key_id {
        let verified = signed.verify(&request, &state.root.secret, &state.region, now)?;
        let principal = Principal::Root {
            access_key_id: state.root.access_key_id.clone(),
        };
        return Ok((verified, principal));
    }
    let Some(key) = state.keys.get(signed.access_key_id()) else {
        return Err(S3Error::new(S3ErrorCode::InvalidAccessKeyId));
    };
    let verified = signed.verify(&request, &key.secret, &state.region, now)?;
    // Checked after the signature, so only the key's holder learns why.
    if !key.enabled {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The access key you provided is disabled.",
        ));
    }
    let ip = request_client_ip(state, parts);
    if !key.allows_ip(ip) {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            format!("Access Denied: the source address {ip} is not allowed for this access key."),
        ));
    }
    state.keys.touch(&key.id, now_ms());
    Ok((verified, Principal::Key(key)))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
