//! The operator's endpoints: `GET /metrics`, `GET /health/live`,
//! `GET /health/ready`.
//!
//! They share the path space with path-style bucket requests, so:
//! * only those exact paths, with `GET` or `HEAD` and no query string, are
//!   answered here (`GET /metrics?list-type=2` is still ListObjectsV2);
//! * `metrics` and `health` are reserved bucket names: CreateBucket refuses
//!   them, so no bucket can be shadowed by these paths (a bucket created by
//!   an older version keeps its other requests: only these three paths are
//!   taken);
//! * with `--domain`, a request to `<bucket>.<domain>` is the bucket's.
//!
//! Health is unauthenticated. `/metrics` on the main listener needs
//! `Authorization: Bearer <--metrics-token>` or a SigV4 request from the
//! root key or a key with `*:admin`; on `--metrics-listen` it is open.

use std::sync::Arc;

use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::response::{self, Body};
use crate::state::AppState;

/// Bucket names CreateBucket refuses: their paths are the operator's.
pub const RESERVED_BUCKETS: &[&str] = &["metrics", "health"];

/// One of the operator's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/metrics`.
    Metrics,
    /// `/health/live`.
    Live,
    /// `/health/ready`.
    Ready,
}

impl Endpoint {
    /// The operation name in logs and metrics.
    pub fn op_name(self) -> &'static str {
        match self {
            Endpoint::Metrics => "Metrics",
            Endpoint::Live => "HealthLive",
            Endpoint::Ready => "HealthReady",
        }
    }
}

/// Whether an operation name is one of these endpoints'.
pub fn is_probe(op_name: &str) -> bool {
    matches!(op_name, "Metrics" | "HealthLive" | "HealthReady")
}

/// The endpoint a request addresses, if any.
pub fn route(state: &AppState, parts: &Parts) -> Option<Endpoint> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return None;
    }
    if parts.uri.query().is_some_and(|q| !q.is_empty()) {
        return None;
    }
    let ep = match parts.uri.path() {
        "/metrics" => Endpoint::Metrics,
        "/health/live" => Endpoint::Live,
        "/health/ready" => Endpoint::Ready,
        _ => return None,
    };
    if let Some(domain) = state.domain.as_deref() {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(kura_protocol::headers::host_name)
            .unwrap_or_default();
        if host.strip_suffix(domain).is_some_and(|b| b.ends_with('.')) {
            return None; // `<bucket>.<domain>/metrics` is an object key
        }
    }
    Some(ep)
}

/// Answers an endpoint. `open`: on the metrics listener, no credentials needed.
pub async fn serve(
    state: &Arc<AppState>,
    parts: &Parts,
    ep: Endpoint,
    open: bool,
) -> S3Result<Response<Body>> {
    let head = parts.method == Method::HEAD;
    match ep {
        Endpoint::Live => Ok(text(StatusCode::OK, "ok\n", "text/plain", head)),
        Endpoint::Ready => {
            let st = Arc::clone(state);
            let (ok, report) = crate::errors::blocking(move || Ok(readiness(&st))).await?;
            let status = if ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            Ok(text(status, &report, "application/json", head))
        }
        Endpoint::Metrics => {
            if !open {
                authorize_metrics(state, parts)?;
            }
            let st = Arc::clone(state);
            let body = crate::errors::blocking(move || Ok(st.metrics.render(&st))).await?;
            Ok(text(
                StatusCode::OK,
                &body,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                head,
            ))
        }
    }
}

fn text(status: StatusCode, body: &str, content_type: &'static str, head: bool) -> Response<Body> {
    let mut r = if head {
        response::empty(status)
    } else {
        let mut r = Response::new(response::full(body.to_string()));
        *r.status_mut() = status;
        r
    };
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r
}

/// Bearer token (`--metrics-token`) or SigV4 from a key with admin on every bucket.
fn authorize_metrics(state: &AppState, parts: &Parts) -> S3Result<()> {
    let auth = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) {
        return match state.metrics_token.as_deref() {
            Some(want) if bool::from(want.as_bytes().ct_eq(token.trim().as_bytes())) => Ok(()),
            _ => Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Access Denied: wrong metrics bearer token.",
            )),
        };
    }
    let (_, principal) = crate::auth::authenticate(state, parts)?;
    if principal.is_global_admin() {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied: /metrics needs a key with admin on every bucket (*:admin) or the metrics token.",
        ))
    }
}

/// Ready: the metadata store answers, the data directory is writable, and
/// its file system has room. Returns the verdict and a JSON report.
fn readiness(state: &AppState) -> (bool, String) {
    let data_dir = &state.store.config().data_dir;
    let metadata = state.store.health_check();
    let writable = rustix::fs::access(data_dir, rustix::fs::Access::WRITE_OK);
    let space = crate::metrics::disk_space(data_dir);
    // The same mark writes are held to (`--min-free-space`).
    let (_, min_free) = state.disk.state();
    let room = space.is_some_and(|(free, _)| free >= min_free);
    let ok = metadata.is_ok() && writable.is_ok() && room;
    let verdict = |ok: bool, why: String| if ok { "ok".to_string() } else { why };
    let report = json!({
        "status": if ok { "ready" } else { "not ready" },
        "metadata": verdict(metadata.is_ok(), metadata.err().map(|e| e.to_string()).unwrap_or_default()),
        "data_dir_writable": verdict(writable.is_ok(), writable.err().map(|e| e.to_string()).unwrap_or_default()),
        "disk_free_bytes": space.map(|(free, _)| free),
        "min_free_bytes": min_free,
    });
    (ok, format!("{report}\n"))
}
