//! `x-amz-copy-source` of CopyObject and UploadPartCopy.

use crate::error::{S3Error, S3ErrorCode, S3Result};
use percent_encoding::percent_decode_str;

/// The object a copy reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    /// Source bucket, a valid bucket name.
    pub bucket: String,
    /// Source key, percent-decoded.
    pub key: String,
    /// `?versionId=` if given: copy that version instead of the current one.
    pub version_id: Option<String>,
}

/// Parses `x-amz-copy-source`: `bucket/key` or `/bucket/key`, optionally
/// followed by `?versionId=...`.
///
/// The key is URL-encoded by clients, so a literal `?` can only start the
/// version query. Decoding is plain percent-decoding: `+` stays `+` (it is
/// not a form encoding; treating it as a space is a classic S3-clone bug,
/// versitygw #275), and a `%` not followed by two hex digits is kept as is.
/// Errors are `InvalidArgument`: no `/` or an empty bucket, an empty key,
/// a decoded value that is not UTF-8, or a query other than one non-empty
/// `versionId`. Access-point ARNs (`arn:...`) are `NotImplemented`.
pub fn parse_copy_source(value: &str) -> S3Result<CopySource> {
    let value = value.trim();
    let (path, query) = match value.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (value, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = decode(path)?;
    if path.starts_with("arn:") {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Access point ARNs are not supported as copy source",
        ));
    }
    // Split after decoding: bucket names contain no escapable characters,
    // so this only differs for clients that encoded the separating `/`.
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() => (bucket, key),
        _ => {
            return Err(S3Error::invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ))
        }
    };
    // Refused here like a bucket in the request path (see the router).
    crate::names::validate_bucket_name(bucket)?;
    if key.is_empty() {
        return Err(invalid_key());
    }
    let version_id = match query {
        None => None,
        Some(q) => Some(parse_version_query(q)?),
    };
    Ok(CopySource {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id,
    })
}

/// The query part must be exactly `versionId=<non-empty>`.
fn parse_version_query(q: &str) -> S3Result<String> {
    let invalid = || S3Error::invalid_argument("Invalid version id specified");
    let v = q.strip_prefix("versionId=").ok_or_else(invalid)?;
    if v.contains('&') {
        return Err(invalid());
    }
    let v = decode(v)?;
    if v.is_empty() {
        return Err(invalid());
    }
    Ok(v)
}

fn decode(s: &str) -> S3Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| invalid_key())
}

fn invalid_key() -> S3Error {
    S3Error::invalid_argument("Invalid copy source object key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(value: &str) -> (String, String, Option<String>) {
        let c = parse_copy_source(value).unwrap();
        (c.bucket, c.key, c.version_id)
    }

    fn src(bucket: &str, key: &str, version: Option<&str>) -> (String, String, Option<String>) {
        (bucket.into(), key.into(), version.map(Into::into))
    }

    #[test]
    fn plain_forms() {
        assert_eq!(ok("bucket/key"), src("bucket", "key", None));
        assert_eq!(ok("/bucket/key"), src("bucket", "key", None));
        assert_eq!(ok("/bucket/a/b/c.txt"), src("bucket", "a/b/c.txt", None));
        assert_eq!(ok("bucket/dir/"), src("bucket", "dir/", None));
        // Only the first slash is stripped: the key may start with `/`.
        assert_eq!(ok("bucket//key"), src("bucket", "/key", None));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(ok("bucket/a%20b"), src("bucket", "a b", None));
        assert_eq!(ok("bucket/a+b"), src("bucket", "a+b", None));
        assert_eq!(ok("bucket/a%2Bb"), src("bucket", "a+b", None));
        assert_eq!(ok("bucket/%3Fq%26x%3D1"), src("bucket", "?q&x=1", None));
        assert_eq!(
            ok("bucket/%E6%97%A5%E6%9C%AC.txt"),
            src("bucket", "日本.txt", None)
        );
        assert_eq!(ok("bucket/caf%C3%A9"), src("bucket", "café", None));
        assert_eq!(ok("bucket%2Fkey"), src("bucket", "key", None));
        assert_eq!(ok("bucket/100%"), src("bucket", "100%", None));
        assert_eq!(ok("bucket/a%00b"), src("bucket", "a\0b", None));
        // Raw UTF-8 from clients that did not encode at all.
        assert_eq!(ok("bucket/ключ"), src("bucket", "ключ", None));
    }

    #[test]
    fn version_id() {
        assert_eq!(
            ok("/bucket/key?versionId=3HL4kqtJlcpXroDTDmJ"),
            src("bucket", "key", Some("3HL4kqtJlcpXroDTDmJ"))
        );
        assert_eq!(
            ok("bucket/key?versionId=null"),
            src("bucket", "key", Some("null"))
        );
        assert_eq!(
            ok("bucket/k%3Fey?versionId=a%2Bb"),
            src("bucket", "k?ey", Some("a+b"))
        );
    }

    #[test]
    fn invalid_sources() {
        for v in [
            "",
            "/",
            "bucket",
            "/bucket",
            "bucket/",
            "/bucket/",
            "/key-without-bucket",
            "//bucket/key",
            "bucket/key?versionId=",
            "bucket/key?versionid=1",
            "bucket/key?foo=bar",
            "bucket/key?versionId=1&x=2",
            "bucket/key?",
            "bucket/%FF%FE",
            "bucket/key?versionId=%FF",
        ] {
            assert_eq!(
                parse_copy_source(v).unwrap_err().code,
                S3ErrorCode::InvalidArgument,
                "{v:?}"
            );
        }
    }

    #[test]
    fn arn_is_not_implemented() {
        let v = "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/key";
        assert_eq!(
            parse_copy_source(v).unwrap_err().code,
            S3ErrorCode::NotImplemented
        );
    }
}
