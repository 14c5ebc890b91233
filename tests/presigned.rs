//! Presigned URLs (query-string SigV4), produced by the AWS SDK's presigner
//! and used by a plain HTTP client that holds no credentials.

use crate::common;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use common::raw::{Raw, RawResponse};
use common::{md5_hex, pattern, Server};

async fn setup() -> (Server, aws_sdk_s3::Client) {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    (server, s3)
}

fn config(expires: Duration) -> PresigningConfig {
    PresigningConfig::expires_in(expires).unwrap()
}

/// Path and query of a presigned URL.
fn path_of(p: &PresignedRequest) -> String {
    let uri: http::Uri = p.uri().parse().unwrap();
    uri.path_and_query().unwrap().to_string()
}

/// Sends a presigned request without any credentials of its own.
fn send(server: &Server, p: &PresignedRequest, body: Vec<u8>) -> RawResponse {
    send_path(server, p.method(), &path_of(p), p, body)
}

fn send_path(
    server: &Server,
    method: &str,
    path: &str,
    p: &PresignedRequest,
    body: Vec<u8>,
) -> RawResponse {
    let mut r = Raw::new(method, path).body(body);
    r.signed = false;
    for (k, v) in p.headers() {
        r = r.header(k, v);
    }
    r.send(&server.addr)
}

#[tokio::test]
async fn put_get_head_delete_by_presigned_url() {
    let (server, s3) = setup().await;
    let body = pattern(300 * 1024, 3);
    let key = "partner uploads/report +1 é.bin";

    // The time-limited upload slot handed to a partner.
    let put = s3
        .put_object()
        .bucket("bkt")
        .key(key)
        .presigned(config(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert!(put.uri().contains("X-Amz-Signature="));
    let r = send(&server, &put, body.clone());
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{}\"", md5_hex(&body)).as_str())
    );

    let get = s3
        .get_object()
        .bucket("bkt")
        .key(key)
        .presigned(config(Duration::from_secs(60)))
        .await
        .unwrap();
    let r = send(&server, &get, Vec::new());
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(md5_hex(&r.body), md5_hex(&body));

    let head = s3
        .head_object()
        .bucket("bkt")
        .key(key)
        .presigned(config(Duration::from_secs(60)))
        .await
        .unwrap();
    let r = send(&server, &head, Vec::new());
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );

    // A URL signed for GET does not authorise a DELETE.
    let r = send_path(&server, "DELETE", &path_of(&get), &get, Vec::new());
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    let delete = s3
        .delete_object()
        .bucket("bkt")
        .key(key)
        .presigned(config(Duration::from_secs(60)))
        .await
        .unwrap();
    let r = send(&server, &delete, Vec::new());
    assert_eq!(r.status, 204, "{}", r.body_text());
    let r = send(&server, &get, Vec::new());
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchKey"));
}

#[tokio::test]
async fn expired_and_too_long_urls_are_refused() {
    let (server, s3) = setup().await;
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap();

    // Signed two hours ago, valid for one: expired.
    let expired = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .presigned(
            PresigningConfig::builder()
                .start_time(SystemTime::now() - Duration::from_secs(7200))
                .expires_in(Duration::from_secs(3600))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let r = send(&server, &expired, Vec::new());
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    assert!(
        r.body_text().contains("Request has expired"),
        "{}",
        r.body_text()
    );

    // The longest S3 allows: seven days, still fine.
    let week = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .presigned(config(Duration::from_secs(604_800)))
        .await
        .unwrap();
    assert!(path_of(&week).contains("X-Amz-Expires=604800"));
    let r = send(&server, &week, Vec::new());
    assert_eq!((r.status, r.body.as_slice()), (200, b"data".as_slice()));

    // One second more is refused before the signature is even checked.
    let path = path_of(&week).replace("X-Amz-Expires=604800", "X-Amz-Expires=604801");
    let r = send_path(&server, "GET", &path, &week, Vec::new());
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "AuthorizationQueryParametersError")
    );
}

#[tokio::test]
async fn tampered_urls_do_not_match() {
    let (server, s3) = setup().await;
    for k in ["a", "b"] {
        s3.put_object()
            .bucket("bkt")
            .key(k)
            .body(ByteStream::from(k.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }
    let get = s3
        .get_object()
        .bucket("bkt")
        .key("a")
        .presigned(config(Duration::from_secs(600)))
        .await
        .unwrap();
    let path = path_of(&get);
    assert_eq!(send(&server, &get, Vec::new()).status, 200);

    let tampered = [
        // Another key.
        path.replacen("/bkt/a?", "/bkt/b?", 1),
        // A longer lifetime.
        path.replace("X-Amz-Expires=600", "X-Amz-Expires=6000"),
        // An extra parameter (a response override the signer did not approve).
        format!("{path}&response-content-type=text%2Fhtml"),
    ];
    for p in tampered {
        assert_ne!(p, path);
        let r = send_path(&server, "GET", &p, &get, Vec::new());
        assert_eq!(
            (r.status, r.code().as_str()),
            (403, "SignatureDoesNotMatch"),
            "{p}"
        );
    }
    // A flipped signature digit.
    let (head, sig) = path.split_once("X-Amz-Signature=").unwrap();
    let mut sig: Vec<u8> = sig.bytes().collect();
    sig[0] = if sig[0] == b'0' { b'1' } else { b'0' };
    let p = format!("{head}X-Amz-Signature={}", String::from_utf8(sig).unwrap());
    let r = send_path(&server, "GET", &p, &get, Vec::new());
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // A presigned PUT cannot be given extra x-amz-* headers it did not sign.
    let put = s3
        .put_object()
        .bucket("bkt")
        .key("c")
        .presigned(config(Duration::from_secs(600)))
        .await
        .unwrap();
    let mut r = Raw::new("PUT", &path_of(&put))
        .body("x")
        .header("x-amz-meta-evil", "1");
    r.signed = false;
    let r = r.send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
}

/// A partner can be handed presigned UploadPart URLs for a large upload.
#[tokio::test]
async fn presigned_upload_parts() {
    let (server, s3) = setup().await;
    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("parts.bin")
        .send()
        .await
        .unwrap();
    let upload_id = up.upload_id().unwrap();
    let parts = [pattern(5 * 1024 * 1024, 1), pattern(1234, 2)];
    let mut completed = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let p = s3
            .upload_part()
            .bucket("bkt")
            .key("parts.bin")
            .upload_id(upload_id)
            .part_number(n)
            .presigned(config(Duration::from_secs(600)))
            .await
            .unwrap();
        let r = send(&server, &p, data.clone());
        assert_eq!(r.status, 200, "{}", r.body_text());
        let etag = r.header("etag").unwrap().to_string();
        assert_eq!(etag, format!("\"{}\"", md5_hex(data)));
        completed.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(etag)
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("bkt")
        .key("parts.bin")
        .upload_id(upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let o = s3
        .get_object()
        .bucket("bkt")
        .key("parts.bin")
        .send()
        .await
        .unwrap();
    let got = o.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        md5_hex(&got),
        md5_hex(&[parts[0].clone(), parts[1].clone()].concat())
    );
}

/// SigV2 is accepted only for presigned GET and HEAD of objects (what
/// boto3 and aws-cli v1 make by default); a SigV2 URL for anything else —
/// an upload, a listing, a delete — is refused as S3 refuses SigV2.
#[tokio::test]
async fn sigv2_only_for_presigned_object_reads() {
    use common::boto_presign::presign;

    let (server, s3) = setup().await;
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let send = |method: &str, path: &str, body: &[u8]| {
        let mut r = Raw::new(method, path).body(body.to_vec());
        r.signed = false;
        r.send(&server.addr)
    };
    let get = send(
        "GET",
        &presign(&server, "s3", "get_object", "bkt", "k"),
        b"",
    );
    assert_eq!(get.status, 200, "{}", get.body_text());
    assert_eq!(get.body, b"hello");
    let head = send(
        "HEAD",
        &presign(&server, "s3", "head_object", "bkt", "k"),
        b"",
    );
    assert_eq!(head.status, 200);

    for (method, path) in [
        ("PUT", presign(&server, "s3", "put_object", "bkt", "k")),
        (
            "DELETE",
            presign(&server, "s3", "delete_object", "bkt", "k"),
        ),
        ("GET", presign(&server, "s3", "get_bucket_acl", "bkt", "")),
        (
            "GET",
            presign(&server, "s3", "get_bucket_versioning", "bkt", ""),
        ),
        ("GET", presign(&server, "s3", "get_object_acl", "bkt", "k")),
    ] {
        let r = send(method, &path, b"overwritten");
        assert_eq!(r.status, 400, "{method} {path}: {}", r.body_text());
        assert_eq!(r.code(), "InvalidRequest", "{method} {path}");
    }
    let body = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"hello");
}
