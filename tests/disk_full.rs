//! Disk-full: on a 128 MiB tmpfs, writes stop with 507 InsufficientStorage at
//! the `--min-free-space` mark before taking bytes, reads, listings and
//! deletes go on, the server takes writes again by itself once space
//! returns, and a streamed upload that runs the file system out of space
//! mid-body leaves no chunk behind. Needs root (mount); skipped otherwise.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common;
use common::raw::Raw;
use common::Server;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(at))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn put(server: &Server, key: &str, body: &[u8]) -> (u16, String) {
    let r = Raw::new("PUT", &format!("/full/{key}"))
        .body(body.to_vec())
        .send(&server.addr);
    (r.status, r.code())
}

#[tokio::test]
async fn writes_stop_at_the_mark_and_resume_when_space_returns() {
    if common::engines::skip(
        "fills the small file system of the data directory, where neither metadata nor chunks are",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(mount) = Tmpfs::mount(tmp.path().join("data"), "128m") else {
        eprintln!("SKIPPED disk_full: cannot mount a tmpfs here (needs root)");
        return;
    };
    let server = Server::start_in(
        tmp,
        // Small memtables: RocksDB preallocates its log at 1.1 × their size,
        // room the objects need on a small file system.
        &[
            "--min-free-space",
            "8MiB",
            "--retention",
            "0s",
            "--chunk-size",
            "1MiB",
            "--rocksdb-total-write-buffers",
            "8MiB",
            "--rocksdb-write-buffer-size",
            "4MiB",
        ],
        &[],
    );
    assert_eq!(Raw::new("PUT", "/full").send(&server.addr).status, 200);
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..300u64 {
        let body = common::pattern(1 << 20, i);
        match put(&server, &format!("o{i:03}"), &body) {
            (200, _) => acked.push((format!("o{i:03}"), common::md5_hex(&body))),
            (status, code) => {
                refused = Some((status, code));
                break;
            }
        }
    }
    assert_eq!(
        refused,
        Some((507, "InsufficientStorage".to_string())),
        "the mark stops writes"
    );
    assert!(acked.len() >= 10, "only {} objects fit", acked.len());
    // Nothing half-written: one 1 MiB chunk per acknowledged object.
    assert_eq!(server.chunk_files(), acked.len());

    // Reads, listings and deletes go on.
    let s3 = server.client_no_retry().await;
    let listed = s3
        .list_objects_v2()
        .bucket("full")
        .send()
        .await
        .unwrap()
        .key_count();
    assert_eq!(listed, Some(acked.len() as i32));
    for (key, md5) in &acked {
        let got = s3
            .get_object()
            .bucket("full")
            .key(key)
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&common::md5_hex(&bytes), md5, "{key}");
    }
    for (key, _) in acked.drain(..20) {
        s3.delete_object()
            .bucket("full")
            .key(&key)
            .send()
            .await
            .unwrap();
    }
    // Space returns with the purge (retention 0s): writes are taken again.
    let body = common::pattern(1 << 20, 1000);
    let mut last = (0, String::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        last = put(&server, "after", &body);
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last.0,
        200,
        "writes resume ({} objects had fit): {}",
        acked.len() + 6,
        last.1
    );
    acked.push(("after".into(), common::md5_hex(&body)));

    // A streamed body (no length) cannot be refused up front: one larger
    // than the file system runs it out of space mid-body. It fails, and
    // leaves no chunk behind.
    let big = common::pattern(160 << 20, 7);
    let mut chunked = Vec::new();
    for piece in big.chunks(1 << 16) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let mut r = Raw::new("PUT", "/full/huge")
        .header("transfer-encoding", "chunked")
        .body(chunked);
    r.no_content_length = true;
    r.payload_hash = Some("UNSIGNED-PAYLOAD".into());
    let r = r.send(&server.addr);
    assert_eq!(r.status, 507, "{}", r.body_text());
    // The 507 can go out before the upload's writer is dropped on its
    // blocking thread, which is where its chunks are removed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.chunk_files() != acked.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.chunk_files(),
        acked.len(),
        "no chunk of the failed upload stays"
    );
    for (key, md5) in &acked {
        let got = s3
            .get_object()
            .bucket("full")
            .key(key)
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&common::md5_hex(&bytes), md5, "{key}");
    }
    // And the server still takes writes that fit.
    common::eventually("writes after a full disk", Duration::from_secs(20), || {
        put(&server, "small", b"fits").0 == 200
    })
    .await;
    drop(server);
    drop(mount);
}
