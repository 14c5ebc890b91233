//! Who is calling: SigV4 verification against the known access keys, then
//! the key's state and IP allow-list.

use std::net::{IpAddr, Ipv4Addr};

use http::request::Parts;
use kura_protocol::router::Operation;
use kura_protocol::sigv2::PresignedV2;
use kura_protocol::sigv4::post_policy::PostSignature;
use kura_protocol::sigv4::{
    parse_request_auth, AuthScheme, PayloadMode, RequestParts, SecretKey, Verified,
};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use crate::access::ip::{client_ip, PeerAddr};
use crate::access::Principal;
use crate::clock::now_ms;
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

/// Verifies the request's signature (header, SigV4 presigned URL or SigV2
/// presigned URL) and returns the caller, after the key's state and IP
/// allow-list are checked. Anonymous requests are refused here (public links
/// are served before authentication).
pub fn authenticate(state: &AppState, parts: &Parts) -> S3Result<(Verified, Principal)> {
    let request = RequestParts {
        method: &parts.method,
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
    };
    let now = time::OffsetDateTime::now_utc();
    if !parts.headers.contains_key(http::header::AUTHORIZATION) {
        if let Some(v2) = PresignedV2::parse(request.raw_query)? {
            let (secret, principal) = lookup(state, v2.access_key_id())?;
            let verified = v2.verify(&request, vhost_bucket(state, parts), &secret, now)?;
            return admit(state, parts, verified, principal);
        }
    }
    let Some(signed) = parse_request_auth(&request)? else {
        return Err(S3Error::new(S3ErrorCode::AccessDenied));
    };
    let (secret, principal) = lookup(state, signed.access_key_id())?;
    let verified = signed.verify(&request, &secret, &state.region, now)?;
    admit(state, parts, verified, principal)
}

/// SigV2 is accepted only for what needs it: presigned GET and HEAD of
/// objects, which boto3's `generate_presigned_url` and aws-cli v1's
/// `aws s3 presign` produce by default. A SigV2 URL for anything else is
/// refused, before its signature is even checked, as S3 refuses SigV2 in
/// regions that only speak SigV4.
pub fn check_sigv2_use(parts: &Parts, op: &Operation) -> S3Result<()> {
    let object_read = matches!(
        op,
        Operation::GetObject { .. } | Operation::HeadObject { .. }
    );
    // The same test `authenticate` uses to pick SigV2.
    let sigv2 = !parts.headers.contains_key(http::header::AUTHORIZATION)
        && PresignedV2::parse(parts.uri.query().unwrap_or(""))?.is_some();
    if sigv2 && !object_read {
        return Err(S3Error::invalid_request("Please use AWS4-HMAC-SHA256."));
    }
    Ok(())
}

/// The admin API's rule: SigV4 in the `Authorization` header, with
/// `x-amz-content-sha256` the body's SHA-256 (checked against the body as it
/// is read). A presigned URL, SigV2, `UNSIGNED-PAYLOAD` or a streaming body
/// would let whoever saw the request replay it with another body.
pub fn require_signed_body(verified: &Verified) -> S3Result<()> {
    match (verified.scheme, verified.payload) {
        (AuthScheme::SigV4Header, PayloadMode::Sha256(_)) => Ok(()),
        (AuthScheme::SigV4Header, _) => Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "The admin API needs the body's SHA-256 in x-amz-content-sha256.",
        )),
        _ => Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "The admin API needs SigV4 in the Authorization header; presigned URLs are refused.",
        )),
    }
}

/// The secret and principal of an access key id.
pub(crate) fn lookup(state: &AppState, access_key_id: &str) -> S3Result<(SecretKey, Principal)> {
    // Access key IDs are not secret: a plain comparison is fine here; the
    // signature itself is compared in constant time by `verify`.
    if access_key_id == state.root.access_key_id {
        let principal = Principal::Root {
            access_key_id: state.root.access_key_id.clone(),
        };
        return Ok((state.root.secret.clone(), principal));
    }
    match state.keys.get(access_key_id) {
        Some(key) => Ok((key.secret.clone(), Principal::Key(key))),
        None => Err(S3Error::new(S3ErrorCode::InvalidAccessKeyId)),
    }
}

/// The checks after a valid signature: a run-time key must be enabled and
/// used from an allowed address. Checked after the signature, so only the
/// key's holder learns why a request was refused.
fn admit(
    state: &AppState,
    parts: &Parts,
    verified: Verified,
    principal: Principal,
) -> S3Result<(Verified, Principal)> {
    check_key(state, parts, &principal)?;
    Ok((verified, principal))
}

/// Verifies a browser form's signed policy (POST Object) and returns the
/// signer, after the same key checks as any signed request.
pub fn authenticate_form(
    state: &AppState,
    parts: &Parts,
    signature: &PostSignature,
    policy_b64: &str,
) -> S3Result<Principal> {
    let (secret, principal) = lookup(state, signature.access_key_id())?;
    signature.verify(policy_b64, &secret, &state.region)?;
    check_key(state, parts, &principal)?;
    Ok(principal)
}

/// A run-time key must be enabled and used from an allowed address.
pub(crate) fn check_key(state: &AppState, parts: &Parts, principal: &Principal) -> S3Result<()> {
    let Principal::Key(key) = principal else {
        return Ok(());
    };
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
    Ok(())
}

/// The bucket named by the Host header in virtual-host-style requests: a
/// SigV2 signed resource always names the bucket, the path then does not.
fn vhost_bucket<'a>(state: &'a AppState, parts: &'a Parts) -> Option<&'a str> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or_default();
    let host = kura_protocol::headers::host_name(host);
    state
        .domain
        .as_deref()
        .and_then(|d| host.strip_suffix(d))
        .and_then(|b| b.strip_suffix('.'))
        .filter(|b| !b.is_empty())
}
