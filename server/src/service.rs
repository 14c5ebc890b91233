//! One request: route, authenticate, dispatch to a handler, render the result.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use kura_protocol::router::{self, Operation, Query};
use kura_protocol::S3Result;
use rand::RngCore;

use crate::access::policy;
use crate::auth::authenticate;
use crate::handlers::{self, Ctx};
use crate::response::{self, Body};
use crate::state::AppState;

/// Handles one HTTP request. Never fails: errors become S3 error responses.
pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let started = Instant::now();
    let request_id = new_request_id();
    let method = req.method().clone();
    let resource = req.uri().path().to_string();
    let expect_unanswered = unanswered_expect_continue(&req);
    let has_body = has_body(&req);
    let cors = crate::cors::CorsContext::of(&state, &req);
    let (op_name, result) = dispatch(&state, req, &request_id).await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            if e.status().is_server_error() {
                tracing::warn!(
                    request_id,
                    op = op_name,
                    code = e.code.as_str(),
                    "request failed"
                );
            }
            response::error(&e, &resource, &request_id, method == Method::HEAD)
        }
    };
    if let Some(cors) = &cors {
        cors.decorate(&state, &mut resp);
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v.clone());
        h.insert("x-amz-id-2", v);
    }
    h.insert(http::header::SERVER, HeaderValue::from_static("kura"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // An error may have been answered before the body was read: hyper then
    // closes the connection, and a client that pooled it would send its next
    // request into a closed socket. Say so, so that it does not.
    let unread_body =
        has_body && (resp.status().is_client_error() || resp.status().is_server_error());
    let h = resp.headers_mut();
    if expect_unanswered || unread_body {
        h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    tracing::info!(
        request_id,
        op = op_name,
        method = %method,
        path = %resource,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(resp)
}

/// hyper sends `100 Continue` only when it reads a body, so a request with
/// `Expect: 100-continue` and an empty body gets its final answer directly.
/// botocore (aws-cli, boto3) then keeps that answer's status line for the
/// next request on the same connection and misreads its response (a 30 s
/// stall until the connection times out). Closing the connection after such
/// a request resets the client's state.
fn unanswered_expect_continue(req: &Request<Incoming>) -> bool {
    let expects = req
        .headers()
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    expects && !has_body(req)
}

/// Whether the request announces a body (non-zero length or chunked).
fn has_body(req: &Request<Incoming>) -> bool {
    let h = req.headers();
    match h.get(http::header::CONTENT_LENGTH) {
        Some(v) => v.as_bytes() != b"0",
        None => h.contains_key(http::header::TRANSFER_ENCODING),
    }
}

fn new_request_id() -> String {
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode_upper(b)
}

async fn dispatch(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    request_id: &str,
) -> (&'static str, S3Result<Response<Body>>) {
    if crate::admin::is_admin_path(req.uri().path()) {
        return ("Admin", crate::admin::handle(Arc::clone(state), req).await);
    }
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS {
        return ("PreflightCors", crate::cors::preflight(state, &parts));
    }
    if let Some(r) = handlers::public::intercept(state, &parts) {
        return ("GetPublicObject", r);
    }
    let op = match parse_operation(state, &parts) {
        Ok(op) => op,
        Err(e) => return ("Unknown", Err(e)),
    };
    let name = op.name();
    if let Operation::PostObject { bucket } = op {
        let r = handlers::post_object::post_object(Arc::clone(state), parts, body, bucket).await;
        return (name, r);
    }
    if let Err(e) = crate::auth::check_sigv2_use(&parts, &op) {
        return (name, Err(e));
    }
    let (verified, principal) = match authenticate(state, &parts) {
        Ok(v) => v,
        Err(e) => return (name, handlers::public::anonymous_or(state, &parts, &op, e)),
    };
    if let Err(e) = policy::authorize(&principal, &op, &parts.headers) {
        return (name, Err(e));
    }
    let ctx = Ctx {
        state: Arc::clone(state),
        parts,
        body,
        verified,
        principal,
        request_id: request_id.to_string(),
    };
    (name, handlers::handle(ctx, op).await)
}

fn parse_operation(state: &AppState, parts: &http::request::Parts) -> S3Result<Operation> {
    let query = Query::parse(parts.uri.query().unwrap_or(""))?;
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host());
    let target = router::target(parts.uri.path(), host, state.domain.as_deref())?;
    let op = router::route(&parts.method, target, &query)?;
    Ok(router::with_copy_source(
        op,
        parts.headers.contains_key("x-amz-copy-source"),
    ))
}
