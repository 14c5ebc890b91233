//! A browser form upload (POST Object) signed with SigV4, built by hand so
//! that tests can post as any key without Python.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::raw::{Raw, RawResponse};

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Posts `body` as `bucket`/`key` through a form signed by `id`/`secret`
/// whose policy allows exactly that bucket and key.
pub fn post(
    addr: &str,
    id: &str,
    secret: &str,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> RawResponse {
    let now = OffsetDateTime::now_utc();
    let date = format!("{:04}{:02}{:02}", now.year(), now.month() as u8, now.day());
    let amz_date = format!(
        "{date}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    let credential = format!("{id}/{date}/us-east-1/s3/aws4_request");
    let expiration = (now + time::Duration::hours(1)).format(&Rfc3339).unwrap();
    let policy = serde_json::json!({
        "expiration": expiration,
        "conditions": [
            {"bucket": bucket}, {"key": key},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential}, {"x-amz-date": amz_date},
        ]
    });
    let policy = STANDARD.encode(policy.to_string());
    let mut k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in ["us-east-1", "s3", "aws4_request"] {
        k = hmac(&k, part.as_bytes());
    }
    let signature = hex::encode(hmac(&k, policy.as_bytes()));
    let boundary = "kura-form-boundary";
    let mut form = Vec::new();
    for (name, value) in [
        ("key", key),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", &credential),
        ("x-amz-date", &amz_date),
        ("policy", &policy),
        ("x-amz-signature", &signature),
    ] {
        form.extend_from_slice(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    form.extend_from_slice(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
             content-type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    form.extend_from_slice(body);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut r = Raw::new("POST", &format!("/{bucket}"))
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form);
    r.signed = false;
    r.send(addr)
}
