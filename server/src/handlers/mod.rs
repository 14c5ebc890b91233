//! Thin handlers: one typed operation in, one response out.

mod bucket;
mod delete;
mod get;
mod ingest;
mod list;
mod put;

use std::sync::Arc;

use http::request::Parts;
use hyper::body::Incoming;
use kura_protocol::router::Operation;
use kura_protocol::sigv4::Verified;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use crate::access::Principal;
use crate::body::Payload;
use crate::response::Body;
use crate::state::AppState;

/// Everything a handler gets about its request.
pub struct Ctx {
    /// Server state.
    pub state: Arc<AppState>,
    /// Method, URI and headers.
    pub parts: Parts,
    /// The raw body (taken by [`Ctx::payload`]).
    pub body: Incoming,
    /// The authenticated caller and payload mode.
    pub verified: Verified,
    /// Who the caller is (already authorized for the operation).
    pub principal: Principal,
    /// This request's id.
    pub request_id: String,
}

impl Ctx {
    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The decoded, verified payload stream.
    pub fn payload(self, expected: Option<u64>) -> (Payload, CtxRest) {
        let Ctx {
            state,
            parts,
            body,
            mut verified,
            request_id,
            ..
        } = self;
        let payload =
            Payload::new(body, &mut verified, expected).with_idle_timeout(state.body_idle_timeout);
        (
            payload,
            CtxRest {
                state,
                parts,
                request_id,
            },
        )
    }
}

/// What remains of a [`Ctx`] once its body is taken.
pub struct CtxRest {
    /// Server state.
    pub state: Arc<AppState>,
    /// Method, URI and headers.
    pub parts: Parts,
    /// This request's id.
    pub request_id: String,
}

/// Runs the handler of `op`.
pub async fn handle(ctx: Ctx, op: Operation) -> S3Result<http::Response<Body>> {
    use Operation::*;
    match op {
        ListBuckets { .. } => bucket::list_buckets(ctx).await,
        CreateBucket { bucket } => bucket::create_bucket(ctx, bucket).await,
        HeadBucket { bucket } => bucket::head_bucket(ctx, bucket).await,
        DeleteBucket { bucket } => bucket::delete_bucket(ctx, bucket).await,
        GetBucketLocation { bucket } => bucket::get_location(ctx, bucket).await,
        GetBucketVersioning { bucket } => bucket::get_versioning(ctx, bucket).await,
        ListObjectsV2 { bucket, params } => list::list_objects(ctx, bucket, params, true).await,
        ListObjects { bucket, params } => list::list_objects(ctx, bucket, params, false).await,
        PutObject { bucket, key } => put::put_object(ctx, bucket, key).await,
        GetObject {
            bucket,
            key,
            version_id,
            part_number,
        } => get::get_object(ctx, bucket, key, version_id, part_number, false).await,
        HeadObject {
            bucket,
            key,
            version_id,
            part_number,
        } => get::get_object(ctx, bucket, key, version_id, part_number, true).await,
        DeleteObject {
            bucket,
            key,
            version_id,
        } => delete::delete_object(ctx, bucket, key, version_id).await,
        _ => Err(S3Error::new(S3ErrorCode::NotImplemented)),
    }
}
