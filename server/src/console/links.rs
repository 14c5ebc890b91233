//! Share links from the console (`api/links`): the same functions the links
//! API calls for a signed request ([`crate::links::api`]), with the session's
//! key as the maker, so a key makes, sees and revokes exactly the links its
//! grants allow there too.

use std::sync::Arc;

use http::request::Parts;
use http::{Method, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use crate::access::Principal;
use crate::access_log::AccessRecord;
use crate::links::api::{self, NewLink};
use crate::response::Body;
use crate::state::AppState;

/// Largest JSON body of a link request.
const MAX_BODY: usize = 16 << 10;

/// The operation an `api/links…` request is recorded under.
pub fn op_name(method: &Method, id: &str) -> &'static str {
    api::op_name_of(method, !id.is_empty())
}

/// `GET api/links` (the key's links), `POST api/links` (make one, answering
/// its URL once) and `DELETE api/links/{id}` (revoke).
pub async fn serve(
    state: &Arc<AppState>,
    parts: &Parts,
    body: Incoming,
    principal: &Principal,
    id: &str,
    record: &mut Option<Box<AccessRecord>>,
) -> S3Result<Response<Body>> {
    if let Some(r) = record.as_mut() {
        if !id.is_empty() {
            r.link_id = Some(id.to_string());
        }
    }
    match (&parts.method, id.is_empty()) {
        (&Method::GET, true) => Ok(super::json(&api::list(state, principal).await?)),
        (&Method::POST, true) => {
            let body = super::read_small(body, MAX_BODY).await?;
            let new: NewLink = serde_json::from_slice(&body)
                .map_err(|e| S3Error::invalid_argument(format!("Invalid JSON body: {e}")))?;
            let origin = crate::links::origin(state, parts);
            let info = api::create(state, &origin, principal, new, record).await?;
            let mut r = super::json(&info);
            *r.status_mut() = StatusCode::CREATED;
            Ok(r)
        }
        (&Method::DELETE, false) => Ok(super::json(&api::revoke(state, principal, id).await?)),
        _ => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    }
}
