//! DeleteObject.

use http::{Response, StatusCode};
use kura_protocol::names::validate_object_key;
use kura_protocol::S3Result;

use super::versions::{marker_version_id, parse_version, resolve_version};
use super::Ctx;
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Without a version id: deletes the current version, which stays
/// recoverable for the retention period; the bucket's versioning decides
/// whether clients see a delete marker (see `Store::delete_object`).
/// Idempotent: deleting a missing key is a 204 too, as in S3. With a version
/// id (`null` included): removes that version for good, now (its files go
/// once no download reads them).
pub async fn delete_object(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let store = ctx.state.store.clone();
    if let Some(v) = version_id.as_deref().filter(|v| *v != "null") {
        parse_version(v)?;
    }
    let versioning = super::existing_bucket(&store, &bucket)?.versioning;
    let mut r = response::empty(StatusCode::NO_CONTENT);
    match version_id {
        Some(v) => {
            let lock = store.lock_key(&bucket, &key).s3()?;
            let id = v.clone();
            let deleted =
                blocking(
                    move || match resolve_version(&store, versioning, &bucket, &key, &id)? {
                        Some(seq) => store.delete_version(&lock, &bucket, &key, seq).s3(),
                        None => Ok(None),
                    },
                )
                .await?;
            response::set_header(&mut r, "x-amz-version-id", &v);
            if deleted.is_some_and(|d| d.delete_marker) {
                response::set_header(&mut r, "x-amz-delete-marker", "true");
            }
        }
        None => {
            let lock = store.lock_key(&bucket, &key).s3()?;
            let marker = blocking(move || store.delete_object(&lock, &bucket, &key).s3()).await?;
            if let Some(id) = marker.and_then(|m| marker_version_id(versioning, &m)) {
                response::set_header(&mut r, "x-amz-delete-marker", "true");
                response::set_header(&mut r, "x-amz-version-id", &id);
            }
        }
    }
    Ok(r)
}
