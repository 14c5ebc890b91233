//! Object metadata: the headers S3 stores with an object, the
//! `response-*` overrides of GetObject, and `x-amz-metadata-directive`.

use crate::error::{S3Error, S3ErrorCode, S3Result};
use http::HeaderMap;
use std::collections::BTreeMap;

/// Prefix of user-defined metadata headers.
pub const USER_METADATA_PREFIX: &str = "x-amz-meta-";

/// S3's limit on user-defined metadata: the sum of the UTF-8 bytes of every
/// key (without the `x-amz-meta-` prefix) and value.
pub const MAX_USER_METADATA_BYTES: usize = 2048;

/// The standard headers S3 stores verbatim and returns on GET/HEAD, in the
/// order [`stored_object_headers`] emits them.
const STORED_STANDARD_HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];

/// The `response-*` query parameters of GetObject/HeadObject and the header
/// each overrides, in the order [`response_overrides`] emits them.
const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// Extracts the headers S3 stores with an object and returns unchanged on
/// GET/HEAD, as `(lowercase name, value)` pairs.
///
/// Order is stable: `content-type`, `content-encoding`,
/// `content-disposition`, `content-language`, `cache-control`, `expires`
/// (those present), then every `x-amz-meta-*` sorted by name. A header sent
/// on several lines is joined with `,`, as HTTP list semantics allow.
///
/// - `Content-Encoding` loses its `aws-chunked` token: that token describes
///   the upload framing, not the stored bytes (`aws-chunked` alone → not
///   stored, `aws-chunked,gzip` → `gzip`). Empty standard headers are not
///   stored either, so the server's defaults apply.
/// - Values must be visible ASCII, space or tab; anything else is
///   `InvalidArgument`. S3 only promises ASCII metadata over REST, and the
///   SDKs RFC 2047-encode other text, so this only rejects broken clients —
///   while keeping bytes out of stored headers that would break responses.
/// - `x-amz-meta-` with nothing after it is `InvalidArgument`.
/// - User metadata over [`MAX_USER_METADATA_BYTES`] is `MetadataTooLarge`.
pub fn stored_object_headers(h: &HeaderMap) -> S3Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for name in STORED_STANDARD_HEADERS {
        let Some(value) = joined_value(h, name)? else {
            continue;
        };
        let value = if name == "content-encoding" {
            strip_aws_chunked(&value)
        } else {
            value
        };
        if !value.is_empty() {
            out.push((name.to_string(), value));
        }
    }

    // HeaderName is always lowercase, so names need no folding here; the
    // BTreeMap gives the stable order and merges repeated lines.
    let mut user = BTreeMap::new();
    let mut user_bytes = 0usize;
    for name in h.keys() {
        let Some(key) = name.as_str().strip_prefix(USER_METADATA_PREFIX) else {
            continue;
        };
        if key.is_empty() {
            return Err(S3Error::invalid_argument(
                "User metadata header x-amz-meta- has no name",
            ));
        }
        if let Some(value) = joined_value(h, name.as_str())? {
            user_bytes += key.len() + value.len();
            user.insert(name.as_str().to_string(), value);
        }
    }
    if user_bytes > MAX_USER_METADATA_BYTES {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            format!(
                "Your metadata headers exceed the maximum allowed metadata size: \
                 {user_bytes} bytes, limit {MAX_USER_METADATA_BYTES}."
            ),
        ));
    }
    out.extend(user);
    Ok(out)
}

/// All lines of header `name`, checked and joined with `,`; `None` if absent.
fn joined_value(h: &HeaderMap, name: &str) -> S3Result<Option<String>> {
    let mut joined: Option<String> = None;
    for v in h.get_all(name) {
        let bytes = v.as_bytes();
        if !bytes
            .iter()
            .all(|&b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
        {
            return Err(S3Error::invalid_argument(format!(
                "The value of header {name} must be printable US-ASCII"
            )));
        }
        // Checked above: every byte is ASCII.
        let s = std::str::from_utf8(bytes).unwrap_or_default();
        match &mut joined {
            Some(j) => {
                j.push(',');
                j.push_str(s);
            }
            None => joined = Some(s.to_string()),
        }
    }
    Ok(joined)
}

/// Removes `aws-chunked` from a Content-Encoding list, leaving the value
/// byte-for-byte unchanged when the token is absent.
fn strip_aws_chunked(value: &str) -> String {
    let is_chunked = |t: &str| t.trim().eq_ignore_ascii_case("aws-chunked");
    if !value.split(',').any(is_chunked) {
        return value.to_string();
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !is_chunked(t))
        .collect::<Vec<_>>()
        .join(",")
}

/// The header overrides requested by GetObject/HeadObject's `response-*`
/// query parameters, as `(lowercase header name, value)`.
///
/// `query` holds decoded query pairs. Order follows S3's list
/// (`content-type`, `content-language`, `expires`, `cache-control`,
/// `content-disposition`, `content-encoding`); if a parameter is repeated
/// the first wins. A value with control characters (CR, LF, NUL, DEL...) is
/// dropped: it could not be sent as a header, and must never be able to
/// split one. Other UTF-8 is kept, since browsers want raw filenames in
/// `content-disposition`. S3 honours these only on authenticated requests;
/// enforcing that is the server's job.
pub fn response_overrides(query: &[(String, String)]) -> Vec<(&'static str, String)> {
    RESPONSE_OVERRIDES
        .iter()
        .filter_map(|&(param, header)| {
            let (_, value) = query.iter().find(|(k, _)| k == param)?;
            let clean = !value.chars().any(|c| c.is_control() && c != '\t');
            clean.then(|| (header, value.clone()))
        })
        .collect()
}

/// `x-amz-metadata-directive` of CopyObject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataDirective {
    /// Keep the source object's metadata (the default).
    Copy,
    /// Use the metadata sent with the copy request.
    Replace,
}

/// Reads `x-amz-metadata-directive`: absent → `Copy`; `COPY`/`REPLACE`
/// (case-insensitive, as leniency costs nothing here); anything else →
/// `InvalidArgument` "Unknown metadata directive.", as S3 answers.
pub fn metadata_directive(h: &HeaderMap) -> S3Result<MetadataDirective> {
    let Some(v) = h.get("x-amz-metadata-directive") else {
        return Ok(MetadataDirective::Copy);
    };
    let v = v.to_str().unwrap_or_default().trim();
    if v.eq_ignore_ascii_case("COPY") {
        Ok(MetadataDirective::Copy)
    } else if v.eq_ignore_ascii_case("REPLACE") {
        Ok(MetadataDirective::Replace)
    } else {
        Err(S3Error::invalid_argument("Unknown metadata directive."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn stored(pairs: &[(&str, &str)]) -> S3Result<Vec<(String, String)>> {
        stored_object_headers(&headers(pairs))
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keeps_standard_and_user_headers_in_stable_order() {
        let got = stored(&[
            ("X-Amz-Meta-Zeta", "last"),
            ("expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
            ("content-type", "text/plain; charset=utf-8"),
            ("x-amz-meta-alpha", "first"),
            ("cache-control", "max-age=60"),
            ("content-language", "en"),
            ("content-disposition", "attachment; filename=\"a b.txt\""),
            ("content-encoding", "gzip"),
            ("authorization", "AWS4-HMAC-SHA256 ..."),
            ("x-amz-date", "20240101T000000Z"),
            ("content-length", "5"),
        ])
        .unwrap();
        assert_eq!(
            got,
            owned(&[
                ("content-type", "text/plain; charset=utf-8"),
                ("content-encoding", "gzip"),
                ("content-disposition", "attachment; filename=\"a b.txt\""),
                ("content-language", "en"),
                ("cache-control", "max-age=60"),
                ("expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
                ("x-amz-meta-alpha", "first"),
                ("x-amz-meta-zeta", "last"),
            ])
        );
    }

    #[test]
    fn nothing_to_store() {
        assert_eq!(stored(&[]), Ok(vec![]));
        assert_eq!(stored(&[("content-type", "")]), Ok(vec![]));
    }

    #[test]
    fn aws_chunked_is_dropped_from_content_encoding() {
        assert_eq!(stored(&[("content-encoding", "aws-chunked")]), Ok(vec![]));
        assert_eq!(
            stored(&[("content-encoding", "aws-chunked,gzip")]),
            Ok(owned(&[("content-encoding", "gzip")]))
        );
        assert_eq!(
            stored(&[("content-encoding", "gzip, AWS-Chunked , br")]),
            Ok(owned(&[("content-encoding", "gzip,br")]))
        );
        assert_eq!(
            stored(&[
                ("content-encoding", "aws-chunked"),
                ("content-encoding", "gzip")
            ]),
            Ok(owned(&[("content-encoding", "gzip")]))
        );
        // Untouched when the token is absent.
        assert_eq!(
            stored(&[("content-encoding", "gzip, br")]),
            Ok(owned(&[("content-encoding", "gzip, br")]))
        );
    }

    #[test]
    fn repeated_user_metadata_is_joined() {
        assert_eq!(
            stored(&[("x-amz-meta-a", "1"), ("x-amz-meta-a", "2")]),
            Ok(owned(&[("x-amz-meta-a", "1,2")]))
        );
        // Empty user values are kept: S3 returns them.
        assert_eq!(
            stored(&[("x-amz-meta-empty", "")]),
            Ok(owned(&[("x-amz-meta-empty", "")]))
        );
    }

    #[test]
    fn user_metadata_size_limit() {
        // key "k" (1 byte) + 2047-byte value = 2048: allowed.
        let at_limit = "v".repeat(2047);
        assert!(stored(&[("x-amz-meta-k", &at_limit)]).is_ok());
        let over = "v".repeat(2048);
        let err = stored(&[("x-amz-meta-k", &over)]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MetadataTooLarge);
        assert_eq!(err.status().as_u16(), 400);
        // Summed across headers.
        let half = "v".repeat(1020);
        assert!(stored(&[("x-amz-meta-a", &half), ("x-amz-meta-b", &half)]).is_ok());
        let err = stored(&[
            ("x-amz-meta-a", &half),
            ("x-amz-meta-b", &half),
            ("x-amz-meta-c", "0123456789"),
        ])
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MetadataTooLarge);
        // Standard headers do not count.
        assert!(stored(&[("content-disposition", &over), ("x-amz-meta-k", "v")]).is_ok());
    }

    #[test]
    fn rejects_non_ascii_values() {
        // Control characters cannot reach us: `HeaderValue` refuses them.
        // Bytes >= 0x80 (obs-text) can, as raw UTF-8 or otherwise.
        for raw in [&b"caf\xc3\xa9"[..], b"\xff", b"\x80abc"] {
            for name in ["x-amz-meta-x", "content-type"] {
                let mut h = HeaderMap::new();
                h.insert(
                    http::HeaderName::from_static(name),
                    HeaderValue::from_bytes(raw).unwrap(),
                );
                assert_eq!(
                    stored_object_headers(&h).unwrap_err().code,
                    S3ErrorCode::InvalidArgument,
                    "{name}: {raw:?}"
                );
            }
        }
        assert!(stored(&[("x-amz-meta-x", "tab\tand space ~!")]).is_ok());
    }

    #[test]
    fn rejects_nameless_user_metadata() {
        assert_eq!(
            stored(&[("x-amz-meta-", "v")]).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn overrides_in_fixed_order() {
        let q: Vec<(String, String)> = [
            ("response-content-encoding", "gzip"),
            ("versionId", "v1"),
            ("response-content-type", "text/html"),
            (
                "response-content-disposition",
                "attachment; filename=\"ré.txt\"",
            ),
            ("response-expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
            ("response-cache-control", "no-cache"),
            ("response-content-language", "fr"),
            ("response-content-type", "ignored/second"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            response_overrides(&q),
            vec![
                ("content-type", "text/html".to_string()),
                ("content-language", "fr".to_string()),
                ("expires", "Thu, 01 Dec 2094 16:00:00 GMT".to_string()),
                ("cache-control", "no-cache".to_string()),
                (
                    "content-disposition",
                    "attachment; filename=\"ré.txt\"".to_string()
                ),
                ("content-encoding", "gzip".to_string()),
            ]
        );
    }

    #[test]
    fn overrides_drop_header_injection() {
        let q = vec![
            (
                "response-content-type".to_string(),
                "text/html\r\nSet-Cookie: x=1".to_string(),
            ),
            ("response-cache-control".to_string(), "a\0b".to_string()),
            ("response-content-language".to_string(), String::new()),
            (
                "Response-Content-Type".to_string(),
                "case matters".to_string(),
            ),
        ];
        assert_eq!(
            response_overrides(&q),
            vec![("content-language", String::new())]
        );
        assert!(response_overrides(&[]).is_empty());
    }

    #[test]
    fn directive() {
        assert_eq!(
            metadata_directive(&headers(&[])),
            Ok(MetadataDirective::Copy)
        );
        for (v, want) in [
            ("COPY", MetadataDirective::Copy),
            ("REPLACE", MetadataDirective::Replace),
            ("replace", MetadataDirective::Replace),
        ] {
            assert_eq!(
                metadata_directive(&headers(&[("x-amz-metadata-directive", v)])),
                Ok(want)
            );
        }
        for v in ["", "MOVE", "COPYREPLACE"] {
            assert_eq!(
                metadata_directive(&headers(&[("x-amz-metadata-directive", v)]))
                    .unwrap_err()
                    .code,
                S3ErrorCode::InvalidArgument
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-metadata-directive",
            HeaderValue::from_bytes(b"C\xf6PY").unwrap(),
        );
        assert!(metadata_directive(&h).is_err());
    }
}
