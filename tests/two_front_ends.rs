//! Two kura front ends on one etcd (issue 15 §3): their metadata in one
//! etcd root, their chunks in one S3 endpoint (a third kura). Conflicting
//! operations go through both at once; afterwards every front end answers
//! the same, consistent state: listings agree with HEADs and GETs, no
//! version is both current and noncurrent, a key's newest version is its
//! current one, no part lands in a completed upload, no object in a deleted
//! bucket, and a key revoked on one front end is refused by the other.
//!
//! The per-key write lock is still per process here (its leased form is
//! another change), so these races reach the storage layer: what keeps
//! them consistent is each read-modify-write commit's guards
//! (`storage/src/guards.rs`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging};
use aws_sdk_s3::Client;
use common::etcd::Etcd;
use common::{admin, enable_versioning, pattern, Server, ACCESS_KEY, SECRET_KEY};

/// etcd, the chunk backend, and front ends A and B sharing both.
struct Pair {
    etcd: Etcd,
    root: String,
    _backend: Server,
    a: Server,
    b: Server,
}

async fn pair(root: &str) -> Option<Pair> {
    let etcd = Etcd::start()?;
    let backend = Server::start();
    backend
        .client()
        .await
        .create_bucket()
        .bucket("chunks")
        .send()
        .await
        .unwrap();
    let meta = etcd.meta(root);
    let blobs = format!("s3://chunks/{root}@{}", backend.endpoint);
    let args = ["--meta", &meta, "--blobs", &blobs, "--chunk-size", "1MiB"];
    let env = [
        ("KURA_BLOBS_ACCESS_KEY_ID", ACCESS_KEY),
        ("KURA_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let a = Server::start_with_env(&args, &env);
    let b = Server::start_beside(&a, &args, &env);
    Some(Pair {
        etcd,
        root: root.to_string(),
        _backend: backend,
        a,
        b,
    })
}

impl Pair {
    /// The etcd keys of column family `cf` (for messages: binary keys may
    /// hold line breaks).
    fn rows(&self, cf: &str) -> Vec<String> {
        self.etcd.keys(&format!("{}/{cf}/", self.root))
    }

    /// How many keys column family `cf` holds.
    fn count(&self, cf: &str) -> u64 {
        let out = std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &format!("http://{}", self.etcd.endpoint)])
            .args(["get", "--prefix", "--keys-only", "-w", "json"])
            .arg(format!("{}/{cf}/", self.root))
            .output()
            .expect("etcdctl");
        assert!(out.status.success(), "etcdctl get failed");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcdctl JSON");
        v["count"].as_u64().unwrap_or(0)
    }
}

/// The status code of a failed SDK call (0 if it never got an answer).
fn status<E>(e: &SdkError<E, HttpResponse>) -> u16 {
    e.raw_response().map_or(0, |r| r.status().as_u16())
}

/// One version as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    id: String,
    latest: bool,
    marker: bool,
}

async fn versions(c: &Client, bucket: &str, key: &str) -> Vec<Listed> {
    let out = c
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let mut all: Vec<Listed> = out
        .versions()
        .iter()
        .map(|v| Listed {
            id: v.version_id().unwrap().to_string(),
            latest: v.is_latest().unwrap_or(false),
            marker: false,
        })
        .chain(out.delete_markers().iter().map(|m| Listed {
            id: m.version_id().unwrap().to_string(),
            latest: m.is_latest().unwrap_or(false),
            marker: true,
        }))
        .collect();
    // Version ids are sequence numbers in hex: newest first.
    all.sort_by(|x, y| y.id.cmp(&x.id));
    all
}

/// Many conflicting changes of one key through both front ends at once:
/// PUTs, deletes (markers), deletes by version id (restoring what a deleted
/// marker hid), and tagging of current and noncurrent versions.
#[tokio::test]
async fn racing_version_changes_of_one_key_leave_one_consistent_history() {
    let Some(p) = pair("versions").await else {
        return;
    };
    let (ca, cb) = (p.a.client_no_retry().await, p.b.client_no_retry().await);
    ca.create_bucket().bucket("ver").send().await.unwrap();
    enable_versioning(&ca, "ver").await;
    // Version id -> body, as each PUT answered.
    let written = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, Vec<u8>>::new()));
    let mut tasks = Vec::new();
    for (side, c) in [(0u64, ca.clone()), (1, cb.clone())] {
        for worker in 0..3u64 {
            let c = c.clone();
            let written = written.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..25u64 {
                    let n = side * 1000 + worker * 100 + i;
                    match (n + i) % 5 {
                        0 | 1 => {
                            let body = format!("body {n}").into_bytes();
                            if let Ok(out) = c
                                .put_object()
                                .bucket("ver")
                                .key("k")
                                .body(ByteStream::from(body.clone()))
                                .send()
                                .await
                            {
                                let id = out.version_id().unwrap().to_string();
                                written.lock().unwrap().insert(id, body);
                            }
                        }
                        2 => {
                            let _ = c.delete_object().bucket("ver").key("k").send().await;
                        }
                        3 => {
                            // Delete the newest version by id: a marker's
                            // removal restores the version under it.
                            let listed = versions(&c, "ver", "k").await;
                            if let Some(v) = listed.get((n % 2) as usize) {
                                let _ = c
                                    .delete_object()
                                    .bucket("ver")
                                    .key("k")
                                    .version_id(&v.id)
                                    .send()
                                    .await;
                            }
                        }
                        _ => {
                            let listed = versions(&c, "ver", "k").await;
                            if let Some(v) = listed.iter().find(|v| !v.marker) {
                                let tagging = Tagging::builder()
                                    .tag_set(
                                        Tag::builder()
                                            .key("n")
                                            .value(n.to_string())
                                            .build()
                                            .unwrap(),
                                    )
                                    .build()
                                    .unwrap();
                                let _ = c
                                    .put_object_tagging()
                                    .bucket("ver")
                                    .key("k")
                                    .version_id(&v.id)
                                    .tagging(tagging)
                                    .send()
                                    .await;
                            }
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let written = written.lock().unwrap().clone();
    let listed_a = versions(&ca, "ver", "k").await;
    let listed_b = versions(&cb, "ver", "k").await;
    assert_eq!(listed_a, listed_b, "both front ends list the same history");
    assert!(!listed_a.is_empty());
    // Unique ids; exactly one latest, and it is the newest version.
    let mut ids: Vec<&str> = listed_a.iter().map(|v| v.id.as_str()).collect();
    ids.dedup();
    assert_eq!(
        ids.len(),
        listed_a.len(),
        "a version listed twice: {listed_a:?}"
    );
    let latest: Vec<&Listed> = listed_a.iter().filter(|v| v.latest).collect();
    assert_eq!(latest.len(), 1, "one latest version: {listed_a:?}");
    assert_eq!(
        latest[0], &listed_a[0],
        "the latest version is the newest one: {listed_a:?}"
    );
    // HEAD and GET of the key agree with the listing, on both front ends.
    for c in [&ca, &cb] {
        let head = c.head_object().bucket("ver").key("k").send().await;
        if latest[0].marker {
            assert_eq!(status(&head.unwrap_err()), 404);
        } else {
            let head = head.unwrap();
            assert_eq!(head.version_id(), Some(latest[0].id.as_str()));
            let body = common::get_version(c, "ver", "k", None).await;
            assert_eq!(Some(&body), written.get(&latest[0].id));
        }
        // Every listed version reads back with the bytes it was written with.
        for v in listed_a.iter().filter(|v| !v.marker) {
            let body = common::get_version(c, "ver", "k", Some(&v.id)).await;
            assert_eq!(Some(&body), written.get(&v.id), "version {}", v.id);
        }
    }
}

/// UploadPart through A racing CompleteMultipartUpload through B: the
/// completed object is exactly the chosen part, the upload is gone, and no
/// part row or chunk is left behind by a part that came too late.
#[tokio::test]
async fn parts_racing_a_completion_on_another_front_end_never_land_in_it() {
    let Some(p) = pair("multipart").await else {
        return;
    };
    let (ca, cb) = (p.a.client_no_retry().await, p.b.client_no_retry().await);
    ca.create_bucket().bucket("mpu").send().await.unwrap();
    let first = pattern(64 << 10, 1);
    for round in 0..4 {
        let key = format!("obj{round}");
        let id = ca
            .create_multipart_upload()
            .bucket("mpu")
            .key(&key)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        let etag = ca
            .upload_part()
            .bucket("mpu")
            .key(&key)
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(first.clone()))
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .to_string();
        let mut parts = Vec::new();
        for n in 2..14 {
            let (ca, key, id) = (ca.clone(), key.clone(), id.clone());
            parts.push(tokio::spawn(async move {
                ca.upload_part()
                    .bucket("mpu")
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(ByteStream::from(pattern(16 << 10, n as u64)))
                    .send()
                    .await
                    .is_ok()
            }));
        }
        let done = cb
            .complete_multipart_upload()
            .bucket("mpu")
            .key(&key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                    .build(),
            )
            .send()
            .await;
        for t in parts {
            t.await.unwrap();
        }
        done.unwrap();
        for c in [&ca, &cb] {
            assert_eq!(common::get_version(c, "mpu", &key, None).await, first);
            let listed = c
                .list_parts()
                .bucket("mpu")
                .key(&key)
                .upload_id(&id)
                .send()
                .await;
            assert_eq!(status(&listed.unwrap_err()), 404, "the upload is gone");
        }
    }
    assert_eq!(
        p.count("parts"),
        0,
        "no part outlives its upload: {:?}",
        p.rows("parts")
    );
    assert_eq!(p.count("uploads"), 0, "{:?}", p.rows("uploads"));
    let claims: Vec<String> = p
        .rows("meta")
        .into_iter()
        .filter(|k| k.contains("/closing/"))
        .collect();
    assert!(claims.is_empty(), "claims left behind: {claims:?}");
    // One chunk per completed object (64 KiB < 1 MiB) and nothing else:
    // late parts' chunks were removed, not committed.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let owners = p.count("chunks");
        if owners == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chunk rows: {owners}, expected 4; meta: {:?}; chunks: {:?}",
            p.rows("meta"),
            p.rows("chunks")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A bucket deleted through A while B keeps writing into it: once the
/// deletion succeeds, nothing of the bucket is left, whatever B committed.
#[tokio::test]
async fn a_bucket_deleted_on_one_front_end_takes_no_object_from_the_other() {
    let Some(p) = pair("buckets").await else {
        return;
    };
    let (ca, cb) = (p.a.client_no_retry().await, p.b.client_no_retry().await);
    for round in 0..3 {
        let bucket = format!("gone{round}");
        ca.create_bucket().bucket(&bucket).send().await.unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..3 {
            let (cb, bucket, stop) = (cb.clone(), bucket.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("w{w}-{i}");
                    i += 1;
                    let put = cb
                        .put_object()
                        .bucket(&bucket)
                        .key(&key)
                        .body(ByteStream::from_static(b"x"))
                        .send()
                        .await;
                    if put.is_err() {
                        continue;
                    }
                    let _ = cb.delete_object().bucket(&bucket).key(&key).send().await;
                }
            }));
        }
        // DeleteBucket succeeds whenever no current object exists.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match ca.delete_bucket().bucket(&bucket).send().await {
                Ok(_) => break,
                Err(e) => {
                    assert!(matches!(status(&e), 409), "deleting the bucket: {e:?}");
                    assert!(Instant::now() < deadline, "the bucket was never empty");
                }
            }
        }
        // Writers keep trying a while after the deletion.
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        for c in [&ca, &cb] {
            let head = c.head_bucket().bucket(&bucket).send().await;
            assert_eq!(status(&head.unwrap_err()), 404);
        }
        assert_eq!(
            p.count("objects"),
            0,
            "an object in a deleted bucket: {:?}",
            p.rows("objects")
        );
        assert_eq!(
            p.count("versions"),
            0,
            "a version in a deleted bucket: {:?}",
            p.rows("versions")
        );
        let claims: Vec<String> = p
            .rows("meta")
            .into_iter()
            .filter(|k| k.contains("/deleting/"))
            .collect();
        assert!(claims.is_empty(), "claims left behind: {claims:?}");
    }
}

/// An access key created on A works on B; disabled on A, B refuses it
/// within the documented refresh bound (1 s); deleted, likewise.
#[tokio::test]
async fn an_access_key_revoked_on_one_front_end_is_refused_by_the_other() {
    let Some(p) = pair("keys").await else { return };
    p.a.client()
        .await
        .create_bucket()
        .bucket("kbk")
        .send()
        .await
        .unwrap();
    let key = admin::create_key(&p.a, "partner", &["kbk:rw"], &[]);
    let kb = p.b.client_for(&key).await;
    until(&kb, 200, "created on A, used on B").await;
    admin::run(&p.a, &["key", "disable", &key.id]);
    let took = until(&kb, 403, "disabled on A").await;
    assert!(took < Duration::from_secs(3), "refused after {took:?}");
    admin::run(&p.b, &["key", "enable", &key.id]);
    until(&kb, 200, "enabled again on B").await;
    admin::run(&p.a, &["key", "delete", &key.id]);
    let took = until(&kb, 403, "deleted on A").await;
    assert!(took < Duration::from_secs(3), "refused after {took:?}");
}

/// Waits (at most 5 s) until a listing with `c` answers `want`; how long it took.
async fn until(c: &Client, want: u16, what: &str) -> Duration {
    let start = Instant::now();
    loop {
        let got = match c.list_objects_v2().bucket("kbk").send().await {
            Ok(_) => 200,
            Err(e) => status(&e),
        };
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what}: still {got}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A webhook receiver on loopback answering 200 to everything after 300 ms;
/// what it got: each request's `x-kura-seq`.
fn seq_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<u64>>>) {
    use std::io::{BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let Some(delivery) = common::webhook::read_delivery(&mut reader) else {
                continue;
            };
            g.lock().unwrap().push(delivery.seq);
            // A slow receiver: a delivery step takes a while, so two
            // deliverers would overlap.
            std::thread::sleep(Duration::from_millis(300));
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (format!("http://{addr}/hook"), got)
}

/// A webhook is delivered by one front end, the purger, whichever front end
/// registered it and however many know of it: each entry once, in order.
/// (Before, every front end that started after the registration delivered
/// it as well: every entry twice, interleaved, and one cursor moved back
/// and forth by two deliverers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_delivered_once_by_one_front_end() {
    let Some(mut p) = pair("hooks").await else {
        return;
    };
    let a = p.a.client().await;
    a.create_bucket().bucket("hook").send().await.unwrap();
    let (url, got) = seq_receiver();
    admin::json(&p.a, &["bucket", "notify", "hook", "--url", &url]);
    // B starts after the registration: it reads the webhook at start.
    p.b.restart();
    let b = p.b.client().await;
    for i in 0..6 {
        let c = if i % 2 == 0 { &a } else { &b };
        c.put_object()
            .bucket("hook")
            .key(format!("k{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    // Every put delivered, and the cursor stored past the last one.
    let start = Instant::now();
    loop {
        let shown = admin::json(&p.a, &["bucket", "show", "hook"]);
        let cursor: u64 = shown["webhooks"][0]["cursor"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let delivered = got.lock().unwrap().clone();
        if delivered.len() >= 6 && delivered.iter().all(|s| *s <= cursor) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not delivered: {delivered:?}, cursor {cursor}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A second deliverer, if any, has had its time: B's start-up task would
    // have posted by now (it shares the cursor, read at its first step).
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle {
        let now = got.lock().unwrap().clone();
        assert_eq!(now.len(), 6, "each entry once: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = got.lock().unwrap().clone();
    assert!(
        delivered.windows(2).all(|w| w[0] < w[1]),
        "each entry once, in order: {delivered:?}"
    );
}
