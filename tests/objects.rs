//! Object round trips through the AWS SDK with its default configuration.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::{md5_hex, pattern, Server};

async fn roundtrip(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    let want = md5_hex(&body);
    let put = s3
        .put_object()
        .bucket("bkt")
        .key(key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.e_tag(),
        Some(format!("\"{want}\"").as_str()),
        "ETag is the quoted MD5"
    );
    let got = s3.get_object().bucket("bkt").key(key).send().await.unwrap();
    assert_eq!(got.content_length(), Some(body.len() as i64));
    assert_eq!(got.e_tag(), Some(format!("\"{want}\"").as_str()));
    let data = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(data.len(), body.len());
    assert_eq!(md5_hex(&data), want, "{key}: content differs");
}

#[tokio::test]
async fn sizes_round_trip() {
    let server = Server::start_with(&["--chunk-size", "1MiB"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    roundtrip(&s3, "empty", Vec::new()).await;
    roundtrip(&s3, "one", vec![42]).await;
    roundtrip(&s3, "five-mib-plus-one", pattern(5 * 1024 * 1024 + 1, 1)).await;
    roundtrip(&s3, "hundred-mib", pattern(100 * 1024 * 1024, 2)).await;
    // 5 MiB + 1 and 100 MiB in 1 MiB chunks.
    assert_eq!(server.chunk_files(), 6 + 100);
}

#[tokio::test]
async fn metadata_is_stored_and_returned() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("doc.html")
        .body(ByteStream::from_static(b"<p>hi</p>"))
        .content_type("text/html; charset=utf-8")
        .content_encoding("identity")
        .content_disposition("attachment; filename=\"doc.html\"")
        .content_language("ja")
        .cache_control("max-age=60")
        .expires(aws_sdk_s3::primitives::DateTime::from_secs(1_900_000_000))
        .metadata("owner", "partner-a")
        .metadata("Mixed-Case", "Value With Spaces")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("doc.html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(head.content_encoding(), Some("identity"));
    assert_eq!(
        head.content_disposition(),
        Some("attachment; filename=\"doc.html\"")
    );
    assert_eq!(head.content_language(), Some("ja"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.expires_string(), Some("Sun, 17 Mar 2030 17:46:40 GMT"));
    assert_eq!(head.content_length(), Some(9));
    assert!(head.last_modified().is_some());
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("owner").map(String::as_str), Some("partner-a"));
    assert_eq!(
        meta.get("mixed-case").map(String::as_str),
        Some("Value With Spaces")
    );

    // SDKs send a type of their own; S3's default applies when none is sent.
    let r = common::raw::Raw::new("PUT", "/bkt/untyped")
        .body("x")
        .send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("untyped")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("binary/octet-stream"));
    assert_eq!(got.accept_ranges(), Some("bytes"));
}

#[tokio::test]
async fn overwrite_and_delete() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"one"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"two"))
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"two");

    s3.delete_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"));
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    // Idempotent: deleting again, or a key that never existed, is a 204.
    s3.delete_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket("bkt")
        .key("never")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_object()
        .bucket("nobucket")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn awkward_keys_round_trip() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    for key in [
        "a b",
        "plus+sign",
        "日本語/ファイル.txt",
        "percent%20",
        "star*",
        "semi;colon=eq&amp",
        "dir//double",
        "ünïcödé",
        "a/b/c/",
    ] {
        s3.put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
        let got = s3.get_object().bucket("bkt").key(key).send().await.unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes(),
            key.as_bytes(),
            "{key}"
        );
    }
}
