//! DeleteObject.

use http::{Response, StatusCode};
use kura_protocol::names::validate_object_key;
use kura_protocol::{S3Error, S3Result};
use kura_storage::rows::parse_version_id;

use super::kit::Ctx;
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Without a version id: deletes the current version, which stays
/// recoverable for the retention period behind a delete marker. Idempotent:
/// deleting a missing key is a 204 too, as in S3. With a version id: removes
/// that version for good, now (its files go once no download reads them).
pub async fn delete_object(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let store = ctx.state.store.clone();
    let mut r = response::empty(StatusCode::NO_CONTENT);
    match version_id {
        // No "null" (unversioned) version ever exists in kura: nothing to delete.
        Some(v) if v == "null" => {}
        Some(v) => {
            let seq = parse_version_id(&v)
                .ok_or_else(|| S3Error::invalid_argument("Invalid version id specified"))?;
            let lock = store.lock_key(&bucket, &key).s3()?;
            let deleted =
                blocking(move || store.delete_version(&lock, &bucket, &key, seq).s3()).await?;
            response::set_header(&mut r, "x-amz-version-id", &v);
            if deleted.is_some_and(|d| d.delete_marker) {
                response::set_header(&mut r, "x-amz-delete-marker", "true");
            }
        }
        None => {
            let lock = store.lock_key(&bucket, &key).s3()?;
            let marker = blocking(move || store.delete_object(&lock, &bucket, &key).s3()).await?;
            if let Some(m) = marker {
                response::set_header(&mut r, "x-amz-delete-marker", "true");
                response::set_header(&mut r, "x-amz-version-id", &m.version_id());
            }
        }
    }
    Ok(r)
}
