//! SigV4 against AWS's published S3 examples ("Signature Calculations for
//! the Authorization Header" and "Query String Authentication"), plus the
//! ways requests go wrong. Requests not in AWS's examples are signed by
//! `sign_by_hand` over a canonical request written out literally here, so a
//! bug in `canonical.rs` cannot cancel itself out.

use http::{HeaderMap, Method};
use time::OffsetDateTime;

use super::canonical::canonical_request;
use super::datetime::parse_amz_date;
use super::verify::{hmac_sha256, signing_key, string_to_sign};
use super::*;
use crate::error::{S3ErrorCode, S3Result};

mod examples;
mod rejections;

pub(super) const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
pub(super) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub(super) const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const HOST: &str = "examplebucket.s3.amazonaws.com";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

pub(super) fn now() -> OffsetDateTime {
    parse_amz_date("20130524T000000Z").unwrap()
}

pub(super) fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

fn auth(signed_headers: &str, signature: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE}, SignedHeaders={signed_headers}, Signature={signature}")
}

/// Parses and verifies at `at` in us-east-1 with the example secret.
fn check_at(
    method: Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    at: OffsetDateTime,
) -> S3Result<Verified> {
    let parts = RequestParts {
        method: &method,
        raw_path: path,
        raw_query: query,
        headers,
    };
    let signed = parse_request_auth(&parts)?.expect("request is signed");
    signed.verify(&parts, &SecretKey::new(SECRET), "us-east-1", at)
}

fn check(method: Method, path: &str, query: &str, headers: &HeaderMap) -> S3Result<Verified> {
    check_at(method, path, query, headers, now())
}

fn code<T: std::fmt::Debug>(r: S3Result<T>) -> S3ErrorCode {
    r.expect_err("should fail").code
}

/// The "GET Object" example: `Range: bytes=0-9`.
fn get_object_headers(signature: &str) -> HeaderMap {
    header_map(&[
        ("host", HOST),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            &auth("host;range;x-amz-content-sha256;x-amz-date", signature),
        ),
    ])
}
const GET_OBJECT_SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

/// Signs a literal canonical request with the example key, independently of
/// `canonical.rs`.
fn sign_by_hand(canonical: &str, amz_date: &str) -> String {
    let key = signing_key(&SecretKey::new(SECRET), &amz_date[..8], "us-east-1", "s3");
    let sts = string_to_sign(amz_date, SCOPE, canonical.as_bytes());
    hex::encode(hmac_sha256(&key, sts.as_bytes()))
}

fn hex_digest(s: &str) -> [u8; 32] {
    let mut d = [0u8; 32];
    hex::decode_to_slice(s, &mut d).unwrap();
    d
}

fn bucket_headers(signature: &str) -> HeaderMap {
    header_map(&[
        ("host", HOST),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            &auth("host;x-amz-content-sha256;x-amz-date", signature),
        ),
    ])
}

const PRESIGNED_SIG: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn presigned_query(expires: &str, signature: &str) -> String {
    format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
    )
}
