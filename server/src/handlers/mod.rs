//! Thin handlers: one typed operation in, one response out.

mod acl;
mod bucket;
pub mod changes;
mod checksum;
mod complete_checksum;
mod completed;
mod copy;
mod copy_source;
mod delete;
mod delete_objects;
pub mod get;
mod ingest;
mod list;
mod multipart;
mod multipart_list;
mod part_copy;
pub mod public;
mod put;
mod versions;

use std::sync::Arc;

use http::request::Parts;
use hyper::body::Incoming;
use kura_protocol::router::Operation;
use kura_protocol::sigv4::Verified;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{BucketRow, Store};

use crate::access::Principal;
use crate::body::Payload;
use crate::errors::StorageResultExt;
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
        let payload = Payload::new(body, &mut verified, expected)
            .with_idle_timeout(state.body_idle_timeout)
            .with_min_rate(state.min_upload_rate);
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

/// The bucket's row, or `NoSuchBucket`.
fn existing_bucket(store: &Store, bucket: &str) -> S3Result<BucketRow> {
    store
        .bucket(bucket)
        .s3()?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchBucket))
}

/// Runs the handler of `op`.
pub async fn handle(ctx: Ctx, op: Operation) -> S3Result<http::Response<Body>> {
    use Operation::*;
    match op {
        ListBuckets {
            prefix,
            continuation_token,
            max_buckets,
        } => bucket::list_buckets(ctx, prefix, continuation_token, max_buckets).await,
        CreateBucket { bucket } => bucket::create_bucket(ctx, bucket).await,
        HeadBucket { bucket } => bucket::head_bucket(ctx, bucket).await,
        DeleteBucket { bucket } => bucket::delete_bucket(ctx, bucket).await,
        GetBucketLocation { bucket } => bucket::get_location(ctx, bucket).await,
        GetBucketVersioning { bucket } => versions::get_versioning(ctx, bucket).await,
        PutBucketVersioning { bucket } => versions::put_versioning(ctx, bucket).await,
        ListObjectVersions { bucket, params } => {
            versions::list_object_versions(ctx, bucket, params).await
        }
        GetObjectAcl {
            bucket,
            key,
            version_id,
        } => acl::get_object_acl(ctx, bucket, key, version_id).await,
        PutObjectAcl {
            bucket,
            key,
            version_id,
        } => acl::put_object_acl(ctx, bucket, key, version_id).await,
        ListObjectsV2 { bucket, params } => list::list_objects(ctx, bucket, params, true).await,
        ListObjects { bucket, params } => list::list_objects(ctx, bucket, params, false).await,
        PutObject { bucket, key } => put::put_object(ctx, bucket, key).await,
        CopyObject { bucket, key } => copy::copy_object(ctx, bucket, key).await,
        DeleteObjects { bucket } => delete_objects::delete_objects(ctx, bucket).await,
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
        CreateMultipartUpload { bucket, key } => multipart::create(ctx, bucket, key).await,
        UploadPart {
            bucket,
            key,
            upload_id,
            part_number,
        } => multipart::upload_part(ctx, bucket, key, upload_id, part_number).await,
        UploadPartCopy {
            bucket,
            key,
            upload_id,
            part_number,
        } => part_copy::upload_part_copy(ctx, bucket, key, upload_id, part_number).await,
        CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        } => multipart::complete(ctx, bucket, key, upload_id).await,
        AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        } => multipart::abort(ctx, bucket, key, upload_id).await,
        ListParts {
            bucket,
            key,
            upload_id,
            params,
        } => multipart_list::list_parts(ctx, bucket, key, upload_id, params).await,
        ListChanges { bucket, params } => changes::list_changes(ctx, bucket, params).await,
        ListMultipartUploads { bucket, params } => {
            multipart_list::list_uploads(ctx, bucket, params).await
        }
        _ => Err(S3Error::new(S3ErrorCode::NotImplemented)),
    }
}
