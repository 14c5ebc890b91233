//! Lifecycle rules and upload tickets against the real server: the
//! configuration API through aws-cli (unchanged, as partners run it),
//! expiry into the trash, Date rules, NoncurrentVersionExpiration on the
//! trash, AbortIncompleteMultipartUpload deadlines, and a restart with
//! expiries pending. `--lifecycle-day-secs` (test only) makes a lifecycle
//! day last seconds.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use aws_sdk_s3::Client;

use crate::common::raw::Raw;
use crate::common::{self, Server, ACCESS_KEY, SECRET_KEY};

const WAIT: Duration = Duration::from_secs(15);

fn aws(server: &Server, home: &Path, args: &[&str]) -> std::process::Output {
    Command::new("aws")
        .arg("--endpoint-url")
        .arg(&server.endpoint)
        .args(args)
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run aws")
}

fn aws_ok(server: &Server, home: &Path, args: &[&str]) -> String {
    let out = aws(server, home, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aws {args:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

async fn put_rules(s3: &Client, bucket: &str, rules: Vec<LifecycleRule>) {
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("put lifecycle configuration");
}

async fn put(s3: &Client, bucket: &str, key: &str, body: &[u8]) -> Option<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .version_id
}

async fn exists(s3: &Client, bucket: &str, key: &str) -> bool {
    loop {
        match s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => return true,
            Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                Some(404) => return false,
                // The expiry holds the key's write lock for a moment, like
                // any delete: reads meet the server's reads-during-write policy.
                Some(409) => tokio::time::sleep(Duration::from_millis(20)).await,
                _ => panic!("HEAD {key}: {e:?}"),
            },
        }
    }
}

/// Polls (bounded) until `key` is gone.
async fn wait_gone(s3: &Client, bucket: &str, key: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while exists(s3, bucket, key).await {
        assert!(std::time::Instant::now() < deadline, "{key} never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// aws-cli's put/get/delete-bucket-lifecycle-configuration, unchanged:
/// the document round-trips, S3's validation errors come back (the stored
/// configuration untouched), and a bucket without rules answers
/// NoSuchLifecycleConfiguration. (aws-cli starts slowly: other checks go
/// through the SDK and raw requests.)
#[tokio::test]
async fn aws_cli_configuration_round_trip_and_errors() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("lcb").send().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    std::fs::write(
        home.join("aws-config"),
        "[default]\ns3 =\n    signature_version = s3v4\n",
    )
    .unwrap();
    let r = Raw::new("GET", "/lcb?lifecycle").send(&server.addr);
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "NoSuchLifecycleConfiguration")
    );

    let config = r#"{"Rules": [
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}},
        {"ID": "tagged", "Status": "Enabled", "Filter": {"And": {"Prefix": "in/", "Tags": [{"Key": "dst", "Value": "20"}]}},
         "Expiration": {"Date": "2030-01-01T00:00:00Z"}},
        {"ID": "trash", "Status": "Disabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 3}},
        {"ID": "tickets", "Status": "Enabled", "Filter": {"Prefix": "up/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}
    ]}"#;
    let put = |json: &str| {
        aws(
            &server,
            home,
            &[
                "s3api",
                "put-bucket-lifecycle-configuration",
                "--bucket",
                "lcb",
                "--lifecycle-configuration",
                json,
            ],
        )
    };
    let out = put(config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_str(&aws_ok(
        &server,
        home,
        &[
            "s3api",
            "get-bucket-lifecycle-configuration",
            "--bucket",
            "lcb",
        ],
    ))
    .unwrap();
    let rules = got["Rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4, "{got}");
    assert_eq!(rules[0]["ID"], "tmp");
    assert_eq!(rules[0]["Filter"]["Prefix"], "tmp/");
    assert_eq!(rules[0]["Expiration"]["Days"], 7);
    assert_eq!(rules[1]["Filter"]["And"]["Tags"][0]["Value"], "20");
    assert!(rules[1]["Expiration"]["Date"]
        .as_str()
        .unwrap()
        .starts_with("2030-01-01T00:00:00"));
    assert_eq!(rules[2]["Status"], "Disabled");
    assert_eq!(rules[2]["NoncurrentVersionExpiration"]["NoncurrentDays"], 3);
    assert_eq!(
        rules[3]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
        2
    );

    // S3's validation errors, as aws-cli shows them and as the SDK reads them.
    let out = put(
        r#"{"Rules": [{"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}]}"#,
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        e.contains("InvalidArgument")
            && e.contains("'Days' for Expiration action must be a positive integer"),
        "{e}"
    );
    let bad = |rules: Vec<LifecycleRule>| {
        s3.put_bucket_lifecycle_configuration()
            .bucket("lcb")
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let midday = rule("a", "")
        .expiration(
            LifecycleExpiration::builder()
                .date(aws_sdk_s3::primitives::DateTime::from_secs(
                    1_893_456_000 + 36_000,
                ))
                .build(),
        )
        .build()
        .unwrap();
    let e = bad(vec![midday]).await.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            Some("InvalidArgument"),
            Some("'Date' must be at midnight GMT")
        )
    );
    let one = |prefix: &str| {
        rule("same", prefix)
            .expiration(LifecycleExpiration::builder().days(1).build())
            .build()
            .unwrap()
    };
    let e = bad(vec![one("x"), one("y")]).await.unwrap_err();
    assert_eq!(
        e.message(),
        Some("Rule ID must be unique. Found same ID for more than one rule")
    );
    let no_action = LifecycleRule::builder()
        .id("n")
        .status(ExpirationStatus::Enabled)
        .build()
        .unwrap();
    let e = bad(vec![no_action]).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"));
    let r = Raw::new("PUT", "/lcb?lifecycle")
        .body("<LifecycleConfiguration><Rule><Status>Enabled</Status></Rule>")
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "MalformedXML"));
    let still = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap();
    assert_eq!(still.rules().len(), 4, "untouched by the refused puts");

    aws_ok(
        &server,
        home,
        &["s3api", "delete-bucket-lifecycle", "--bucket", "lcb"],
    );
    let e = s3
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchLifecycleConfiguration"));
}

/// A `Days: 1` rule (one second here) expires objects under its prefix into
/// the trash, like a DeleteObject: a delete marker in a versioned bucket,
/// the version listed and restorable; objects outside the prefix stay. A
/// `Date` rule in the past expires its objects at once. The change feed
/// shows the expiry as a `delete`.
#[tokio::test]
async fn expired_objects_go_to_the_trash_and_come_back() {
    let server = Server::start_with(&["--lifecycle-day-secs", "1"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    common::enable_versioning(&s3, "bkt").await;
    put_rules(
        &s3,
        "bkt",
        vec![
            rule("tmp", "tmp/")
                .expiration(LifecycleExpiration::builder().days(1).build())
                .build()
                .unwrap(),
            rule("old", "old/")
                .expiration(
                    LifecycleExpiration::builder()
                        .date(aws_sdk_s3::primitives::DateTime::from_secs(1_577_836_800))
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await;
    let v = put(&s3, "bkt", "tmp/a", b"expiring").await.unwrap();
    put(&s3, "bkt", "keep/a", b"staying").await;
    put(&s3, "bkt", "old/a", b"dated").await;
    wait_gone(&s3, "bkt", "old/a").await;
    wait_gone(&s3, "bkt", "tmp/a").await;
    assert!(exists(&s3, "bkt", "keep/a").await, "outside every rule");

    // In the trash: the version, behind a delete marker.
    let versions = s3
        .list_object_versions()
        .bucket("bkt")
        .prefix("tmp/a")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions()[0].version_id(), Some(v.as_str()));
    assert_eq!(versions.versions()[0].is_latest(), Some(false));
    let marker = versions.delete_markers()[0]
        .version_id()
        .unwrap()
        .to_string();
    assert_eq!(versions.delete_markers()[0].is_latest(), Some(true));
    let feed = Raw::new("GET", "/bkt?changes&prefix=tmp/").send(&server.addr);
    assert!(feed.body_text().contains("delete"), "{}", feed.body_text());

    // Restored by deleting the marker.
    s3.delete_object()
        .bucket("bkt")
        .key("tmp/a")
        .version_id(marker)
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::get_version(&s3, "bkt", "tmp/a", None).await,
        b"expiring"
    );
}

/// NoncurrentVersionExpiration shortens the trash for matching keys: the
/// replaced version of `logs/x` is purged after one (test) day although
/// the retention is 24 h; `data/x`'s stays.
#[tokio::test]
async fn noncurrent_days_shorten_the_trash() {
    let server = Server::start_with(&["--lifecycle-day-secs", "1", "--retention", "24h"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    common::enable_versioning(&s3, "bkt").await;
    put_rules(
        &s3,
        "bkt",
        vec![rule("logs", "logs/")
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(1)
                    .build(),
            )
            .build()
            .unwrap()],
    )
    .await;
    let old_log = put(&s3, "bkt", "logs/x", b"v1").await.unwrap();
    put(&s3, "bkt", "logs/x", b"v2").await;
    let old_data = put(&s3, "bkt", "data/x", b"v1").await.unwrap();
    put(&s3, "bkt", "data/x", b"v2").await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let r = s3
            .get_object()
            .bucket("bkt")
            .key("logs/x")
            .version_id(&old_log)
            .send()
            .await;
        match r {
            Ok(_) => assert!(std::time::Instant::now() < deadline, "never purged"),
            Err(e) => {
                assert_eq!(e.code(), Some("NoSuchVersion"));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        common::get_version(&s3, "bkt", "data/x", Some(&old_data)).await,
        b"v1"
    );
    assert_eq!(common::get_version(&s3, "bkt", "logs/x", None).await, b"v2");
}

/// Upload tickets: CreateMultipartUpload answers its deadline
/// (`x-amz-abort-date`, with `x-amz-abort-rule-id` when a lifecycle rule
/// set it), ListMultipartUploads shows it (`KuraAbortDate`), a bucket can
/// override the server's expiry, and after the deadline every call on the
/// upload answers NoSuchUpload.
#[tokio::test]
async fn upload_tickets_have_a_deadline_and_expire() {
    let server = Server::start_with(&["--lifecycle-day-secs", "1", "--multipart-expiry", "24h"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    put_rules(
        &s3,
        "bkt",
        vec![rule("tickets", "up/")
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(1)
                    .build(),
            )
            .build()
            .unwrap()],
    )
    .await;
    let before = now_secs();
    let short = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("up/f")
        .send()
        .await
        .unwrap();
    assert_eq!(short.abort_rule_id(), Some("tickets"));
    let deadline = short.abort_date().expect("x-amz-abort-date").secs();
    assert!(
        (before + 1..=now_secs() + 2).contains(&deadline),
        "{deadline} vs {before}"
    );
    let id = short.upload_id().unwrap().to_string();

    // Deadlines are whole seconds, rounded up: an upload lives at least its
    // expiry, so the deadline is at or after the request's start + expiry
    // (to the millisecond), and at most a second past its end + expiry.
    let ticket = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            let start = now_ms();
            let out = s3
                .create_multipart_upload()
                .bucket("bkt")
                .key(key)
                .send()
                .await
                .unwrap();
            (start, out, now_ms())
        }
    };
    let within = |at: i64, start: u64, end: u64, expiry: u64| {
        let at = at as u64 * 1000;
        at >= start + expiry && at <= end + expiry + 1000
    };
    let (start, long, end) = ticket("other/f").await;
    assert_eq!(long.abort_rule_id(), None);
    let at = long.abort_date().unwrap().secs();
    assert!(
        within(at, start, end, 86_400_000),
        "server expiry: {at} from {start} ms"
    );

    common::admin::run(
        &server,
        &["bucket", "set", "bkt", "--multipart-expiry", "2h"],
    );
    let shown = common::admin::run(&server, &["bucket", "show", "bkt"]);
    assert!(shown.contains("multipart_expiry=7200s"), "{shown}");
    let (start, two_h, end) = ticket("other/g").await;
    let at = two_h.abort_date().unwrap().secs();
    assert!(
        within(at, start, end, 7_200_000),
        "bucket expiry: {at} from {start}"
    );

    // The listing shows each deadline, equal to the header.
    let list = Raw::new("GET", "/bkt?uploads")
        .send(&server.addr)
        .body_text();
    let listed_deadline = |upload_id: &str| {
        let shown_at = list
            .split("<UploadId>")
            .find(|u| u.starts_with(upload_id))
            .and_then(|u| u.split("<KuraAbortDate>").nth(1))
            .and_then(|d| d.split('<').next())?
            .to_string();
        let parsed =
            time::OffsetDateTime::parse(&shown_at, &time::format_description::well_known::Rfc3339)
                .unwrap();
        Some(parsed.unix_timestamp())
    };
    for t in [&long, &two_h] {
        assert_eq!(
            listed_deadline(t.upload_id().unwrap()),
            Some(t.abort_date().unwrap().secs()),
            "{list}"
        );
    }
    // The short ticket may be gone already on a loaded machine; if listed, it agrees.
    if let Some(at) = listed_deadline(&id) {
        assert_eq!(at, deadline);
    }
    // The SDK reads the listing as S3's, ignoring the extension.
    let sdk_list = s3
        .list_multipart_uploads()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert!(sdk_list
        .uploads()
        .iter()
        .any(|u| u.key() == Some("other/f")));

    // After the deadline: NoSuchUpload on every call, and the upload is gone.
    let deadline_reached = std::time::Instant::now() + WAIT;
    loop {
        let sent = now_secs();
        let r = s3
            .upload_part()
            .bucket("bkt")
            .key("up/f")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from_static(b"part"))
            .send()
            .await;
        match r {
            Ok(_) => {
                assert!(
                    sent < deadline,
                    "accepted a part sent at/after the deadline"
                );
                assert!(
                    std::time::Instant::now() < deadline_reached,
                    "never expired"
                );
            }
            Err(e) => {
                assert_eq!(e.code(), Some("NoSuchUpload"));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(now_secs() >= deadline, "refused before the deadline");
    let e = s3
        .list_parts()
        .bucket("bkt")
        .key("up/f")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchUpload"));
    let e = s3
        .complete_multipart_upload()
        .bucket("bkt")
        .key("up/f")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag("\"0\"")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchUpload"));
    let e = s3
        .abort_multipart_upload()
        .bucket("bkt")
        .key("up/f")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchUpload"));
    common::eventually("the expired upload leaves the listing", WAIT, || {
        !Raw::new("GET", "/bkt?uploads")
            .send(&server.addr)
            .body_text()
            .contains(&id)
    })
    .await;
}

/// Pending expiries survive a crash: the queue is in RocksDB.
#[tokio::test]
async fn a_restart_keeps_pending_expiries() {
    let mut server = Server::start_with(&["--lifecycle-day-secs", "5"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    put_rules(
        &s3,
        "bkt",
        vec![rule("all", "")
            .expiration(LifecycleExpiration::builder().days(1).build())
            .build()
            .unwrap()],
    )
    .await;
    put(&s3, "bkt", "k", b"x").await;
    assert!(exists(&s3, "bkt", "k").await, "not due for 5 s");
    server.restart();
    let s3 = server.client().await;
    wait_gone(&s3, "bkt", "k").await;
}
