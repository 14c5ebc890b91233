//! Put/Get/DeleteBucketCors: the bucket's CORS rules, stored as the
//! canonical document rendered from the parsed rules. What browsers get
//! from them is `crate::cors`.

use http::{Response, StatusCode};
use kura_protocol::xml::CorsConfiguration;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::BucketConfig;

use super::kit::{existing_bucket, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Largest PutBucketCors body accepted (100 rules fit with room).
const MAX_CORS_BODY: usize = 64 * 1024;

pub async fn get_bucket_cors(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let store = ctx.state.store.clone();
    let doc = blocking(move || store.bucket_config(&bucket, BucketConfig::Cors).s3()).await?;
    match doc {
        Some(d) => Ok(response::xml(String::from_utf8_lossy(&d).into_owned())),
        None => Err(S3Error::new(S3ErrorCode::NoSuchCORSConfiguration)),
    }
}

pub async fn put_bucket_cors(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let store = ctx.state.store.clone();
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_CORS_BODY).await?;
    let doc = CorsConfiguration::parse(&body)?.to_xml();
    blocking(move || {
        store
            .set_bucket_config(&bucket, BucketConfig::Cors, Some(doc.as_bytes()))
            .s3()
    })
    .await?;
    Ok(response::empty(StatusCode::OK))
}

pub async fn delete_bucket_cors(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let store = ctx.state.store.clone();
    blocking(move || {
        store
            .set_bucket_config(&bucket, BucketConfig::Cors, None)
            .s3()
    })
    .await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}
