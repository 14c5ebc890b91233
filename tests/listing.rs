//! ListObjectsV2 over a bucket of 2,500+ keys: prefix, delimiter, paging.

use crate::common;

use std::collections::BTreeSet;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use common::raw::Raw;
use common::Server;

async fn fill(s3: &Client, keys: &[String]) {
    let mut set = tokio::task::JoinSet::new();
    for chunk in keys.chunks(keys.len().div_ceil(32)) {
        let s3 = s3.clone();
        let chunk = chunk.to_vec();
        set.spawn(async move {
            for k in chunk {
                s3.put_object()
                    .bucket("bkt")
                    .key(&k)
                    .body(ByteStream::from(k.clone().into_bytes()))
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

fn all_keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..5)
        .flat_map(|d| (0..500).map(move |f| format!("dir{d}/file{f:04}")))
        .collect();
    keys.extend([
        "root-a".to_string(),
        "root-b".to_string(),
        "dir2/sub/deep".to_string(),
    ]);
    keys
}

#[tokio::test]
async fn paging_prefix_delimiter() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.create_bucket().bucket("b-other").send().await.unwrap();
    s3.put_object()
        .bucket("b-other")
        .key("dir0/file0000x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let keys = all_keys();
    fill(&s3, &keys).await;
    let expected: BTreeSet<String> = keys.iter().cloned().collect();

    // Everything, in pages of 1,000 via the SDK's paginator.
    let mut got = Vec::new();
    let mut pages = 0;
    let mut p = s3.list_objects_v2().bucket("bkt").into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.unwrap();
        pages += 1;
        assert!(page.key_count().unwrap() <= 1000);
        got.extend(page.contents().iter().map(|o| o.key().unwrap().to_string()));
    }
    assert_eq!(pages, 3);
    assert_eq!(
        got,
        expected.iter().cloned().collect::<Vec<_>>(),
        "all keys, in order, once"
    );

    // Prefix.
    let r = s3
        .list_objects_v2()
        .bucket("bkt")
        .prefix("dir1/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.key_count(), Some(500));
    assert!(r
        .contents()
        .iter()
        .all(|o| o.key().unwrap().starts_with("dir1/")));
    assert_eq!(r.contents()[0].size(), Some("dir1/file0000".len() as i64));
    assert_eq!(r.is_truncated(), Some(false));

    // Delimiter: five directories and two top-level keys.
    let r = s3
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = r
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().unwrap().to_string())
        .collect();
    assert_eq!(prefixes, ["dir0/", "dir1/", "dir2/", "dir3/", "dir4/"]);
    let top: Vec<_> = r
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect();
    assert_eq!(top, ["root-a", "root-b"]);

    // Prefix + delimiter one level down.
    let r = s3
        .list_objects_v2()
        .bucket("bkt")
        .prefix("dir2/")
        .delimiter("/")
        .max_keys(1000)
        .send()
        .await
        .unwrap();
    assert_eq!(r.common_prefixes().len(), 1);
    assert_eq!(r.common_prefixes()[0].prefix(), Some("dir2/sub/"));
    assert_eq!(r.contents().len(), 500);

    // Small pages with a delimiter: every entry exactly once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let r = s3
            .list_objects_v2()
            .bucket("bkt")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            r.common_prefixes()
                .iter()
                .map(|p| p.prefix().unwrap().to_string()),
        );
        seen.extend(r.contents().iter().map(|o| o.key().unwrap().to_string()));
        if r.is_truncated() != Some(true) {
            break;
        }
        token = r.next_continuation_token().map(str::to_string);
        assert!(token.is_some());
    }
    assert_eq!(
        seen,
        ["dir0/", "dir1/", "dir2/", "dir3/", "dir4/", "root-a", "root-b"]
    );

    // start-after.
    let r = s3
        .list_objects_v2()
        .bucket("bkt")
        .start_after("dir4/file0497")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = r
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["dir4/file0498", "dir4/file0499", "root-a", "root-b"]);

    // max-keys=0, and a bad continuation token.
    let r = s3
        .list_objects_v2()
        .bucket("bkt")
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert_eq!(r.key_count(), Some(0));
    let bad = Raw::new("GET", "/bkt?list-type=2&continuation-token=%21%21").send(&server.addr);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "InvalidArgument");
}

#[tokio::test]
async fn url_encoding_of_listed_keys() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    for k in ["a b", "c+d", "日本", "x%y", "line\nbreak"] {
        s3.put_object()
            .bucket("bkt")
            .key(k)
            .body(ByteStream::from_static(b"1"))
            .send()
            .await
            .unwrap();
    }
    // Asked for explicitly, encoding-type=url is left to the caller to decode
    // (botocore decodes only when it chose the encoding itself).
    let r = s3
        .list_objects_v2()
        .bucket("bkt")
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<_> = r
        .contents()
        .iter()
        .map(|o| {
            percent_encoding::percent_decode_str(o.key().unwrap())
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
        .collect();
    keys.sort();
    let mut want = vec!["a b", "c+d", "日本", "x%y", "line\nbreak"];
    want.sort();
    assert_eq!(keys, want);
    assert!(
        r.contents().iter().any(|o| o.key() == Some("c%2Bd")),
        "+ is encoded, never left raw"
    );
    // Without encoding-type the newline travels as an XML character reference.
    let raw = Raw::new("GET", "/bkt?list-type=2&prefix=line").send(&server.addr);
    assert!(
        raw.body_text().contains("<Key>line&#xA;break</Key>"),
        "{}",
        raw.body_text()
    );
    let r = s3
        .list_objects_v2()
        .bucket("bkt")
        .prefix("line")
        .send()
        .await
        .unwrap();
    assert_eq!(r.contents()[0].key(), Some("line\nbreak"));
}

#[tokio::test]
async fn listing_missing_bucket() {
    let server = Server::start();
    let r = Raw::new("GET", "/nope?list-type=2").send(&server.addr);
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "NoSuchBucket");
}
