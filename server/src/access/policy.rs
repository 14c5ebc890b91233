//! Which permission each operation needs: the operation table's
//! [`Access`] (`kura_protocol::router`), mapped to key permissions.

use kura_protocol::headers::{canned_acl, parse_copy_source, CannedAcl};
use kura_protocol::router::{Access, Operation};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use super::{Permission, Principal};

/// The permission `op` needs on its own bucket (`None` for ListBuckets,
/// which is filtered instead of refused), from the operation table.
pub fn required(op: &Operation) -> Option<Permission> {
    match op.access() {
        Access::Service => None,
        Access::Read => Some(Permission::Read),
        Access::Write => Some(Permission::Write),
        Access::Admin => Some(Permission::Admin),
    }
}

/// Deleting a specific version (`DELETE ?versionId=`, a DeleteObjects entry
/// with `VersionId`) removes it from the retention trash at once, which
/// needs `admin` on the bucket (S3 grants it separately too, as
/// `s3:DeleteObjectVersion`): the trash exists to undo a partner's mistakes,
/// so a partner with `w` must not be able to empty it. Removing a delete
/// marker only restores the object, so that stays with `w`, which the
/// operation as a whole already required. `is_delete_marker` is what the
/// version is (`false` when it does not exist), checked under the key's lock.
pub fn may_delete_version(who: &Principal, bucket: &str, is_delete_marker: bool) -> S3Result<()> {
    if is_delete_marker || who.allows(bucket, Permission::Admin) {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied: deleting an object version needs admin on the bucket.",
        ))
    }
}

/// Whether the operation reads another bucket through `x-amz-copy-source`.
fn reads_copy_source(op: &Operation) -> bool {
    matches!(
        op,
        Operation::CopyObject { .. } | Operation::UploadPartCopy { .. }
    )
}

/// Whether the request asks to publish what it writes (`x-amz-acl:
/// public-read`), by the same rule the handlers apply. An ACL the handler
/// will refuse publishes nothing; the handler answers it.
fn publishes(headers: &http::HeaderMap) -> bool {
    matches!(canned_acl(headers), Ok(Some(CannedAcl::PublicRead)))
}

/// Refuses the request with 403 `AccessDenied` unless `who` holds what `op`
/// needs: its permission on the addressed bucket and, for copies, `read` on
/// the source bucket. Checked before the handler runs, so a refused caller
/// learns nothing, not even whether the bucket exists.
pub fn authorize(who: &Principal, op: &Operation, headers: &http::HeaderMap) -> S3Result<()> {
    if let (Some(bucket), Some(mut perm)) = (op.bucket(), required(op)) {
        // Uploads and copies that publish their object need admin, like PutObjectAcl.
        if perm == Permission::Write && publishes(headers) {
            perm = Permission::Admin;
        }
        if !who.allows(bucket, perm) {
            return Err(S3Error::new(S3ErrorCode::AccessDenied));
        }
    }
    if reads_copy_source(op) {
        if let Some(value) = headers.get("x-amz-copy-source") {
            let value = value
                .to_str()
                .map_err(|_| S3Error::invalid_argument("Invalid copy source encoding"))?;
            let source = parse_copy_source(value)?;
            if !who.allows(&source.bucket, Permission::Read) {
                return Err(S3Error::new(S3ErrorCode::AccessDenied));
            }
        }
    }
    Ok(())
}
