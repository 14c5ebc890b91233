//! Which permission each operation needs — the operation table's
//! [`Access`] (`kura_protocol::router`), mapped to key permissions — and on
//! what ([`Reach`]): an object key, a listing prefix, the bucket itself.

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

/// What an operation's permission is checked on, beyond its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach<'a> {
    /// An object operation: the permission on its key.
    Key(&'a str),
    /// A listing: read on every key under its `prefix` parameter
    /// ([`Principal::may_list`]).
    Listing(&'a str),
    /// An answer filtered to the keys the caller may read (the change feed):
    /// let in when some readable key can begin with the given prefix; the
    /// handler restricts the answer with [`Principal::key_filter`].
    Filtered(&'a str),
    /// A request naming many keys (DeleteObjects): let in with the
    /// permission on some key of the bucket; the handler checks each key.
    PerKey,
    /// Whether the bucket exists and where (HeadBucket, GetBucketLocation):
    /// any grant naming the bucket, even one folder, as clients listing a
    /// folder (`aws s3 ls s3://b/folder/`, rclone) ask first.
    Visible,
    /// The bucket itself (its settings, its ACL, its versioning state):
    /// a bucket-wide grant.
    Bucket,
}

/// What `op`'s permission is checked on. Object operations are found
/// through the operation table (every line of its `object` section has a
/// key), so a new one is checked per key without being named here; a new
/// bucket operation needs a bucket-wide grant until it is added here.
pub fn reach(op: &Operation) -> Reach<'_> {
    match op {
        Operation::ListObjects { params, .. }
        | Operation::ListObjectsV2 { params, .. }
        | Operation::ListObjectVersions { params, .. }
        | Operation::ListMultipartUploads { params, .. } => Reach::Listing(&params.prefix),
        Operation::ListChanges { params, .. } => Reach::Filtered(&params.prefix),
        // Each entry (each search result) is checked on its own.
        Operation::DeleteObjects { .. } | Operation::SearchObjects { .. } => Reach::PerKey,
        Operation::HeadBucket { .. } | Operation::GetBucketLocation { .. } => Reach::Visible,
        _ => match op.key() {
            Some(key) => Reach::Key(key),
            None => Reach::Bucket,
        },
    }
}

/// Whether `who` holds `perm` on `bucket` as far as `reach` asks.
fn permits(who: &Principal, bucket: &str, perm: Permission, reach: Reach<'_>) -> bool {
    match reach {
        Reach::Key(key) => who.may(bucket, key, perm),
        // Listings need read: this is Principal::may_list.
        Reach::Listing(prefix) => who.may(bucket, prefix, perm),
        Reach::Filtered(prefix) => who.may_overlapping(bucket, prefix, perm),
        Reach::PerKey => who.may_somewhere(bucket, perm),
        Reach::Visible => who.sees(bucket),
        Reach::Bucket => who.allows(bucket, perm),
    }
}

/// Refuses with 403 `AccessDenied` unless `who` may do `perm` on `key` of
/// `bucket`: for handlers checking the keys of a request one by one
/// (DeleteObjects entries).
pub fn check_key(who: &Principal, bucket: &str, key: &str, perm: Permission) -> S3Result<()> {
    if who.may(bucket, key, perm) {
        Ok(())
    } else {
        Err(S3Error::new(S3ErrorCode::AccessDenied))
    }
}

/// Refuses the request with 403 `AccessDenied` unless `who` holds what `op`
/// needs: its permission on the addressed bucket, key or listing prefix
/// ([`reach`]) and, for copies, `read` on the source object. Checked before
/// the handler runs, so a refused caller learns nothing, not even whether
/// the bucket or the key exists.
pub fn authorize(who: &Principal, op: &Operation, headers: &http::HeaderMap) -> S3Result<()> {
    if let (Some(bucket), Some(mut perm)) = (op.bucket(), required(op)) {
        // Uploads and copies that publish their object need admin, like PutObjectAcl.
        if perm == Permission::Write && publishes(headers) {
            perm = Permission::Admin;
        }
        if !permits(who, bucket, perm, reach(op)) {
            return Err(S3Error::new(S3ErrorCode::AccessDenied));
        }
    }
    if reads_copy_source(op) {
        if let Some(value) = headers.get("x-amz-copy-source") {
            let value = value
                .to_str()
                .map_err(|_| S3Error::invalid_argument("Invalid copy source encoding"))?;
            let source = parse_copy_source(value)?;
            check_key(who, &source.bucket, &source.key, Permission::Read)?;
        }
    }
    Ok(())
}
