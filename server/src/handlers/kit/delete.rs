//! The one delete path of DeleteObject and DeleteObjects (which deletes
//! each of its keys exactly as DeleteObject would). Blocking: call it on
//! the blocking pool.

use kura_protocol::names::validate_object_key;
use kura_protocol::{S3Error, S3Result};
use kura_storage::rows::parse_version_id;
use kura_storage::Store;

use crate::errors::StorageResultExt;

/// What a delete did, for the response.
#[derive(Debug, Default)]
pub struct Deleted {
    /// The version id to report: the version removed (when one was named),
    /// or the delete marker created.
    pub version_id: Option<String>,
    /// Whether a delete marker was created, or the version removed was one.
    pub delete_marker: bool,
}

/// Without a version id: deletes the current version, which stays
/// recoverable for the retention period behind a delete marker. Idempotent:
/// deleting a missing key succeeds, as in S3. With a version id: removes
/// that version for good, now (its files go once no download reads them).
pub fn delete_one(
    store: &Store,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<Deleted> {
    validate_object_key(key)?;
    match version_id {
        // No "null" (unversioned) version ever exists in kura: nothing to delete.
        Some("null") => Ok(Deleted::default()),
        Some(v) => {
            let seq = parse_version_id(v)
                .ok_or_else(|| S3Error::invalid_argument("Invalid version id specified"))?;
            let lock = store.lock_key(bucket, key).s3()?;
            let deleted = store.delete_version(&lock, bucket, key, seq).s3()?;
            Ok(Deleted {
                version_id: Some(v.to_string()),
                delete_marker: deleted.is_some_and(|d| d.delete_marker),
            })
        }
        None => {
            let lock = store.lock_key(bucket, key).s3()?;
            let marker = store.delete_object(&lock, bucket, key).s3()?;
            Ok(Deleted {
                delete_marker: marker.is_some(),
                version_id: marker.map(|m| m.version_id()),
            })
        }
    }
}
