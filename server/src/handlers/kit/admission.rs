//! Whether a write may take its bytes: free disk space (`--min-free-space`)
//! and the bucket's quota, checked before the first byte of a body is read.

use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::QuotaLimit;

use crate::errors::StorageResultExt;
use crate::state::AppState;

/// Refuses a write to `bucket` of `incoming` bytes (`None`: not declared,
/// a streamed body) with 507 `InsufficientStorage` when the disk is below
/// its mark, or 403 `QuotaExceeded` when the bucket's quota would be
/// crossed. `key` is the object the write makes current (`None` for a part
/// of a multipart upload, which adds bytes but no object): replacing its
/// current version frees that version's bytes. Returns the room the quota
/// leaves, to hold a streamed body to ([`crate::body::Payload::with_quota`]).
pub fn admit_write(
    state: &AppState,
    bucket: &str,
    key: Option<&str>,
    incoming: Option<u64>,
) -> S3Result<Option<u64>> {
    state.disk.admit(incoming.unwrap_or(0))?;
    quota_room(state, bucket, key, incoming)
}

/// The quota half of [`admit_write`], for writes that take no new bytes
/// on disk but add to the bucket's usage (completing a multipart upload).
pub fn quota_room(
    state: &AppState,
    bucket: &str,
    key: Option<&str>,
    incoming: Option<u64>,
) -> S3Result<Option<u64>> {
    let store = &state.store;
    if store.quota(bucket).s3()?.is_none() {
        return Ok(None);
    }
    // A part replaces nothing and adds no object: as if replacing an empty one.
    let replaced = match key {
        Some(key) => store
            .current(bucket, key)
            .s3()?
            .filter(|r| !r.delete_marker)
            .map(|r| r.size),
        None => Some(0),
    };
    match store
        .check_quota(bucket, incoming.unwrap_or(0), replaced)
        .s3()?
    {
        Some(QuotaLimit::Bytes) => Err(S3Error::with_message(
            S3ErrorCode::QuotaExceeded,
            "The bucket's byte quota would be exceeded by this upload.",
        )),
        Some(QuotaLimit::Objects) => Err(S3Error::with_message(
            S3ErrorCode::QuotaExceeded,
            "The bucket's object-count quota would be exceeded by this upload.",
        )),
        None => store.quota_room(bucket, replaced).s3(),
    }
}
