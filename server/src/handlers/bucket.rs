//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation (versioning: `versions.rs`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{Response, StatusCode};
use kura_protocol::names::validate_bucket_name;
use kura_protocol::xml::{
    BucketEntry, CreateBucketConfiguration, ListAllMyBucketsResult, LocationConstraint,
};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use super::kit::{owner_of, timestamp, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Largest CreateBucketConfiguration body accepted.
const MAX_CONFIG_BODY: usize = 64 * 1024;

/// Most buckets one ListBuckets page may hold (S3's limit for `max-buckets`).
const MAX_BUCKETS: usize = 10_000;

/// ListBuckets, with S3's optional paging: `prefix`, `max-buckets` and an
/// opaque `continuation-token` (the last name of the previous page).
pub async fn list_buckets(
    ctx: Ctx,
    prefix: Option<String>,
    continuation_token: Option<String>,
    max_buckets: Option<usize>,
) -> S3Result<Response<Body>> {
    if max_buckets.is_some_and(|m| m == 0 || m > MAX_BUCKETS) {
        return Err(S3Error::invalid_argument(
            "max-buckets must be between 1 and 10000",
        ));
    }
    let after = continuation_token
        .as_deref()
        .map(|t| {
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or_else(|| {
                    S3Error::invalid_argument("The continuation token provided is incorrect")
                })
        })
        .transpose()?;
    let store = ctx.state.store.clone();
    let buckets = blocking(move || store.list_buckets().s3()).await?;
    let mut page: Vec<BucketEntry> = buckets
        .into_iter()
        // A partner's key lists only the buckets it holds a permission on.
        .filter(|(name, _)| ctx.principal.sees(name))
        .filter(|(name, _)| prefix.as_deref().is_none_or(|p| name.starts_with(p)))
        .filter(|(name, _)| after.as_deref().is_none_or(|a| name.as_str() > a))
        .map(|(name, row)| BucketEntry {
            name,
            creation_date: timestamp(row.created_ms),
        })
        .collect();
    let limit = max_buckets.unwrap_or(MAX_BUCKETS);
    let next = (page.len() > limit).then(|| {
        page.truncate(limit);
        URL_SAFE_NO_PAD.encode(&page[limit - 1].name)
    });
    let result = ListAllMyBucketsResult {
        owner: owner_of(&ctx.verified.access_key_id),
        buckets: page,
        continuation_token: next,
        prefix,
    };
    Ok(response::xml(result.to_xml()))
}

/// The region where S3 answers a repeated CreateBucket by its owner 200.
const US_EAST_1: &str = "us-east-1";

pub async fn create_bucket(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    validate_bucket_name(&bucket)?;
    if crate::operator_endpoints::RESERVED_BUCKETS.contains(&bucket.as_str()) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidBucketName,
            format!("The bucket name {bucket} is reserved: /{bucket}/… serves kura's operator endpoints."),
        ));
    }
    let region = ctx.state.region.clone();
    let store = ctx.state.store.clone();
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_CONFIG_BODY).await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let config = CreateBucketConfiguration::parse(&body)?;
        if let Some(location) = config.location_constraint.filter(|l| !l.is_empty()) {
            if location != region {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    format!("The specified location-constraint is not valid: this server's region is {region}"),
                ));
            }
        }
    }
    let name = bucket.clone();
    match blocking(move || store.create_bucket(&name).s3()).await {
        Ok(_) => {}
        // Every bucket belongs to the server's one account, so whoever may
        // create it (root, or a key with admin on it) already owns it. S3
        // answers such a repeat 200 in us-east-1 (its legacy behaviour, which
        // retried CreateBucket calls rely on) and 409 elsewhere.
        Err(e) if e.code == S3ErrorCode::BucketAlreadyOwnedByYou && region == US_EAST_1 => {}
        Err(e) => return Err(e),
    }
    let mut r = response::empty(StatusCode::OK);
    response::set_header(&mut r, "location", &format!("/{bucket}"));
    Ok(r)
}

pub async fn head_bucket(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    super::kit::existing_bucket(&ctx.state.store, &bucket)?;
    let mut r = response::empty(StatusCode::OK);
    response::set_header(&mut r, "x-amz-bucket-region", &ctx.state.region);
    Ok(r)
}

pub async fn delete_bucket(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    blocking(move || {
        store.delete_bucket(&bucket).s3()?;
        // Unfinished multipart uploads go with the bucket.
        store.discard_bucket_uploads(&bucket).s3()
    })
    .await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}

pub async fn get_location(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    super::kit::existing_bucket(&ctx.state.store, &bucket)?;
    Ok(response::xml(
        LocationConstraint {
            region: ctx.state.region.clone(),
        }
        .to_xml(),
    ))
}
