//! Public URLs: published objects served to anyone, without credentials.
//!
//! Two ways in, both anonymous and both read-only:
//! * `GET|HEAD /p/<token>/<filename>`: the token (160 random bits) names the
//!   object; the filename is only there so the link reads well.
//! * `GET|HEAD /<bucket>/<key>` without credentials, for a key published
//!   with the `public-read` ACL, as S3 does.
//!
//! Public responses carry `Content-Security-Policy: sandbox` (and the
//! server-wide `nosniff`), so an uploaded HTML file cannot run script on
//! kura's origin, and `response-*` overrides are not honoured, as in S3 for
//! anonymous requests.

use http::request::Parts;
use http::{Method, Response};
use kura_protocol::router::Operation;
use kura_protocol::sigv4::{parse_request_auth, RequestParts};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use super::kit::public_url::{file_name, PUBLIC_PREFIX};
use super::kit::serve::{serve_object, ObjectRead};
use crate::errors::StorageResultExt;
use crate::response::{self, Body};
use crate::state::AppState;

/// Hex digits in a token (see `kura_storage` public tokens).
const TOKEN_LEN: usize = 40;

/// The object a public response served (a response extension, read by the access log).
#[derive(Debug, Clone)]
pub struct PublicObject {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
}

/// Serves `/p/<token>/<filename>` if the request is one; `None` otherwise.
pub async fn intercept(state: &AppState, parts: &Parts) -> Option<S3Result<Response<Body>>> {
    let rest = parts.uri.path().strip_prefix(PUBLIC_PREFIX)?;
    // With a virtual-host-style bucket the path belongs to the bucket.
    if let Some(domain) = state.domain.as_deref() {
        let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
        let host = kura_protocol::headers::host_name(host);
        if host != domain {
            return None;
        }
    }
    Some(serve_token(state, parts, rest).await)
}

async fn serve_token(state: &AppState, parts: &Parts, rest: &str) -> S3Result<Response<Body>> {
    let head = match parts.method {
        Method::GET => false,
        Method::HEAD => true,
        _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    };
    let token = rest.split('/').next().unwrap_or_default();
    if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(S3Error::new(S3ErrorCode::NoSuchKey));
    }
    let (bucket, key) = state
        .store
        .resolve_public(token)
        .s3()?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchKey))?;
    serve_public(state, parts, bucket, key, head).await
}

/// For a request without credentials: serves GET/HEAD of a published object,
/// or returns `denied` (the authentication error) for anything else.
pub async fn anonymous_or(
    state: &AppState,
    parts: &Parts,
    op: &Operation,
    denied: S3Error,
) -> S3Result<Response<Body>> {
    let request = RequestParts {
        method: &parts.method,
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
    };
    if !matches!(parse_request_auth(&request), Ok(None)) {
        return Err(denied); // signed, but badly: not anonymous
    }
    let (bucket, key, head) = match op {
        Operation::GetObject {
            bucket,
            key,
            version_id: None,
            part_number: None,
        } => (bucket, key, false),
        Operation::HeadObject {
            bucket,
            key,
            version_id: None,
            part_number: None,
        } => (bucket, key, true),
        _ => return Err(denied),
    };
    match state.store.public_token(bucket, key) {
        Ok(Some(_)) => serve_public(state, parts, bucket.clone(), key.clone(), head).await,
        _ => Err(denied),
    }
}

async fn serve_public(
    state: &AppState,
    parts: &Parts,
    bucket: String,
    key: String,
    head: bool,
) -> S3Result<Response<Body>> {
    let read = ObjectRead {
        bucket,
        key,
        version_id: None,
        part_number: None,
        head,
        overrides: false,
    };
    let (mut r, row) = serve_object(state, parts, &read).await?;
    if row.header("content-disposition").is_none() {
        response::set_header(&mut r, "content-disposition", &disposition(&read.key));
    }
    response::set_header(&mut r, "content-security-policy", "sandbox");
    response::set_header(&mut r, "x-content-type-options", "nosniff");
    // For the access log: a token link does not name its object.
    r.extensions_mut().insert(PublicObject {
        bucket: read.bucket,
        key: read.key,
    });
    Ok(r)
}

/// `attachment` with the file name, ASCII fallback plus RFC 6266/5987 UTF-8 form.
pub(crate) fn disposition(key: &str) -> String {
    let name = file_name(key);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        kura_protocol::xml::url_encode(name)
    )
}
