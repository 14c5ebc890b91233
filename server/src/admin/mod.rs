//! The admin API: JSON over HTTP under `/_kura/admin/v1/`, signed with SigV4
//! by a key holding `admin` on every bucket (`*:admin`) or the root key.
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET | `keys` | → `[KeyInfo]` |
//! | POST | `keys` | `NewKey` → `KeySecret` (the secret is shown only here) |
//! | GET | `keys/{id}` | → `KeyInfo` |
//! | PATCH | `keys/{id}` | `KeyUpdate` → `KeyInfo` (disable/enable, permissions, allow-list, name) |
//! | POST | `keys/{id}/rotate` | → `KeySecret` (the old secret stops working at once) |
//! | DELETE | `keys/{id}` | → 204 |
//! | GET | `buckets` | → `[BucketSettings]` |
//! | GET | `buckets/{name}` | → `BucketSettings` |
//! | PATCH | `buckets/{name}` | `BucketUpdate` → `BucketSettings` |
//! | POST | `buckets/{name}/notify` | `NewWebhook` → `WebhookInfo` with its secret (shown only here) |
//! | DELETE | `buckets/{name}/notify/{id}` | → 204 |
//!
//! Errors are `{"code": …, "message": …}` with the S3 status of the code.
//!
//! Only SigV4 in the `Authorization` header with the body's real SHA-256 in
//! `x-amz-content-sha256` is accepted ([`crate::auth::require_signed_body`]):
//! a presigned URL or an `UNSIGNED-PAYLOAD` request does not bind the body,
//! so whoever saw one could replay it with another (e.g. granting `*:admin`).

mod buckets;
mod keys;
pub mod scrub;
pub mod types;
mod usage;

use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use serde::Serialize;

use crate::auth::authenticate;
use crate::body::Payload;
use crate::response::{self, Body};
use crate::state::AppState;
use types::ApiError;

/// Every admin path starts with this.
pub const ROOT: &str = "/_kura/admin/";
/// The current version of the API.
pub const V1: &str = "/_kura/admin/v1/";

/// Largest admin request body.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Whether the request is for the admin API (no bucket can be named `_kura`).
pub fn is_admin_path(path: &str) -> bool {
    path.starts_with(ROOT) || path == "/_kura/admin"
}

/// Handles one admin request. Errors are answered as JSON, never as S3 XML.
pub async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> S3Result<Response<Body>> {
    Ok(match serve(state, req).await {
        Ok(r) => r,
        Err(e) => error(&e),
    })
}

async fn serve(state: Arc<AppState>, req: Request<Incoming>) -> S3Result<Response<Body>> {
    let (parts, body) = req.into_parts();
    let (mut verified, principal) = authenticate(&state, &parts)?;
    crate::auth::require_signed_body(&verified)?;
    if !principal.is_global_admin() {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "The admin API needs a key with admin rights on every bucket (*:admin).",
        ));
    }
    let length = kura_protocol::headers::content_length(&parts.headers)?;
    let mut payload = Payload::new(body, &mut verified, length)
        .with_idle_timeout(state.body_idle_timeout)
        .with_min_rate(state.min_upload_rate);
    let body = payload.read_to_end(MAX_BODY).await?;
    let rest = parts
        .uri
        .path()
        .strip_prefix(V1)
        .ok_or_else(|| not_found("Unknown admin API version; use /_kura/admin/v1/"))?;
    route(&state, &parts.method, rest, &body).await
}

/// Runs one admin endpoint for a caller already known to be a global admin:
/// `rest` is the path after `/_kura/admin/v1/`. The console's operator views
/// come in here too, so both share one implementation.
pub(crate) async fn route(
    state: &Arc<AppState>,
    m: &Method,
    rest: &str,
    body: &[u8],
) -> S3Result<Response<Body>> {
    let state = Arc::clone(state);
    let body = body.to_vec();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (m, segments.as_slice()) {
        (&Method::GET, ["keys"]) => keys::list(&state).await,
        (&Method::POST, ["keys"]) => keys::create(&state, parse(&body)?).await,
        (&Method::GET, ["keys", id]) => keys::show(&state, id).await,
        (&Method::PATCH, ["keys", id]) => keys::update(&state, id, parse(&body)?).await,
        (&Method::POST, ["keys", id, "rotate"]) => keys::rotate(&state, id).await,
        (&Method::DELETE, ["keys", id]) => keys::delete(&state, id).await,
        (&Method::GET, ["buckets"]) => buckets::list(&state).await,
        (&Method::GET, ["buckets", name]) => buckets::show(&state, name).await,
        (&Method::PATCH, ["buckets", name]) => buckets::update(&state, name, parse(&body)?).await,
        (&Method::POST, ["buckets", name, "reindex"]) => buckets::reindex(&state, name).await,
        (&Method::POST, ["buckets", name, "notify"]) => {
            buckets::notify(&state, name, parse(&body)?).await
        }
        (&Method::DELETE, ["buckets", name, "notify", id]) => {
            buckets::unnotify(&state, name, id).await
        }
        (&Method::POST, ["scrub"]) => scrub::run(&state, parse_or_default(&body)?).await,
        (&Method::GET, ["usage"]) => usage::list(&state).await,
        (&Method::POST, ["usage", "recompute"]) => usage::recompute(&state).await,
        (&Method::POST, ["backup"]) => usage::backup(&state, parse(&body)?).await,
        _ => Err(not_found("No such admin endpoint")),
    }
}

/// An empty body is the defaults; anything else must parse.
fn parse_or_default<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> S3Result<T> {
    if body.is_empty() {
        return Ok(T::default());
    }
    parse(body)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> S3Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| S3Error::invalid_argument(format!("Invalid JSON body: {e}")))
}

fn not_found(message: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, message).header("x-kura-not-found", "1")
}

/// A 200 JSON answer.
pub(crate) fn json<T: Serialize>(value: &T) -> Response<Body> {
    json_status(StatusCode::OK, value)
}

pub(crate) fn json_status<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec_pretty(value).expect("admin types serialize");
    let mut r = Response::new(response::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An admin error as its JSON answer.
pub(crate) fn error(e: &S3Error) -> Response<Body> {
    // Unknown endpoints are 404 here, though S3 has no such code for them.
    let status = if e.headers.iter().any(|(n, _)| *n == "x-kura-not-found") {
        StatusCode::NOT_FOUND
    } else {
        e.status()
    };
    let mut r = json_status(
        status,
        &ApiError {
            code: e.code.as_str().to_string(),
            message: e.message.clone(),
        },
    );
    if e.code == S3ErrorCode::RequestTimeout {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}
