//! Bucket lifecycle through the AWS SDK.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::raw::Raw;
use common::Server;

#[tokio::test]
async fn create_list_head_delete() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;

    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    for b in ["beta", "alpha", "gamma-1.2"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_string())
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma-1.2"]);

    let head = s3.head_bucket().bucket("alpha").send().await.unwrap();
    assert_eq!(head.bucket_region(), Some("us-east-1"));
    let loc = s3
        .get_bucket_location()
        .bucket("alpha")
        .send()
        .await
        .unwrap();
    assert!(loc
        .location_constraint()
        .is_none_or(|c| c.as_str().is_empty()));

    // In us-east-1 S3 answers a repeated CreateBucket by its owner 200
    // (409 BucketAlreadyOwnedByYou elsewhere: tests/edge.rs).
    s3.create_bucket().bucket("alpha").send().await.unwrap();

    s3.put_object()
        .bucket("beta")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let err = s3.delete_bucket().bucket("beta").send().await.unwrap_err();
    assert_eq!(err.code(), Some("BucketNotEmpty"));
    s3.delete_object()
        .bucket("beta")
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("beta").send().await.unwrap();
    s3.delete_bucket().bucket("alpha").send().await.unwrap();

    let err = s3.head_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"));
    let names: Vec<_> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_string())
        .collect();
    assert_eq!(names, ["gamma-1.2"]);
}

#[tokio::test]
async fn bucket_names_follow_s3_rules() {
    let server = Server::start();
    for bad in [
        "ab",
        "UPPER",
        "has_underscore",
        "-dash",
        "dot..dot",
        "192.168.1.1",
        "xn--punycode",
        &"a".repeat(64),
    ] {
        let r = Raw::new("PUT", &format!("/{bad}")).send(&server.addr);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.code(), "InvalidBucketName", "{bad}");
    }
    let s3 = server.client().await;
    assert!(
        s3.list_buckets().send().await.unwrap().buckets().is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn create_bucket_configuration_is_parsed() {
    let server = Server::start();
    let ok = Raw::new("PUT", "/configured")
        .body("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>")
        .send(&server.addr);
    assert_eq!(ok.status, 200, "{}", ok.body_text());
    let bad = Raw::new("PUT", "/malformed")
        .body("<CreateBucketConfiguration><oops")
        .send(&server.addr);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "MalformedXML");
    let head = Raw::new("HEAD", "/malformed").send(&server.addr);
    assert_eq!(head.status, 404, "malformed request created nothing");
    assert!(head.body.is_empty(), "HEAD errors carry no body");
}

#[tokio::test]
async fn virtual_host_style_with_a_domain() {
    let server = Server::start_with(&["--domain", "s3.kura.test"]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let vhost = format!("vbucket.s3.kura.test:{port}");
    let r = Raw::new("PUT", "/")
        .header("host", &vhost)
        .send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let r = Raw::new("PUT", "/dir/file.txt")
        .header("host", &vhost)
        .body("virtual")
        .send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    // The same object through path style.
    let r = Raw::new("GET", "/vbucket/dir/file.txt").send(&server.addr);
    assert_eq!((r.status, r.body_text().as_str()), (200, "virtual"));
    let r = Raw::new("GET", "/?list-type=2")
        .header("host", &vhost)
        .send(&server.addr);
    assert!(
        r.body_text().contains("<Key>dir/file.txt</Key>"),
        "{}",
        r.body_text()
    );
}
