//! Bucket-name and object-key validation.
//!
//! Bucket names follow S3's rules for general-purpose buckets
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>),
//! so a name kura accepts is one AWS would accept and vice versa; clients
//! that validate names locally (the SDKs do) then never disagree with us.

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Shortest bucket name S3 allows.
pub const MIN_BUCKET_NAME_LEN: usize = 3;
/// Longest bucket name S3 allows.
pub const MAX_BUCKET_NAME_LEN: usize = 63;
/// Longest object key S3 allows, in bytes of UTF-8.
pub const MAX_OBJECT_KEY_LEN: usize = 1024;

/// Prefixes AWS reserves for its own features (IDN punycode, access points,
/// documentation examples).
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];

/// Suffixes AWS reserves for aliases and special bucket kinds (access-point
/// aliases, Object Lambda, multi-region access points, directory and table
/// buckets). Accepting them would make names that cannot exist on AWS.
const RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Checks `name` against S3's naming rules for general-purpose buckets.
///
/// 3 to 63 characters of lowercase letters, digits, `.` and `-`; starts and
/// ends with a letter or digit; no `..`; not shaped like an IPv4 address; no
/// reserved prefix (`xn--`, `sthree-`, `amzn-s3-demo-`) or suffix
/// (`-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`).
/// Any violation is `InvalidBucketName`, with the broken rule as message.
pub fn validate_bucket_name(name: &str) -> S3Result<()> {
    let invalid = |why: &str| {
        Err(S3Error::with_message(
            S3ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {why}."),
        ))
    };
    // Checked on bytes: every allowed character is ASCII, so any non-ASCII
    // byte fails the charset test below and `len()` is the character count.
    let bytes = name.as_bytes();
    if bytes.len() < MIN_BUCKET_NAME_LEN || bytes.len() > MAX_BUCKET_NAME_LEN {
        return invalid("bucket names must be between 3 and 63 characters long");
    }
    if !bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return invalid(
            "bucket names may contain only lowercase letters, digits, dots and hyphens",
        );
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return invalid("bucket names must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return invalid("bucket names must not contain two adjacent periods");
    }
    if looks_like_ipv4(name) {
        return invalid("bucket names must not be formatted as an IP address");
    }
    if let Some(p) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return invalid(&format!("the prefix {p} is reserved"));
    }
    if let Some(s) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return invalid(&format!("the suffix {s} is reserved"));
    }
    Ok(())
}

/// Four dot-separated groups of digits. Deliberately looser than a real IPv4
/// parse (`999.1.1.1` counts): S3 rejects the shape, not just valid addresses,
/// because such names break virtual-hosted-style DNS either way.
fn looks_like_ipv4(name: &str) -> bool {
    let groups: Vec<&str> = name.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks an object key: non-empty and at most 1024 bytes of UTF-8.
///
/// An empty key is `InvalidArgument`. In practice the router never produces
/// one — `PUT /bucket/` addresses the bucket, not a key named `""` — so this
/// only guards keys from other sources (copy sources, XML bodies).
/// A key over 1024 bytes is `KeyTooLongError`. Any other UTF-8 is allowed,
/// NUL and control characters included, as on S3; storage escapes them.
pub fn validate_object_key(key: &str) -> S3Result<()> {
    if key.is_empty() {
        return Err(S3Error::invalid_argument("Object key must not be empty"));
    }
    if key.len() > MAX_OBJECT_KEY_LEN {
        return Err(S3Error::new(S3ErrorCode::KeyTooLongError));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_code(name: &str) -> Option<S3ErrorCode> {
        validate_bucket_name(name).err().map(|e| e.code)
    }

    #[test]
    fn accepts_valid_bucket_names() {
        for name in [
            "abc",
            "my-bucket",
            "my.bucket.name",
            "123",
            "a1b2c3",
            "bucket-1.example.com",
            &"a".repeat(63),
            // Near misses of the reserved affixes are fine.
            "xn-bucket",
            "sthree",
            "amzn-s3-demo",
            "bucket-s3alia",
            "bucket-ol-s3",
            "bucket.mrap1",
            "bucket-x-s3",
            "bucket-table-s3",
            // Looks a bit like an IP but is not four digit groups.
            "192.168.5",
            "192.168.5.4.1",
            "192.168.5.a",
        ] {
            assert_eq!(validate_bucket_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn bucket_length_limits() {
        assert!(bucket_code("ab").is_some());
        assert!(bucket_code("").is_some());
        assert_eq!(validate_bucket_name("abc"), Ok(()));
        assert_eq!(validate_bucket_name(&"a".repeat(63)), Ok(()));
        assert_eq!(
            bucket_code(&"a".repeat(64)),
            Some(S3ErrorCode::InvalidBucketName)
        );
    }

    #[test]
    fn bucket_charset() {
        for name in [
            "MyBucket",
            "my_bucket",
            "my bucket",
            "my/bucket",
            "bücket",
            "bucket!",
            "buc\0ket",
        ] {
            assert_eq!(
                bucket_code(name),
                Some(S3ErrorCode::InvalidBucketName),
                "{name}"
            );
        }
    }

    #[test]
    fn bucket_must_begin_and_end_alphanumeric() {
        for name in ["-bucket", "bucket-", ".bucket", "bucket.", "-ab-"] {
            assert!(bucket_code(name).is_some(), "{name}");
        }
    }

    #[test]
    fn bucket_no_adjacent_dots() {
        assert!(bucket_code("my..bucket").is_some());
        assert_eq!(validate_bucket_name("my.bucket"), Ok(()));
        // Dot next to a hyphen is allowed by the current rules.
        assert_eq!(validate_bucket_name("my.-bucket"), Ok(()));
    }

    #[test]
    fn bucket_not_ip_shaped() {
        assert!(bucket_code("192.168.5.4").is_some());
        assert!(bucket_code("999.999.999.999").is_some());
        assert!(bucket_code("1.2.3.4").is_some());
    }

    #[test]
    fn bucket_reserved_prefixes() {
        for name in [
            "xn--bucket",
            "sthree-bucket",
            "sthree-configurator",
            "amzn-s3-demo-bucket",
        ] {
            assert!(bucket_code(name).is_some(), "{name}");
        }
    }

    #[test]
    fn bucket_reserved_suffixes() {
        for name in [
            "bucket-s3alias",
            "bucket--ol-s3",
            "bucket.mrap",
            "bucket--x-s3",
            "bucket--table-s3",
        ] {
            assert!(bucket_code(name).is_some(), "{name}");
        }
    }

    #[test]
    fn object_key_limits() {
        assert_eq!(validate_object_key("a"), Ok(()));
        assert_eq!(validate_object_key(&"k".repeat(1024)), Ok(()));
        assert_eq!(
            validate_object_key(&"k".repeat(1025)).unwrap_err().code,
            S3ErrorCode::KeyTooLongError
        );
        assert_eq!(
            validate_object_key("").unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn object_key_length_is_in_bytes() {
        // 'é' is two bytes: 512 of them is exactly the limit, 513 is over.
        assert_eq!(validate_object_key(&"é".repeat(512)), Ok(()));
        assert_eq!(
            validate_object_key(&"é".repeat(513)).unwrap_err().code,
            S3ErrorCode::KeyTooLongError
        );
    }

    #[test]
    fn object_key_allows_odd_characters() {
        for key in [
            "a b",
            "a+b",
            "*",
            "../x",
            "a\0b",
            "日本語/キー",
            "\n",
            "%2F",
        ] {
            assert_eq!(validate_object_key(key), Ok(()), "{key:?}");
        }
    }
}
