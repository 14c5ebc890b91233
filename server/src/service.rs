//! One request: route, authenticate, dispatch to a handler, render the result.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::router::{self, Operation, Query};
use kura_protocol::sigv2::PresignedV2;
use kura_protocol::sigv4::{parse_request_auth, RequestParts};
use kura_protocol::{S3ErrorCode, S3Result};
use rand::RngCore;

use crate::access::ip::{client_ip, PeerAddr};
use crate::access::{policy, Principal};
use crate::access_log::{AccessRecord, Finish, Observed};
use crate::auth::authenticate;
use crate::handlers::public::PublicObject;
use crate::handlers::{self, Ctx};
use crate::metrics::BytesIn;
use crate::operator_endpoints;
use crate::response::{self, Body};
use crate::state::AppState;

/// Handles one HTTP request. Never fails: errors become S3 error responses.
/// The response body records the request (metrics, access log, audit) when
/// it has been sent.
pub async fn handle(
    state: Arc<AppState>,
    mut req: Request<Incoming>,
) -> Result<Response<Observed>, std::convert::Infallible> {
    let started = Instant::now();
    state.metrics.request_started();
    let request_id = new_request_id();
    let method = req.method().clone();
    let resource = req.uri().path().to_string();
    let expect_unanswered = unanswered_expect_continue(&req);
    let has_body = has_body(&req);
    let cors = crate::cors::CorsContext::of(&state, &req);
    // Counted by the body reader; only requests with a body pay for the counter.
    let bytes_in = has_body.then(|| {
        let b = BytesIn::default();
        req.extensions_mut().insert(b.clone());
        b
    });
    let mut record = state
        .access_log
        .wants_records()
        .then(|| Box::new(begin_record(&state, &req, &request_id)));
    let (op_name, result) = dispatch(&state, req, &request_id, &mut record).await;
    let mut error_code = None;
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
            error_code = Some(e.code);
            if crate::links::answers_json(&resource) {
                crate::links::json_error(&e, &request_id, method == Method::HEAD)
            } else {
                response::error(&e, &resource, &request_id, method == Method::HEAD)
            }
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
    if error_code == Some(S3ErrorCode::OperationAborted) && resp.status() == StatusCode::CONFLICT {
        state.metrics.lock_conflicts.inc();
    }
    // Probes and scrapes come every few seconds: they are neither logged
    // nor audited, unless refused.
    if operator_endpoints::is_probe(op_name) && resp.status().is_success() {
        record = None;
    }
    if let Some(r) = record.as_mut() {
        finish_record(r, op_name, &resp, error_code);
    }
    let status = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    let finish = Finish {
        state,
        op: op_name,
        started,
        status,
        bytes_in,
        record,
    };
    Ok(Response::from_parts(parts, Observed::new(body, finish)))
}

/// The record's fields known from the request head.
fn begin_record(state: &AppState, req: &Request<Incoming>, request_id: &str) -> AccessRecord {
    let peer = req
        .extensions()
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let client = client_ip(peer, req.headers(), &state.trusted_proxies);
    let version_id = req.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let v = pair.strip_prefix("versionId=")?;
            Some(
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
    });
    AccessRecord {
        time: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        request_id: request_id.to_string(),
        client: client.to_string(),
        method: req.method().to_string(),
        version_id,
        user_agent: req
            .headers()
            .get(http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ..AccessRecord::default()
    }
}

/// The record's fields known once the response head is ready.
fn finish_record(
    r: &mut AccessRecord,
    op_name: &str,
    resp: &Response<Body>,
    error: Option<S3ErrorCode>,
) {
    r.operation = op_name.to_string();
    r.status = resp.status().as_u16();
    r.error = error.map(|c| c.as_str().to_string());
    if r.version_id.is_none() {
        r.version_id = resp
            .headers()
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| *v != "null")
            .map(str::to_string);
    }
    if let Some(p) = resp.extensions().get::<PublicObject>() {
        r.bucket = Some(p.bucket.clone());
        r.key = Some(p.key.clone());
    }
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
    record: &mut Option<Box<AccessRecord>>,
) -> (&'static str, S3Result<Response<Body>>) {
    let (parts, body) = req.into_parts();
    if let Some(ep) = operator_endpoints::route(state, &parts) {
        return (
            ep.op_name(),
            operator_endpoints::serve(state, &parts, ep, false).await,
        );
    }
    if crate::console::is_console_path(parts.uri.path()) {
        return crate::console::handle(state, parts, body, request_id, record).await;
    }
    if let Some(route) = crate::links::route(state, &parts) {
        return crate::links::serve(state, parts, body, route, record).await;
    }
    if crate::admin::is_admin_path(parts.uri.path()) {
        if let Some(r) = record.as_mut() {
            r.access_key_id = claimed_key_id(&parts);
        }
        let req = Request::from_parts(parts, body);
        return ("Admin", crate::admin::handle(Arc::clone(state), req).await);
    }
    if parts.method == Method::OPTIONS {
        return ("PreflightCors", crate::cors::preflight(state, &parts));
    }
    if let Some(r) = handlers::public::intercept(state, &parts).await {
        if let Some(rec) = record.as_mut() {
            rec.public_link = Some(parts.uri.path().to_string());
        }
        return ("GetPublicObject", r);
    }
    let op = match parse_operation(state, &parts) {
        Ok(op) => op,
        Err(e) => return ("Unknown", Err(e)),
    };
    let name = op.name();
    if let Some(r) = record.as_mut() {
        r.bucket = op.bucket().map(str::to_string);
        r.key = op.key().map(str::to_string);
    }
    if let Operation::PostObject { bucket } = op {
        let r = handlers::post_object::post_object(Arc::clone(state), parts, body, bucket).await;
        return (name, r);
    }
    if let Err(e) = crate::auth::check_sigv2_use(&parts, &op) {
        return (name, Err(e));
    }
    let (verified, principal) = match authenticate(state, &parts) {
        Ok(v) => v,
        Err(e) => {
            let result = handlers::public::anonymous_or(state, &parts, &op, e).await;
            if let Some(r) = record.as_mut() {
                if result.is_ok() {
                    // A published object read without credentials.
                    r.public_link = Some(parts.uri.path().to_string());
                } else {
                    r.access_key_id = claimed_key_id(&parts);
                }
            }
            return (name, result);
        }
    };
    if let Some(r) = record.as_mut() {
        r.access_key_id = Some(principal.access_key_id().to_string());
        r.key_name = Some(match &principal {
            Principal::Root { .. } => "root".to_string(),
            Principal::Key(k) => k.name.clone(),
        });
    }
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

/// The access key id a request claims (header or presigned URL), whether
/// or not its signature holds: refused requests are logged with it.
fn claimed_key_id(parts: &http::request::Parts) -> Option<String> {
    let request = RequestParts {
        method: &parts.method,
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
    };
    if let Ok(Some(signed)) = parse_request_auth(&request) {
        return Some(signed.access_key_id().to_string());
    }
    if let Ok(Some(v2)) = PresignedV2::parse(request.raw_query) {
        return Some(v2.access_key_id().to_string());
    }
    None
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
