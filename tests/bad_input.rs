//! Every bad input gets the S3 error a real S3 would give, and nothing is stored.

use crate::common;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::raw::Raw;
use common::{b64_md5, Server, ACCESS_KEY};
use md5::Digest;

async fn setup() -> (Server, aws_sdk_s3::Client) {
    let server = Server::start_with(&["--chunk-size", "1MiB"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    (server, s3)
}

async fn assert_absent(s3: &aws_sdk_s3::Client, key: &str) {
    let err = s3
        .head_object()
        .bucket("bkt")
        .key(key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(404),
        "{key} must not exist"
    );
}

#[tokio::test]
async fn key_length_limit() {
    let (_server, s3) = setup().await;
    let ok = "k".repeat(1024);
    s3.put_object()
        .bucket("bkt")
        .key(&ok)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let long = "k".repeat(1025);
    let err = s3
        .put_object()
        .bucket("bkt")
        .key(&long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KeyTooLongError"));
}

#[tokio::test]
async fn content_md5_mismatch_and_malformed() {
    let (server, s3) = setup().await;
    let body = vec![7u8; 2 << 20];
    let r = Raw::new("PUT", "/bkt/md5")
        .header("content-md5", &b64_md5(b"other"))
        .body(body.clone())
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "BadDigest"));
    let r = Raw::new("PUT", "/bkt/md5")
        .header("content-md5", "not-base64!")
        .body(body.clone())
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidDigest"));
    assert_absent(&s3, "md5").await;
    assert_eq!(
        server.chunk_files(),
        0,
        "refused uploads leave no chunk files"
    );
    let r = Raw::new("PUT", "/bkt/md5")
        .header("content-md5", &b64_md5(&body))
        .body(body)
        .send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
}

#[tokio::test]
async fn payload_hash_mismatch() {
    let (server, s3) = setup().await;
    let mut req = Raw::new("PUT", "/bkt/sha").body(vec![1u8; 3 << 20]);
    req.payload_hash = Some(hex::encode(sha2::Sha256::digest(b"something else")));
    let r = req.send(&server.addr);
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "XAmzContentSHA256Mismatch")
    );
    assert_absent(&s3, "sha").await;
    assert_eq!(server.chunk_files(), 0);
}

#[tokio::test]
async fn missing_content_length() {
    let (server, s3) = setup().await;
    // `Transfer-Encoding: chunked` without a length is accepted (see
    // tests/edge.rs), but an aws-chunked body must still declare
    // x-amz-decoded-content-length, as in S3.
    let mut req = Raw::new("PUT", "/bkt/nolen")
        .header("transfer-encoding", "chunked")
        .header("content-encoding", "aws-chunked")
        .body("0\r\n\r\n");
    req.no_content_length = true;
    req.payload_hash = Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER".into());
    let r = req.send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (411, "MissingContentLength"));
    let mut req = Raw::new("PUT", "/bkt/nolen");
    req.no_content_length = true;
    let r = req.send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (411, "MissingContentLength"));
    assert_absent(&s3, "nolen").await;
}

#[tokio::test]
async fn body_shorter_than_content_length() {
    let (server, s3) = setup().await;
    let mut req = Raw::new("PUT", "/bkt/short").body(vec![5u8; 3 << 20]);
    req.payload_hash = Some("UNSIGNED-PAYLOAD".into());
    req.send_body_bytes = Some(1 << 20);
    let r = req.send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "IncompleteBody"));
    assert_absent(&s3, "short").await;
    assert_eq!(server.chunk_files(), 0);
}

#[tokio::test]
async fn not_implemented_operations() {
    let (server, _s3) = setup().await;
    let r = Raw::new("GET", "/bkt?inventory").send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (501, "NotImplemented"));
    let r = Raw::new("GET", "/bkt/k?torrent").send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (501, "NotImplemented"));
}

#[tokio::test]
async fn authentication_failures() {
    let (server, s3) = setup().await;
    // Unsigned.
    let mut req = Raw::new("GET", "/bkt/k");
    req.signed = false;
    let r = req.send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));

    // Wrong secret, unknown key.
    let bad = server
        .client_with(
            ACCESS_KEY,
            "wrong-secret-wrong-secret-wrong-secret-0",
            false,
        )
        .await;
    let err = bad
        .put_object()
        .bucket("bkt")
        .key("evil")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    let bad = server.client_with("AKIDUNKNOWNUNKNOWN00", "x", false).await;
    let err = bad.list_buckets().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"));
    assert_absent(&s3, "evil").await;

    // Clock skew beyond 15 minutes, both ways.
    for offset in [-20i64 * 60, 20 * 60] {
        let mut req = Raw::new("GET", "/");
        let t = if offset < 0 {
            SystemTime::now() - Duration::from_secs(offset.unsigned_abs())
        } else {
            SystemTime::now() + Duration::from_secs(offset as u64)
        };
        req.time = Some(t);
        let r = req.send(&server.addr);
        assert_eq!(
            (r.status, r.code().as_str()),
            (403, "RequestTimeTooSkewed"),
            "offset {offset}"
        );
    }
    // Within the window is fine.
    let mut req = Raw::new("GET", "/");
    req.time = Some(SystemTime::now() - Duration::from_secs(10 * 60));
    assert_eq!(req.send(&server.addr).status, 200);
}

#[tokio::test]
async fn error_responses_are_s3_xml_with_request_ids() {
    let (server, _s3) = setup().await;
    let r = Raw::new("GET", "/bkt/missing%20key").send(&server.addr);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    let id = r
        .header("x-amz-request-id")
        .expect("request id")
        .to_string();
    assert!(r.header("x-amz-id-2").is_some());
    assert!(r.header("date").is_some());
    assert_eq!(r.header("server"), Some("kura"));
    let body = r.body_text();
    assert!(
        body.contains("<Error><Code>NoSuchKey</Code><Message>"),
        "{body}"
    );
    assert!(
        body.contains("<Resource>/bkt/missing%20key</Resource>"),
        "{body}"
    );
    assert!(
        body.contains(&format!("<RequestId>{id}</RequestId>")),
        "{body}"
    );
    let other = Raw::new("GET", "/bkt/missing").send(&server.addr);
    assert_ne!(
        other.header("x-amz-request-id"),
        Some(id.as_str()),
        "request ids are unique"
    );
}

/// The bucket name in the path is validated for every operation, not only
/// CreateBucket: storage keys hold the name's length in one byte, so a
/// 259-byte name (256 + 3) used to read and write the 3-byte bucket's keys.
#[tokio::test]
async fn invalid_bucket_names_are_refused_for_every_operation() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("abc").send().await.unwrap();
    let filler = "x".repeat(256);
    // The victim's key starts with what the long name carries past "abc".
    s3.put_object()
        .bucket("abc")
        .key(format!("{filler}secret"))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"private"))
        .send()
        .await
        .unwrap();
    let long = format!("abc{filler}");
    for (method, path) in [
        ("GET", format!("/{long}/secret")),
        ("HEAD", format!("/{long}/secret")),
        ("PUT", format!("/{long}/secret")),
        ("DELETE", format!("/{long}/secret")),
        ("GET", format!("/{long}?list-type=2")),
        ("GET", "/Not_A_Bucket/k".to_string()),
    ] {
        let r = Raw::new(method, &path)
            .body(&b"overwrite"[..])
            .send(&server.addr);
        assert_eq!(r.status, 400, "{method} {path}");
        if method != "HEAD" {
            assert_eq!(r.code(), "InvalidBucketName", "{method} {path}");
        }
    }
    // A copy source names a bucket too.
    let r = Raw::new("PUT", "/abc/copy")
        .header("x-amz-copy-source", &format!("/{long}/secret"))
        .send(&server.addr);
    assert_eq!(r.code(), "InvalidBucketName");
    let body = s3
        .get_object()
        .bucket("abc")
        .key(format!("{filler}secret"))
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"private");
}
