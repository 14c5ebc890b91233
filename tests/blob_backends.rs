//! Chunk bytes in another S3 endpoint (`--blobs s3://…`): a second kura on
//! loopback plays the backend. Objects round-trip (whole, ranges,
//! multipart, copies), nothing lands in the front end's chunk directory,
//! a purge removes the backend's objects, and a backend object damaged
//! behind kura's back answers an error, never wrong bytes.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use common::{pattern, Server, ACCESS_KEY, SECRET_KEY};
use std::time::Duration;

/// Where the front end's chunks go in the backend.
const BUCKET: &str = "chunks";
const PREFIX: &str = "front/";

/// A backend kura with its bucket, and a front end whose chunks (1 MiB)
/// go there; replaced and deleted versions are purged at once.
async fn pair(extra: &[&str]) -> (Server, Client, Server, Client) {
    let backend = Server::start();
    let raw = backend.client().await;
    raw.create_bucket().bucket(BUCKET).send().await.unwrap();
    let url = format!("s3://{BUCKET}/front@{}", backend.endpoint);
    let mut args = vec!["--blobs", &url, "--chunk-size", "1MiB"];
    args.extend_from_slice(extra);
    let front = Server::start_with_env(
        &args,
        &[
            ("KURA_BLOBS_ACCESS_KEY_ID", ACCESS_KEY),
            ("KURA_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY),
        ],
    );
    let s3 = front.client_no_retry().await;
    s3.create_bucket().bucket("data").send().await.unwrap();
    (backend, raw, front, s3)
}

/// The chunk objects the backend holds.
async fn backend_chunks(raw: &Client) -> Vec<String> {
    let out = raw
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(PREFIX)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

async fn put(s3: &Client, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket("data")
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
}

async fn get(s3: &Client, key: &str, range: Option<String>) -> Result<Vec<u8>, String> {
    let out = s3
        .get_object()
        .bucket("data")
        .key(key)
        .set_range(range)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    out.body
        .collect()
        .await
        .map(|b| b.into_bytes().to_vec())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn objects_round_trip_through_an_s3_backend_and_leave_it_when_purged() {
    let (backend, raw, front, s3) = pair(&["--retention", "0s"]).await;
    let backend_port: u16 = backend.addr.rsplit(':').next().unwrap().parse().unwrap();
    let closed_before = closed_connections_to(backend_port);
    let body = pattern(3 * (1 << 20) + 12_345, 1);
    put(&s3, "plain", &body).await;
    assert_eq!(get(&s3, "plain", None).await.unwrap(), body);
    // A range across the first chunk boundary.
    let (from, to) = ((1 << 20) - 100, (1 << 20) + 99);
    assert_eq!(
        get(&s3, "plain", Some(format!("bytes={from}-{to}")))
            .await
            .unwrap(),
        body[from..=to]
    );
    assert_eq!(backend_chunks(&raw).await.len(), 4, "one object per chunk");
    assert_eq!(front.chunk_files(), 0, "nothing in the local chunk tree");

    // Multipart: parts stay chunks in the backend; completing copies nothing.
    let parts = [pattern(5 << 20, 2), pattern(300_000, 3)];
    let upload = common::multipart::create_upload(&s3, "data", "multi").await;
    let mut done = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        done.push(
            common::multipart::upload_part(&s3, "data", "multi", &upload, i as i32 + 1, part).await,
        );
    }
    s3.complete_multipart_upload()
        .bucket("data")
        .key("multi")
        .upload_id(&upload)
        .multipart_upload(common::multipart::completed(done))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "multi", None).await.unwrap(), parts.concat());
    assert_eq!(backend_chunks(&raw).await.len(), 4 + 6);

    // A copy writes chunks of its own.
    s3.copy_object()
        .bucket("data")
        .key("copied")
        .copy_source("data/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "copied", None).await.unwrap(), body);
    assert_eq!(backend_chunks(&raw).await.len(), 4 + 6 + 4);

    // Deleted (retention 0): the purger removes the backend's objects.
    for key in ["plain", "multi"] {
        s3.delete_object()
            .bucket("data")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    let mut left = 0;
    for _ in 0..100 {
        left = backend_chunks(&raw).await.len();
        if left == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 4, "only the copy's chunks are left");
    assert_eq!(get(&s3, "copied", None).await.unwrap(), body);

    // The front end's ~40 requests to the backend went on kept-alive
    // connections: a connection per request would leave one closed
    // (TIME_WAIT) each.
    let closed = closed_connections_to(backend_port).saturating_sub(closed_before);
    assert!(
        closed < 5,
        "{closed} connections to the backend opened and closed"
    );
}

/// Client sockets in TIME_WAIT towards `port` (IPv4 loopback): one per
/// connection a client opened there and closed in the last minute.
fn closed_connections_to(port: u16) -> usize {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    tcp.lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let remote_port = f
                .get(2)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            f.get(3) == Some(&"06") && remote_port == Some(port)
        })
        .count()
}

#[tokio::test]
async fn a_damaged_backend_object_answers_an_error_not_wrong_bytes() {
    let (_backend, raw, mut front, s3) = pair(&[]).await;
    let body = pattern(2 * (1 << 20) + 777, 4);
    put(&s3, "k", &body).await;
    assert_eq!(get(&s3, "k", None).await.unwrap(), body);
    // The chunk holding the object's second MiB, rewritten with one bit
    // flipped (same length) behind the front end's back.
    let mut names = backend_chunks(&raw).await;
    assert_eq!(names.len(), 3);
    names.sort();
    let mut damaged = None;
    for name in &names {
        let held = raw
            .get_object()
            .bucket(BUCKET)
            .key(name)
            .send()
            .await
            .unwrap();
        let bytes = held.body.collect().await.unwrap().into_bytes().to_vec();
        if bytes[..] == body[1 << 20..2 << 20] {
            let mut bad = bytes;
            bad[1000] ^= 0x10;
            raw.put_object()
                .bucket(BUCKET)
                .key(name)
                .body(ByteStream::from(bad))
                .send()
                .await
                .unwrap();
            damaged = Some(name.clone());
        }
    }
    assert!(damaged.is_some(), "the second chunk is in the backend");
    let whole = get(&s3, "k", None).await;
    assert!(whole.is_err(), "a damaged chunk is never served: {whole:?}");
    let range = (1 << 20) + 900..(1 << 20) + 1100;
    let part = get(
        &s3,
        "k",
        Some(format!("bytes={}-{}", range.start, range.end - 1)),
    )
    .await;
    assert!(part.is_err(), "nor a range of it");
    // What the damage does not touch is still served.
    assert_eq!(
        get(&s3, "k", Some("bytes=0-999".into())).await.unwrap(),
        body[..1000]
    );
    assert!(front.log().contains("does not match its checksum"));

    // The data directory keeps its backend: starting it on local files is refused.
    front.stop();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(front.data_dir())
        .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds its chunks in s3://chunks/front@"),
        "{err}"
    );

    // The offline check finds the backend from the data directory and
    // reads every chunk there: the damaged one is reported.
    if common::engines::skip("kura fsck reads the data directory's RocksDB, not etcd") {
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
        .arg("fsck")
        .arg(front.data_dir())
        .env("KURA_BLOBS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_BLOBS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("checked 3 chunks"), "{report}");
    let damaged = damaged.unwrap();
    let id = damaged.trim_start_matches(PREFIX);
    assert!(report.contains(&format!("corrupted  {id}")), "{report}");
}

/// A one-node Ceph cluster (`scripts/ceph-cluster`), stopped on drop.
struct Ceph {
    dir: tempfile::TempDir,
}

impl Ceph {
    /// Starts one, or `None` (the test is skipped, saying why) where the
    /// Ceph packages are not installed.
    fn start() -> Option<Ceph> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/ceph-cluster"
        ))
        .arg("start")
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
        if out.status.code() == Some(3) {
            eprintln!(
                "SKIPPED: {} (the Ceph RADOS backend test needs ceph-mon and ceph-osd)",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        let ceph = Ceph { dir };
        assert!(
            out.status.success(),
            "starting Ceph: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(ceph)
    }

    fn conf(&self) -> String {
        self.dir.path().join("c/ceph.conf").display().to_string()
    }

    /// Stops the OSD (SIGSTOP) until the guard is dropped: every placement
    /// group hangs, as when its OSDs are stuck.
    fn hang_osd(&self) -> HungOsd {
        let pid = std::fs::read_to_string(self.dir.path().join("c/run/ceph-osd.0.pid")).unwrap();
        let pid = pid.trim().to_string();
        // (the shell's own `kill`: a fresh Debian may lack procps)
        let stopped = std::process::Command::new("sh")
            .args(["-c", &format!("kill -STOP {pid}")])
            .status()
            .unwrap();
        assert!(stopped.success());
        HungOsd(pid)
    }

    /// `rados -p kura -N NS ARGS…`, its standard output.
    fn rados(&self, ns: &str, args: &[&str]) -> String {
        let out = std::process::Command::new("rados")
            .args(["-c", &self.conf(), "-p", "kura", "-N", ns])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A stopped OSD, continued when dropped (also when an assertion fails).
struct HungOsd(String);

impl Drop for HungOsd {
    fn drop(&mut self) {
        let _ = std::process::Command::new("sh")
            .args(["-c", &format!("kill -CONT {}", self.0)])
            .status();
    }
}

impl Drop for Ceph {
    fn drop(&mut self) {
        let _ = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/ceph-cluster"
        ))
        .arg("stop")
        .arg(self.dir.path().join("c"))
        .status();
    }
}

#[tokio::test]
async fn objects_round_trip_through_ceph_rados() {
    let Some(ceph) = Ceph::start() else {
        return;
    };
    let url = format!(
        "rados://kura?conf={}&namespace=front&op_timeout=3s",
        ceph.conf()
    );
    let front = Server::start_with(&["--blobs", &url, "--chunk-size", "1MiB", "--retention", "0s"]);
    let s3 = front.client_no_retry().await;
    s3.create_bucket().bucket("data").send().await.unwrap();
    let body = pattern(2 * (1 << 20) + 4321, 7);
    put(&s3, "k", &body).await;
    put(&s3, "gone", &body).await;
    assert_eq!(get(&s3, "k", None).await.unwrap(), body);
    let (from, to) = ((1 << 20) - 10, (1 << 20) + 10);
    assert_eq!(
        get(&s3, "k", Some(format!("bytes={from}-{to}")))
            .await
            .unwrap(),
        body[from..=to]
    );
    let objects = |ceph: &Ceph| ceph.rados("front", &["ls"]).lines().count();
    assert_eq!(objects(&ceph), 6, "one RADOS object per chunk");
    assert_eq!(front.chunk_files(), 0);

    // Deleted (retention 0): the purger removes its RADOS objects.
    s3.delete_object()
        .bucket("data")
        .key("gone")
        .send()
        .await
        .unwrap();
    let mut left = 0;
    for _ in 0..100 {
        left = objects(&ceph);
        if left == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 3);

    // A RADOS object rewritten behind kura's back is an error, not wrong bytes.
    let mut damaged = 0;
    for name in ceph.rados("front", &["ls"]).lines() {
        let file = ceph.dir.path().join("obj");
        ceph.rados("front", &["get", name, file.to_str().unwrap()]);
        let mut bytes = std::fs::read(&file).unwrap();
        if bytes[..] == body[1 << 20..2 << 20] {
            bytes[77] ^= 1;
            std::fs::write(&file, bytes).unwrap();
            ceph.rados("front", &["put", name, file.to_str().unwrap()]);
            damaged += 1;
        }
    }
    assert_eq!(damaged, 1);
    assert!(get(&s3, "k", None).await.is_err());
    assert_eq!(
        get(&s3, "k", Some("bytes=0-99".into())).await.unwrap(),
        body[..100]
    );

    // A placement group that cannot answer (its only OSD hung) fails the
    // write after `op_timeout` with 503, and nothing is committed; the
    // same write succeeds once the OSD is back.
    let small = pattern(300_000, 8);
    let hung = ceph.hang_osd();
    let started = std::time::Instant::now();
    let err = s3
        .put_object()
        .bucket("data")
        .key("stuck")
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap_err();
    let waited = started.elapsed();
    drop(hung);
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{err:?}"
    );
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("ServiceUnavailable")
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(30),
        "failed after {waited:?} (op_timeout=3s)"
    );
    let missing = s3
        .head_object()
        .bucket("data")
        .key("stuck")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        missing.raw_response().map(|r| r.status().as_u16()),
        Some(404)
    );
    put(&s3, "stuck", &small).await;
    assert_eq!(get(&s3, "stuck", None).await.unwrap(), small);
}
