//! Bucket tagging: GetBucketTagging, PutBucketTagging, DeleteBucketTagging.

use http::{Response, StatusCode};
use kura_protocol::xml::{TagTarget, Tagging, MAX_TAGGING_BODY};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use super::kit::{existing_bucket, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// GetBucketTagging: `NoSuchTagSet` when the bucket has none, as in S3.
pub async fn get_bucket_tagging(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    let tags = blocking(move || store.bucket_tags(&bucket).s3()).await?;
    let tags = tags.ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchTagSet))?;
    Ok(response::xml(Tagging { tags }.to_xml()))
}

/// PutBucketTagging: replaces the bucket's tag set (up to 50 tags).
pub async fn put_bucket_tagging(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    existing_bucket(&store, &bucket)?;
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_TAGGING_BODY).await?;
    let tagging = Tagging::parse(&body, TagTarget::Bucket)?;
    blocking(move || store.set_bucket_tags(&bucket, Some(tagging.tags)).s3()).await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}

/// DeleteBucketTagging (204, also when there was none).
pub async fn delete_bucket_tagging(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    blocking(move || store.set_bucket_tags(&bucket, None).s3()).await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}
