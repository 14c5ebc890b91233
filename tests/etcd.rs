//! kura with its metadata on etcd (`kura serve --meta etcd://…`, issue 15):
//! a representative S3 round trip against a real etcd this test starts,
//! with every metadata row in etcd and none in the data directory.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use common::etcd::Etcd;
use common::{enable_versioning, get_version, pattern, Server};

#[tokio::test]
async fn objects_round_trip_with_metadata_on_etcd() {
    let Some(etcd) = Etcd::start() else { return };
    let mut s = Server::start_with(&["--meta", &etcd.meta("kura-test")]);
    let c = s.client().await;

    c.create_bucket().bucket("bkt").send().await.unwrap();
    enable_versioning(&c, "bkt").await;

    // Inline (small) and chunked (over the inline threshold) objects.
    let small = b"hello etcd".to_vec();
    let big = pattern(300 << 10, 7);
    let put = |key: &'static str, body: Vec<u8>| {
        let c = c.clone();
        async move {
            c.put_object()
                .bucket("bkt")
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .unwrap()
                .version_id
                .unwrap()
        }
    };
    let v1 = put("dir/small", small.clone()).await;
    put("dir/big", big.clone()).await;
    put("other", b"x".to_vec()).await;
    assert_eq!(get_version(&c, "bkt", "dir/small", None).await, small);
    assert_eq!(get_version(&c, "bkt", "dir/big", None).await, big);

    // Overwrite: the new bytes are current, the old ones a version.
    let v2 = put("dir/small", b"second".to_vec()).await;
    assert_ne!(v1, v2);
    assert_eq!(get_version(&c, "bkt", "dir/small", None).await, b"second");
    assert_eq!(get_version(&c, "bkt", "dir/small", Some(&v1)).await, small);

    // Listing: key order, prefix and delimiter.
    let l = c
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = l.contents().iter().filter_map(|o| o.key()).collect();
    let dirs: Vec<_> = l
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, dirs), (vec!["other"], vec!["dir/"]));
    let l = c
        .list_objects_v2()
        .bucket("bkt")
        .prefix("dir/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = l.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir/big", "dir/small"]);
    // A bucket with objects is not empty (a seek over a whole column family
    // once looked past its end and found nothing).
    let err = c.delete_bucket().bucket("bkt").send().await.unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("BucketNotEmpty")
    );

    // Delete: a marker on top, the versions underneath, newest first.
    c.delete_object()
        .bucket("bkt")
        .key("dir/small")
        .send()
        .await
        .unwrap();
    assert!(c
        .get_object()
        .bucket("bkt")
        .key("dir/small")
        .send()
        .await
        .is_err());
    let v = c
        .list_object_versions()
        .bucket("bkt")
        .prefix("dir/small")
        .send()
        .await
        .unwrap();
    let versions: Vec<_> = v.versions().iter().filter_map(|v| v.version_id()).collect();
    assert_eq!(versions, [v2.as_str(), v1.as_str()]);
    assert_eq!(v.delete_markers().len(), 1);
    assert!(v.delete_markers()[0].is_latest().unwrap());

    // The rows are in etcd under the prefix, and none in the data directory.
    let buckets = etcd.keys("kura-test/buckets/");
    assert_eq!(buckets, ["kura-test/buckets/bkt"]);
    assert!(!etcd.keys("kura-test/objects/").is_empty());
    assert!(!etcd.keys("kura-test/versions/").is_empty());
    assert!(!s.data_dir().join("meta").exists());

    // A restarted server (killed, nothing flushed) finds it all again.
    s.restart();
    let c = s.client().await;
    assert_eq!(get_version(&c, "bkt", "dir/big", None).await, big);
    assert_eq!(
        get_version(&c, "bkt", "dir/small", Some(&v2)).await,
        b"second"
    );
    // Version ids stay increasing across the restart.
    let v3 = put_after_restart(&c).await;
    assert!(v3 > v2, "{v3} after {v2}");

    // A graceful stop ends without a panic (the engine's own runtime was
    // once dropped on an async worker at shutdown, which panics).
    let pid = s.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // Exited: a zombie until the harness reaps it.
    common::eventually("kura exits", std::time::Duration::from_secs(20), || {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.split(' ').nth(2) == Some("Z"),
            Err(_) => true,
        }
    })
    .await;
    assert!(!s.log().contains("panicked"), "{}", s.log());
}

async fn put_after_restart(c: &aws_sdk_s3::Client) -> String {
    c.put_object()
        .bucket("bkt")
        .key("dir/small")
        .body(ByteStream::from_static(b"third"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap()
}

/// Concurrent writes into one bucket on etcd all succeed (their usage
/// deltas go to random counter shards instead of all guarding one row),
/// and the summed shards equal a scan of the rows.
#[tokio::test]
async fn concurrent_writes_into_one_bucket_count_each_once() {
    let Some(etcd) = Etcd::start() else { return };
    let s = Server::start_with(&["--meta", &etcd.meta("kura-usage")]);
    let c = s.client().await;
    c.create_bucket().bucket("busy").send().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..2u32 {
                c.put_object()
                    .bucket("busy")
                    .key(format!("k{i}"))
                    .body(ByteStream::from(vec![round as u8; 100 + i as usize]))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("k{i} round {round}: {e:?}"));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = common::admin::json(&s, &["bucket", "usage"]);
    let u = all
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["bucket"] == "busy")
        .expect("bucket listed")
        .clone();
    let bytes: i64 = (0..32).map(|i| 100 + i).sum();
    assert_eq!(u["objects"], 32, "{u}");
    assert_eq!(u["bytes"], bytes, "{u}");
    assert_eq!(u["trash_objects"], 32, "{u}");
    let recomputed = common::admin::json(&s, &["usage", "recompute"]);
    for r in recomputed.as_array().unwrap() {
        assert_eq!(r["equal"], true, "{r}");
    }
    assert!(
        etcd.keys("kura-usage/usage/").len() > 1,
        "the counters are sharded"
    );
}

/// A write lock whose release etcd never answers (etcd gone at that
/// moment) must not lock its key for as long as the front end lives: the
/// front end gives up the lease the record is bound to, and the record
/// goes with it. (Before, the record stayed: 409 on every later write and
/// download of the key, which the three-front-end test met once when it
/// killed an etcd member.)
#[tokio::test]
async fn a_lost_lock_release_does_not_lock_the_key_for_good() {
    let Some(etcd) = Etcd::start() else { return };
    let meta = etcd.meta("kura-release") + "?lease=2s";
    // The first lock released (CreateBucket's) gets no answer.
    let s = Server::start_with_env(&["--meta", &meta], &[("KURA_TEST_LOSE_RELEASES", "1")]);
    let c = s.client_no_retry().await;
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let started = std::time::Instant::now();
    // Until the lease is replaced the bucket's lock record stays: a
    // DeleteBucket is refused as locked (409 OperationAborted), and, with
    // the object written, as not empty once the record is gone.
    let mut written = false;
    let mut last = String::new();
    loop {
        if !written {
            let put = c
                .put_object()
                .bucket("bkt")
                .key("k")
                .body(ByteStream::from_static(b"bytes"))
                .send()
                .await;
            // A write in flight when the lease is replaced gets 503.
            written = put.is_ok();
        }
        if written {
            let e = c.delete_bucket().bucket("bkt").send().await.unwrap_err();
            last = e
                .into_service_error()
                .meta()
                .code()
                .unwrap_or("")
                .to_string();
            if last == "BucketNotEmpty" {
                break;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "a lock record outlived its lost release by {:?} (written: {written}, last: {last})",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(get_version(&c, "bkt", "k", None).await, b"bytes");
    assert!(s.log().contains("giving up the lease"), "{}", s.log());
}
