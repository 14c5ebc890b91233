//! Fuzz targets: one function per parser, over raw bytes, that must never
//! panic (and checks what it can about the result). They take bytes so any
//! driver can call them: the proptest properties in `fuzz.rs`, the seed
//! corpus replay, or a coverage-guided fuzzer where one builds.
//!
//! Structured inputs (a method, a path, headers...) are cut out of the bytes
//! at newlines, so a mutated seed keeps its shape most of the time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use kura_protocol::headers::{
    content_range, format_http_date, parse_copy_source, parse_copy_source_range, parse_http_date,
    parse_range, stored_object_headers, Conditions, EntityTag, EtagCondition,
};
use kura_protocol::names::{validate_bucket_name, validate_object_key};
use kura_protocol::router::{route, target, Query};
use kura_protocol::sigv2::PresignedV2;
use kura_protocol::sigv4::{parse_request_auth, ChunkedDecoder, RequestParts, SecretKey};
use kura_protocol::xml::{
    AccessControlPolicy, CompleteMultipartUpload, CreateBucketConfiguration, DeleteRequest,
    VersioningConfiguration,
};
use time::OffsetDateTime;

/// A fuzz target: any bytes in, never a panic.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("router", router),
    ("sigv4_header", sigv4_header),
    ("sigv4_query", sigv4_query),
    ("sigv2_query", sigv2_query),
    ("aws_chunked", aws_chunked),
    ("range", range),
    ("dates", dates),
    ("conditions", conditions),
    ("xml", xml),
    ("names", names),
    ("copy_source", copy_source),
    ("metadata", metadata),
];

fn fields(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == b'\n')
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

fn field(f: &[String], i: usize) -> &str {
    f.get(i).map(String::as_str).unwrap_or("")
}

/// Header lines `name: value` (invalid names or values are skipped, as
/// hyper would have refused them before kura saw them).
fn headers(lines: &[String]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            ) {
                h.append(k, v);
            }
        }
    }
    h
}

fn method(s: &str) -> Method {
    Method::from_bytes(s.as_bytes()).unwrap_or(Method::GET)
}

fn fixed_now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_369_353_600).unwrap() // 2013-05-24
}

/// Lines: method, raw path, raw query, Host.
pub fn router(data: &[u8]) {
    let f = fields(data);
    let host = Some(field(&f, 3)).filter(|h| !h.is_empty());
    for domain in [None, Some("s3.example.com")] {
        let Ok(t) = target(field(&f, 1), host, domain) else {
            continue;
        };
        if let Ok(q) = Query::parse(field(&f, 2)) {
            let _ = route(&method(field(&f, 0)), t, &q);
        }
    }
}

fn verify_v4(m: &Method, path: &str, query: &str, h: &HeaderMap) {
    let parts = RequestParts {
        method: m,
        raw_path: path,
        raw_query: query,
        headers: h,
    };
    if let Ok(Some(signed)) = parse_request_auth(&parts) {
        let _ = signed.access_key_id();
        let _ = signed.payload();
        let _ = signed.verify(&parts, &SecretKey::new("secret"), "us-east-1", fixed_now());
    }
}

/// Lines: method, raw path, raw query, then header lines (`Authorization:
/// AWS4-HMAC-SHA256 ...`, `x-amz-date`, ...).
pub fn sigv4_header(data: &[u8]) {
    let f = fields(data);
    let h = headers(f.get(3..).unwrap_or(&[]));
    verify_v4(&method(field(&f, 0)), field(&f, 1), field(&f, 2), &h);
}

/// The whole input is the raw query of a presigned URL.
pub fn sigv4_query(data: &[u8]) {
    let q = String::from_utf8_lossy(data);
    let mut h = HeaderMap::new();
    h.insert(
        "host",
        HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
    );
    verify_v4(&Method::GET, "/test.txt", &q, &h);
}

/// The whole input is the raw query of a SigV2 presigned URL.
pub fn sigv2_query(data: &[u8]) {
    let q = String::from_utf8_lossy(data);
    if let Ok(Some(p)) = PresignedV2::parse(&q) {
        let h = HeaderMap::new();
        let parts = RequestParts {
            method: &Method::GET,
            raw_path: "/bucket/key",
            raw_query: &q,
            headers: &h,
        };
        let _ = p.access_key_id();
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let _ = p.verify(&parts, None, &SecretKey::new("secret"), now);
        let _ = p.verify(&parts, Some("bucket"), &SecretKey::new("secret"), now);
    }
}

/// First byte: bit 0 = trailer expected, bits 1.. = how to split the rest
/// into socket reads. The rest: an unsigned aws-chunked body.
pub fn aws_chunked(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let mut dec = ChunkedDecoder::new(None, flags & 1 == 1);
    let step = (flags >> 1) as usize % 17 + 1;
    let mut decoded = 0u64;
    for piece in body.chunks(step) {
        dec.push(Bytes::copy_from_slice(piece));
        loop {
            match dec.next_payload() {
                Ok(Some(b)) => {
                    decoded += b.len() as u64;
                    assert!(decoded <= body.len() as u64, "decoded more than was sent");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    assert_eq!(dec.decoded_len(), decoded);
    let _ = dec.is_done();
    let _ = dec.finish();
}

/// First 8 bytes: object size (big-endian); the rest: a Range header.
pub fn range(data: &[u8]) {
    let (size, header) = if data.len() >= 8 {
        let (s, rest) = data.split_at(8);
        (u64::from_be_bytes(s.try_into().unwrap()) % (1 << 50), rest)
    } else {
        (1000, data)
    };
    let header = String::from_utf8_lossy(header);
    if let Ok(Some(r)) = parse_range(&header, size) {
        assert!(
            r.len() >= 1 && r.len() <= size,
            "{header:?} of {size}: {r:?}"
        );
        let _ = content_range(&r, size);
    }
    if let Ok(r) = parse_copy_source_range(&header, size) {
        assert!(r.len() <= size, "copy range {header:?} of {size}: {r:?}");
    }
}

/// The whole input is an HTTP date; what parses must format and parse back.
pub fn dates(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if let Some(t) = parse_http_date(&s) {
        let formatted = format_http_date(t);
        let back = parse_http_date(&formatted);
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).ok();
        assert_eq!(back.map(secs), Some(secs(t)), "{s:?} -> {formatted:?}");
    }
}

/// Lines: an ETag, then conditional header lines.
pub fn conditions(data: &[u8]) {
    let f = fields(data);
    let etag = field(&f, 0);
    let _ = EntityTag::parse(etag);
    let _ = EtagCondition::parse(etag);
    let h = headers(f.get(1..).unwrap_or(&[]));
    let lm = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for c in [
        Conditions::from_headers(&h),
        Conditions::from_copy_source_headers(&h),
    ] {
        let _ = c.is_empty();
        let _ = c.evaluate("\"abc\"", lm, true);
        let _ = c.evaluate("\"abc\"", lm, false);
        let _ = c.evaluate_copy_source("\"abc\"", lm);
        let _ = c.evaluate_missing();
    }
}

/// The whole input is a request body, given to every XML body parser.
pub fn xml(data: &[u8]) {
    let _ = CompleteMultipartUpload::parse(data);
    let _ = DeleteRequest::parse(data);
    let _ = AccessControlPolicy::parse(data);
    let _ = CreateBucketConfiguration::parse(data);
    let _ = VersioningConfiguration::parse(data);
}

/// The whole input as a bucket name and as an object key.
pub fn names(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if validate_bucket_name(&s).is_ok() {
        assert!((3..=63).contains(&s.len()), "{s:?}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
            "{s:?}"
        );
    }
    if validate_object_key(&s).is_ok() {
        assert!(!s.is_empty() && s.len() <= 1024, "{s:?}");
    }
}

/// The whole input is an `x-amz-copy-source` value.
pub fn copy_source(data: &[u8]) {
    let _ = parse_copy_source(&String::from_utf8_lossy(data));
}

/// Header lines of a PUT: what kura stores with the object.
pub fn metadata(data: &[u8]) {
    let h = headers(&fields(data));
    let _ = stored_object_headers(&h);
}
