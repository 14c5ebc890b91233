//! DeleteObject.

use http::{Response, StatusCode};
use kura_protocol::names::validate_object_key;
use kura_protocol::S3Result;
use kura_storage::rows::version_id as format_version_id;
use kura_storage::{DeletedVersion, StorageError, Store, Versioning};

use super::versions::{marker_version_id, parse_version, resolve_version};
use super::Ctx;
use crate::access::{policy, Permission, Principal};
use crate::errors::{blocking, storage_to_s3, StorageResultExt};
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
            let who = ctx.principal.clone();
            let version = v.clone();
            let deleted = blocking(move || {
                delete_version_as(&store, &who, versioning, &bucket, &key, &version)
            })
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

/// Deletes one version by id on behalf of `who` (blocking; DeleteObject and
/// DeleteObjects share it). A version other than a delete marker leaves the
/// trash for good, so it needs `admin` ([`policy::may_delete_version`]);
/// what the version is gets checked under the key's lock, so it cannot
/// change before the deletion. `Ok(None)`: no such version.
pub(super) fn delete_version_as(
    store: &Store,
    who: &Principal,
    versioning: Versioning,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> S3Result<Option<DeletedVersion>> {
    let lock = store.lock_key(bucket, key).s3()?;
    let seq = resolve_version(store, versioning, bucket, key, version_id)?;
    if !who.allows(bucket, Permission::Admin) {
        let is_delete_marker =
            match seq.map(|s| store.get_object(bucket, key, Some(&format_version_id(s)))) {
                Some(Ok(row)) => row.delete_marker,
                // Nothing to restore: only an admin learns that it is gone.
                None | Some(Err(StorageError::NoSuchVersion | StorageError::NoSuchKey)) => false,
                Some(Err(e)) => return Err(storage_to_s3(e)),
            };
        policy::may_delete_version(who, bucket, is_delete_marker)?;
    }
    match seq {
        Some(seq) => store.delete_version(&lock, bucket, key, seq).s3(),
        None => Ok(None),
    }
}
