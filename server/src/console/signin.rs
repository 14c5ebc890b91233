//! Signing in and out of the console, and "who am I".

use std::sync::Arc;

use http::request::Parts;
use http::{header, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::{S3Error, S3ErrorCode};
use serde::{Deserialize, Serialize};

use super::session::{self, Session};
use super::{api_error, json, key_name};
use crate::access::{grants, Principal};
use crate::access_log::AccessRecord;
use crate::response::{self, Body};
use crate::state::AppState;

/// `POST api/session`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
}

/// What the console knows about its user (`GET api/session`, and the
/// answer to a sign-in).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Who {
    access_key_id: String,
    name: String,
    /// `*:admin`: the operator views are shown.
    admin: bool,
    /// The key's permissions (`bucket:rw`, `bucket/folder/:r`…), from
    /// which the console finds the folders to start browsing at.
    permissions: Vec<String>,
    /// Echoed in `x-kura-csrf` by every state-changing request.
    csrf: String,
}

pub(super) fn who(p: &Principal, s: &Session) -> Response<Body> {
    json(&Who {
        access_key_id: p.access_key_id().to_string(),
        name: key_name(p),
        admin: p.is_global_admin(),
        permissions: match p {
            Principal::Root { .. } => vec!["*:admin".to_string()],
            Principal::Key(k) => k.grants.iter().map(grants::format).collect(),
        },
        csrf: s.csrf.clone(),
    })
}

/// Checks an access key and secret and opens a session for them.
pub(super) async fn sign_in(
    state: &Arc<AppState>,
    parts: &Parts,
    body: Incoming,
    record: &mut Option<Box<AccessRecord>>,
) -> Response<Body> {
    let sessions = &state.console.sessions;
    let ip = crate::auth::request_client_ip(state, parts);
    if let Some(wait) = sessions.blocked(ip) {
        let mut r = api_error(&S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Too many failed sign-ins from this address; try again later.",
        ));
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response::set_header(&mut r, "retry-after", &(wait.as_secs() + 1).to_string());
        return r;
    }
    // A cross-site form cannot send JSON without a preflight, which the
    // console never grants: this keeps other sites from signing a browser
    // in under their own key.
    let json_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return api_error(&S3Error::invalid_request("Sign in with a JSON body."));
    }
    let creds: Credentials = match super::read_small(body, 4096).await.and_then(|b| {
        serde_json::from_slice(&b).map_err(|e| S3Error::invalid_argument(e.to_string()))
    }) {
        Ok(c) => c,
        Err(e) => return api_error(&e),
    };
    if let Some(r) = record.as_mut() {
        r.access_key_id = Some(creds.access_key_id.clone());
    }
    let principal = match crate::auth::lookup(state, &creds.access_key_id) {
        Ok((secret, p)) if session::same(secret.expose(), &creds.secret_access_key) => p,
        _ => {
            sessions.failed(ip);
            // The same answer for an unknown key and a wrong secret.
            return api_error(&S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "The access key or the secret is wrong.",
            ));
        }
    };
    if let Some(r) = record.as_mut() {
        r.key_name = Some(key_name(&principal));
    }
    if let Err(e) = crate::auth::check_key(state, parts, &principal) {
        return api_error(&e);
    }
    sessions.succeeded(ip);
    let (id, session) = sessions.open(&creds.access_key_id, &creds.secret_access_key);
    let mut r = who(&principal, &session);
    set_cookie(state, &mut r, Some(&id));
    r
}

/// The answer to sign-out: the cookie cleared.
pub(super) fn signed_out(state: &AppState) -> Response<Body> {
    let mut r = response::empty(StatusCode::NO_CONTENT);
    set_cookie(state, &mut r, None);
    r
}

fn set_cookie(state: &AppState, r: &mut Response<Body>, id: Option<&str>) {
    let secure = state.scheme == "https";
    let value = session::set_cookie(id, secure, state.console.sessions.lifetime());
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
}
