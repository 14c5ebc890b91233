//! The canonical request: the exact bytes both sides hash.
//!
//! S3 differs from other AWS services in one way that matters here: it does
//! not double-encode the path and does not normalise `.`/`..` segments, so
//! the canonical URI is the path as the client encoded it, with encoding
//! made uniform (see [`canonical_uri`]).

use percent_encoding::percent_decode_str;

use super::RequestParts;

/// Whether AWS leaves `b` unencoded: `A-Z a-z 0-9 - . _ ~`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_encoded(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// Percent-encodes `bytes` with AWS's rules: unreserved bytes kept, the
/// rest `%XX` with uppercase hex. `/` is kept only when `keep_slash`.
pub(crate) fn aws_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_encoded(&mut out, b);
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The canonical URI of a raw (still encoded) request path.
///
/// Equivalent to "percent-decode, then re-encode with AWS rules keeping `/`",
/// except that an encoded slash (`%2F`) stays encoded: decoding it would
/// make `a%2Fb` sign as `a/b`, which no client computes. So clients that
/// encode more than necessary (`%7E`, lowercase `%2a`) or less (raw `*`,
/// `!`, non-ASCII) all land on the same canonical form, as S3 does.
pub fn canonical_uri(raw_path: &str) -> String {
    let b = raw_path.as_bytes();
    if b.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(b.len() + 8);
    let mut i = 0;
    while i < b.len() {
        let decoded = if b[i] == b'%' && i + 2 < b.len() {
            hex_val(b[i + 1])
                .zip(hex_val(b[i + 2]))
                .map(|(h, l)| (h << 4) | l)
        } else {
            None
        };
        match decoded {
            Some(byte) => {
                if is_unreserved(byte) {
                    out.push(char::from(byte));
                } else {
                    push_encoded(&mut out, byte);
                }
                i += 3;
            }
            None => {
                // A '%' not followed by two hex digits is a literal '%'.
                let byte = b[i];
                if is_unreserved(byte) || byte == b'/' {
                    out.push(char::from(byte));
                } else {
                    push_encoded(&mut out, byte);
                }
                i += 1;
            }
        }
    }
    out
}

/// Splits a raw query into decoded `(key, value)` pairs. `+` stays `+`
/// (S3 does not treat it as a space); a parameter without `=` has an empty
/// value; empty pieces (`a=1&&b=2`) are skipped.
pub(crate) fn decode_query(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode_str(k).collect(),
                percent_decode_str(v).collect(),
            )
        })
        .collect()
}

/// The canonical query string: every parameter decoded, re-encoded with
/// AWS rules (`/` included), sorted by key then value. For presigned URLs
/// `X-Amz-Signature` is left out, since it cannot sign itself.
pub fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = decode_query(raw_query)
        .into_iter()
        .filter(|(k, _)| !(presigned && k.as_slice() == b"X-Amz-Signature"))
        .map(|(k, v)| (aws_encode(&k, false), aws_encode(&v, false)))
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims spaces at both ends and collapses inner runs of spaces to one.
/// Only spaces: S3 (and the AWS SDKs) leave tabs and other whitespace alone.
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let start = value.iter().position(|&b| b != b' ');
    let Some(start) = start else { return };
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |e| e + 1);
    let mut prev_space = false;
    for &b in &value[start..end] {
        if b == b' ' {
            if !prev_space {
                out.push(b' ');
            }
            prev_space = true;
        } else {
            out.push(b);
            prev_space = false;
        }
    }
}

/// The canonical headers block: one `name:value\n` line per signed header,
/// in the order of `signed_headers`. Several values of one header are
/// joined with `,`; a signed header missing from the request signs as empty
/// (so the signature will not match unless the client did the same).
pub fn canonical_headers(headers: &http::HeaderMap, signed_headers: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, value) in headers.get_all(name.as_str()).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(&mut out, value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// The full canonical request:
/// method, URI, query, headers, signed header list and payload hash.
pub fn canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    presigned: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(parts.raw_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(parts.raw_query, presigned).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&canonical_headers(parts.headers, signed_headers));
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_reencodes_uniformly() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
        // Raw reserved characters get encoded, over-encoded unreserved decoded.
        assert_eq!(canonical_uri("/b/a*b!c"), "/b/a%2Ab%21c");
        assert_eq!(canonical_uri("/b/%7e%2a%41"), "/b/~%2AA");
        // `+` in a path is a plus, never a space.
        assert_eq!(canonical_uri("/b/a+b"), "/b/a%2Bb");
        assert_eq!(canonical_uri("/b/a%2Bb%20c"), "/b/a%2Bb%20c");
        // Encoded slash stays encoded; literal slash stays literal.
        assert_eq!(canonical_uri("/b/a%2fb/c"), "/b/a%2Fb/c");
        // Non-ASCII, raw or encoded, becomes uppercase UTF-8 escapes.
        assert_eq!(canonical_uri("/b/日"), "/b/%E6%97%A5");
        assert_eq!(canonical_uri("/b/%e6%97%a5"), "/b/%E6%97%A5");
        // A stray '%' is a literal percent sign.
        assert_eq!(canonical_uri("/b/100%"), "/b/100%25");
        assert_eq!(canonical_uri("/b/%zz"), "/b/%25zz");
        // No dot-segment normalisation (S3 keys may contain them).
        assert_eq!(canonical_uri("/b/./../k"), "/b/./../k");
    }

    #[test]
    fn query_sorted_and_reencoded() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(canonical_query("lifecycle", false), "lifecycle=");
        assert_eq!(
            canonical_query("prefix=J&max-keys=2", false),
            "max-keys=2&prefix=J"
        );
        // '+' is literal, space encoded as %20, '/' encoded in values.
        assert_eq!(
            canonical_query("prefix=a+b%20c/d&delimiter=%2F", false),
            "delimiter=%2F&prefix=a%2Bb%20c%2Fd"
        );
        // Same key twice: sorted by value.
        assert_eq!(canonical_query("k=2&k=1&a", false), "a=&k=1&k=2");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc", false),
            "X-Amz-Signature=abc"
        );
    }

    #[test]
    fn headers_trimmed_and_joined() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "  example.com ".parse().unwrap());
        h.append("x-amz-meta-a", "a   b  c".parse().unwrap());
        h.append("x-amz-meta-a", " d".parse().unwrap());
        h.insert("x-amz-meta-t", "a\tb".parse().unwrap());
        let signed =
            ["host", "x-amz-meta-a", "x-amz-meta-missing", "x-amz-meta-t"].map(String::from);
        assert_eq!(
            String::from_utf8(canonical_headers(&h, &signed)).unwrap(),
            "host:example.com\nx-amz-meta-a:a b c,d\nx-amz-meta-missing:\nx-amz-meta-t:a\tb\n"
        );
    }
}
