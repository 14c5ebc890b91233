//! The small bucket calls clients make before real work: location,
//! versioning, HeadBucket's region, ListBuckets paging.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::BucketLocationConstraint;
use common::raw::Raw;
use common::Server;

#[tokio::test]
async fn location_versioning_and_region() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();

    // us-east-1 is an empty LocationConstraint, which clients map back.
    let loc = s3.get_bucket_location().bucket("bkt").send().await.unwrap();
    assert_eq!(
        loc.location_constraint().map(|c| c.as_str()).unwrap_or(""),
        ""
    );
    let r = Raw::new("GET", "/bkt?location").send(&server.addr);
    assert_eq!(r.status, 200);
    assert!(
        r.body_text().contains("<LocationConstraint"),
        "{}",
        r.body_text()
    );

    let v = s3
        .get_bucket_versioning()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    // A new bucket is unversioned, as in S3: no Status (kura's trash is
    // underneath whatever the state).
    assert_eq!(v.status(), None);
    let r = Raw::new("GET", "/bkt?versioning").send(&server.addr);
    assert!(r.body_text().contains("<VersioningConfiguration"));
    assert!(!r.body_text().contains("<Status>"), "{}", r.body_text());

    let h = s3.head_bucket().bucket("bkt").send().await.unwrap();
    assert_eq!(h.bucket_region(), Some("us-east-1"));

    for q in ["location", "versioning"] {
        let r = Raw::new("GET", &format!("/nope?{q}")).send(&server.addr);
        assert_eq!((r.status, r.code().as_str()), (404, "NoSuchBucket"), "{q}");
    }
    let r = Raw::new("HEAD", "/nope").send(&server.addr);
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn another_region_is_reported() {
    let server = Server::start_with(&["--region", "eu-central-1"]);
    let s3 = aws_sdk_s3::Client::from_conf(
        s3_conf(&server)
            .region(aws_sdk_s3::config::Region::new("eu-central-1"))
            .build(),
    );
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let loc = s3.get_bucket_location().bucket("bkt").send().await.unwrap();
    assert_eq!(
        loc.location_constraint(),
        Some(&BucketLocationConstraint::EuCentral1)
    );
    let h = s3.head_bucket().bucket("bkt").send().await.unwrap();
    assert_eq!(h.bucket_region(), Some("eu-central-1"));
}

fn s3_conf(server: &Server) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            common::ACCESS_KEY,
            common::SECRET_KEY,
            None,
            None,
            "test",
        ))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .force_path_style(true)
}

#[tokio::test]
async fn list_buckets_paging() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    let names: Vec<String> = (0..7)
        .map(|i| format!("{}-{i}", if i % 2 == 0 { "even" } else { "odd" }))
        .collect();
    for n in &names {
        s3.create_bucket().bucket(n).send().await.unwrap();
    }
    let mut sorted = names.clone();
    sorted.sort();

    // Unpaged: everything, no token.
    let all = s3.list_buckets().send().await.unwrap();
    let got: Vec<&str> = all.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(got, sorted);
    assert!(all.continuation_token().is_none());

    // Pages of 3, following the token.
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = s3
            .list_buckets()
            .max_buckets(3)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.buckets().len() <= 3);
        seen.extend(
            page.buckets()
                .iter()
                .filter_map(|b| b.name().map(String::from)),
        );
        token = page.continuation_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, sorted);
    assert_eq!(pages, 3);

    // Prefix, echoed back.
    let page = s3.list_buckets().prefix("odd-").send().await.unwrap();
    let got: Vec<&str> = page.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(got, ["odd-1", "odd-3", "odd-5"]);
    assert_eq!(page.prefix(), Some("odd-"));

    // The SDK's paginator works too.
    let mut paginated = Vec::new();
    let mut stream = s3.list_buckets().max_buckets(2).into_paginator().send();
    while let Some(page) = stream.next().await {
        paginated.extend(
            page.unwrap()
                .buckets()
                .iter()
                .filter_map(|b| b.name().map(String::from)),
        );
    }
    assert_eq!(paginated, sorted);

    for bad in [
        "max-buckets=0",
        "max-buckets=10001",
        "continuation-token=%21%21",
    ] {
        let r = Raw::new("GET", &format!("/?{bad}")).send(&server.addr);
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "InvalidArgument"),
            "{bad}"
        );
    }
    let err = s3.list_buckets().max_buckets(0).send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidArgument"));
}
