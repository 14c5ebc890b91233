//! The console's S3 gateway: `/_kura/console/s3/{bucket}/{key}?{query}` is
//! the S3 request `/{bucket}/{key}?{query}`, made by the session's key. It
//! is routed, authorized ([`policy::authorize`]) and handled exactly as a
//! signed request, so the console can do nothing its key could not do with
//! aws-cli — there is no second permission system.

use std::sync::Arc;

use http::request::Parts;
use http::{HeaderValue, Response, Uri};
use hyper::body::Incoming;
use kura_protocol::router::{self, Operation, Query};
use kura_protocol::sigv4::{AuthScheme, PayloadMode, Verified};
use kura_protocol::{S3Error, S3Result};

use crate::access::{policy, Principal};
use crate::access_log::AccessRecord;
use crate::handlers::{self, Ctx};
use crate::response::Body;
use crate::state::AppState;

const PREFIX: &str = "/_kura/console/s3";

pub(super) async fn serve(
    state: &Arc<AppState>,
    mut parts: Parts,
    body: Incoming,
    principal: Principal,
    request_id: &str,
    record: &mut Option<Box<AccessRecord>>,
) -> (&'static str, S3Result<Response<Body>>) {
    let op = match operation(&mut parts) {
        Ok(op) => op,
        Err(e) => return ("Unknown", Err(e)),
    };
    let name = op.name();
    if let Some(r) = record.as_mut() {
        r.bucket = op.bucket().map(str::to_string);
        r.key = op.key().map(str::to_string);
    }
    if matches!(op, Operation::PostObject { .. }) {
        // A form upload carries its own signed policy; the console uploads with PUT.
        return (
            name,
            Err(S3Error::invalid_request(
                "POST Object is not for the console.",
            )),
        );
    }
    if let Err(e) = policy::authorize(&principal, &op, &parts.headers) {
        return (name, Err(e));
    }
    let ctx = Ctx {
        state: Arc::clone(state),
        parts,
        body,
        // The session stands for the signature; the body is taken as an
        // unsigned payload, as a presigned URL's is.
        verified: Verified {
            access_key_id: principal.access_key_id().to_string(),
            scheme: AuthScheme::SigV4Header,
            payload: PayloadMode::Unsigned,
            chunk_signer: None,
        },
        principal,
        request_id: request_id.to_string(),
    };
    let mut result = handlers::handle(ctx, op).await;
    if let Ok(r) = result.as_mut() {
        // An uploaded HTML file read through the console must not run
        // script with the console's origin and cookie.
        r.headers_mut().insert(
            "content-security-policy",
            HeaderValue::from_static("sandbox; default-src 'none'"),
        );
    }
    (name, result)
}

/// Rewrites the request to the S3 path it stands for and routes it
/// (path-style only: the console names the bucket in the path).
fn operation(parts: &mut Parts) -> S3Result<Operation> {
    let rest = parts.uri.path().strip_prefix(PREFIX).unwrap_or("/");
    let rest = if rest.is_empty() { "/" } else { rest };
    let target = match parts.uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    parts.uri = target
        .parse::<Uri>()
        .map_err(|_| S3Error::invalid_request("Invalid console path."))?;
    let query = Query::parse(parts.uri.query().unwrap_or(""))?;
    let op = router::route(
        &parts.method,
        router::target(parts.uri.path(), None, None)?,
        &query,
    )?;
    Ok(router::with_copy_source(
        op,
        parts.headers.contains_key("x-amz-copy-source"),
    ))
}
