//! DeleteObject.

use http::{Response, StatusCode};
use kura_protocol::names::validate_object_key;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use super::Ctx;
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Deletes the current version (kept recoverable for the retention period).
/// Idempotent: deleting a missing key is a 204 too, as in S3.
pub async fn delete_object(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    if version_id.is_some() {
        return Err(S3Error::new(S3ErrorCode::NotImplemented));
    }
    let store = ctx.state.store.clone();
    let lock = store.lock_key(&bucket, &key).s3()?;
    blocking(move || store.delete_object(&lock, &bucket, &key).s3()).await?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}
