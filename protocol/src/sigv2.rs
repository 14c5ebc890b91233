//! Presigned URLs signed with AWS Signature Version 2 (query-string
//! authentication: `AWSAccessKeyId`, `Expires`, `Signature`).
//!
//! Only this one form of SigV2 is accepted, because it is what boto3's
//! `generate_presigned_url` and aws-cli v1's `aws s3 presign` produce by
//! default for a custom endpoint; every other request must be SigV4. The
//! signature is `base64(HMAC-SHA1(secret, string_to_sign))` with
//!
//! ```text
//! VERB \n Content-MD5 \n Content-Type \n Expires \n
//! [x-amz-name:value \n ...] /bucket/key[?subresources]
//! ```
//!
//! (AWS, "Signing and authenticating REST requests", query string
//! authentication). botocore moves `Content-Type`, `Content-MD5` and
//! `x-amz-*` headers of a presigned request into the query string, so
//! their values are taken from the header if present, else from the query.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::sigv4::{AuthScheme, PayloadMode, RequestParts, SecretKey, Verified};

/// Longest lifetime accepted, as for SigV4 presigned URLs: seven days.
pub const MAX_LIFETIME_SECS: i64 = 604_800;

/// Query parameters that are part of the signed resource (sub-resources and
/// response overrides), as botocore's `HmacV1Auth` lists them.
const SIGNED_SUBRESOURCES: [&str; 36] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "retention",
];

/// A SigV2 presigned request, as claimed (nothing verified yet).
#[derive(Debug, Clone)]
pub struct PresignedV2 {
    access_key_id: String,
    expires: i64,
    signature: Vec<u8>,
}

impl PresignedV2 {
    /// Reads `AWSAccessKeyId`, `Expires` and `Signature` from the query.
    /// `Ok(None)` if the request does not use SigV2 query authentication.
    pub fn parse(raw_query: &str) -> S3Result<Option<PresignedV2>> {
        let params = pairs(raw_query);
        let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let (access_key_id, expires, signature) =
            (get("AWSAccessKeyId"), get("Expires"), get("Signature"));
        if access_key_id.is_none() && signature.is_none() {
            return Ok(None);
        }
        let (Some(access_key_id), Some(expires), Some(signature)) =
            (access_key_id, expires, signature)
        else {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId \
                 parameters",
            ));
        };
        let expires = expires.parse::<i64>().map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Invalid date (should be seconds since epoch)",
            )
        })?;
        let signature = STANDARD
            .decode(signature.trim())
            .map_err(|_| S3Error::new(S3ErrorCode::SignatureDoesNotMatch))?;
        Ok(Some(PresignedV2 {
            access_key_id: access_key_id.clone(),
            expires,
            signature,
        }))
    }

    /// The access key the client claims.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Verifies expiry (not past, at most [`MAX_LIFETIME_SECS`] ahead) and the
    /// signature. `vhost_bucket` is the bucket named by the Host header in
    /// virtual-host-style requests (the signed resource always names it).
    pub fn verify(
        &self,
        parts: &RequestParts<'_>,
        vhost_bucket: Option<&str>,
        secret: &SecretKey,
        now: OffsetDateTime,
    ) -> S3Result<Verified> {
        let now = now.unix_timestamp();
        if now > self.expires {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Request has expired",
            ));
        }
        if self.expires - now > MAX_LIFETIME_SECS {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Presigned URLs may be valid for at most seven days",
            ));
        }
        let sts = string_to_sign(parts, vhost_bucket, self.expires);
        let mut mac =
            Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
        mac.update(sts.as_bytes());
        let expected = mac.finalize().into_bytes();
        if !bool::from(expected.as_slice().ct_eq(&self.signature)) {
            return Err(S3ErrorCode::SignatureDoesNotMatch.into());
        }
        Ok(Verified {
            access_key_id: self.access_key_id.clone(),
            scheme: AuthScheme::SigV2Presigned,
            payload: PayloadMode::Unsigned,
            chunk_signer: None,
        })
    }
}

/// Decoded query pairs; `+` stays `+`, as everywhere in S3.
fn pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// The SigV2 string to sign of a presigned request expiring at `expires`.
pub fn string_to_sign(
    parts: &RequestParts<'_>,
    vhost_bucket: Option<&str>,
    expires: i64,
) -> String {
    let query = pairs(parts.raw_query);
    let header = |name: &str| -> String {
        let joined: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .collect();
        if joined.is_empty() {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        } else {
            joined.join(",")
        }
    };
    let mut out = format!(
        "{}\n{}\n{}\n{}\n",
        parts.method.as_str(),
        header("content-md5"),
        header("content-type"),
        expires
    );
    let mut amz: Vec<String> = parts
        .headers
        .keys()
        .map(|k| k.as_str().to_string())
        .chain(query.iter().map(|(k, _)| k.to_ascii_lowercase()))
        .filter(|k| k.starts_with("x-amz-"))
        .collect();
    amz.sort();
    amz.dedup();
    for name in amz {
        out.push_str(&format!("{name}:{}\n", header(&name)));
    }
    if let Some(bucket) = vhost_bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(parts.raw_path);
    // Sub-resources keep the raw text of their value, decoded, as botocore signs them.
    let mut sub: Vec<String> = parts
        .raw_query
        .split('&')
        .filter_map(|p| {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (p, None),
            };
            SIGNED_SUBRESOURCES.contains(&k).then(|| match v {
                Some(v) => format!("{k}={}", percent_decode_str(v).decode_utf8_lossy()),
                None => k.to_string(),
            })
        })
        .collect();
    if !sub.is_empty() {
        sub.sort_by(|a, b| a.split('=').next().cmp(&b.split('=').next()));
        out.push('?');
        out.push_str(&sub.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, Method};

    fn parts<'a>(
        method: &'a Method,
        path: &'a str,
        query: &'a str,
        h: &'a HeaderMap,
    ) -> RequestParts<'a> {
        RequestParts {
            method,
            raw_path: path,
            raw_query: query,
            headers: h,
        }
    }

    /// AWS's published example of query-string authentication
    /// ("Signing and authenticating REST requests", Query string request
    /// authentication alternative).
    #[test]
    fn aws_example() {
        let h = HeaderMap::new();
        let query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620\
                     &Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D";
        let p = parts(&Method::GET, "/photos/puppy.jpg", query, &h);
        assert_eq!(
            string_to_sign(&p, Some("johnsmith"), 1175139620),
            "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
        );
        let signed = PresignedV2::parse(query).unwrap().unwrap();
        assert_eq!(signed.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let then = OffsetDateTime::from_unix_timestamp(1175139000).unwrap();
        signed
            .verify(&p, Some("johnsmith"), &secret, then)
            .expect("AWS's example verifies");
        // Another key, a later time, the wrong secret.
        let other = parts(&Method::GET, "/photos/kitten.jpg", query, &h);
        let e = signed
            .verify(&other, Some("johnsmith"), &secret, then)
            .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::SignatureDoesNotMatch);
        let late = OffsetDateTime::from_unix_timestamp(1175139621).unwrap();
        let e = signed
            .verify(&p, Some("johnsmith"), &secret, late)
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (S3ErrorCode::AccessDenied, "Request has expired")
        );
        let e = signed
            .verify(&p, Some("johnsmith"), &SecretKey::new("x"), then)
            .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::SignatureDoesNotMatch);
        // Valid for more than a week from now: refused.
        let long_before = OffsetDateTime::from_unix_timestamp(1175139620 - 604_801).unwrap();
        let e = signed
            .verify(&p, Some("johnsmith"), &secret, long_before)
            .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
    }

    #[test]
    fn subresources_and_query_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-meta-b", "2".parse().unwrap());
        let query = "uploadId=abc&partNumber=3&response-content-type=text%2Fplain\
                     &content-type=image%2Fpng&x-amz-acl=private&other=1\
                     &AWSAccessKeyId=K&Expires=10&Signature=x";
        let p = parts(&Method::PUT, "/b/k%20ey", query, &h);
        assert_eq!(
            string_to_sign(&p, None, 10),
            "PUT\n\nimage/png\n10\nx-amz-acl:private\nx-amz-meta-b:2\n\
             /b/k%20ey?partNumber=3&response-content-type=text/plain&uploadId=abc"
        );
    }

    #[test]
    fn parse_shapes() {
        assert!(PresignedV2::parse("versionId=1").unwrap().is_none());
        let e = PresignedV2::parse("AWSAccessKeyId=K&Signature=x").unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
        let e = PresignedV2::parse("AWSAccessKeyId=K&Expires=soon&Signature=x").unwrap_err();
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
    }
}
