//! DeleteObjects: batches, quiet mode, per-key errors, the required
//! integrity header.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use base64::Engine;
use common::raw::Raw;
use common::{b64_md5, Server};

async fn setup(keys: &[String]) -> (Server, aws_sdk_s3::Client) {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    for k in keys {
        s3.put_object()
            .bucket("bkt")
            .key(k)
            .body(ByteStream::from(k.clone().into_bytes()))
            .send()
            .await
            .unwrap();
    }
    (server, s3)
}

async fn remaining(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("bkt")
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        out.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(String::from)),
        );
        token = page.next_continuation_token().map(String::from);
        if token.is_none() {
            return out;
        }
    }
}

fn ids(keys: &[String]) -> Delete {
    Delete::builder()
        .set_objects(Some(
            keys.iter()
                .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn deletes_a_thousand_keys_and_reports_each() {
    let keys: Vec<String> = (0..1000).map(|i| format!("dir/{i:04} +&<é>")).collect();
    let (_server, s3) = setup(&keys).await;
    // Missing keys are reported as deleted too (S3's delete is idempotent).
    let mut batch = keys[..999].to_vec();
    batch.push("never-existed".into());
    let out = s3
        .delete_objects()
        .bucket("bkt")
        .delete(ids(&batch))
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 1000);
    assert!(out.errors().is_empty());
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted[0], keys[0], "keys round-trip through XML escaping");
    assert_eq!(remaining(&s3).await, vec![keys[999].clone()]);

    // More than 1,000 keys is MalformedXML.
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let err = s3
        .delete_objects()
        .bucket("bkt")
        .delete(ids(&many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MalformedXML"));
}

#[tokio::test]
async fn quiet_mode_reports_only_errors() {
    let keys: Vec<String> = vec!["a".into(), "b".into()];
    let (_server, s3) = setup(&keys).await;
    let too_long = "x".repeat(1025);
    let delete = Delete::builder()
        .objects(ObjectIdentifier::builder().key("a").build().unwrap())
        .objects(ObjectIdentifier::builder().key(&too_long).build().unwrap())
        .objects(ObjectIdentifier::builder().key("b").build().unwrap())
        .quiet(true)
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket("bkt")
        .delete(delete)
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty(), "quiet: no <Deleted> entries");
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some(too_long.as_str()));
    assert_eq!(out.errors()[0].code(), Some("KeyTooLongError"));
    assert!(
        remaining(&s3).await.is_empty(),
        "the other keys were deleted"
    );
}

fn body(keys: &[&str]) -> String {
    let mut b = String::from("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for k in keys {
        b.push_str(&format!("<Object><Key>{k}</Key></Object>"));
    }
    b.push_str("</Delete>");
    b
}

#[tokio::test]
async fn integrity_header_is_required_and_checked() {
    let keys: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    let (server, s3) = setup(&keys).await;
    // Versioned, so a successful delete shows its delete marker.
    common::enable_versioning(&s3, "bkt").await;

    let b = body(&["a"]);
    let r = Raw::new("POST", "/bkt?delete")
        .body(b.clone())
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidRequest"));
    assert!(r.body_text().contains("Content-MD5"), "{}", r.body_text());

    let r = Raw::new("POST", "/bkt?delete")
        .header("content-md5", &b64_md5(b"something else"))
        .body(b.clone())
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "BadDigest"));

    let r = Raw::new("POST", "/bkt?delete")
        .header("x-amz-checksum-crc32", "AAAAAA==")
        .body(b.clone())
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "BadDigest"));
    assert_eq!(remaining(&s3).await.len(), 3, "nothing deleted so far");

    let r = Raw::new("POST", "/bkt?delete")
        .header("content-md5", &b64_md5(b.as_bytes()))
        .body(b.clone())
        .send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert!(
        r.body_text()
            .contains("<Deleted><Key>a</Key><DeleteMarker>true</DeleteMarker>"),
        "{}",
        r.body_text()
    );

    let b = body(&["b"]);
    let crc = crc32fast::hash(b.as_bytes()).to_be_bytes();
    let r = Raw::new("POST", "/bkt?delete")
        .header(
            "x-amz-checksum-crc32",
            &base64::engine::general_purpose::STANDARD.encode(crc),
        )
        .body(b)
        .send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(remaining(&s3).await, vec!["c".to_string()]);

    // Malformed XML and a missing bucket.
    let bad = "<Delete><Object></Object></Delete>";
    let r = Raw::new("POST", "/bkt?delete")
        .header("content-md5", &b64_md5(bad.as_bytes()))
        .body(bad)
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "MalformedXML"));
    let b = body(&["c"]);
    let r = Raw::new("POST", "/nobucket?delete")
        .header("content-md5", &b64_md5(b.as_bytes()))
        .body(b)
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchBucket"));
}

#[tokio::test]
async fn versions_and_delete_markers() {
    let (_server, s3) = setup(&[]).await;
    common::enable_versioning(&s3, "bkt").await;
    let mut versions = Vec::new();
    for body in ["one", "two"] {
        let out = s3
            .put_object()
            .bucket("bkt")
            .key("k")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
        versions.push(out.version_id().unwrap().to_string());
    }
    let one = |key: &str, version: Option<&str>| {
        Delete::builder()
            .objects(
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(String::from))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    // A noncurrent version goes for good; the current one stays.
    let out = s3
        .delete_objects()
        .bucket("bkt")
        .delete(one("k", Some(&versions[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted()[0].version_id(), Some(versions[0].as_str()));
    assert_eq!(out.deleted()[0].delete_marker(), None);
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id(&versions[0])
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchVersion"));

    // Without a version: a delete marker, reported with its id.
    let out = s3
        .delete_objects()
        .bucket("bkt")
        .delete(one("k", None))
        .send()
        .await
        .unwrap();
    let marker = out.deleted()[0]
        .delete_marker_version_id()
        .expect("marker id")
        .to_string();
    assert_eq!(out.deleted()[0].delete_marker(), Some(true));
    assert!(remaining(&s3).await.is_empty());

    // Deleting the marker restores the object.
    let out = s3
        .delete_objects()
        .bucket("bkt")
        .delete(one("k", Some(&marker)))
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted()[0].delete_marker(), Some(true));
    assert_eq!(
        out.deleted()[0].delete_marker_version_id(),
        Some(marker.as_str())
    );
    let o = s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(
        o.body.collect().await.unwrap().into_bytes().as_ref(),
        b"two"
    );

    // A malformed version id is a per-key error.
    let out = s3
        .delete_objects()
        .bucket("bkt")
        .delete(one("k", Some("not-a-version")))
        .send()
        .await
        .unwrap();
    assert_eq!(out.errors()[0].code(), Some("InvalidArgument"));
}
