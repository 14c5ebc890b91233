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
