//! Body-describing request headers: `Content-Length`, `Content-MD5` and
//! `x-amz-decoded-content-length`.

use crate::error::{S3Error, S3ErrorCode, S3Result};
use base64::Engine;
use http::HeaderMap;

/// Reads `Content-MD5`: the base64 of a 16-byte MD5 digest.
///
/// `Ok(None)` if absent; anything that is not standard base64 of exactly
/// 16 bytes (including an empty value) is `InvalidDigest`.
pub fn content_md5(h: &HeaderMap) -> S3Result<Option<[u8; 16]>> {
    let Some(v) = h.get("content-md5") else {
        return Ok(None);
    };
    let invalid = || S3Error::new(S3ErrorCode::InvalidDigest);
    let text = v.to_str().map_err(|_| invalid())?.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| invalid())?;
    let digest: [u8; 16] = bytes.try_into().map_err(|_| invalid())?;
    Ok(Some(digest))
}

/// Reads `Content-Length`; `Ok(None)` if absent.
///
/// Anything but a plain decimal `u64` is `InvalidArgument`, and so are
/// several lines that disagree (a request-smuggling shape; hyper rejects it
/// first, this is for other front ends). Absence is not an error here:
/// whether it is `MissingContentLength` depends on the operation.
pub fn content_length(h: &HeaderMap) -> S3Result<Option<u64>> {
    length_header(h, "content-length")
}

/// Reads `x-amz-decoded-content-length`, the payload size before
/// `aws-chunked` framing; same rules as [`content_length`].
pub fn decoded_content_length(h: &HeaderMap) -> S3Result<Option<u64>> {
    length_header(h, "x-amz-decoded-content-length")
}

fn length_header(h: &HeaderMap, name: &str) -> S3Result<Option<u64>> {
    let mut found: Option<u64> = None;
    for v in h.get_all(name) {
        let n = parse_decimal(v.as_bytes())
            .ok_or_else(|| S3Error::invalid_argument(format!("Invalid value for header {name}")))?;
        if found.is_some_and(|f| f != n) {
            return Err(S3Error::invalid_argument(format!(
                "Conflicting values for header {name}"
            )));
        }
        found = Some(n);
    }
    Ok(found)
}

/// ASCII digits only (no sign, no spaces), without overflow.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(name: &'static str, values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn md5_valid() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        let h = with("content-md5", &[b"1B2M2Y8AsgTpgAmY7PhCfg=="]);
        assert_eq!(
            content_md5(&h),
            Ok(Some([
                0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8,
                0x42, 0x7e
            ]))
        );
        assert_eq!(content_md5(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn md5_invalid() {
        for v in [
            &b""[..],
            b"not base64!",
            b"1B2M2Y8AsgTpgAmY7PhCfg",           // missing padding
            b"1B2M2Y8AsgTpgAmY7PhC",             // 15 bytes
            b"1B2M2Y8AsgTpgAmY7PhCfgAA",         // 17 bytes
            b"d41d8cd98f00b204e9800998ecf8427e", // hex, not base64
            b"1B2M2Y8AsgTpgAmY7PhCfg==\xff",
        ] {
            assert_eq!(
                content_md5(&with("content-md5", &[v])).unwrap_err().code,
                S3ErrorCode::InvalidDigest,
                "{v:?}"
            );
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(content_length(&HeaderMap::new()), Ok(None));
        assert_eq!(
            content_length(&with("content-length", &[b"0"])),
            Ok(Some(0))
        );
        assert_eq!(
            content_length(&with("content-length", &[b"18446744073709551615"])),
            Ok(Some(u64::MAX))
        );
        assert_eq!(
            decoded_content_length(&with("x-amz-decoded-content-length", &[b"66560"])),
            Ok(Some(66560))
        );
        // Repeated but identical is harmless.
        assert_eq!(
            content_length(&with("content-length", &[b"5", b"5"])),
            Ok(Some(5))
        );
    }

    #[test]
    fn lengths_invalid() {
        for v in [
            &b""[..],
            b"-1",
            b"+5",
            b" 5",
            b"5 ",
            b"1e3",
            b"0x10",
            b"18446744073709551616",
            b"99999999999999999999999999",
            b"\xd9\xa1",
        ] {
            assert_eq!(
                content_length(&with("content-length", &[v]))
                    .unwrap_err()
                    .code,
                S3ErrorCode::InvalidArgument,
                "{v:?}"
            );
            assert!(decoded_content_length(&with("x-amz-decoded-content-length", &[v])).is_err());
        }
        assert!(content_length(&with("content-length", &[b"5", b"6"])).is_err());
    }
}
