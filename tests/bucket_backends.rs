//! Per-bucket chunk backends (`kura admin bucket set NAME --backend URL`):
//! one front end, two buckets, two backends — the server's own chunk
//! store, and a second kura on loopback playing an S3 endpoint. Each test
//! counts where the bytes landed: the front end's own chunks
//! (`Server::chunk_files`, local files or its RADOS namespace under
//! `KURA_TEST_ENGINES`) and the objects in the backend kura's bucket.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use common::{admin, pattern, Server, ACCESS_KEY, SECRET_KEY};
use std::time::Duration;

/// The backend kura's bucket, and the prefix the bucket backend writes under.
const BUCKET: &str = "chunks";
const PREFIX: &str = "remote/";
const MIB: usize = 1 << 20;

/// A backend kura with its bucket; a front end (1 MiB chunks, deleted
/// versions purged at once) with the buckets `local` and `remote`, the
/// latter set to the backend kura by `kura admin bucket set`.
async fn setup() -> (Server, Client, Server, Client, String) {
    let backend = Server::start();
    let raw = backend.client().await;
    raw.create_bucket().bucket(BUCKET).send().await.unwrap();
    let front = Server::start_with(&["--chunk-size", "1MiB", "--retention", "0s"]);
    let s3 = front.client_no_retry().await;
    for b in ["local", "remote"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let url = format!("s3://{BUCKET}/remote@{}", backend.endpoint);
    set_backend(&front, "remote", &url);
    (backend, raw, front, s3, url)
}

fn set_backend(front: &Server, bucket: &str, url: &str) -> String {
    admin::run(
        front,
        &[
            "bucket",
            "set",
            bucket,
            "--backend",
            url,
            "--backend-access-key-id",
            ACCESS_KEY,
            "--backend-secret-access-key",
            SECRET_KEY,
        ],
    )
}

/// The chunk objects the backend kura holds for the bucket backend.
async fn backend_chunks(raw: &Client) -> usize {
    let out = raw
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(PREFIX)
        .send()
        .await
        .unwrap();
    out.contents().len()
}

async fn put(s3: &Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
}

async fn get(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn copy(s3: &Client, from: &str, to: (&str, &str)) {
    s3.copy_object()
        .bucket(to.0)
        .key(to.1)
        .copy_source(from)
        .send()
        .await
        .unwrap();
}

/// Polls until both counts are as expected (the purger runs in the background).
async fn wait_counts(front: &Server, raw: &Client, local: usize, remote: usize) {
    let mut seen = (0, 0);
    for _ in 0..150 {
        seen = (front.chunk_files(), backend_chunks(raw).await);
        if seen == (local, remote) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "chunks (server's, bucket backend's): {seen:?}, expected {:?}",
        (local, remote)
    );
}

#[tokio::test]
async fn two_buckets_on_two_backends() {
    let (_backend, raw, mut front, s3, url) = setup().await;
    let a = pattern(2 * MIB + 500, 1);
    let b = pattern(2 * MIB + 700, 2);
    put(&s3, "local", "a", &a).await;
    put(&s3, "remote", "b", &b).await;
    assert_eq!(get(&s3, "local", "a").await, a);
    assert_eq!(get(&s3, "remote", "b").await, b);
    assert_eq!(
        front.chunk_files(),
        3,
        "the local bucket's chunks are the server's"
    );
    assert_eq!(
        backend_chunks(&raw).await,
        3,
        "the remote bucket's chunks are in its backend"
    );

    // Multipart into the remote bucket: its parts' chunks go there too.
    let parts = [pattern(5 * MIB, 3), pattern(300_000, 4)];
    let upload = common::multipart::create_upload(&s3, "remote", "multi").await;
    let mut done = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        done.push(
            common::multipart::upload_part(&s3, "remote", "multi", &upload, i as i32 + 1, part)
                .await,
        );
    }
    s3.complete_multipart_upload()
        .bucket("remote")
        .key("multi")
        .upload_id(&upload)
        .multipart_upload(common::multipart::completed(done))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "remote", "multi").await, parts.concat());
    assert_eq!(
        (front.chunk_files(), backend_chunks(&raw).await),
        (3, 3 + 6)
    );

    // Copies across backends copy the bytes; the sources keep theirs.
    copy(&s3, "remote/b", ("local", "b-copy")).await;
    copy(&s3, "local/a", ("remote", "a-copy")).await;
    assert_eq!(get(&s3, "local", "b-copy").await, b);
    assert_eq!(get(&s3, "remote", "a-copy").await, a);
    assert_eq!(
        (front.chunk_files(), backend_chunks(&raw).await),
        (3 + 3, 9 + 3)
    );

    // Back to the server's backend: new objects go there, old ones stay
    // readable where they are.
    let shown = admin::run(&front, &["bucket", "set", "remote", "--backend", "default"]);
    assert!(shown.contains("backend=default"), "{shown}");
    let c = pattern(MIB + 1, 5);
    put(&s3, "remote", "c", &c).await;
    assert_eq!(
        (front.chunk_files(), backend_chunks(&raw).await),
        (6 + 2, 12)
    );
    assert_eq!(get(&s3, "remote", "b").await, b);
    assert_eq!(get(&s3, "remote", "multi").await, parts.concat());

    // And to the backend kura again (its URL keeps its number).
    let shown = set_backend(&front, "remote", &url);
    assert!(shown.contains("(number 1)"), "{shown}");

    // A restart keeps everything readable (the registry is in the metadata).
    front.restart();
    let s3 = front.client_no_retry().await;
    for (bucket, key, body) in [
        ("local", "a", &a),
        ("remote", "b", &b),
        ("local", "b-copy", &b),
        ("remote", "a-copy", &a),
        ("remote", "c", &c),
    ] {
        assert_eq!(&get(&s3, bucket, key).await, body, "{bucket}/{key}");
    }
    assert_eq!(get(&s3, "remote", "multi").await, parts.concat());
    let d = pattern(MIB + 3, 6);
    put(&s3, "remote", "d", &d).await;
    assert_eq!(
        (front.chunk_files(), backend_chunks(&raw).await),
        (8, 12 + 2)
    );

    // Deleted (retention 0): each chunk is removed from its own backend.
    for (bucket, key) in [("remote", "b"), ("remote", "c"), ("remote", "multi")] {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    wait_counts(&front, &raw, 8 - 2, 14 - 3 - 6).await;
    // An aborted upload's parts go from the backend they were written to.
    let upload = common::multipart::create_upload(&s3, "remote", "gone").await;
    common::multipart::upload_part(&s3, "remote", "gone", &upload, 1, &pattern(MIB + 5, 7)).await;
    assert_eq!(backend_chunks(&raw).await, 5 + 2);
    s3.abort_multipart_upload()
        .bucket("remote")
        .key("gone")
        .upload_id(&upload)
        .send()
        .await
        .unwrap();
    assert_eq!(backend_chunks(&raw).await, 5);
    assert_eq!(get(&s3, "local", "b-copy").await, b);
    assert_eq!(get(&s3, "remote", "d").await, d);

    // Offline, `kura fsck` reads every backend: all 11 chunks check out,
    // and a stray chunk-named object in the bucket backend is an orphan
    // (named `NUMBER/ID`) that `--repair` removes there.
    if common::engines::skip("kura fsck reads the data directory's RocksDB, not etcd") {
        return;
    }
    let stray = "0123456789abcdef0123456789abcdef";
    raw.put_object()
        .bucket(BUCKET)
        .key(format!("{PREFIX}{stray}"))
        .body(ByteStream::from_static(b"stray"))
        .send()
        .await
        .unwrap();
    front.stop();
    let fsck = |repair: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kura"));
        cmd.args(["fsck", "--json"]).arg(front.data_dir());
        if repair {
            cmd.arg("--repair");
        }
        let out = cmd.output().unwrap();
        let r: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        r
    };
    let report = fsck(false);
    assert_eq!(report["chunks_checked"], 11, "{report}");
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");
    assert_eq!(report["corrupted"], serde_json::json!([]), "{report}");
    assert_eq!(report["orphans"], serde_json::json!([format!("1/{stray}")]));
    assert_eq!(backend_chunks(&raw).await, 6);
    fsck(true);
    assert_eq!(
        backend_chunks(&raw).await,
        5,
        "the orphan is gone, nothing else"
    );
    assert_eq!(fsck(false)["orphans"], serde_json::json!([]));
}

#[tokio::test]
async fn settings_show_no_secret_and_bad_backends_are_refused() {
    let (backend, _raw, front, _s3, url) = setup().await;
    let shown = admin::run(&front, &["bucket", "show", "remote"]);
    assert!(shown.contains(&format!("backend={url}")), "{shown}");
    let json = admin::json(&front, &["bucket", "show", "remote"]);
    assert_eq!(json["backend"]["url"], url.as_str());
    assert_eq!(json["backend"]["number"], 1);
    assert_eq!(json["backend"]["access_key_id"], "KURA…");
    for out in [
        shown,
        json.to_string(),
        admin::run(&front, &["bucket", "list"]),
    ] {
        assert!(
            !out.contains(SECRET_KEY),
            "the secret is never shown: {out}"
        );
        assert!(!out.contains(ACCESS_KEY), "the key id is masked: {out}");
    }
    assert!(admin::json(&front, &["bucket", "show", "local"])["backend"].is_null());

    let refused = |args: &[&str]| {
        let mut all = vec!["bucket", "set", "local"];
        all.extend_from_slice(args);
        let out = admin::run_as(&front, ACCESS_KEY, SECRET_KEY, &all);
        assert!(!out.ok, "{args:?} was accepted: {}", out.stdout);
        out.stderr
    };
    let creds = [
        "--backend-access-key-id",
        ACCESS_KEY,
        "--backend-secret-access-key",
    ];
    // Nothing listens on port 1; a malformed URL; an unknown scheme; no
    // credentials; a bucket the endpoint does not have; a wrong secret.
    let unreachable = refused(&[
        "--backend",
        &format!("s3://{BUCKET}@http://127.0.0.1:1"),
        creds[0],
        creds[1],
        creds[2],
        SECRET_KEY,
    ]);
    assert!(unreachable.contains("cannot use"), "{unreachable}");
    let malformed = refused(&[
        "--backend",
        "s3://no-endpoint",
        creds[0],
        creds[1],
        creds[2],
        SECRET_KEY,
    ]);
    assert!(malformed.contains("no endpoint"), "{malformed}");
    let scheme = refused(&["--backend", "ftp://x"]);
    assert!(scheme.contains("backend must be"), "{scheme}");
    let no_creds = refused(&["--backend", &url]);
    assert!(no_creds.contains("needs access_key_id"), "{no_creds}");
    let no_bucket = format!("s3://not-there@{}", backend.endpoint);
    refused(&[
        "--backend",
        &no_bucket,
        creds[0],
        creds[1],
        creds[2],
        SECRET_KEY,
    ]);
    let wrong = refused(&[
        "--backend",
        &url,
        creds[0],
        creds[1],
        creds[2],
        "wrong-secret-000000000000000000000000000",
    ]);
    assert!(
        !wrong.contains("wrong-secret"),
        "the secret is not echoed: {wrong}"
    );
    // None of it changed anything.
    assert!(admin::json(&front, &["bucket", "show", "local"])["backend"].is_null());
    assert_eq!(
        admin::json(&front, &["bucket", "show", "remote"])["backend"]["url"],
        url.as_str()
    );
    let missing = admin::run_as(
        &front,
        ACCESS_KEY,
        SECRET_KEY,
        &[
            "bucket",
            "set",
            "nope",
            "--backend",
            &url,
            creds[0],
            creds[1],
            creds[2],
            SECRET_KEY,
        ],
    );
    assert!(
        !missing.ok && missing.stderr.contains("NoSuchBucket"),
        "{}",
        missing.stderr
    );
}

/// The chunk objects the backend kura holds under `prefix`.
async fn chunks_under(raw: &Client, prefix: &str) -> usize {
    let out = raw
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents().len()
}

/// Two front ends on one etcd (their own chunks in one S3 prefix of the
/// backend kura): a bucket's backend set on one front end applies on the
/// other within about a second (its cached setting expires), and the
/// other front end reads the chunks of a backend it never opened (from
/// the registry in etcd).
#[tokio::test]
async fn a_switch_on_one_front_end_reaches_the_other() {
    let Some(etcd) = common::etcd::Etcd::start() else {
        return;
    };
    let backend = Server::start();
    let raw = backend.client().await;
    raw.create_bucket().bucket(BUCKET).send().await.unwrap();
    let meta = etcd.meta("bucket-backends");
    let blobs = format!("s3://{BUCKET}/server@{}", backend.endpoint);
    let args = ["--meta", &meta, "--blobs", &blobs, "--chunk-size", "1MiB"];
    let env = [
        ("KURA_BLOBS_ACCESS_KEY_ID", ACCESS_KEY),
        ("KURA_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let a = Server::start_with_env(&args, &env);
    let b = Server::start_beside(&a, &args, &env);
    let (sa, sb) = (a.client().await, b.client().await);
    sa.create_bucket().bucket("xyz").send().await.unwrap();
    let body = pattern(MIB + 10, 8);
    // B caches the bucket's setting (the server's backend) with this PUT.
    put(&sb, "xyz", "before", &body).await;
    assert_eq!(chunks_under(&raw, "server/").await, 2);

    let url = format!("s3://{BUCKET}/remote@{}", backend.endpoint);
    set_backend(&a, "xyz", &url);
    put(&sa, "xyz", "on-a", &body).await;
    assert_eq!(chunks_under(&raw, PREFIX).await, 2, "at once on A");
    assert_eq!(
        get(&sb, "xyz", "on-a").await,
        body,
        "B opens backend 1 itself"
    );

    // B follows within its cache's second (a PUT routed by the stale
    // entry lands in the server's backend, and stays readable).
    let started = std::time::Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        put(&sb, "xyz", &format!("on-b-{n}"), &body).await;
        if chunks_under(&raw, PREFIX).await == 2 + 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B still writes to the old backend after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 1..=n {
        assert_eq!(get(&sa, "xyz", &format!("on-b-{i}")).await, body);
    }
    assert_eq!(get(&sa, "xyz", "before").await, body);
    assert!(admin::run(&b, &["bucket", "show", "xyz"]).contains(&format!("backend={url}")));
}
