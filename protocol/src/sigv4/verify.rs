//! Recomputing the signature and checking everything around it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::canonical::canonical_request;
use super::{
    AuthScheme, ChunkSigner, PayloadMode, RequestParts, SecretKey, Signature, SignedRequest,
    Verified, ALGORITHM, MAX_SKEW,
};
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// The only service kura answers for.
const SERVICE: &str = "s3";

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{}", secret.expose());
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The string to sign for a request.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let hash = hex::encode(Sha256::digest(canonical_request));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

impl SignedRequest {
    /// Verifies the request with `secret`: scope (`region`, service `s3`),
    /// time (±15 minutes for headers; not yet expired and not more than 15
    /// minutes early for presigned URLs), that `x-amz-*` headers are signed,
    /// and the signature itself, compared in constant time.
    pub fn verify(
        &self,
        parts: &RequestParts<'_>,
        secret: &SecretKey,
        region: &str,
        now: OffsetDateTime,
    ) -> S3Result<Verified> {
        self.check_scope(region)?;
        self.check_time(now)?;
        self.check_signed_headers(parts)?;

        let canonical = canonical_request(
            parts,
            &self.signed_headers,
            &self.payload_hash,
            self.is_presigned(),
        );
        let scope = self.scope.to_scope_string();
        let sts = string_to_sign(&self.amz_date, &scope, &canonical);
        let key = signing_key(
            secret,
            &self.scope.date,
            &self.scope.region,
            &self.scope.service,
        );
        let expected = Signature::from_bytes(hmac_sha256(&key, sts.as_bytes()));
        if !expected.ct_eq(&self.signature) {
            return Err(S3ErrorCode::SignatureDoesNotMatch.into());
        }

        let chunk_signer = match self.payload {
            PayloadMode::StreamingSigned { .. } => Some(ChunkSigner::new(
                key,
                self.amz_date.clone(),
                scope,
                self.signature,
            )),
            _ => None,
        };
        Ok(Verified {
            access_key_id: self.access_key_id.clone(),
            scheme: if self.is_presigned() {
                AuthScheme::SigV4Presigned
            } else {
                AuthScheme::SigV4Header
            },
            payload: self.payload,
            chunk_signer,
        })
    }

    fn malformed(&self, detail: &str) -> S3Error {
        if self.is_presigned() {
            S3Error::with_message(
                S3ErrorCode::AuthorizationQueryParametersError,
                format!("Error parsing the X-Amz-Credential parameter; {detail}"),
            )
        } else {
            S3Error::with_message(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!("The authorization header is malformed; {detail}"),
            )
        }
    }

    fn check_scope(&self, region: &str) -> S3Result<()> {
        if self.scope.region != region {
            return Err(self.malformed(&format!(
                "the region '{}' is wrong; expecting '{region}'",
                self.scope.region
            )));
        }
        if self.scope.service != SERVICE {
            return Err(self.malformed(&format!(
                "incorrect service '{}'. This endpoint belongs to '{SERVICE}'.",
                self.scope.service
            )));
        }
        Ok(())
    }

    fn check_time(&self, now: OffsetDateTime) -> S3Result<()> {
        let ahead = self.time - now;
        match self.expires {
            None => {
                if ahead.abs() > MAX_SKEW {
                    return Err(S3ErrorCode::RequestTimeTooSkewed.into());
                }
            }
            Some(expires) => {
                if ahead > MAX_SKEW {
                    return Err(S3ErrorCode::RequestTimeTooSkewed.into());
                }
                if now > self.time + time::Duration::seconds(i64::from(expires)) {
                    return Err(S3Error::with_message(
                        S3ErrorCode::AccessDenied,
                        "Request has expired",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses `x-amz-*` headers that are not signed, as S3 does
    /// (`HeadersNotSigned`): otherwise whoever holds a signed request could
    /// add e.g. `x-amz-copy-source` or `x-amz-acl` to it. Headers already
    /// covered by the string to sign some other way are exempt.
    fn check_signed_headers(&self, parts: &RequestParts<'_>) -> S3Result<()> {
        let is_signed = |name: &str| self.signed_headers.iter().any(|s| s == name);
        let mut unsigned: Vec<&str> = parts
            .headers
            .keys()
            .map(http::HeaderName::as_str)
            .filter(|name| name.starts_with("x-amz-"))
            // Its value is the last line of the canonical request.
            .filter(|&name| name != "x-amz-content-sha256")
            // Its value is the date line of the string to sign (header auth).
            .filter(|&name| self.is_presigned() || name != "x-amz-date")
            .filter(|name| !is_signed(name))
            .collect();
        if self.time_from_date_header && !is_signed("date") {
            unsigned.push("date");
        }
        if unsigned.is_empty() {
            return Ok(());
        }
        unsigned.sort_unstable();
        Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            format!(
                "There were headers present in the request which were not signed: {}",
                unsigned.join(", ")
            ),
        ))
    }
}
