//! `x-amz-acl`: the canned ACL of a write. One rule, used both by the
//! permission check (publishing needs admin) and by the handlers.

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// The canned ACLs kura honours: an object is private to its owner or
/// readable by anyone (published).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAcl {
    /// The owner has FULL_CONTROL, nobody else anything.
    Private,
    /// Plus READ for AllUsers: the object gets a public URL.
    PublicRead,
}

impl CannedAcl {
    /// Whether this ACL publishes the object.
    pub fn is_public(self) -> bool {
        self == CannedAcl::PublicRead
    }
}

/// Parses `x-amz-acl`: `None` if absent. One owner per object, so the
/// owner-centric ACLs all mean private; ACLs that grant more than public
/// reading are refused with `NotImplemented`, unknown ones with
/// `InvalidArgument`.
pub fn canned_acl(h: &http::HeaderMap) -> S3Result<Option<CannedAcl>> {
    let Some(v) = h.get("x-amz-acl") else {
        return Ok(None);
    };
    match v.to_str().unwrap_or_default() {
        "public-read" => Ok(Some(CannedAcl::PublicRead)),
        "private" | "bucket-owner-read" | "bucket-owner-full-control" | "aws-exec-read" => {
            Ok(Some(CannedAcl::Private))
        }
        "public-read-write" | "authenticated-read" => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "kura supports the private and public-read ACLs only",
        )),
        _ => Err(S3Error::invalid_argument("Invalid canned ACL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(v: &str) -> S3Result<Option<CannedAcl>> {
        let mut h = http::HeaderMap::new();
        h.insert("x-amz-acl", v.parse().unwrap());
        canned_acl(&h)
    }

    #[test]
    fn canned_acls() {
        assert_eq!(canned_acl(&http::HeaderMap::new()).unwrap(), None);
        assert_eq!(acl("public-read").unwrap(), Some(CannedAcl::PublicRead));
        assert_eq!(
            acl("bucket-owner-full-control").unwrap(),
            Some(CannedAcl::Private)
        );
        assert_eq!(
            acl("public-read-write").unwrap_err().code,
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            acl("PUBLIC-READ").unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }
}
