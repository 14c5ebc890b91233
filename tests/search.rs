//! Indexed search (`GET /{bucket}?search`, issue 12 §4): results equal a
//! brute-force filter of the full listing over 5,000 objects with random
//! user metadata, after deletes, overwrites, restores and a restart; the
//! maintained index equals a rebuilt one (`kura admin reindex`); paging,
//! XML and JSON shapes, `kura search`, and bad input. Tags are covered at
//! the storage level (storage/src/search.rs) until `x-amz-tagging` lands.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use common::raw::Raw;
use common::{admin, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// What the test wrote: key → (user metadata, size).
type Model = BTreeMap<String, (BTreeMap<String, String>, u64)>;

fn random_meta(rng: &mut StdRng) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("dst".into(), format!("{:013}", rng.gen_range(0..40)));
    if rng.gen_bool(0.6) {
        m.insert("n".into(), rng.gen_range(-100..1000).to_string());
    }
    if rng.gen_bool(0.5) {
        let c = ["red", "green", "blue", "reddish"][rng.gen_range(0..4)];
        m.insert("color".into(), c.into());
    }
    if rng.gen_bool(0.3) {
        m.insert("day".into(), format!("2026-11-{:02}", rng.gen_range(1..31)));
    }
    m
}

/// Runs `f` on every item, 128 at a time; the results in any order.
async fn concurrently<T, R, F, Fut>(items: Vec<T>, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(128));
    let mut set = tokio::task::JoinSet::new();
    for item in items {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let fut = f(item);
        set.spawn(async move {
            let r = fut.await;
            drop(permit);
            r
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

/// PUTs every (key, metadata, size) concurrently.
async fn put_all(s3: &Client, items: Vec<(String, BTreeMap<String, String>, u64)>) {
    concurrently(items, |(key, meta, size)| {
        let s3 = s3.clone();
        async move {
            let mut req = s3
                .put_object()
                .bucket("bkt")
                .key(&key)
                .body(ByteStream::from(vec![b'x'; size as usize]));
            for (k, v) in &meta {
                req = req.metadata(k, v);
            }
            req.send().await.unwrap();
        }
    })
    .await;
}

/// The full listing: key → (size, Last-Modified ms).
async fn listing(s3: &Client) -> BTreeMap<String, (u64, i64)> {
    let mut out = BTreeMap::new();
    let mut pages = s3.list_objects_v2().bucket("bkt").into_paginator().send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            let modified = o.last_modified().unwrap().to_millis().unwrap();
            out.insert(
                o.key().unwrap().to_string(),
                (o.size().unwrap() as u64, modified),
            );
        }
    }
    out
}

/// Every result of `query`, following continuation tokens, as JSON.
fn search_all(addr: &str, query: &str, max_keys: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/bkt?search&max-keys={max_keys}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(t) = &token {
            path.push_str(&format!("&continuation-token={t}"));
        }
        let resp = Raw::new("GET", &path)
            .header("accept", "application/json")
            .send(addr);
        assert_eq!(resp.status, 200, "{path}: {}", resp.body_text());
        let page: Value = serde_json::from_str(&resp.body_text()).unwrap();
        let objects = page["objects"].as_array().unwrap();
        assert!(objects.len() <= max_keys);
        out.extend(objects.iter().cloned());
        match page["nextContinuationToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

/// A hand-written filter: (key, user metadata, size, Last-Modified ms) → kept.
type Keep = Box<dyn Fn(&str, &BTreeMap<String, String>, u64, i64) -> bool>;

/// A search and the same filter written out by hand.
struct Case {
    query: String,
    keep: Keep,
}

fn num(m: &BTreeMap<String, String>, k: &str) -> Option<i64> {
    m.get(k).and_then(|v| v.parse().ok())
}

fn cases(since_ms: i64, since: &str) -> Vec<Case> {
    let since = since.to_string();
    let case = |query: String, keep: Keep| Case { query, keep };
    vec![
        case(
            "meta.dst=0000000000020".into(),
            Box::new(|_, m, _, _| m.get("dst").map(String::as_str) == Some("0000000000020")),
        ),
        case(
            "meta.dst=0000000000007&meta.color=red".into(),
            Box::new(|_, m, _, _| {
                m.get("dst").map(String::as_str) == Some("0000000000007")
                    && m.get("color").map(String::as_str) == Some("red")
            }),
        ),
        case(
            "meta.color.prefix=red".into(),
            Box::new(|_, m, _, _| m.get("color").is_some_and(|c| c.starts_with("red"))),
        ),
        case(
            "meta.n.gte=10&meta.n.lte=99".into(),
            Box::new(|_, m, _, _| num(m, "n").is_some_and(|n| (10..=99).contains(&n))),
        ),
        case(
            "meta.n.lte=-50".into(),
            Box::new(|_, m, _, _| num(m, "n").is_some_and(|n| n <= -50)),
        ),
        case(
            "meta.day.gte=2026-11-10&meta.day.lte=2026-11-12T00:00:00Z".into(),
            Box::new(|_, m, _, _| {
                m.get("day").is_some_and(|d| {
                    ("2026-11-10".."2026-11-13").contains(&d.as_str()) && d.as_str() <= "2026-11-12"
                })
            }),
        ),
        case(
            "prefix=k/12".into(),
            Box::new(|k, _, _, _| k.starts_with("k/12")),
        ),
        case(
            "size.gte=100&size.lte=120".into(),
            Box::new(|_, _, s, _| (100..=120).contains(&s)),
        ),
        case(
            "prefix=k/3&meta.dst.gte=0000000000030".into(),
            Box::new(|k, m, _, _| {
                k.starts_with("k/3") && m.get("dst").is_some_and(|d| d.as_str() >= "0000000000030")
            }),
        ),
        case(
            format!("since={}", since.replace(':', "%3A").replace('+', "%2B")),
            Box::new(move |_, _, _, t| t >= since_ms),
        ),
        case("meta.nothing=x".into(), Box::new(|_, _, _, _| false)),
    ]
}

/// Every case's search equals the brute-force filter of the listing joined
/// with the model (and the listing holds exactly the model's keys).
async fn check(s3: &Client, addr: &str, model: &Model, since_ms: i64, since: &str, what: &str) {
    let listed = listing(s3).await;
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        model.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (i, c) in cases(since_ms, since).iter().enumerate() {
        let mut want: Vec<&str> = listed
            .iter()
            .filter(|(k, (size, t))| (c.keep)(k, &model[*k].0, *size, *t))
            .map(|(k, _)| k.as_str())
            .collect();
        want.sort();
        let max = if i % 2 == 0 { 1000 } else { 97 };
        let found = search_all(addr, &c.query, max);
        let mut got: Vec<&str> = found.iter().map(|o| o["key"].as_str().unwrap()).collect();
        got.sort();
        assert_eq!(got, want, "{what}: {}", c.query);
        for o in &found {
            let (meta, size) = &model[o["key"].as_str().unwrap()];
            assert_eq!(o["size"].as_u64(), Some(*size));
            let shown: BTreeMap<String, String> = o["userMetadata"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            assert_eq!(&shown, meta, "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_equals_brute_force_over_5000_objects() {
    let mut server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    common::enable_versioning(&s3, "bkt").await;
    let mut rng = StdRng::seed_from_u64(12);
    let mut model = Model::new();
    let mut items = Vec::new();
    for i in 0..5000 {
        let (key, meta, size) = (
            format!("k/{i}"),
            random_meta(&mut rng),
            rng.gen_range(0..200),
        );
        model.insert(key.clone(), (meta.clone(), size));
        items.push((key, meta, size));
    }
    put_all(&s3, items).await;
    // Everything after this instant is an overwrite.
    let first = listing(&s3).await;
    let since_ms = first.values().map(|(_, t)| *t).max().unwrap() + 1;
    let since = time::OffsetDateTime::from_unix_timestamp_nanos(since_ms as i128 * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let addr = server.addr.clone();
    check(&s3, &addr, &model, since_ms, &since, "after puts").await;

    // Overwrites with new metadata, deletes (markers), then restores: the
    // markers of every other deleted key removed by version id.
    let mut items = Vec::new();
    for i in (0..5000).step_by(9) {
        let (key, meta, size) = (
            format!("k/{i}"),
            random_meta(&mut rng),
            rng.gen_range(0..200),
        );
        model.insert(key.clone(), (meta.clone(), size));
        items.push((key, meta, size));
    }
    put_all(&s3, items).await;
    let deleted: Vec<String> = (0..5000).step_by(11).map(|i| format!("k/{i}")).collect();
    let mut markers: Vec<(String, String)> = concurrently(deleted.clone(), |key| {
        let s3 = s3.clone();
        async move {
            let out = s3
                .delete_object()
                .bucket("bkt")
                .key(&key)
                .send()
                .await
                .unwrap();
            (key, out.version_id().unwrap().to_string())
        }
    })
    .await;
    markers.sort();
    let mut removed = model.clone();
    for k in &deleted {
        removed.remove(k);
    }
    check(&s3, &addr, &removed, since_ms, &since, "after deletes").await;
    let restored: Vec<(String, String)> = markers.into_iter().step_by(2).collect();
    concurrently(restored.clone(), |(key, version)| {
        let s3 = s3.clone();
        async move {
            s3.delete_object()
                .bucket("bkt")
                .key(key)
                .version_id(version)
                .send()
                .await
                .unwrap();
        }
    })
    .await;
    for k in &deleted {
        if !restored.iter().any(|(r, _)| r == k) {
            model.remove(k);
        }
    }
    check(&s3, &addr, &model, since_ms, &since, "after restores").await;

    server.restart();
    let s3 = server.client().await;
    let addr = server.addr.clone();
    check(&s3, &addr, &model, since_ms, &since, "after a restart").await;

    // The index maintained through all of that equals a rebuilt one.
    let report = admin::json(&server, &["reindex", "bkt"]);
    assert_eq!(
        report["objects"].as_u64(),
        Some(model.len() as u64),
        "{report}"
    );
    assert_eq!(
        (report["added"].as_u64(), report["removed"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
}

#[tokio::test]
async fn search_answers_xml_pages_and_refuses_bad_input() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    for (key, dst) in [
        ("a/1", "0000000000020"),
        ("a/2", "0000000000020"),
        ("a/3", "0000000000021"),
        ("b/1", "0000000000020"),
    ] {
        s3.put_object()
            .bucket("bkt")
            .key(key)
            .metadata("dst", dst)
            .metadata("Sender", "acme & co")
            .body(ByteStream::from_static(b"hello"))
            .send()
            .await
            .unwrap();
    }
    // XML, paged one by one.
    let mut keys = Vec::new();
    let mut token = String::new();
    loop {
        let resp = Raw::new(
            "GET",
            &format!("/bkt?search&meta.dst=0000000000020&max-keys=1{token}"),
        )
        .send(&server.addr);
        assert_eq!(resp.status, 200);
        let body = resp.body_text();
        assert!(body.contains("<ListBucketResult"), "{body}");
        assert!(
            body.contains(
                "<UserMetadata><Entry><Key>dst</Key><Value>0000000000020</Value></Entry>"
            ),
            "{body}"
        );
        assert!(body.contains("<Value>acme &amp; co</Value>"), "{body}");
        assert!(
            body.contains("<Size>5</Size>") && body.contains("<ETag>&quot;"),
            "{body}"
        );
        let key = body
            .split("<Key>")
            .nth(1)
            .unwrap()
            .split("</Key>")
            .next()
            .unwrap()
            .to_string();
        keys.push(key);
        match body.split("<NextContinuationToken>").nth(1) {
            Some(rest) => {
                token = format!("&continuation-token={}", rest.split('<').next().unwrap())
            }
            None => break,
        }
    }
    keys.sort();
    assert_eq!(keys, ["a/1", "a/2", "b/1"]);
    // Metadata names are case-insensitive, as HTTP headers are.
    let found = search_all(&server.addr, "meta.SENDER.prefix=acme&prefix=a%2F", 10);
    assert_eq!(found.len(), 3);

    for (query, says) in [
        ("size.gte=big", "size in bytes"),
        ("since=yesterday", "RFC 3339"),
        ("colour=red", "unknown search parameter"),
        ("max-keys=-1", "max-keys"),
        ("meta.=x", "names no metadata"),
        ("continuation-token=%21%21", "continuation token"),
        // A token from another query's plan does not resume this one.
        ("meta.dst=x&continuation-token=AA", "continuation token"),
    ] {
        let resp = Raw::new("GET", &format!("/bkt?search&{query}")).send(&server.addr);
        assert_eq!(resp.status, 400, "{query}");
        assert_eq!(resp.code(), "InvalidArgument", "{query}");
        assert!(
            resp.body_text().contains(says),
            "{query}: {}",
            resp.body_text()
        );
    }
    let resp = Raw::new("GET", "/nobucket?search").send(&server.addr);
    assert_eq!(resp.code(), "NoSuchBucket");
    // Searching needs read on the bucket: write alone, or read elsewhere, is refused.
    let reader = admin::create_key(&server, "reader", &["bkt:r"], &[]);
    let writer = admin::create_key(&server, "writer", &["bkt:w", "other:r"], &[]);
    let as_key = |k: &admin::Key| {
        Raw::new("GET", "/bkt?search&meta.dst=0000000000020")
            .credentials(&k.id, &k.secret)
            .send(&server.addr)
    };
    assert_eq!(as_key(&reader).status, 200);
    let refused = as_key(&writer);
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "AccessDenied")
    );

    // The command line: conditions, --since, --json; all pages.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
        .args([
            "search",
            "--endpoint",
            &server.endpoint,
            "bkt",
            "meta.dst=0000000000020",
            "--since",
            "2020-01-01",
            "--json",
        ])
        .env("KURA_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines
        .iter()
        .all(|o| o["userMetadata"]["dst"] == "0000000000020"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
        .args([
            "search",
            "--endpoint",
            &server.endpoint,
            "bkt",
            "meta.dst=0000000000020",
            "--since",
            "2999-01-01",
        ])
        .env("KURA_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let text = admin::run(&server, &["reindex", "bkt"]);
    assert!(
        text.contains("4 objects") && text.contains("0 missing added, 0 stray removed"),
        "{text}"
    );
}
