//! `kura admin backup DIR` under write load: a server started on the backup
//! serves every object acknowledged before the backup began, byte for byte,
//! while purges run (retention 0s) during the backup.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::common;
use common::admin;
use common::Server;

#[tokio::test]
async fn backup_under_write_load_restores_every_acknowledged_object() {
    if common::engines::skip("kura admin backup copies the RocksDB checkpoint and the local chunk files; etcd and Ceph have backups of their own") {
        return;
    }
    let server = Server::start_with(&["--retention", "0s", "--chunk-size", "64KiB"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("bak").send().await.unwrap();
    // Acknowledged before the backup: small (inline) and chunked objects.
    let mut acked = Vec::new();
    for i in 0..40u64 {
        let body = common::pattern(if i % 2 == 0 { 100 } else { 150_000 }, i);
        let key = format!("before/{i}");
        s3.put_object()
            .bucket("bak")
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        acked.push((key, common::md5_hex(&body)));
    }
    // Write load during the backup: overwrites (so purges of the replaced
    // versions run meanwhile) and new keys.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for t in 0..3u64 {
        let (s3, stop) = (s3.clone(), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = common::pattern(100_000, 1000 + n);
                let _ = s3
                    .put_object()
                    .bucket("bak")
                    .key(format!("load/{t}/{}", n % 5))
                    .body(body.into())
                    .send()
                    .await;
                n += 1;
            }
            n
        }));
    }
    let target = tempfile::tempdir().unwrap();
    let dir = target.path().join("data");
    let out = dir.to_str().unwrap().to_string();
    // `kura admin` blocks: run it off the runtime so the writers go on.
    let answer = tokio::task::spawn_blocking({
        let (endpoint, out) = (server.endpoint.clone(), out.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
                .args(["admin", "--endpoint", &endpoint, "backup", &out])
                .env("KURA_ACCESS_KEY_ID", common::ACCESS_KEY)
                .env("KURA_SECRET_ACCESS_KEY", common::SECRET_KEY)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&answer.stdout).into_owned()
        + &String::from_utf8_lossy(&answer.stderr);
    assert!(answer.contains("backup written to"), "{answer}");
    stop.store(true, Ordering::Relaxed);
    let mut writes = 0;
    for w in writers {
        writes += w.await.unwrap();
    }
    assert!(writes > 0, "writes ran during the backup");
    // A backup never overwrites.
    let again = admin::run_as(
        &server,
        common::ACCESS_KEY,
        common::SECRET_KEY,
        &["backup", &out],
    );
    assert!(!again.ok);
    drop(server);

    // Restore: start kura on the backup.
    let restored = Server::start_in(target, &[], &[]);
    let s3 = restored.client().await;
    for (key, md5) in &acked {
        let got = s3.get_object().bucket("bak").key(key).send().await.unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&common::md5_hex(&bytes), md5, "{key}");
    }
    // Every object the backup holds (load included) reads back whole.
    let listed = s3.list_objects_v2().bucket("bak").send().await.unwrap();
    for o in listed.contents() {
        let got = s3
            .get_object()
            .bucket("bak")
            .key(o.key().unwrap())
            .send()
            .await
            .unwrap();
        let etag = got.e_tag().unwrap().trim_matches('"').to_string();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(common::md5_hex(&bytes), etag, "{:?}", o.key());
    }
    // The backup's own counters are right too.
    let recomputed = admin::json(&restored, &["usage", "recompute"]);
    assert_eq!(recomputed[0]["equal"], true, "{recomputed}");
}
