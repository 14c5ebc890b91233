//! CopyObject through the AWS SDK and raw signed requests: encoded sources,
//! metadata directives, copy-source conditions, self-copy, large streamed
//! copies.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::MetadataDirective;
use common::raw::Raw;
use common::{md5_hex, pattern, Server};

async fn setup() -> (Server, aws_sdk_s3::Client) {
    let server = Server::start_with(&["--chunk-size", "1MiB"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("src").send().await.unwrap();
    s3.create_bucket().bucket("dst").send().await.unwrap();
    (server, s3)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_type("text/plain")
        .metadata("origin", "first")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string()
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let o = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn copy_keeps_or_replaces_metadata() {
    let (server, s3) = setup().await;
    let body = b"hello copy".to_vec();
    let etag = put(&s3, "src", "a.txt", body.clone()).await;

    // COPY (the default): bytes and metadata come from the source.
    let out = s3
        .copy_object()
        .bucket("dst")
        .key("b.txt")
        .copy_source("src/a.txt")
        .send()
        .await
        .unwrap();
    let result = out.copy_object_result().unwrap();
    assert_eq!(
        result.e_tag(),
        Some(etag.as_str()),
        "same bytes, same MD5 ETag"
    );
    assert!(result.last_modified().is_some());
    let head = s3
        .head_object()
        .bucket("dst")
        .key("b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(
        head.metadata().unwrap().get("origin").map(String::as_str),
        Some("first")
    );
    assert_eq!(get(&s3, "dst", "b.txt").await, body);

    // REPLACE: metadata from the request, bytes from the source.
    s3.copy_object()
        .bucket("dst")
        .key("c.txt")
        .copy_source("src/a.txt")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .metadata("origin", "second")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("dst")
        .key("c.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/json"));
    assert_eq!(
        head.metadata().unwrap().get("origin").map(String::as_str),
        Some("second")
    );
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(get(&s3, "dst", "c.txt").await, body);

    // A bad directive is refused.
    let r = Raw::new("PUT", "/dst/d.txt")
        .header("x-amz-copy-source", "/src/a.txt")
        .header("x-amz-metadata-directive", "MERGE")
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidArgument"));
}

#[tokio::test]
async fn self_copy_needs_replace_and_updates_metadata() {
    let (_server, s3) = setup().await;
    let body = pattern(3 * 1024 * 1024 + 17, 4);
    let etag = put(&s3, "src", "self", body.clone()).await;
    let before = s3
        .head_object()
        .bucket("src")
        .key("self")
        .send()
        .await
        .unwrap();

    let err = s3
        .copy_object()
        .bucket("src")
        .key("self")
        .copy_source("src/self")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequest"));

    // Let Last-Modified (whole seconds on the wire) move on.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s3.copy_object()
        .bucket("src")
        .key("self")
        .copy_source("src/self")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("image/png")
        .metadata("origin", "updated")
        .send()
        .await
        .unwrap();
    let after = s3
        .head_object()
        .bucket("src")
        .key("self")
        .send()
        .await
        .unwrap();
    assert_eq!(after.content_type(), Some("image/png"));
    assert_eq!(
        after.metadata().unwrap().get("origin").map(String::as_str),
        Some("updated")
    );
    assert_eq!(after.e_tag(), Some(etag.as_str()));
    assert!(after.last_modified().unwrap() > before.last_modified().unwrap());
    assert_eq!(md5_hex(&get(&s3, "src", "self").await), md5_hex(&body));
}

#[tokio::test]
async fn url_encoded_sources_and_awkward_keys() {
    let (server, s3) = setup().await;
    for key in ["a b+c.txt", "日本/語 ファイル", "100%/x?y&z=1", "tab\there"] {
        let body = format!("body of {key}").into_bytes();
        put(&s3, "src", key, body.clone()).await;
        // The SDK leaves encoding the source to the caller, as S3 expects.
        let encoded =
            percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        s3.copy_object()
            .bucket("dst")
            .key(key)
            .copy_source(format!("src/{encoded}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        assert_eq!(get(&s3, "dst", key).await, body, "{key}");
    }
    // Missing source key and bucket.
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("x")
        .copy_source("src/nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"));
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("x")
        .copy_source("nobucket/nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"));
    let r = Raw::new("PUT", "/dst/x")
        .header("x-amz-copy-source", "src")
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidArgument"));
}

#[tokio::test]
async fn copy_source_conditions() {
    let (_server, s3) = setup().await;
    let etag = put(&s3, "src", "k", b"conditional".to_vec()).await;
    let head = s3
        .head_object()
        .bucket("src")
        .key("k")
        .send()
        .await
        .unwrap();
    let modified = head.last_modified().unwrap().secs();
    let past = DateTime::from_secs(modified - 3600);
    let future = DateTime::from_secs(modified + 3600);

    let copy = || s3.copy_object().bucket("dst").key("k").copy_source("src/k");
    copy()
        .copy_source_if_match(&etag)
        .send()
        .await
        .expect("if-match true");
    copy()
        .copy_source_if_none_match("\"other\"")
        .copy_source_if_modified_since(past)
        .send()
        .await
        .expect("if-none-match true");
    copy()
        .copy_source_if_unmodified_since(future)
        .send()
        .await
        .expect("unmodified since the future");
    // S3's documented combination: if-match true wins over unmodified-since false.
    copy()
        .copy_source_if_match(&etag)
        .copy_source_if_unmodified_since(past)
        .send()
        .await
        .expect("if-match true + if-unmodified-since false copies");

    for (what, req) in [
        ("if-match false", copy().copy_source_if_match("\"other\"")),
        (
            "if-none-match false",
            copy().copy_source_if_none_match(&etag),
        ),
        (
            "modified-since false",
            copy().copy_source_if_modified_since(future),
        ),
        (
            "unmodified-since false",
            copy().copy_source_if_unmodified_since(past),
        ),
        (
            "if-none-match false + modified-since true",
            copy()
                .copy_source_if_none_match(&etag)
                .copy_source_if_modified_since(past),
        ),
    ] {
        let err = req.send().await.unwrap_err();
        assert_eq!(err.code(), Some("PreconditionFailed"), "{what}");
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 412, "{what}");
    }
}

#[tokio::test]
async fn large_copy_streams_and_survives_restart() {
    let (mut server, s3) = setup().await;
    let body = pattern(40 * 1024 * 1024 + 5, 9);
    let want = md5_hex(&body);
    put(&s3, "src", "big", body).await;
    // A fresh process, so its peak RSS reflects only the copy.
    server.restart();
    let s3 = server.client_no_retry().await;
    let files_before = server.chunk_files();
    let rss_before = server.peak_rss_kib();
    s3.copy_object()
        .bucket("dst")
        .key("big-copy")
        .copy_source("src/big")
        .send()
        .await
        .unwrap();
    // Peak memory grew by far less than the object: the copy streamed.
    let grew_mib = server.peak_rss_kib().saturating_sub(rss_before) / 1024;
    assert!(grew_mib < 30, "copy grew peak RSS by {grew_mib} MiB");
    // Its own chunk files (41 of 1 MiB), durable across a SIGKILL.
    assert_eq!(server.chunk_files(), files_before + 41);
    server.restart();
    let s3 = server.client_no_retry().await;
    s3.delete_object()
        .bucket("src")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(md5_hex(&get(&s3, "dst", "big-copy").await), want);
}

#[tokio::test]
async fn copy_honours_target_write_conditions() {
    let (_server, s3) = setup().await;
    put(&s3, "src", "k", b"v1".to_vec()).await;
    put(&s3, "dst", "exists", b"old".to_vec()).await;
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("exists")
        .copy_source("src/k")
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("if-none-match", "*");
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("PreconditionFailed"));
    assert_eq!(get(&s3, "dst", "exists").await, b"old");
}

#[tokio::test]
async fn copy_from_a_version() {
    let (_server, s3) = setup().await;
    // Versioned: writes then answer with the ids this test copies from.
    for b in ["src", "dst"] {
        common::enable_versioning(&s3, b).await;
    }
    let mut versions = Vec::new();
    for body in ["old", "new"] {
        let out = s3
            .put_object()
            .bucket("src")
            .key("k")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
        versions.push(out.version_id().unwrap().to_string());
    }
    let out = s3
        .copy_object()
        .bucket("dst")
        .key("k")
        .copy_source(format!("src/k?versionId={}", versions[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.copy_source_version_id(), Some(versions[0].as_str()));
    assert!(out.version_id().is_some_and(|v| v != versions[0]));
    assert_eq!(get(&s3, "dst", "k").await, b"old");

    // A deleted key cannot be copied; neither can a delete marker by id.
    let del = s3
        .delete_object()
        .bucket("src")
        .key("k")
        .send()
        .await
        .unwrap();
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("k2")
        .copy_source("src/k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"));
    let marker = del.version_id().expect("delete marker id");
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("k2")
        .copy_source(format!("src/k?versionId={marker}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequest"));
    let err = s3
        .head_object()
        .bucket("dst")
        .key("k2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
}
