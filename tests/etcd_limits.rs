//! kura on etcd within etcd's limits (issue 15): a `Txn` holds at most 128
//! operations, so changes that grow with the data commit in steps whose
//! last one is the commit point (`storage/src/split_commit.rs`), and
//! batches of many versions go in pages, and a long change log is trimmed
//! as one range. Each test starts its own etcd; a
//! 16 KiB chunk size makes a 5 MiB object 320 chunk files.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};
use futures_util::StreamExt;

use crate::common;
use common::etcd::Etcd;
use common::multipart::{create_upload, upload_parts_and_complete};
use common::{enable_versioning, eventually, get_version, pattern, Server};

const CHUNK: &str = "16KiB";
const BIG: usize = 5 << 20;
/// Chunk files of a [`BIG`] object.
const BIG_CHUNKS: usize = BIG / (16 << 10);

/// How many keys etcd holds under `prefix` (kura's keys are binary: counted,
/// not listed).
fn count(etcd: &Etcd, prefix: &str) -> usize {
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &format!("http://{}", etcd.endpoint)])
        .args(["get", "--prefix", "--keys-only", "-w", "json", prefix])
        .output()
        .expect("etcdctl");
    assert!(out.status.success(), "etcdctl get failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcdctl json");
    v["count"].as_u64().unwrap_or(0) as usize
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) -> String {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap_or_default()
}

/// A PUT, a multipart Complete, a copy and a metadata-only update of objects
/// of 320+ chunks, then their deletion and purge: all on etcd, all read back
/// whole, and nothing left behind (no owner row, no undo page, no file).
#[tokio::test]
async fn objects_of_hundreds_of_chunks_commit_on_etcd() {
    let Some(etcd) = Etcd::start() else { return };
    let s = Server::start_with(&[
        "--meta",
        &etcd.meta("lim"),
        "--chunk-size",
        CHUNK,
        "--retention",
        "1s",
    ]);
    let c = s.client().await;
    c.create_bucket().bucket("big").send().await.unwrap();
    enable_versioning(&c, "big").await;

    // PUT: 320 owner rows, over etcd's 128 operations per Txn.
    let body = pattern(BIG, 1);
    let v1 = put(&c, "big", "obj", body.clone()).await;
    assert_eq!(get_version(&c, "big", "obj", None).await, body);
    assert_eq!(s.chunk_files(), BIG_CHUNKS);
    assert_eq!(count(&etcd, "lim/chunks/"), BIG_CHUNKS);

    // Multipart: two parts of 320 chunks each (every UploadPart is itself
    // a large commit) and a short last one: one object of 647 chunks.
    let parts = [pattern(BIG, 2), pattern(BIG, 3), pattern(100 << 10, 4)];
    let id = create_upload(&c, "big", "mp").await;
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    upload_parts_and_complete(&c, "big", "mp", &id, &refs).await;
    assert_eq!(get_version(&c, "big", "mp", None).await, parts.concat());

    // A copy (new files) and a metadata-only update (shared files).
    c.copy_object()
        .bucket("big")
        .key("copy")
        .copy_source("big/obj")
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&c, "big", "copy", None).await, body);
    let replaced = c
        .copy_object()
        .bucket("big")
        .key("obj")
        .copy_source("big/obj")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("state", "sorted")
        .send()
        .await
        .unwrap();
    let v2 = replaced.version_id.unwrap();
    assert_ne!(v1, v2);
    let head = c
        .head_object()
        .bucket("big")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(head.metadata().unwrap()["state"], "sorted");
    assert_eq!(get_version(&c, "big", "obj", None).await, body);
    let files = BIG_CHUNKS * 2 + 647;
    assert_eq!(s.chunk_files(), files);

    // With a 1 s retention, v1 is purged: the shared files stay for v2.
    let lv = || async {
        c.list_object_versions()
            .bucket("big")
            .prefix("obj")
            .send()
            .await
            .unwrap()
            .versions()
            .len()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lv().await > 1 {
        assert!(std::time::Instant::now() < deadline, "v1 was not purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.chunk_files(), files);
    assert_eq!(get_version(&c, "big", "obj", None).await, body);

    // Delete everything: every version purged, every file and row gone.
    for key in ["obj", "mp", "copy"] {
        c.delete_object()
            .bucket("big")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    eventually("every file purged", Duration::from_secs(30), || {
        s.chunk_files() == 0
    })
    .await;
    eventually("every owner row purged", Duration::from_secs(10), || {
        count(&etcd, "lim/chunks/") == 0
    })
    .await;
    assert!(count(&etcd, "lim/meta/split/") == 0, "no undo page left");
    assert!(count(&etcd, "lim/parts/") == 0);
}

/// DeleteObjects of 1,000 keys, then DeleteBucket of a bucket holding 2,000
/// noncurrent versions and delete markers: both far over one Txn.
#[tokio::test]
async fn thousands_of_versions_delete_on_etcd() {
    let Some(etcd) = Etcd::start() else { return };
    let s = Server::start_with(&["--meta", &etcd.meta("many")]);
    let c = s.client().await;
    c.create_bucket().bucket("many").send().await.unwrap();
    enable_versioning(&c, "many").await;
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i:04}")).collect();
    futures_util::stream::iter(keys.iter())
        .for_each_concurrent(8, |k| {
            let c = c.clone();
            async move {
                put(&c, "many", k, k.as_bytes().to_vec()).await;
            }
        })
        .await;
    let objects: Vec<ObjectIdentifier> = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
        .collect();
    let out = c
        .delete_objects()
        .bucket("many")
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 1000);
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let listed = c.list_objects_v2().bucket("many").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    assert_eq!(count(&etcd, "many/versions/"), 2000);

    c.delete_bucket().bucket("many").send().await.unwrap();
    assert!(c.head_bucket().bucket("many").send().await.is_err());
    // Every version and marker left `versions` for the purge queue.
    assert_eq!(count(&etcd, "many/versions/"), 0);
    // A bucket created again under the name starts empty.
    c.create_bucket().bucket("many").send().await.unwrap();
    let v = c
        .list_object_versions()
        .bucket("many")
        .send()
        .await
        .unwrap();
    assert!(v.versions().is_empty() && v.delete_markers().is_empty());
}

/// A crash between the early steps of a large commit and its commit point
/// (a test-only abort after the second page of owner rows): the object
/// never appears, and the restart undoes the owner rows, after which the
/// orphan sweep removes the files.
#[tokio::test]
async fn a_crash_between_the_steps_of_a_commit_leaves_nothing() {
    if common::engines::skip(
        "counts the chunks the start-up sweep removes; a shared chunk backend keeps unreferenced chunks younger than an hour",
    ) {
        return;
    }
    let Some(etcd) = Etcd::start() else { return };
    let mut s = Server::start_with_env(
        &["--meta", &etcd.meta("cut"), "--chunk-size", CHUNK],
        &[
            ("KURA_TEST_SPLIT_CRASH_AFTER", "2"),
            ("KURA_TEST_SPLIT_SWEEP_GRACE_MS", "0"),
        ],
    );
    let c = s.client_no_retry().await;
    c.create_bucket().bucket("cut").send().await.unwrap();
    put(&c, "cut", "small", b"kept".to_vec()).await;
    let cut = c
        .put_object()
        .bucket("cut")
        .key("obj")
        .body(ByteStream::from(pattern(BIG, 5)))
        .send()
        .await;
    assert!(cut.is_err(), "the server died mid-commit");
    // Two pages of owner rows and their undo pages are in etcd, the head
    // says the change is not committed, and no object row names them.
    assert_eq!(count(&etcd, "cut/chunks/"), 180);
    assert_eq!(count(&etcd, "cut/meta/split/"), 3);
    assert_eq!(s.chunk_files(), BIG_CHUNKS);

    s.restart();
    let c = s.client_no_retry().await;
    assert!(count(&etcd, "cut/chunks/") == 0, "owner rows undone");
    assert!(count(&etcd, "cut/meta/split/") == 0, "undo pages gone");
    assert_eq!(s.chunk_files(), 0, "files swept");
    let gone = c.get_object().bucket("cut").key("obj").send().await;
    assert!(gone.is_err(), "the cut-off object never appears");
    assert_eq!(get_version(&c, "cut", "small", None).await, b"kept");
}

/// etcd's current revision.
fn revision(etcd: &Etcd) -> i64 {
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &format!("http://{}", etcd.endpoint)])
        .args(["endpoint", "status", "-w", "json"])
        .output()
        .expect("etcdctl");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcdctl json");
    v[0]["Status"]["header"]["revision"]
        .as_i64()
        .expect("a revision")
}

/// Whether etcd still answers a read of `key` at revision `rev`.
fn readable_at(etcd: &Etcd, key: &str, rev: i64) -> bool {
    std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &format!("http://{}", etcd.endpoint)])
        .args(["get", &format!("--rev={rev}"), key])
        .output()
        .expect("etcdctl")
        .status
        .success()
}

/// The engine compacts etcd's history to the revision it saw a window ago
/// (`?compaction=2s` here, five minutes by default): a revision from
/// before an overwrite becomes unreadable, the current state stays.
#[tokio::test]
async fn the_engine_compacts_etcds_history() {
    let Some(etcd) = Etcd::start() else { return };
    let meta = format!("{}?compaction=2s", etcd.meta("hist"));
    let s = Server::start_with(&["--meta", &meta]);
    let c = s.client().await;
    c.create_bucket().bucket("hist").send().await.unwrap();
    put(&c, "hist", "k", b"one".to_vec()).await;
    let before = revision(&etcd);
    put(&c, "hist", "k", b"two".to_vec()).await;
    assert!(readable_at(&etcd, "hist/buckets/hist", before));
    eventually("history compacted", Duration::from_secs(30), || {
        !readable_at(&etcd, "hist/buckets/hist", before)
    })
    .await;
    assert_eq!(get_version(&c, "hist", "k", None).await, b"two");
}

/// More change-log entries fall due at once than one `Txn` may delete (etcd
/// takes 128 operations; a trim batch held up to 1,000 deletes, so on etcd
/// it was refused on every pass and the log was never trimmed): the trim
/// removes them as one range, and the log empties down to its trim mark.
#[tokio::test]
async fn a_change_log_longer_than_a_txn_is_trimmed() {
    let Some(etcd) = Etcd::start() else { return };
    let s = Server::start_with(&["--meta", &etcd.meta("trim"), "--retention", "1s"]);
    let c = s.client().await;
    c.create_bucket().bucket("trim").send().await.unwrap();
    // The log is kept while it fills, then its retention drops back to the
    // bucket's (1 s): 150 entries fall due at one pass.
    common::admin::run(
        &s,
        &["bucket", "set", "trim", "--change-log-retention", "1h"],
    );
    for i in 0..150 {
        put(&c, "trim", &format!("k{i}"), b"x".to_vec()).await;
    }
    assert!(count(&etcd, "trim/changes/") >= 150);
    // Every entry older than the bucket's 1 s retention before it applies
    // again (not a wait for an event: the entries must age).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    common::admin::run(
        &s,
        &["bucket", "set", "trim", "--change-log-retention", "none"],
    );
    eventually("the change log trimmed", Duration::from_secs(30), || {
        // Only the trim mark is left.
        count(&etcd, "trim/changes/") <= 1
    })
    .await;
    assert!(!s.log().contains("change log trim failed"), "{}", s.log());
}
