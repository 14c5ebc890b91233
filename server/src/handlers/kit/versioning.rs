//! How version ids are shown to S3 clients, by the bucket's versioning
//! state (see `handlers/versions.rs` for the model), and how a request's
//! `versionId` (`null` included) names a stored version.

use kura_protocol::{S3Error, S3Result};
use kura_storage::{ObjectRow, Store, Versioning};

use crate::errors::StorageResultExt;

/// The id a write answers with in `x-amz-version-id`: none for a `null`
/// version (S3 omits it in unversioned and Suspended buckets alike).
pub fn written_version_id(row: &ObjectRow) -> Option<String> {
    (!row.null_version).then(|| row.version_id())
}

/// The id GET/HEAD of the current version answer with: none in a bucket
/// whose versioning was never enabled, `null` for the `null` version (the
/// current version is its key's newest).
pub fn current_version_id(
    store: &Store,
    bucket: &str,
    row: &ObjectRow,
) -> S3Result<Option<String>> {
    if !row.null_version {
        return Ok(Some(row.version_id()));
    }
    let versioning = super::existing_bucket(store, bucket)?.versioning;
    Ok((versioning != Versioning::Unversioned).then(|| "null".to_string()))
}

/// The id DeleteObject without a version id answers with (with
/// `x-amz-delete-marker: true`), if S3 clients are to see the marker:
/// never in a bucket whose versioning was never enabled.
pub fn marker_version_id(versioning: Versioning, marker: &ObjectRow) -> Option<String> {
    match versioning {
        Versioning::Unversioned => None,
        _ if marker.null_version => Some("null".into()),
        _ => Some(marker.version_id()),
    }
}

/// Resolves a request's `versionId` to a sequence number under the key's
/// lock: `Ok(None)` when no such version exists for clients — including a
/// `null` version that is kura's hidden record of a delete in a bucket
/// whose versioning was never enabled.
pub fn resolve_version(
    store: &Store,
    versioning: Versioning,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> S3Result<Option<u64>> {
    if version_id != "null" {
        return parse_version(version_id).map(Some);
    }
    Ok(store
        .null_version(bucket, key)
        .s3()?
        .filter(|r| !(r.delete_marker && versioning == Versioning::Unversioned))
        .map(|r| r.seq))
}

/// A version id other than `null`: kura's 16 hex digits.
pub fn parse_version(version_id: &str) -> S3Result<u64> {
    kura_storage::rows::parse_version_id(version_id)
        .ok_or_else(|| S3Error::invalid_argument("Invalid version id specified"))
}
