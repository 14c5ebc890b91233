//! CORS for browsers: preflight `OPTIONS` requests answered from the
//! bucket's rules (PutBucketCors), and `Access-Control-*` headers added to
//! the actual requests those rules allow, as S3 does. A bucket without rules
//! falls back to the server-wide `--cors-allow-origin` list, if any.

use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use kura_protocol::cors::{self, CorsRequest};
use kura_protocol::router;
use kura_protocol::xml::{CorsConfiguration, CorsRule};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::BucketConfig;

use crate::response::{self, Body};
use crate::state::AppState;

/// Response headers a browser may read by default from kura's answers when
/// the server-wide origin list is what allows them.
const DEFAULT_EXPOSE: [&str; 5] = [
    "ETag",
    "x-amz-version-id",
    "x-amz-request-id",
    "x-amz-delete-marker",
    "x-kura-public-url",
];

/// The rule the server-wide `--cors-allow-origin` list stands for.
pub fn default_rules(origins: &[String]) -> Option<CorsConfiguration> {
    (!origins.is_empty()).then(|| CorsConfiguration {
        rules: vec![CorsRule {
            id: Some("server-default".into()),
            allowed_origins: origins.to_vec(),
            allowed_methods: ["GET", "PUT", "POST", "DELETE", "HEAD"]
                .map(String::from)
                .to_vec(),
            allowed_headers: vec!["*".into()],
            expose_headers: DEFAULT_EXPOSE.map(String::from).to_vec(),
            max_age_seconds: Some(3000),
        }],
    })
}

/// What a cross-origin request needs to be answered: its origin, method
/// and bucket. `None` for same-origin and non-browser requests (no
/// `Origin` header), which never pay for a rule lookup.
pub struct CorsContext {
    origin: String,
    method: Method,
    bucket: Option<String>,
}

impl CorsContext {
    /// Reads the request's origin and bucket.
    pub fn of<B>(state: &AppState, req: &http::Request<B>) -> Option<CorsContext> {
        let origin = req.headers().get(http::header::ORIGIN)?.to_str().ok()?;
        Some(CorsContext {
            origin: origin.to_string(),
            method: req.method().clone(),
            bucket: bucket_of(state, req.headers(), req.uri()),
        })
    }

    /// Adds the `Access-Control-*` headers of the rule allowing this request
    /// to `resp` (errors included, so a page can read why it failed).
    pub fn decorate(&self, state: &AppState, resp: &mut Response<Body>) {
        let Ok(Some(config)) = rules(state, self.bucket.as_deref()) else {
            return;
        };
        let req = CorsRequest {
            origin: &self.origin,
            method: self.method.as_str(),
            request_headers: None,
        };
        if let Some(rule) = cors::find(&config, &req) {
            set_all(resp, cors::response_headers(rule, &req, false));
        }
    }
}

/// Answers a preflight `OPTIONS` request.
pub fn preflight(state: &AppState, parts: &Parts) -> S3Result<Response<Body>> {
    let origin = header(parts, "origin").ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::BadRequest,
            "Insufficient information. Origin request header needed.",
        )
    })?;
    let method = header(parts, "access-control-request-method")
        .filter(|m| ["GET", "PUT", "POST", "DELETE", "HEAD"].contains(m))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::BadRequest,
                format!(
                    "Invalid Access-Control-Request-Method: {}",
                    header(parts, "access-control-request-method").unwrap_or("null")
                ),
            )
        })?;
    let bucket = bucket_of(state, &parts.headers, &parts.uri);
    let config = rules(state, bucket.as_deref())?.ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "CORSResponse: CORS is not enabled for this bucket.",
        )
    })?;
    let req = CorsRequest {
        origin,
        method,
        request_headers: header(parts, "access-control-request-headers"),
    };
    let rule = cors::find(&config, &req).ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "CORSResponse: This CORS request is not allowed. This is usually because the \
             evaluation of Origin, request method / Access-Control-Request-Method or \
             Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        )
    })?;
    let mut resp = response::empty(StatusCode::OK);
    set_all(&mut resp, cors::response_headers(rule, &req, true));
    Ok(resp)
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The bucket a request names (path or virtual host), if any.
fn bucket_of(state: &AppState, headers: &http::HeaderMap, uri: &http::Uri) -> Option<String> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    router::target(uri.path(), host, state.domain.as_deref())
        .ok()?
        .bucket
}

/// The rules that apply: the bucket's own, else the server-wide default.
fn rules(state: &AppState, bucket: Option<&str>) -> S3Result<Option<CorsConfiguration>> {
    if let Some(b) = bucket.filter(|b| kura_protocol::names::validate_bucket_name(b).is_ok()) {
        let doc = state
            .store
            .bucket_config(b, BucketConfig::Cors)
            .map_err(crate::errors::storage_to_s3)?;
        if let Some(doc) = doc {
            // Stored documents were rendered from parsed rules; one that no
            // longer parses is corrupt, and allows nothing.
            return Ok(CorsConfiguration::parse(&doc).ok());
        }
    }
    Ok(state.cors_default.clone())
}

fn set_all(resp: &mut Response<Body>, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
}
