//! Share links: upload links ("file requests") and expiring download links.
//!
//! | method | path | operation |
//! |---|---|---|
//! | POST / GET | `/_kura/admin/v1/links` | `CreateLink` / `ListLinks` (signed, see [`api`]) |
//! | GET / DELETE | `/_kura/admin/v1/links/{id}` | `GetLink` / `RevokeLink` |
//! | GET | `/_kura/upload/{token}` | `GetUploadPage`: the static page |
//! | GET | `/_kura/upload/assets/{file}` | `GetUploadPage`: its script and style |
//! | GET | `/_kura/upload/{token}/info` | `GetLinkInfo`: what the link still accepts |
//! | POST | `/_kura/upload/{token}` | `UploadThroughLink`: a `multipart/form-data` file |
//! | GET, HEAD | `/_kura/d/{token}/{name}` | `GetLinkObject`: the shared object version |
//!
//! The token in a URL is 256 random bits. kura keeps only its SHA-256; a
//! link's id (shown in lists, audit lines, `kura share --revoke`) is the
//! first 8 bytes of that hash in hex, so every request through a link is
//! audited with the id without a lookup, and the id does not open the link.
//!
//! A link acts with the rights of the key that made it, checked again at
//! every use: a link made by a key that was since disabled, deleted, or
//! lost its write (upload) or read (download) permission there stops
//! working.

pub mod api;
mod download;
mod page;
mod upload;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::LinkRow;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::access::Principal;
use crate::access_log::AccessRecord;
use crate::errors::StorageResultExt;
use crate::response::{self, Body};
use crate::state::AppState;

/// Where the management API lives (inside the admin API's path space, with
/// its own authorization: the caller's grants, not `*:admin`).
pub const API_PATH: &str = "/_kura/admin/v1/links";
/// Upload pages and uploads.
pub const UPLOAD_PREFIX: &str = "/_kura/upload/";
/// Download links.
pub const DOWNLOAD_PREFIX: &str = "/_kura/d/";

/// Operation names of link requests, in logs, metrics and the audit file
/// (each has its section in docs/api.md).
pub const OPS: &[&str] = &[
    "CreateLink",
    "ListLinks",
    "GetLink",
    "RevokeLink",
    "GetUploadPage",
    "GetLinkInfo",
    "UploadThroughLink",
    "GetLinkObject",
];

/// Characters in a token: 32 random bytes, base64url without padding.
const TOKEN_LEN: usize = 43;

/// A request for a link endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The management API.
    Api,
    /// The upload page of a token.
    Page,
    /// The page's script or style.
    Asset(String),
    /// What an upload link still accepts.
    Info(String),
    /// A file posted through an upload link.
    Upload(String),
    /// A download link.
    Download(String),
    /// A link path with a method it does not take.
    WrongMethod,
}

impl Route {
    /// The operation name.
    pub fn op_name(&self, method: &Method, path: &str) -> &'static str {
        match self {
            Route::Api => api::op_name(method, path),
            Route::Page | Route::Asset(_) | Route::WrongMethod => "GetUploadPage",
            Route::Info(_) => "GetLinkInfo",
            Route::Upload(_) => "UploadThroughLink",
            Route::Download(_) => "GetLinkObject",
        }
    }

    fn token(&self) -> Option<&str> {
        match self {
            Route::Info(t) | Route::Upload(t) | Route::Download(t) => Some(t),
            _ => None,
        }
    }
}

/// The link endpoint a request addresses, if any.
pub fn route(state: &AppState, parts: &Parts) -> Option<Route> {
    let path = parts.uri.path();
    let m = &parts.method;
    if path == API_PATH || path.starts_with(&format!("{API_PATH}/")) {
        return Some(Route::Api);
    }
    let (upload, rest) = match (
        path.strip_prefix(UPLOAD_PREFIX),
        path.strip_prefix(DOWNLOAD_PREFIX),
    ) {
        (Some(rest), _) => (true, rest),
        (_, Some(rest)) => (false, rest),
        _ => return None,
    };
    // With a virtual-host-style bucket the path belongs to the bucket.
    if let Some(domain) = state.domain.as_deref() {
        let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
        if kura_protocol::headers::host_name(host) != domain {
            return None;
        }
    }
    let get = m == Method::GET || m == Method::HEAD;
    if !upload {
        let token = rest.split('/').next().unwrap_or_default().to_string();
        return Some(if get {
            Route::Download(token)
        } else {
            Route::WrongMethod
        });
    }
    if let Some(file) = rest.strip_prefix("assets/") {
        return Some(if get {
            Route::Asset(file.to_string())
        } else {
            Route::WrongMethod
        });
    }
    Some(match (rest.split_once('/'), m) {
        (Some((token, "info")), &Method::GET) => Route::Info(token.to_string()),
        (None, &Method::GET) | (None, &Method::HEAD) => Route::Page,
        (None, &Method::POST) => Route::Upload(rest.to_string()),
        _ => Route::WrongMethod,
    })
}

/// Serves a link request; the operation's name and its result. Fills in the
/// request's record (link id, bucket, key) as it learns them, refused
/// requests included.
pub async fn serve(
    state: &Arc<AppState>,
    parts: Parts,
    body: Incoming,
    route: Route,
    record: &mut Option<Box<AccessRecord>>,
) -> (&'static str, S3Result<Response<Body>>) {
    let name = route.op_name(&parts.method, parts.uri.path());
    if let (Some(r), Some(token)) = (record.as_mut(), route.token()) {
        r.link_id = Some(link_id(token));
    }
    let result = match route {
        Route::Api => api::handle(state, parts, body, record).await,
        Route::Page => Ok(page::page()),
        Route::Asset(file) => page::asset(&file),
        Route::Info(token) => upload::info(state, &token),
        Route::Upload(token) => upload::upload(state, parts, body, &token, record).await,
        Route::Download(token) => download::download(state, &parts, &token, record).await,
        Route::WrongMethod => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    };
    (name, result)
}

/// Whether errors of this path are answered as JSON (the API, the upload
/// page's calls) rather than S3 XML (download links, like public links).
pub fn answers_json(path: &str) -> bool {
    path.starts_with(API_PATH) || path.starts_with(UPLOAD_PREFIX)
}

/// An error as JSON: `{"code", "message", "request_id"}` with the code's
/// status and the error's headers.
pub fn json_error(e: &S3Error, request_id: &str, head: bool) -> Response<Body> {
    let mut r = if head {
        response::empty(e.status())
    } else {
        let body = serde_json::json!({
            "code": e.code.as_str(),
            "message": e.message,
            "request_id": request_id,
        });
        json_response(e.status(), &body)
    };
    for (name, value) in &e.headers {
        response::set_header(&mut r, name, value);
    }
    if e.code == S3ErrorCode::RequestTimeout {
        r.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// A JSON answer.
pub(crate) fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec_pretty(value).expect("link types serialize");
    let mut r = Response::new(response::full(body));
    *r.status_mut() = status;
    response::set_header(&mut r, "content-type", "application/json");
    response::set_header(&mut r, "cache-control", "no-store");
    r
}

/// A new token and its id.
fn new_token() -> (String, String, [u8; 32]) {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    let token = URL_SAFE_NO_PAD.encode(b);
    let hash = token_hash(&token);
    (link_id_of(&hash), token, hash)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn link_id_of(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

/// The id of the link a token names (whether or not it exists).
pub fn link_id(token: &str) -> String {
    link_id_of(&token_hash(token))
}

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The link a token opens: its id and row, whatever its state.
/// `NoSuchLink` for a token that names none, or whose bucket is gone (or
/// was deleted and created again: another bucket).
fn resolve(state: &AppState, token: &str) -> S3Result<(String, LinkRow)> {
    if !well_formed(token) {
        return Err(S3Error::new(S3ErrorCode::NoSuchLink));
    }
    let hash = token_hash(token);
    let id = link_id_of(&hash);
    let row = state
        .store
        .link(&id)
        .s3()?
        .filter(|row| bool::from(row.token_sha256.ct_eq(&hash)))
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchLink))?;
    let same_bucket = state
        .store
        .bucket(&row.bucket)
        .s3()?
        .is_some_and(|b| b.created_ms == row.bucket_created_ms);
    if !same_bucket {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchLink,
            "The bucket this link points into no longer exists.",
        ));
    }
    Ok((id, row))
}

/// The key that made a link, as it is now (`None`: deleted or disabled,
/// or root credentials that changed since).
fn creator(state: &AppState, row: &LinkRow) -> Option<Principal> {
    if row.created_by == state.root.access_key_id {
        return Some(Principal::Root {
            access_key_id: row.created_by.clone(),
        });
    }
    state
        .keys
        .get(&row.created_by)
        .filter(|k| k.enabled)
        .map(Principal::Key)
}

/// Refuses a link whose maker may no longer do `perm` on `key` (or folder).
fn check_creator(
    state: &AppState,
    row: &LinkRow,
    key: &str,
    perm: crate::access::Permission,
) -> S3Result<()> {
    match creator(state, row) {
        Some(p) if p.may(&row.bucket, key, perm) => Ok(()),
        _ => Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "The access key that made this link may no longer use it.",
        )),
    }
}

/// `scheme://host` of the request, for the URLs handed out.
pub(crate) fn origin(state: &AppState, parts: &Parts) -> String {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("{}://{host}", state.scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_ids() {
        let (id, token, hash) = new_token();
        assert!(well_formed(&token), "{token}");
        assert_eq!(id.len(), 16);
        assert_eq!(link_id(&token), id);
        assert_eq!(token_hash(&token), hash);
        assert!(!well_formed("assets"));
        assert!(!well_formed(&format!("{}/", &token[..42])));
    }

    /// Every link operation has its section in docs/api.md.
    #[test]
    fn every_link_operation_is_documented() {
        let api = include_str!("../../../docs/api.md");
        for name in OPS {
            assert!(
                api.contains(&format!("### {name}\n")),
                "docs/api.md has no `### {name}` section"
            );
        }
    }
}
