//! Browser form uploads (S3 POST Object): the signed policy document and
//! the form fields it must allow.
//!
//! A form carries a base64 JSON policy (`expiration` and `conditions`) and a
//! signature over that base64 text: SigV4 (`x-amz-algorithm`,
//! `x-amz-credential`, `x-amz-date`, `x-amz-signature`) or SigV2
//! (`AWSAccessKeyId`, `signature`). The policy is checked as S3 does: it has
//! not expired, every condition holds, and every form field (except the
//! signature fields, `policy`, `file` and `x-ignore-*`) is named by some
//! condition — a field the signer did not foresee is refused. The file's
//! length (`content-length-range`) is checked by the caller while the file
//! streams, with [`Policy::length_range`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::verify::{hmac_sha256, signing_key};
use super::{SecretKey, Signature};
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Largest policy document accepted (S3's limit on the form's fields is 20 KB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Fields a policy need not mention: the signature itself and the file.
const EXEMPT: [&str; 6] = [
    "policy",
    "x-amz-signature",
    "signature",
    "awsaccesskeyid",
    "file",
    "x-amz-security-token",
];

/// How a form is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostSignature {
    /// SigV4: the access key, the credential's date and region, the signature.
    V4 {
        /// Access key id from `x-amz-credential`.
        access_key_id: String,
        /// `YYYYMMDD` of the credential scope.
        date: String,
        /// Region of the credential scope.
        region: String,
        /// `x-amz-signature`, hex.
        signature: String,
    },
    /// SigV2: `AWSAccessKeyId` and the base64 `signature`.
    V2 {
        /// The access key id.
        access_key_id: String,
        /// Base64 HMAC-SHA1 of the policy.
        signature: String,
    },
}

impl PostSignature {
    /// Reads the signature fields of a form (names lowercase). A form
    /// without a policy or a signature is anonymous: `AccessDenied`, since
    /// kura has no publicly writable buckets.
    pub fn from_fields(fields: &[(String, String)]) -> S3Result<PostSignature> {
        let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        if get("policy").is_none() {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Anonymous uploads are not allowed: the form needs a signed policy.",
            ));
        }
        if let Some(alg) = get("x-amz-algorithm") {
            if alg != "AWS4-HMAC-SHA256" {
                return Err(S3Error::invalid_argument(format!(
                    "Unsupported x-amz-algorithm {alg}: use AWS4-HMAC-SHA256"
                )));
            }
            let credential = get("x-amz-credential").ok_or_else(|| missing("x-amz-credential"))?;
            let signature = get("x-amz-signature").ok_or_else(|| missing("x-amz-signature"))?;
            let parts: Vec<&str> = credential.split('/').collect();
            let [id, date, region, service, "aws4_request"] = parts.as_slice() else {
                return Err(S3Error::invalid_argument(format!(
                    "Invalid x-amz-credential {credential:?}"
                )));
            };
            if *service != "s3" || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
                return Err(S3Error::invalid_argument(format!(
                    "Invalid x-amz-credential {credential:?}"
                )));
            }
            return Ok(PostSignature::V4 {
                access_key_id: id.to_string(),
                date: date.to_string(),
                region: region.to_string(),
                signature,
            });
        }
        match (get("awsaccesskeyid"), get("signature")) {
            (Some(access_key_id), Some(signature)) => Ok(PostSignature::V2 {
                access_key_id,
                signature,
            }),
            _ => Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "The form has a policy but no signature.",
            )),
        }
    }

    /// The access key that signed.
    pub fn access_key_id(&self) -> &str {
        match self {
            PostSignature::V4 { access_key_id, .. } | PostSignature::V2 { access_key_id, .. } => {
                access_key_id
            }
        }
    }

    /// Checks the signature over the base64 `policy` with `secret`; a SigV4
    /// credential must name the server's `region`.
    pub fn verify(
        &self,
        policy_b64: &str,
        secret: &SecretKey,
        server_region: &str,
    ) -> S3Result<()> {
        let good = match self {
            PostSignature::V4 {
                date,
                region,
                signature,
                ..
            } => {
                if region != server_region {
                    return Err(S3Error::with_message(
                        S3ErrorCode::AuthorizationQueryParametersError,
                        format!("The credential names region {region:?}; this server is {server_region:?}."),
                    ));
                }
                let key = signing_key(secret, date, region, "s3");
                let want = Signature::from_bytes(hmac_sha256(&key, policy_b64.as_bytes()));
                Signature::from_hex(signature).is_some_and(|got| got.ct_eq(&want))
            }
            PostSignature::V2 { signature, .. } => {
                let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes())
                    .expect("HMAC accepts keys of any length");
                mac.update(policy_b64.as_bytes());
                match STANDARD.decode(signature) {
                    Ok(sig) => mac.verify_slice(&sig).is_ok(),
                    Err(_) => false,
                }
            }
        };
        if good {
            Ok(())
        } else {
            Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch))
        }
    }
}

fn missing(field: &str) -> S3Error {
    S3Error::invalid_argument(format!("Bucket POST must contain a field named '{field}'."))
}

/// One policy condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// The field equals the value (`{"f": "v"}` or `["eq", "$f", "v"]`).
    Eq(String, String),
    /// The field starts with the prefix (`["starts-with", "$f", "p"]`); for
    /// `content-type` each comma-separated value must.
    StartsWith(String, String),
    /// The file's length lies in the range.
    LengthRange(u64, u64),
}

/// A decoded policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

fn policy_error(why: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {why}"),
    )
}

fn malformed_policy(why: &str) -> S3Error {
    S3Error::invalid_argument(format!("Invalid Policy: {why}"))
}

impl Policy {
    /// Decodes the base64 JSON policy.
    pub fn parse(policy_b64: &str) -> S3Result<Policy> {
        if policy_b64.len() > MAX_POLICY_BYTES * 4 / 3 + 4 {
            return Err(malformed_policy("the policy document is too large"));
        }
        let raw = STANDARD
            .decode(policy_b64.trim())
            .map_err(|_| malformed_policy("the policy is not valid base64"))?;
        let doc: Value = serde_json::from_slice(&raw)
            .map_err(|_| malformed_policy("the policy is not valid JSON"))?;
        let expiration = doc
            .get("expiration")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed_policy("Policy missing expiration"))?;
        let expiration = OffsetDateTime::parse(expiration, &Rfc3339)
            .map_err(|_| malformed_policy("Invalid 'expiration' value"))?;
        let list = doc
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed_policy("Policy missing conditions"))?;
        let mut conditions = Vec::with_capacity(list.len());
        for c in list {
            conditions.push(condition(c)?);
        }
        Ok(Policy {
            expiration,
            conditions,
        })
    }

    /// Checks expiry, every condition, and that every field is covered.
    /// `fields` are the form's fields (names lowercase) before the file;
    /// `bucket` the bucket posted to.
    pub fn check(
        &self,
        fields: &[(String, String)],
        bucket: &str,
        now: OffsetDateTime,
    ) -> S3Result<()> {
        if now > self.expiration {
            return Err(policy_error("Policy expired."));
        }
        let value = |name: &str| -> Option<&str> {
            if name == "bucket" {
                return Some(bucket);
            }
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        for c in &self.conditions {
            match c {
                Condition::Eq(f, want) => {
                    if value(f) != Some(want.as_str()) {
                        return Err(policy_error(format!(
                            "Policy Condition failed: [\"eq\", \"${f}\", \"{want}\"]"
                        )));
                    }
                }
                Condition::StartsWith(f, prefix) => {
                    let holds = value(f).is_some_and(|v| {
                        if f == "content-type" {
                            v.split(',')
                                .all(|part| part.trim().starts_with(prefix.as_str()))
                        } else {
                            v.starts_with(prefix.as_str())
                        }
                    });
                    if !holds {
                        return Err(policy_error(format!(
                            "Policy Condition failed: [\"starts-with\", \"${f}\", \"{prefix}\"]"
                        )));
                    }
                }
                Condition::LengthRange(..) => {}
            }
        }
        for (name, _) in fields {
            if EXEMPT.contains(&name.as_str()) || name.starts_with("x-ignore-") {
                continue;
            }
            let covered = self.conditions.iter().any(|c| match c {
                Condition::Eq(f, _) | Condition::StartsWith(f, _) => f == name,
                Condition::LengthRange(..) => false,
            });
            if !covered {
                return Err(policy_error(format!("Extra input fields: {name}")));
            }
        }
        Ok(())
    }

    /// The allowed file sizes (`content-length-range`), if the policy sets them.
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().find_map(|c| match c {
            Condition::LengthRange(min, max) => Some((*min, *max)),
            _ => None,
        })
    }
}

fn condition(c: &Value) -> S3Result<Condition> {
    let bad = || malformed_policy("Invalid Policy condition");
    match c {
        Value::Object(map) if map.len() == 1 => {
            let (k, v) = map.iter().next().expect("one entry");
            let v = v.as_str().ok_or_else(bad)?;
            Ok(Condition::Eq(field_name(k), v.to_string()))
        }
        Value::Array(items) if items.len() == 3 => {
            let op = items[0].as_str().ok_or_else(bad)?.to_ascii_lowercase();
            if op == "content-length-range" {
                let num = |v: &Value| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .ok_or_else(bad)
                };
                let (min, max) = (num(&items[1])?, num(&items[2])?);
                if min > max {
                    return Err(bad());
                }
                return Ok(Condition::LengthRange(min, max));
            }
            let field = items[1]
                .as_str()
                .and_then(|f| f.strip_prefix('$'))
                .ok_or_else(bad)?;
            let value = items[2].as_str().ok_or_else(bad)?.to_string();
            match op.as_str() {
                "eq" => Ok(Condition::Eq(field_name(field), value)),
                "starts-with" => Ok(Condition::StartsWith(field_name(field), value)),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// Form field names compare without case, as S3 treats them.
fn field_name(name: &str) -> String {
    name.trim_start_matches('$').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn b64(json: &str) -> String {
        STANDARD.encode(json)
    }

    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy() -> Policy {
        Policy::parse(&b64(r#"{"expiration":"2026-11-30T00:00:00Z","conditions":[
            {"bucket":"inbox"},["starts-with","$key","in/"],
            {"success_action_status":"201"},["starts-with","$Content-Type","image/"],
            ["content-length-range",1,"1048576"],{"x-amz-meta-site":"0020"},
            {"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":"AK/20261129/us-east-1/s3/aws4_request"},
            {"x-amz-date":"20261129T000000Z"}]}"#))
        .unwrap()
    }

    fn good() -> Vec<(String, String)> {
        fields(&[
            ("key", "in/${filename}"),
            ("success_action_status", "201"),
            ("content-type", "image/png"),
            ("x-amz-meta-site", "0020"),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-credential", "AK/20261129/us-east-1/s3/aws4_request"),
            ("x-amz-date", "20261129T000000Z"),
            ("policy", "…"),
            ("x-amz-signature", "00"),
            ("x-ignore-note", "anything"),
        ])
    }

    #[test]
    fn every_condition_kind_holds_and_fails() {
        let p = policy();
        p.check(&good(), "inbox", NOW).unwrap();
        assert_eq!(p.length_range(), Some((1, 1 << 20)));
        let fail =
            |f: Vec<(String, String)>, bucket: &str, now| p.check(&f, bucket, now).unwrap_err();
        assert!(fail(good(), "other", NOW).message.contains("bucket"));
        let mut f = good();
        f[0].1 = "out/x".into();
        assert!(fail(f, "inbox", NOW).message.contains("starts-with"));
        let mut f = good();
        f[2].1 = "image/png, text/html".into();
        assert!(fail(f, "inbox", NOW).message.contains("$content-type"));
        let mut f = good();
        f[3].1 = "9999".into();
        assert!(fail(f, "inbox", NOW).message.contains("x-amz-meta-site"));
        let mut f = good();
        f.push(("x-amz-meta-extra".into(), "1".into()));
        assert!(fail(f, "inbox", NOW)
            .message
            .contains("Extra input fields: x-amz-meta-extra"));
        let e = fail(good(), "inbox", datetime!(2026-12-01 0:00 UTC));
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
        assert!(e.message.contains("expired"));
    }

    #[test]
    fn malformed_policies_are_refused() {
        for bad in [
            "not base64!",
            &b64("not json"),
            &b64(r#"{"conditions":[]}"#),
            &b64(r#"{"expiration":"2026-11-30T00:00:00Z"}"#),
            &b64(r#"{"expiration":"2026-11-30T00:00:00Z","conditions":[["in","$key","a"]]}"#),
            &b64(
                r#"{"expiration":"2026-11-30T00:00:00Z","conditions":[["content-length-range",5,1]]}"#,
            ),
            &b64(r#"{"expiration":"2026-11-30T00:00:00Z","conditions":[{"a":"b","c":"d"}]}"#),
        ] {
            assert_eq!(
                Policy::parse(bad).unwrap_err().code,
                S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn signatures_verify_and_any_change_breaks_them() {
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let policy = b64(r#"{"expiration":"2026-11-30T00:00:00Z","conditions":[]}"#);
        let key = signing_key(&secret, "20261129", "us-east-1", "s3");
        let sig = hex::encode(hmac_sha256(&key, policy.as_bytes()));
        let v4 = PostSignature::from_fields(&fields(&[
            ("policy", &policy),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            (
                "x-amz-credential",
                "AKID/20261129/us-east-1/s3/aws4_request",
            ),
            ("x-amz-signature", &sig),
        ]))
        .unwrap();
        assert_eq!(v4.access_key_id(), "AKID");
        v4.verify(&policy, &secret, "us-east-1").unwrap();
        assert_eq!(
            v4.verify(&format!("{policy} "), &secret, "us-east-1")
                .unwrap_err()
                .code,
            S3ErrorCode::SignatureDoesNotMatch
        );
        assert!(v4.verify(&policy, &secret, "eu-west-1").is_err());
        assert!(v4
            .verify(&policy, &SecretKey::new("other"), "us-east-1")
            .is_err());

        let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes()).unwrap();
        mac.update(policy.as_bytes());
        let sig2 = STANDARD.encode(mac.finalize().into_bytes());
        let v2 = PostSignature::from_fields(&fields(&[
            ("policy", &policy),
            ("awsaccesskeyid", "AKID"),
            ("signature", &sig2),
        ]))
        .unwrap();
        v2.verify(&policy, &secret, "us-east-1").unwrap();
        assert!(v2
            .verify(&policy, &SecretKey::new("x"), "us-east-1")
            .is_err());

        assert_eq!(
            PostSignature::from_fields(&fields(&[("key", "a")]))
                .unwrap_err()
                .code,
            S3ErrorCode::AccessDenied
        );
    }
}
