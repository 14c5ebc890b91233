//! The bucket lifecycle API: Put/Get/DeleteBucketLifecycleConfiguration.
//!
//! The document is checked by `kura_protocol::xml::LifecycleConfiguration`
//! and stored (with the rules kura applies) as the bucket's own lifecycle
//! row; expiry itself runs in the background scheduler (see
//! `storage/src/lifecycle_queue.rs`).

use http::{Response, StatusCode};
use kura_protocol::xml::{LifecycleConfiguration, LifecycleRuleXml};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{LifecycleConfig, LifecycleRule, RuleFilter};
use rand::RngCore;

use super::kit::{existing_bucket, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Largest PutBucketLifecycleConfiguration body read: 1,000 rules with
/// long prefixes and tags fit.
const MAX_LIFECYCLE_BODY: usize = 2 * 1024 * 1024;

fn no_configuration() -> S3Error {
    S3Error::new(S3ErrorCode::NoSuchLifecycleConfiguration)
}

/// GetBucketLifecycleConfiguration: the stored document, or 404
/// `NoSuchLifecycleConfiguration`.
pub async fn get_lifecycle(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let config = ctx.state.store.bucket_lifecycle(&bucket).s3()?;
    let config = config.ok_or_else(no_configuration)?;
    Ok(response::xml(config.xml))
}

/// PutBucketLifecycleConfiguration: replaces the bucket's rules. Rules
/// without an `ID` get a generated one, as S3 does.
pub async fn put_lifecycle(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let store = ctx.state.store.clone();
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_LIFECYCLE_BODY).await?;
    let mut doc = LifecycleConfiguration::parse(&body)?;
    for r in &mut doc.rules {
        if r.id.is_none() {
            r.id = Some(generated_id());
        }
    }
    let config = LifecycleConfig {
        xml: doc.to_xml(),
        rules: doc.rules.iter().map(storage_rule).collect(),
    };
    blocking(move || store.put_bucket_lifecycle(&bucket, &config).s3()).await?;
    Ok(response::empty(StatusCode::OK))
}

/// DeleteBucketLifecycleConfiguration: 204 whether or not there was one, as S3 answers.
pub async fn delete_lifecycle(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    blocking(move || store.delete_bucket_lifecycle(&bucket).s3()).await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}

fn generated_id() -> String {
    let mut raw = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn storage_rule(r: &LifecycleRuleXml) -> LifecycleRule {
    let (size_greater_than, size_less_than) = r.filter.sizes();
    let expiration = r.expiration.as_ref();
    LifecycleRule {
        id: r.id.clone().unwrap_or_default(),
        enabled: r.enabled,
        filter: RuleFilter {
            prefix: r.filter.prefix().to_string(),
            tags: r.filter.tags(),
            size_greater_than,
            size_less_than,
        },
        expiration_days: expiration.and_then(|e| e.days),
        expiration_date_ms: expiration
            .and_then(|e| e.date)
            .map(|d| u64::try_from(d.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
        noncurrent_days: r.noncurrent_days,
        abort_upload_days: r.abort_days,
    }
}
