//! `kura admin migrate` (issue 15): an embedded data directory with every
//! kind of object (inline, one chunk, many chunks, versions and delete
//! markers, a completed and an unfinished multipart upload, tags, an access
//! key, a bucket with a chunk backend of its own) is copied offline into a fresh etcd and an S3 backend (a second
//! kura), and a kura started on the migrated engines answers exactly as
//! the original did.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};
use aws_sdk_s3::Client;
use common::etcd::Etcd;
use common::{enable_versioning, get_version, pattern, Server, ACCESS_KEY, SECRET_KEY};

const BUCKET: &str = "data";
/// The backend kura's bucket for the migrated chunks.
const CHUNKS: &str = "chunks";

/// Every version of every key: (key, version id) → (ETag or "marker", latest, bytes).
type Versions = BTreeMap<(String, String), (String, bool, Vec<u8>)>;

async fn all_versions(c: &Client) -> Versions {
    let out = c
        .list_object_versions()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert!(!out.is_truncated().unwrap_or(false));
    let mut all = Versions::new();
    for v in out.versions() {
        let (key, id) = (v.key().unwrap(), v.version_id().unwrap());
        let body = get_version(c, BUCKET, key, Some(id)).await;
        all.insert(
            (key.into(), id.into()),
            (
                v.e_tag().unwrap().into(),
                v.is_latest().unwrap_or(false),
                body,
            ),
        );
    }
    for m in out.delete_markers() {
        all.insert(
            (m.key().unwrap().into(), m.version_id().unwrap().into()),
            ("marker".into(), m.is_latest().unwrap_or(false), Vec::new()),
        );
    }
    all
}

async fn put(c: &Client, key: &str, body: Vec<u8>) {
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

async fn current_keys(c: &Client) -> Vec<String> {
    let out = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    out.contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect()
}

async fn tags(c: &Client, key: &str) -> Vec<(String, String)> {
    let out = c
        .get_object_tagging()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    out.tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

async fn uploads(c: &Client) -> Vec<(String, String)> {
    let out = c
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    out.uploads()
        .iter()
        .map(|u| (u.key().unwrap().into(), u.upload_id().unwrap().into()))
        .collect()
}

/// Runs `kura admin migrate ARGS` with the backend's credentials.
fn migrate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["admin", "migrate"])
        .args(args)
        .env("KURA_BLOBS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("run kura admin migrate")
}

#[tokio::test]
async fn an_embedded_data_directory_migrates_to_etcd_and_an_s3_backend() {
    if common::engines::skip(
        "migrates an embedded data directory, which its source server must have",
    ) {
        return;
    }
    let Some(etcd) = Etcd::start() else { return };
    // The target chunk backend: a backend kura's bucket (also the source's
    // bucket `archive` keeps its chunks there, under `archive/`).
    let backend = Server::start();
    let raw = backend.client().await;
    raw.create_bucket().bucket(CHUNKS).send().await.unwrap();

    // The original: embedded, 1 MiB chunks, versioned.
    let mut old = Server::start_with(&["--chunk-size", "1MiB"]);
    let c = old.client().await;
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    // A bucket with a chunk backend of its own: its chunks stay there, and
    // its setting (the backend's number and registry row) moves as stored.
    c.create_bucket().bucket("archive").send().await.unwrap();
    let archive_url = format!("s3://{CHUNKS}/archive@{}", backend.endpoint);
    common::admin::run(
        &old,
        &[
            "bucket",
            "set",
            "archive",
            "--backend",
            &archive_url,
            "--backend-access-key-id",
            ACCESS_KEY,
            "--backend-secret-access-key",
            SECRET_KEY,
        ],
    );
    let archived = pattern((1 << 20) + 5, 10);
    c.put_object()
        .bucket("archive")
        .key("kept")
        .body(ByteStream::from(archived.clone()))
        .send()
        .await
        .unwrap();
    enable_versioning(&c, BUCKET).await;
    put(&c, "inline", b"small enough to live in its row".to_vec()).await;
    put(&c, "one-chunk", pattern(300 << 10, 1)).await;
    put(&c, "many-chunks", pattern((3 << 20) + 777, 2)).await;
    put(&c, "dir/versions", pattern(200 << 10, 3)).await;
    put(&c, "dir/versions", b"second".to_vec()).await;
    put(&c, "dir/versions", pattern(1200 << 10, 4)).await;
    put(&c, "deleted", pattern(100 << 10, 5)).await;
    c.delete_object()
        .bucket(BUCKET)
        .key("deleted")
        .send()
        .await
        .unwrap();
    let upload = common::multipart::create_upload(&c, BUCKET, "multi").await;
    common::multipart::upload_parts_and_complete(
        &c,
        BUCKET,
        "multi",
        &upload,
        &[&pattern(5 << 20, 6), &pattern(70_000, 7)],
    )
    .await;
    // An upload still in progress: its part's chunks must move too.
    let unfinished = common::multipart::create_upload(&c, BUCKET, "unfinished").await;
    let first_part = pattern(5 << 20, 8);
    let part1 =
        common::multipart::upload_part(&c, BUCKET, "unfinished", &unfinished, 1, &first_part).await;
    c.put_object_tagging()
        .bucket(BUCKET)
        .key("one-chunk")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("team").value("blue").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let key = common::admin::create_key(&old, "partner", &["data:r"], &[]);

    let before = all_versions(&c).await;
    let listed = current_keys(&c).await;
    assert_eq!(before.len(), 9, "{:?}", before.keys());
    let local_chunks = old.chunk_files();
    assert!(local_chunks >= 13, "{local_chunks} chunk files");
    old.stop();

    // The targets: a fresh etcd prefix and the backend kura's bucket.
    let blobs = format!("s3://{CHUNKS}/migrated@{}", backend.endpoint);
    let meta = etcd.meta("migrated");
    let new_tmp = tempfile::tempdir().unwrap();
    let new_data = new_tmp.path().join("data");
    let source = old.data_dir();
    let args = [
        source.to_str().unwrap(),
        "--to-meta",
        &meta,
        "--to-blobs",
        &blobs,
        "--to-data-dir",
        new_data.to_str().unwrap(),
    ];
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&args);
    let out = migrate(&json_args);
    assert!(
        out.status.success(),
        "migrate failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["chunks_copied"], local_chunks as u64);
    // Current rows: inline, one-chunk, many-chunks, dir/versions, multi,
    // and archive/kept.
    assert_eq!(report["objects_verified"], 6, "{report}");
    // In `versions`: two older dir/versions, the deleted object's bytes and
    // the delete marker on top of it.
    assert_eq!(report["versions_verified"], 4, "{report}");
    assert_eq!(report["parts_verified"], 1, "{report}");
    assert_eq!(report["chunks_in_bucket_backends"], 2, "{report}");
    assert!(report["chunks_verified"].as_u64().unwrap() >= 13);
    assert!(!etcd.keys("migrated/objects/").is_empty());
    let in_backend = raw
        .list_objects_v2()
        .bucket(CHUNKS)
        .prefix("migrated/")
        .send()
        .await
        .unwrap()
        .key_count()
        .unwrap_or(0);
    assert_eq!(in_backend as usize, local_chunks);

    // A second run into the now non-empty target is refused without --force,
    // and with it resumes: every chunk is found there already.
    let again = migrate(&args);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--force"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let mut forced = vec!["--json", "--force"];
    forced.extend_from_slice(&args);
    let out = migrate(&forced);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["chunks_copied"], 0);
    assert_eq!(report["chunks_present"], local_chunks as u64);

    // kura on the migrated engines answers as the original did.
    let new = Server::start_in(
        new_tmp,
        &["--meta", &meta, "--blobs", &blobs, "--chunk-size", "1MiB"],
        &[
            ("KURA_BLOBS_ACCESS_KEY_ID", ACCESS_KEY),
            ("KURA_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY),
        ],
    );
    let c = new.client().await;
    assert_eq!(all_versions(&c).await, before);
    assert_eq!(current_keys(&c).await, listed);
    assert_eq!(
        tags(&c, "one-chunk").await,
        [("team".into(), "blue".into())]
    );
    // The partner's key (sealed in etcd, opened with the copied key file).
    let partner = new.client_with(&key.id, &key.secret, false).await;
    assert_eq!(
        get_version(&partner, BUCKET, "inline", None).await,
        b"small enough to live in its row"
    );
    // The unfinished upload finishes on the new engines.
    assert_eq!(
        uploads(&c).await,
        [("unfinished".to_string(), unfinished.clone())]
    );
    let last = pattern(1000, 9);
    let part2 =
        common::multipart::upload_part(&c, BUCKET, "unfinished", &unfinished, 2, &last).await;
    c.complete_multipart_upload()
        .bucket(BUCKET)
        .key("unfinished")
        .upload_id(&unfinished)
        .multipart_upload(common::multipart::completed(vec![part1, part2]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_version(&c, BUCKET, "unfinished", None).await,
        [first_part, last].concat()
    );
    assert_eq!(
        new.chunk_files(),
        0,
        "no chunk is local on the new front end"
    );
    // The bucket with its own backend: read where it was, and written
    // there again (its number and the registry came along).
    assert_eq!(get_version(&c, "archive", "kept", None).await, archived);
    let archive_chunks = || async {
        raw.list_objects_v2()
            .bucket(CHUNKS)
            .prefix("archive/")
            .send()
            .await
            .unwrap()
            .key_count()
            .unwrap_or(0)
    };
    assert_eq!(archive_chunks().await, 2);
    c.put_object()
        .bucket("archive")
        .key("new")
        .body(ByteStream::from(archived.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(archive_chunks().await, 4);
}
