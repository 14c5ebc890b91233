//! Object and bucket tagging through the Rust SDK (and raw requests for
//! what the SDK will not send): round trips, S3's limits and error codes,
//! `x-amz-tagging-count`, version ids, copy directives, multipart uploads,
//! bucket tags, and the write lock.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging, TaggingDirective};
use aws_sdk_s3::Client;
use common::raw::Raw;
use common::{enable_versioning, Server};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    Tagging::builder()
        .set_tag_set(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

async fn tags_of(s3: &Client, key: &str, version: Option<&str>) -> Vec<(String, String)> {
    s3.get_object_tagging()
        .bucket("bkt")
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn setup(args: &[&str]) -> (Server, Client) {
    let server = Server::start_with(args);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    (server, s3)
}

async fn put(s3: &Client, key: &str, body: &[u8], tagging: Option<&str>) -> Option<String> {
    s3.put_object()
        .bucket("bkt")
        .key(key)
        .set_tagging(tagging.map(str::to_string))
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .version_id()
        .map(str::to_string)
}

#[tokio::test]
async fn round_trips_counts_and_versions() {
    let (server, s3) = setup(&[]).await;
    // `x-amz-tagging` on PutObject: URL-encoded, order kept.
    put(
        &s3,
        "a",
        b"hello",
        Some("dst=0000000000020&note=two%20words"),
    )
    .await;
    assert_eq!(
        tags_of(&s3, "a", None).await,
        owned(&[("dst", "0000000000020"), ("note", "two words")])
    );
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(head.tag_count(), Some(2));
    let get = s3.get_object().bucket("bkt").key("a").send().await.unwrap();
    assert_eq!(get.tag_count(), Some(2));
    let etag = get.e_tag().unwrap().to_string();

    // PutObjectTagging replaces the set in place: same ETag, no new version.
    let set = [("é/日本", "x:y=z+1 @"), ("empty", "")];
    s3.put_object_tagging()
        .bucket("bkt")
        .key("a")
        .tagging(tagging(&set))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&s3, "a", None).await, owned(&set));
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (head.e_tag(), head.tag_count()),
        (Some(etag.as_str()), Some(2))
    );
    let versions = s3
        .list_object_versions()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1, "tagging wrote no new version");

    // DeleteObjectTagging: 204, no tags, no tagging-count header.
    s3.delete_object_tagging()
        .bucket("bkt")
        .key("a")
        .send()
        .await
        .unwrap();
    assert!(tags_of(&s3, "a", None).await.is_empty());
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(head.tag_count(), None);
    let r = Raw::new("DELETE", "/bkt/a?tagging").send(&server.addr);
    assert_eq!(r.status, 204);

    // Versioned: each version keeps its own tags; versionId addresses one.
    enable_versioning(&s3, "bkt").await;
    let v1 = put(&s3, "v", b"one", Some("gen=1")).await.unwrap();
    let v2 = put(&s3, "v", b"two", Some("gen=2")).await.unwrap();
    let out = s3
        .put_object_tagging()
        .bucket("bkt")
        .key("v")
        .version_id(&v1)
        .tagging(tagging(&[("gen", "first")]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));
    assert_eq!(
        tags_of(&s3, "v", Some(&v1)).await,
        owned(&[("gen", "first")])
    );
    assert_eq!(tags_of(&s3, "v", None).await, owned(&[("gen", "2")]));
    let got = s3
        .get_object_tagging()
        .bucket("bkt")
        .key("v")
        .send()
        .await
        .unwrap();
    assert_eq!(got.version_id(), Some(v2.as_str()));
    let del = s3
        .delete_object_tagging()
        .bucket("bkt")
        .key("v")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(del.version_id(), Some(v1.as_str()));
    assert!(tags_of(&s3, "v", Some(&v1)).await.is_empty());
    assert_eq!(tags_of(&s3, "v", None).await, owned(&[("gen", "2")]));

    // Missing key, missing version, bad version id.
    let e = s3
        .get_object_tagging()
        .bucket("bkt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"));
    let e = s3
        .put_object_tagging()
        .bucket("bkt")
        .key("v")
        .version_id("00000000000fffff")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchVersion"));
    let e = s3
        .put_object_tagging()
        .bucket("bkt")
        .key("v")
        .version_id("zz")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"));

    // Tag changes are `metadata` events of the change feed.
    let feed = Raw::new("GET", "/bkt?changes")
        .send(&server.addr)
        .body_text();
    let json: serde_json::Value = serde_json::from_str(&feed).unwrap();
    let metadata = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["event"] == "metadata")
        .count();
    assert_eq!(metadata, 5, "{feed}");
}

#[tokio::test]
async fn limits_and_errors() {
    let (server, s3) = setup(&[]).await;
    put(&s3, "k", b"x", None).await;
    let put_tags = |pairs: Vec<(String, String)>| {
        let t = Tagging::builder()
            .set_tag_set(Some(
                pairs
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap();
        s3.put_object_tagging()
            .bucket("bkt")
            .key("k")
            .tagging(t)
            .send()
    };
    let n = |count: usize| -> Vec<(String, String)> {
        (0..count).map(|i| (format!("k{i}"), "v".into())).collect()
    };
    put_tags(n(10)).await.unwrap();
    let e = put_tags(n(11)).await.unwrap_err();
    assert_eq!(e.code(), Some("BadRequest"));
    assert_eq!(e.message(), Some("Object tags cannot be greater than 10"));
    put_tags(vec![("k".repeat(128), "v".repeat(256))])
        .await
        .unwrap();
    for (bad, code) in [
        (vec![("k".repeat(129), "v".into())], "InvalidTag"),
        (vec![("k".into(), "v".repeat(257))], "InvalidTag"),
        (
            vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            "InvalidTag",
        ),
        (vec![("bad#key".into(), "v".into())], "InvalidTag"),
        (vec![("aws:reserved".into(), "v".into())], "InvalidTag"),
    ] {
        let e = put_tags(bad.clone()).await.unwrap_err();
        assert_eq!(e.code(), Some(code), "{bad:?}");
    }
    // Nothing was half-stored: the last good set is still there.
    assert_eq!(
        tags_of(&s3, "k", None).await,
        vec![("k".repeat(128), "v".repeat(256))]
    );

    // The header form on PutObject: same limits, nothing stored on refusal.
    let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    let e = s3
        .put_object()
        .bucket("bkt")
        .key("h")
        .tagging(eleven.join("&"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("BadRequest"));
    let e = s3
        .put_object()
        .bucket("bkt")
        .key("h")
        .tagging("a=1&a=2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"));
    let e = s3
        .head_object()
        .bucket("bkt")
        .key("h")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_not_found());

    // Bad XML, an oversized body.
    for body in [
        "<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>".to_string(),
        "not xml".to_string(),
    ] {
        let r = Raw::new("PUT", "/bkt/k?tagging")
            .body(body)
            .send(&server.addr);
        assert_eq!((r.status, r.code().as_str()), (400, "MalformedXML"));
    }
    let huge = format!(
        "<Tagging><TagSet>{}</TagSet></Tagging>",
        "<Tag><Key>k</Key><Value>v</Value></Tag>".repeat(10_000)
    );
    let r = Raw::new("PUT", "/bkt/k?tagging")
        .body(huge)
        .send(&server.addr);
    assert_eq!(r.status, 400, "{}", r.body_text());

    // A tag write of a key being written is refused like any write (409).
    let slow = common::slow::SlowPut::start(&server.addr, "/bkt/k", vec![1u8; 1 << 20], 1024);
    let r = Raw::new("PUT", "/bkt/k?tagging")
        .body("<Tagging><TagSet/></Tagging>")
        .send(&server.addr);
    assert_eq!(r.status, 409, "{}", r.body_text());
    slow.cut_off();
}

#[tokio::test]
async fn max_tags_flag_raises_the_limit() {
    let (_server, s3) = setup(&["--max-tags", "20"]).await;
    let twenty: Vec<String> = (0..20).map(|i| format!("key{i}=v{i}")).collect();
    put(&s3, "k", b"x", Some(&twenty.join("&"))).await;
    assert_eq!(tags_of(&s3, "k", None).await.len(), 20);
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.tag_count(), Some(20));
    let mut more = twenty.clone();
    more.push("one=more".into());
    let e = s3
        .put_object()
        .bucket("bkt")
        .key("k")
        .tagging(more.join("&"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.message(), Some("Object tags cannot be greater than 20"));
    // Above 50 the server refuses to start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["serve", "--max-tags", "51"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn copy_directives_and_multipart_uploads() {
    let (_server, s3) = setup(&[]).await;
    put(&s3, "src", b"source bytes", Some("a=1&b=2")).await;
    // COPY (the default) keeps the source's tags, even with x-amz-tagging.
    s3.copy_object()
        .bucket("bkt")
        .key("copied")
        .copy_source("bkt/src")
        .tagging("ignored=yes")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&s3, "copied", None).await,
        owned(&[("a", "1"), ("b", "2")])
    );
    // REPLACE takes the request's (none is none).
    s3.copy_object()
        .bucket("bkt")
        .key("replaced")
        .copy_source("bkt/src")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("c=3")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&s3, "replaced", None).await, owned(&[("c", "3")]));
    s3.copy_object()
        .bucket("bkt")
        .key("untagged")
        .copy_source("bkt/src")
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
    assert!(tags_of(&s3, "untagged", None).await.is_empty());
    let e = s3
        .copy_object()
        .bucket("bkt")
        .key("x")
        .copy_source("bkt/src")
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-amz-tagging-directive", "MOVE");
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"));
    // A self-copy changing only the tags is allowed (and copies nothing).
    s3.copy_object()
        .bucket("bkt")
        .key("src")
        .copy_source("bkt/src")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("d=4")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&s3, "src", None).await, owned(&[("d", "4")]));
    assert_eq!(
        common::get_version(&s3, "bkt", "src", None).await,
        b"source bytes"
    );

    // CreateMultipartUpload's tags land on the completed object.
    let id = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .tagging("dst=0000000000020&src=0000000000010")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    common::multipart::upload_parts_and_complete(&s3, "bkt", "mp", &id, &[b"part one"]).await;
    assert_eq!(
        tags_of(&s3, "mp", None).await,
        owned(&[("dst", "0000000000020"), ("src", "0000000000010")])
    );
    let e = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp2")
        .tagging("k=".to_string() + &"v".repeat(257))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidTag"));
}

#[tokio::test]
async fn bucket_tags() {
    let (server, s3) = setup(&[]).await;
    let e = s3
        .get_bucket_tagging()
        .bucket("bkt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchTagSet"));
    s3.put_bucket_tagging()
        .bucket("bkt")
        .tagging(tagging(&[("team", "exchange"), ("cost", "42")]))
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_tagging().bucket("bkt").send().await.unwrap();
    let tags: Vec<_> = got.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "exchange"), ("cost", "42")]);
    // 50 tags on a bucket whatever --max-tags says; 51 are too many.
    let fifty: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    let to_tagging = |v: &[(String, String)]| {
        Tagging::builder()
            .set_tag_set(Some(
                v.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    s3.put_bucket_tagging()
        .bucket("bkt")
        .tagging(to_tagging(&fifty[..50]))
        .send()
        .await
        .unwrap();
    let e = s3
        .put_bucket_tagging()
        .bucket("bkt")
        .tagging(to_tagging(&fifty))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("BadRequest"));
    s3.delete_bucket_tagging()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    let e = s3
        .get_bucket_tagging()
        .bucket("bkt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchTagSet"));
    let e = s3
        .get_bucket_tagging()
        .bucket("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));

    // Tags go with the bucket: a new bucket of the same name has none.
    s3.put_bucket_tagging()
        .bucket("bkt")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("bkt").send().await.unwrap();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let e = s3
        .get_bucket_tagging()
        .bucket("bkt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchTagSet"));
    drop(server);
}

/// The README's aws-cli examples work as written.
#[test]
fn aws_cli_examples() {
    let server = Server::start();
    let home = tempfile::tempdir().unwrap();
    let aws = |args: &[&str]| -> String {
        let out = std::process::Command::new("aws")
            .arg("--endpoint-url")
            .arg(&server.endpoint)
            .args(args)
            .env("HOME", home.path())
            .env("AWS_CONFIG_FILE", home.path().join("aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("aws-credentials"),
            )
            .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("aws-cli");
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let file = home.path().join("report.csv");
    std::fs::write(&file, "a,b\n1,2\n").unwrap();
    aws(&["s3api", "create-bucket", "--bucket", "exchange"]);
    aws(&[
        "s3api",
        "put-object",
        "--bucket",
        "exchange",
        "--key",
        "in/report.csv",
        "--body",
        file.to_str().unwrap(),
        "--tagging",
        "src=0000000000010&dst=0000000000020&type=ORDERS",
    ]);
    aws(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        "exchange",
        "--key",
        "in/report.csv",
        "--tagging",
        "TagSet=[{Key=dst,Value=0000000000020},{Key=status,Value=received}]",
    ]);
    let got: serde_json::Value = serde_json::from_str(&aws(&[
        "s3api",
        "get-object-tagging",
        "--bucket",
        "exchange",
        "--key",
        "in/report.csv",
    ]))
    .unwrap();
    assert_eq!(
        got["TagSet"],
        serde_json::json!([
            {"Key": "dst", "Value": "0000000000020"},
            {"Key": "status", "Value": "received"}
        ])
    );
    let before: serde_json::Value = serde_json::from_str(&aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "exchange",
        "--key",
        "in/report.csv",
    ]))
    .unwrap();
    aws(&[
        "s3api",
        "copy-object",
        "--bucket",
        "exchange",
        "--key",
        "in/report.csv",
        "--copy-source",
        "exchange/in/report.csv",
        "--metadata-directive",
        "REPLACE",
        "--content-type",
        "text/csv",
        "--metadata",
        "state=processed",
    ]);
    let after: serde_json::Value = serde_json::from_str(&aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "exchange",
        "--key",
        "in/report.csv",
    ]))
    .unwrap();
    assert_eq!(after["ETag"], before["ETag"]);
    assert_eq!(after["ContentType"], "text/csv");
    assert_eq!(after["Metadata"]["state"], "processed");
    assert_eq!(after["TagCount"], 2);
    aws(&[
        "s3api",
        "put-bucket-tagging",
        "--bucket",
        "exchange",
        "--tagging",
        "TagSet=[{Key=owner,Value=acme}]",
    ]);
    let got: serde_json::Value = serde_json::from_str(&aws(&[
        "s3api",
        "get-bucket-tagging",
        "--bucket",
        "exchange",
    ]))
    .unwrap();
    assert_eq!(got["TagSet"][0]["Value"], "acme");
    aws(&[
        "s3api",
        "delete-object-tagging",
        "--bucket",
        "exchange",
        "--key",
        "in/report.csv",
    ]);
}
