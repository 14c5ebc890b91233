//! Fault injection (issue 14 §3): kura's data directory on kura-powercut,
//! with injected EIO and ENOSPC on chunk-file writes, fsyncs and reads.
//!
//! - A failed fsync is never taken as success (fsyncgate): the PUT fails
//!   with a 5xx, the key keeps its previous version, other keys still read
//!   and write, and after a power cut the key still shows the previous
//!   version (the file system models Linux: after a failed fsync the pages
//!   are clean, so a retried fsync "succeeds" without writing anything).
//! - ENOSPC at random points of an upload fails it and leaves no chunk file.
//! - EIO on a read fails that download, not the server.
//!
//! Skips, saying so, where FUSE cannot be mounted.

mod common;

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use common::pattern;
use kura_powercut::disk::{Fault, FaultOp};
use kura_powercut::Mounted;
use rand::{Rng, SeedableRng};

/// Linux errno values (the server package does not depend on libc).
const EIO: i32 = 5;
const ENOSPC: i32 = 28;

use common::on_mount::Kura;

async fn put(s3: &Client, key: &str, body: &[u8]) -> Result<(), String> {
    s3.put_object()
        .bucket("bkt")
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let status = e.raw_response().map(|r| r.status().as_u16());
            format!("status {status:?}: {e:?}")
        })
}

async fn get(s3: &Client, key: &str) -> Result<Vec<u8>, String> {
    let out = s3
        .get_object()
        .bucket("bkt")
        .key(key)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let body = out.body.collect().await.map_err(|e| format!("{e:?}"))?;
    Ok(body.into_bytes().to_vec())
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap().count())
        .sum()
}

fn fault(op: FaultOp, errno: i32, skip: u32) -> Fault {
    Fault {
        op,
        errno,
        path: "/chunks/".into(),
        skip,
        count: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_io_errors_fail_one_request_and_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = match Mounted::mount(&mnt) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("SKIPPED fault test: cannot mount FUSE here ({e})");
            return;
        }
    };
    let data = mnt.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::File::open(&mnt).unwrap().sync_all().unwrap();
    let log = tmp.path().join("kura.log");
    let kura = Kura::start(&data, &log);
    let s3 = kura.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let v1 = pattern(50_000, 1);
    let other = pattern(40_000, 2);
    put(&s3, "k", &v1).await.unwrap();
    put(&s3, "other", &other).await.unwrap();
    let files = count_files(&data.join("chunks"));

    // fsyncgate: the second chunk's fsync fails.
    mounted.disk().inject(fault(FaultOp::Fsync, EIO, 1));
    let err = put(&s3, "k", &pattern(50_000, 3)).await.unwrap_err();
    assert!(err.contains("status Some(500)"), "{err}");
    assert_eq!(
        get(&s3, "k").await.unwrap(),
        v1,
        "the key keeps its version"
    );
    assert_eq!(get(&s3, "other").await.unwrap(), other);
    assert_eq!(
        count_files(&data.join("chunks")),
        files,
        "no chunk left behind"
    );
    let later = pattern(30_000, 4);
    put(&s3, "later", &later).await.unwrap();

    // ENOSPC at random points of a multi-chunk upload.
    let seed: u64 = rand::random();
    eprintln!("ENOSPC points from seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let files = count_files(&data.join("chunks"));
    for round in 0..5 {
        let op = if rng.gen_bool(0.7) {
            FaultOp::Write
        } else {
            FaultOp::Fsync
        };
        mounted
            .disk()
            .inject(fault(op, ENOSPC, rng.gen_range(0..4)));
        let err = put(&s3, "k", &pattern(60_000, 10 + round))
            .await
            .unwrap_err();
        assert!(
            err.contains("status Some(5"),
            "round {round} ({op:?}): {err}"
        );
        mounted.disk().clear_faults();
        assert_eq!(get(&s3, "k").await.unwrap(), v1, "round {round}");
        assert_eq!(count_files(&data.join("chunks")), files, "round {round}");
    }

    // EIO on a read fails that download (a short body is an error).
    mounted.disk().inject(fault(FaultOp::Read, EIO, 0));
    let got = get(&s3, "other").await;
    eprintln!("faults left: {:?}", mounted.disk().stats());
    assert!(got.is_err(), "{:?}", got.map(|b| b.len()));
    mounted.disk().clear_faults();
    assert_eq!(get(&s3, "other").await.unwrap(), other);

    // After a power cut, nothing the failed writes touched shows.
    drop(kura);
    mounted.cut();
    let kura = Kura::start(&data, &log);
    let s3 = kura.client();
    assert_eq!(get(&s3, "k").await.unwrap(), v1);
    assert_eq!(get(&s3, "other").await.unwrap(), other);
    assert_eq!(get(&s3, "later").await.unwrap(), later);
    drop(kura);
    mounted.unmount().unwrap();
}
