//! Thin handlers: one typed operation in, one response out. Shared code
//! lives in [`kit`]; handlers import it and never each other.

mod acl;
mod bucket;
mod bucket_tagging;
pub mod changes;
mod copy;
mod cors;
mod delete;
mod delete_objects;
mod get;
pub mod kit;
mod lifecycle;
mod list;
mod multipart;
mod multipart_list;
mod object_attributes;
mod part_copy;
pub mod post_object;
pub mod public;
mod put;
mod search;
mod tagging;
mod versions;

use kura_protocol::router::Operation;
use kura_protocol::S3Result;

use crate::response::Body;
pub use kit::Ctx;

/// Runs the handler of `op`. Every operation of the table is named here,
/// with no wildcard: a new operation does not compile without its handler.
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
        GetBucketLifecycleConfiguration { bucket } => lifecycle::get_lifecycle(ctx, bucket).await,
        PutBucketLifecycleConfiguration { bucket } => lifecycle::put_lifecycle(ctx, bucket).await,
        DeleteBucketLifecycleConfiguration { bucket } => {
            lifecycle::delete_lifecycle(ctx, bucket).await
        }
        ListObjectVersions { bucket, params } => {
            versions::list_object_versions(ctx, bucket, params).await
        }
        GetBucketAcl { bucket } => acl::get_bucket_acl(ctx, bucket).await,
        PutBucketAcl { bucket } => acl::put_bucket_acl(ctx, bucket).await,
        GetBucketCors { bucket } => cors::get_bucket_cors(ctx, bucket).await,
        PutBucketCors { bucket } => cors::put_bucket_cors(ctx, bucket).await,
        DeleteBucketCors { bucket } => cors::delete_bucket_cors(ctx, bucket).await,
        GetObjectAttributes {
            bucket,
            key,
            version_id,
        } => object_attributes::get_object_attributes(ctx, bucket, key, version_id).await,
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
        // Answered before authentication (the form carries its own); a
        // request reaching here was signed in a header, which forms are not.
        PostObject { .. } => Err(kura_protocol::S3Error::invalid_argument(
            "POST Object is authenticated by its form's policy, not an Authorization header.",
        )),
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
        GetBucketTagging { bucket } => bucket_tagging::get_bucket_tagging(ctx, bucket).await,
        PutBucketTagging { bucket } => bucket_tagging::put_bucket_tagging(ctx, bucket).await,
        DeleteBucketTagging { bucket } => bucket_tagging::delete_bucket_tagging(ctx, bucket).await,
        GetObjectTagging {
            bucket,
            key,
            version_id,
        } => tagging::get_object_tagging(ctx, bucket, key, version_id).await,
        PutObjectTagging {
            bucket,
            key,
            version_id,
        } => tagging::put_object_tagging(ctx, bucket, key, version_id).await,
        DeleteObjectTagging {
            bucket,
            key,
            version_id,
        } => tagging::delete_object_tagging(ctx, bucket, key, version_id).await,
        ListChanges { bucket, params } => changes::list_changes(ctx, bucket, params).await,
        SearchObjects { bucket, params } => search::search(ctx, bucket, params).await,
        ListMultipartUploads { bucket, params } => {
            multipart_list::list_uploads(ctx, bucket, params).await
        }
    }
}
