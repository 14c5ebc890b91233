//! The one delete path of DeleteObject and DeleteObjects (which deletes
//! each of its keys exactly as DeleteObject would). Blocking: call it on
//! the blocking pool.

use kura_protocol::names::validate_object_key;
use kura_protocol::S3Result;
use kura_storage::rows::version_id as format_version_id;
use kura_storage::{StorageError, Store, Versioning};

use super::versioning::{marker_version_id, resolve_version};
use crate::access::{policy, Permission, Principal};
use crate::errors::{storage_to_s3, StorageResultExt};

/// What a delete did, for the response.
#[derive(Debug, Default)]
pub struct Deleted {
    /// The version id to report: the version named (when one was), or the
    /// delete marker created if clients see one.
    pub version_id: Option<String>,
    /// Whether a delete marker clients see was created, or the version
    /// removed was one.
    pub delete_marker: bool,
}

/// Without a version id: deletes the current version, which stays
/// recoverable for the retention period; the bucket's versioning decides
/// whether clients see a delete marker (see `Store::delete_object`).
/// Idempotent: deleting a missing key succeeds, as in S3. With a version id
/// (`null` included): removes that version for good, now (its files go once
/// no download reads them); that empties the trash, so it needs `admin`
/// unless the version is a delete marker ([`policy::may_delete_version`]).
/// Refused with `AccessDenied` unless `who` may write `key`.
pub fn delete_one(
    store: &Store,
    who: &Principal,
    versioning: Versioning,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<Deleted> {
    validate_object_key(key)?;
    // DeleteObject was checked before its handler; each DeleteObjects entry
    // is checked here, so an entry outside the caller's folders fails alone.
    policy::check_key(who, bucket, key, Permission::Write)?;
    let lock = store.lock_key(bucket, key).s3()?;
    let Some(v) = version_id else {
        let marker = store.delete_object(&lock, bucket, key).s3()?;
        let version_id = marker.and_then(|m| marker_version_id(versioning, &m));
        return Ok(Deleted {
            delete_marker: version_id.is_some(),
            version_id,
        });
    };
    // What the version is gets checked under the key's lock, so it cannot
    // change before the deletion.
    let seq = resolve_version(store, versioning, bucket, key, v)?;
    if !who.allows(bucket, Permission::Admin) {
        let version = seq.map(|s| store.get_object(bucket, key, Some(&format_version_id(s))));
        let is_delete_marker = match version {
            Some(Ok(row)) => row.delete_marker,
            // Nothing to restore: only an admin learns that it is gone.
            None | Some(Err(StorageError::NoSuchVersion | StorageError::NoSuchKey)) => false,
            Some(Err(e)) => return Err(storage_to_s3(e)),
        };
        policy::may_delete_version(who, bucket, is_delete_marker)?;
    }
    let deleted = match seq {
        Some(seq) => store.delete_version(&lock, bucket, key, seq).s3()?,
        None => None,
    };
    Ok(Deleted {
        version_id: Some(v.to_string()),
        delete_marker: deleted.is_some_and(|d| d.delete_marker),
    })
}
