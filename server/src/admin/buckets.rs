//! Bucket settings through the admin API.

use std::sync::Arc;

use http::Response;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::BucketRow;

use super::types::{BucketSettings, BucketUpdate};
use super::{json, rfc3339};
use crate::errors::{blocking, StorageResultExt};
use crate::response::Body;
use crate::state::AppState;

fn settings(state: &AppState, name: &str, row: &BucketRow) -> BucketSettings {
    BucketSettings {
        name: name.to_string(),
        created: rfc3339(row.created_ms),
        max_object_size: row.max_object_size,
        server_max_object_size: state.max_object_size,
        retention_seconds: row.retention_secs,
        server_retention_seconds: state.store.config().retention.as_secs(),
    }
}

pub async fn list(state: &Arc<AppState>) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let out = blocking(move || {
        Ok(st
            .store
            .list_buckets()
            .s3()?
            .iter()
            .map(|(name, row)| settings(&st, name, row))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(json(&out))
}

pub async fn show(state: &Arc<AppState>, name: &str) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let name = name.to_string();
    let out = blocking(move || {
        let row = st
            .store
            .bucket(&name)
            .s3()?
            .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchBucket))?;
        Ok(settings(&st, &name, &row))
    })
    .await?;
    Ok(json(&out))
}

pub async fn update(
    state: &Arc<AppState>,
    name: &str,
    u: BucketUpdate,
) -> S3Result<Response<Body>> {
    let retention = match u.retention {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(
            crate::config::parse_duration(&text).map_err(S3Error::invalid_argument)?,
        )),
    };
    if let Some(Some(0)) = u.max_object_size {
        return Err(S3Error::invalid_argument(
            "max_object_size must be at least 1",
        ));
    }
    let st = Arc::clone(state);
    let bucket = name.to_string();
    blocking(move || {
        if let Some(max) = u.max_object_size {
            st.store.set_bucket_max_object_size(&bucket, max).s3()?;
        }
        if let Some(retention) = retention {
            st.store.set_bucket_retention(&bucket, retention).s3()?;
        }
        Ok(())
    })
    .await?;
    tracing::info!(bucket = %name, "bucket settings updated");
    show(state, name).await
}
