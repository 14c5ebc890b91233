//! DeleteObject.

use http::{Response, StatusCode};
use kura_protocol::names::validate_object_key;
use kura_protocol::{S3Error, S3Result};
use kura_storage::rows::parse_version_id;
use kura_storage::{DeletedVersion, StorageError, Store};

use super::Ctx;
use crate::access::{policy, Permission, Principal};
use crate::errors::{blocking, storage_to_s3, StorageResultExt};
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
        Some(v) => {
            let who = ctx.principal.clone();
            let version = v.clone();
            let deleted =
                blocking(move || delete_version_as(&store, &who, &bucket, &key, &version)).await?;
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

/// Deletes one version by id on behalf of `who` (blocking; DeleteObject and
/// DeleteObjects share it). A version other than a delete marker leaves the
/// trash for good, so it needs `admin` ([`policy::may_delete_version`]);
/// what the version is gets checked under the key's lock, so it cannot
/// change before the deletion. `Ok(None)`: no such version.
pub(super) fn delete_version_as(
    store: &Store,
    who: &Principal,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> S3Result<Option<DeletedVersion>> {
    // No "null" (unversioned) version ever exists in kura: nothing to delete.
    if version_id == "null" {
        policy::may_delete_version(who, bucket, false)?;
        return Ok(None);
    }
    let seq = parse_version_id(version_id)
        .ok_or_else(|| S3Error::invalid_argument("Invalid version id specified"))?;
    let lock = store.lock_key(bucket, key).s3()?;
    if !who.allows(bucket, Permission::Admin) {
        let is_delete_marker = match store.get_object(bucket, key, Some(version_id)) {
            Ok(row) => row.delete_marker,
            // Nothing to restore: only an admin learns that it is gone.
            Err(StorageError::NoSuchVersion | StorageError::NoSuchKey) => false,
            Err(e) => return Err(storage_to_s3(e)),
        };
        policy::may_delete_version(who, bucket, is_delete_marker)?;
    }
    store.delete_version(&lock, bucket, key, seq).s3()
}
