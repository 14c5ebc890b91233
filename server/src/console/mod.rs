//! The web console at `/_kura/console/`: static pages built into the
//! binary, a session API, and two gateways that run the signed-in key's
//! requests through the code every other request uses:
//!
//! | path | what |
//! |---|---|
//! | `/_kura/console/` , `assets/*` | the page, its modules and styles ([`assets`]) |
//! | `api/session` | POST sign in, GET who am I, DELETE sign out ([`signin`]) |
//! | `api/audit` | recent audit entries (`*:admin`) ([`audit_tail`]) |
//! | `api/links`, `api/links/{id}` | the key's share links: list, make, revoke ([`links`]) |
//! | `s3/{bucket}/{key}?…` | any S3 request, as that key ([`s3`]) |
//! | `admin/v1/…` | the admin API, for `*:admin` keys ([`crate::admin`]) |
//!
//! Every request but the page and sign-in needs the session cookie; every
//! one but GET and HEAD also needs the session's CSRF token in
//! `x-kura-csrf`. Each one is recorded in the access log and the audit file
//! as the session's key, with `via: "console"`.

pub mod assets;
pub mod audit_tail;
mod links;
mod s3;
pub mod session;
mod signin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderValue, Method, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use serde::Serialize;

use crate::access::Principal;
use crate::access_log::AccessRecord;
use crate::response::{self, Body};
use crate::state::AppState;
use session::{Missing, Session, Sessions};

/// Where the console lives.
pub const ROOT: &str = "/_kura/console/";

/// The console's share of the server state.
pub struct Console {
    /// Open sessions and sign-in failure counters.
    pub sessions: Sessions,
    /// The audit file, for the operator's "recent entries" view.
    pub audit_log: Option<PathBuf>,
}

impl Console {
    /// Sessions ending after `idle` without use or `lifetime` after sign-in.
    pub fn new(idle: Duration, lifetime: Duration, audit_log: Option<PathBuf>) -> Console {
        Console {
            sessions: Sessions::new(idle, lifetime),
            audit_log,
        }
    }
}

/// Whether the request is for the console (no bucket can be named `_kura`).
pub fn is_console_path(path: &str) -> bool {
    path.starts_with(ROOT) || path == "/_kura/console"
}

/// The Content-Security-Policy of the console's pages: nothing but its own
/// files, no inline script or style, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Handles one console request; returns the operation name it is recorded under.
pub async fn handle(
    state: &Arc<AppState>,
    parts: Parts,
    body: Incoming,
    request_id: &str,
    record: &mut Option<Box<AccessRecord>>,
) -> (&'static str, S3Result<Response<Body>>) {
    if let Some(r) = record.as_mut() {
        r.via = Some("console".into());
    }
    let path = parts.uri.path();
    let rest = path.strip_prefix(ROOT).unwrap_or("");
    if path == "/_kura/console" {
        let mut r = response::empty(StatusCode::PERMANENT_REDIRECT);
        response::set_header(&mut r, "location", ROOT);
        return ("ConsolePage", Ok(r));
    }
    if rest.is_empty() || rest.starts_with("assets/") {
        return ("ConsolePage", Ok(with_page_headers(assets::serve(&parts))));
    }
    if rest == "api/session" && parts.method == Method::POST {
        let r = signin::sign_in(state, &parts, body, record).await;
        return ("ConsoleSignIn", Ok(no_store(r)));
    }
    // Everything else acts as the session's key.
    let (id, session, principal) = match current(state, &parts) {
        Ok(s) => s,
        Err(e) => return ("Console", Ok(no_store(api_error(&e)))),
    };
    if let Some(r) = record.as_mut() {
        r.access_key_id = Some(principal.access_key_id().to_string());
        r.key_name = Some(key_name(&principal));
    }
    let safe = parts.method == Method::GET || parts.method == Method::HEAD;
    if !safe {
        let token = parts
            .headers
            .get("x-kura-csrf")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !session::same(token, &session.csrf) {
            let e = S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "The console's CSRF token is missing or wrong.",
            )
            .header("x-kura-console", "csrf");
            return ("Console", Ok(no_store(api_error(&e))));
        }
    }
    if rest == "api/session" {
        return match parts.method {
            Method::GET => (
                "ConsoleSession",
                Ok(no_store(signin::who(&principal, &session))),
            ),
            Method::DELETE => {
                state.console.sessions.close(&id);
                ("ConsoleSignOut", Ok(no_store(signin::signed_out(state))))
            }
            _ => ("Console", Ok(api_error(&not_found()))),
        };
    }
    if rest == "api/audit" && parts.method == Method::GET {
        let r = admin_only(&principal).map(|()| audit_tail::serve(state, &parts));
        return (
            "ConsoleAudit",
            Ok(no_store(r.unwrap_or_else(|e| api_error(&e)))),
        );
    }
    if rest == "api/links" || rest.starts_with("api/links/") {
        let id = rest.trim_start_matches("api/links").trim_matches('/');
        let op = links::op_name(&parts.method, id);
        let r = links::serve(state, &parts, body, &principal, id, record).await;
        return (op, Ok(no_store(r.unwrap_or_else(|e| api_error(&e)))));
    }
    if let Some(admin_rest) = rest.strip_prefix("admin/v1/") {
        let r = match admin_only(&principal) {
            Ok(()) => admin(state, &parts, body, admin_rest).await,
            Err(e) => api_error(&e),
        };
        return ("Admin", Ok(no_store(r)));
    }
    if rest.starts_with("s3/") || rest == "s3" {
        return s3::serve(state, parts, body, principal, request_id, record).await;
    }
    ("Console", Ok(api_error(&not_found())))
}

/// The session of the request's cookie and the principal it acts as. A
/// session whose key was deleted, disabled, rotated or is used from an
/// address its key does not allow is refused (and closed where final).
fn current(state: &AppState, parts: &Parts) -> S3Result<(String, Session, Principal)> {
    let expired = |msg: &str| {
        S3Error::with_message(S3ErrorCode::AccessDenied, msg).header("x-kura-console", "signed-out")
    };
    let id = session::cookie_id(&parts.headers).ok_or_else(|| expired("Not signed in."))?;
    let s = match state.console.sessions.touch(&id) {
        Ok(s) => s,
        Err(Missing::Expired) => {
            return Err(expired("The console session has expired; sign in again."))
        }
        Err(Missing::None) => return Err(expired("Not signed in.")),
    };
    let principal = match crate::auth::lookup(state, &s.access_key_id) {
        Ok((secret, p)) if session::print(secret.expose()) == s.secret_print => p,
        _ => {
            state.console.sessions.close(&id);
            return Err(expired(
                "The access key of this session changed; sign in again.",
            ));
        }
    };
    crate::auth::check_key(state, parts, &principal)?;
    Ok((id, s, principal))
}

fn admin_only(principal: &Principal) -> S3Result<()> {
    if principal.is_global_admin() {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "This needs a key with admin rights on every bucket (*:admin).",
        ))
    }
}

/// The admin API for a signed-in `*:admin` key: the same endpoints, the
/// session (with its CSRF token) in place of a signature.
async fn admin(state: &Arc<AppState>, parts: &Parts, body: Incoming, rest: &str) -> Response<Body> {
    let body = match read_small(body, crate::admin::MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return api_error(&e),
    };
    match crate::admin::route(state, &parts.method, rest, &body).await {
        Ok(r) => r,
        Err(e) => crate::admin::error(&e),
    }
}

/// Reads a small JSON body whole (refusing more than `max` bytes).
pub(crate) async fn read_small(body: Incoming, max: usize) -> S3Result<Bytes> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, max);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The request body is too large or was cut off.",
        )),
    }
}

fn key_name(p: &Principal) -> String {
    match p {
        Principal::Root { .. } => "root".to_string(),
        Principal::Key(k) => k.name.clone(),
    }
}

fn not_found() -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, "No such console endpoint")
        .header("x-kura-not-found", "1")
}

/// A console API error: `{"code", "message"}` with the error's status
/// (401 when the browser must sign in again) and headers.
pub(crate) fn api_error(e: &S3Error) -> Response<Body> {
    let mut r = crate::admin::error(e);
    for (name, value) in &e.headers {
        response::set_header(&mut r, name, value);
    }
    if e.headers
        .iter()
        .any(|(n, v)| *n == "x-kura-console" && v == "signed-out")
    {
        *r.status_mut() = StatusCode::UNAUTHORIZED;
    }
    r
}

/// A 200 JSON answer of the console API.
pub(crate) fn json<T: Serialize>(value: &T) -> Response<Body> {
    crate::admin::json(value)
}

fn no_store(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn with_page_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    r
}
