//! `kura replicate --keep-deleted`: deletes seen in the feed reach the
//! target only once due, the pending deletes survive a restart of the
//! replicator, and a key re-created meanwhile is not deleted.

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use common::Server;
use serde_json::Value;

/// How long deletes are held back in the test.
const KEEP_SECS: u64 = 8;

fn replicator(source: &Server, target: &Server, state: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["replicate", "--source"])
        .arg(format!("{}/src", source.endpoint))
        .arg("--target")
        .arg(format!("s3://dst@{}", target.endpoint))
        .arg("--state")
        .arg(state)
        .args(["--keep-deleted", &format!("{KEEP_SECS}s")])
        .env("KURA_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The pending deletes in the replicator's state file: key → due (ms).
fn pending(state: &Path) -> serde_json::Map<String, Value> {
    std::fs::read(state)
        .ok()
        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
        .and_then(|v| v["pending"].as_object().cloned())
        .unwrap_or_default()
}

/// The target's bytes of `key`, or None if it has none.
async fn body_of(c: &Client, key: &str) -> Option<Vec<u8>> {
    loop {
        match c.get_object().bucket("dst").key(key).send().await {
            Ok(o) => return Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                Some(404) => return None,
                // A GET racing the replicator's write of the key: ask again.
                Some(409) => tokio::time::sleep(Duration::from_millis(20)).await,
                _ => panic!("GET {key}: {e:?}"),
            },
        }
    }
}

async fn put(c: &Client, key: &str, body: &[u8]) {
    c.put_object()
        .bucket("src")
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
}

/// Polls `key` on the target until `want` (bounded).
async fn wait_for(c: &Client, key: &str, want: Option<&[u8]>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while body_of(c, key).await.as_deref() != want {
        assert!(Instant::now() < deadline, "{key} never became {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_deleted_holds_deletes_until_due_across_restarts() {
    let source = Server::start();
    let target = Server::start();
    let (s, t) = (source.client().await, target.client().await);
    s.create_bucket().bucket("src").send().await.unwrap();
    t.create_bucket().bucket("dst").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("replicate.state");
    for key in ["gone", "back", "kept"] {
        put(&s, key, key.as_bytes()).await;
    }
    let mut child = replicator(&source, &target, &state);
    for key in ["gone", "back", "kept"] {
        wait_for(&t, key, Some(key.as_bytes()), Duration::from_secs(20)).await;
    }

    let deleted_ms = now_ms();
    for key in ["gone", "back"] {
        s.delete_object()
            .bucket("src")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    common::eventually("both deletes pending", Duration::from_secs(20), || {
        let p = pending(&state);
        p.contains_key("gone") && p.contains_key("back")
    })
    .await;
    let due = pending(&state)["gone"].as_u64().unwrap();
    assert!(
        due >= deleted_ms + KEEP_SECS * 1000 - 1000 && due <= now_ms() + KEEP_SECS * 1000,
        "due {due} is {KEEP_SECS}s after the delete at {deleted_ms}"
    );
    // Re-created on the source: its pending delete is cancelled.
    put(&s, "back", b"back again").await;
    wait_for(&t, "back", Some(b"back again"), Duration::from_secs(20)).await;
    common::eventually(
        "the re-created key's delete cancelled",
        Duration::from_secs(20),
        || !pending(&state).contains_key("back"),
    )
    .await;

    // The replicator dies and restarts before the delete is due: the pending
    // delete is in its state file and still held back.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(pending(&state).contains_key("gone"));
    child = replicator(&source, &target, &state);
    assert_eq!(body_of(&t, "gone").await.as_deref(), Some(&b"gone"[..]));
    assert!(
        now_ms() < due,
        "the machine was too slow to check the target before the delete was due"
    );

    // Then it goes, not before it is due.
    let deadline = Instant::now() + Duration::from_secs(KEEP_SECS + 20);
    while body_of(&t, "gone").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the held-back delete was never applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(now_ms() >= due, "deleted before it was due");
    common::eventually("no pending delete left", Duration::from_secs(10), || {
        pending(&state).is_empty()
    })
    .await;
    assert_eq!(
        body_of(&t, "back").await.as_deref(),
        Some(&b"back again"[..])
    );
    assert_eq!(body_of(&t, "kept").await.as_deref(), Some(&b"kept"[..]));
    let _ = child.kill();
    let _ = child.wait();
}

/// A source key with a folder grant replicates its folder: the feed it
/// follows holds only that folder's entries, and each copy reads one key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_key_replicates_its_folder_only() {
    let source = Server::start();
    let target = Server::start();
    let (s, t) = (source.client().await, target.client().await);
    s.create_bucket().bucket("src").send().await.unwrap();
    t.create_bucket().bucket("dst").send().await.unwrap();
    for key in ["acme/a.txt", "acme/deep/b.txt", "beta/c.txt", "top.txt"] {
        put(&s, key, key.as_bytes()).await;
    }
    s.delete_object()
        .bucket("src")
        .key("acme/deep/b.txt")
        .send()
        .await
        .unwrap();
    let acme = common::admin::create_key(&source, "acme", &["src/acme/:r"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["replicate", "--once", "--json", "--source"])
        .arg(format!("{}/src", source.endpoint))
        .arg("--target")
        .arg(format!("s3://dst@{}", target.endpoint))
        .arg("--state")
        .arg(dir.path().join("acme.state"))
        .env("KURA_ACCESS_KEY_ID", &acme.id)
        .env("KURA_SECRET_ACCESS_KEY", &acme.secret)
        .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "no errors, no retries: {stderr}");
    let listed = t.list_objects_v2().bucket("dst").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["acme/a.txt"]);
    assert_eq!(
        body_of(&t, "acme/a.txt").await.as_deref(),
        Some(&b"acme/a.txt"[..])
    );
}
