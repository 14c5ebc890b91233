//! Bucket quotas and usage counters: refused before the body, counted right
//! after overwrites, deletes and purges, and equal to a scan.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common;
use common::admin;
use common::raw::{signed_head, Raw};
use common::Server;

fn usage(server: &Server, bucket: &str) -> (i64, i64, i64, i64) {
    let all = admin::json(server, &["bucket", "usage"]);
    let u = all
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["bucket"] == bucket)
        .expect("bucket listed")
        .clone();
    let n = |f: &str| u[f].as_i64().unwrap();
    (
        n("objects"),
        n("bytes"),
        n("trash_objects"),
        n("trash_bytes"),
    )
}

fn put(server: &Server, key: &str, len: usize) -> (u16, String) {
    let r = Raw::new("PUT", &format!("/quota/{key}"))
        .body(common::pattern(len, len as u64))
        .send(&server.addr);
    (
        r.status,
        if r.status == 200 {
            String::new()
        } else {
            r.body_text()
        },
    )
}

/// Sends only the head of a PUT declaring `len` bytes and reads the answer:
/// a quota refusal must come before a byte of the body is sent.
fn head_only_put(server: &Server, key: &str, len: usize) -> String {
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(signed_head("PUT", &format!("/quota/{key}"), &server.addr, len).as_bytes())
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).expect("an answer without the body");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn http_chunked(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in data.chunks(4096) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn quotas_refuse_before_the_body_and_usage_counts_right() {
    let server = Server::start_with(&["--retention", "0s", "--inline-threshold", "1KiB"]);
    assert_eq!(Raw::new("PUT", "/quota").send(&server.addr).status, 200);
    let out = admin::run(
        &server,
        &[
            "bucket",
            "set",
            "quota",
            "--quota",
            "100KiB",
            "--max-objects",
            "3",
        ],
    );
    assert!(out.contains("quota=102400  max_objects=3"), "{out}");

    assert_eq!(put(&server, "a", 60 * 1024).0, 200);
    assert_eq!(usage(&server, "quota"), (1, 60 * 1024, 0, 0));
    // Declared too large: refused at once, before the body.
    let answer = head_only_put(&server, "b", 41 * 1024);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("<Code>QuotaExceeded</Code>"), "{answer}");
    // Streamed (no length): refused when it crosses, nothing kept.
    let files_before = server.chunk_files();
    let mut r = Raw::new("PUT", "/quota/streamed")
        .header("transfer-encoding", "chunked")
        .body(http_chunked(&common::pattern(50 * 1024, 1)));
    r.no_content_length = true;
    r.payload_hash = Some("UNSIGNED-PAYLOAD".into());
    let r = r.send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (403, "QuotaExceeded"));
    assert_eq!(
        server.chunk_files(),
        files_before,
        "no chunk of the refused body stays"
    );
    // A browser form (POST Object) is held to the quota as its file streams.
    let r = common::form::post(
        &server.addr,
        common::ACCESS_KEY,
        common::SECRET_KEY,
        "quota",
        "form",
        &common::pattern(50 * 1024, 2),
    );
    assert_eq!((r.status, r.code().as_str()), (403, "QuotaExceeded"));
    assert_eq!(
        server.chunk_files(),
        files_before,
        "nothing of the form stays"
    );
    // Replacing "a" frees its bytes: 90 KiB in its place fits.
    let replaced = put(&server, "a", 90 * 1024);
    assert_eq!(replaced.0, 200, "{}", replaced.1);
    assert_eq!(put(&server, "b", 9 * 1024).0, 200);
    assert_eq!(put(&server, "c", 100).0, 200);
    assert_eq!(usage(&server, "quota").0, 3);
    assert_eq!(usage(&server, "quota").1, 99 * 1024 + 100);
    let (status, body) = put(&server, "d", 1);
    assert_eq!(status, 403);
    assert!(
        body.contains("<Code>QuotaExceeded</Code>"),
        "object count: {body}"
    );
    // A delete frees its object and bytes at once (the trash is not counted
    // against the quota); the trash empties with the purge (retention 0s).
    let del = Raw::new("DELETE", "/quota/b").send(&server.addr);
    assert_eq!(del.status, 204);
    let (objects, bytes, _, _) = usage(&server, "quota");
    assert_eq!((objects, bytes), (2, 90 * 1024 + 100));
    common::eventually(
        "the purge empties the trash",
        Duration::from_secs(20),
        || usage(&server, "quota").2 == 0,
    )
    .await;
    assert_eq!(usage(&server, "quota"), (2, 90 * 1024 + 100, 0, 0));
    assert_eq!(put(&server, "d", 1).0, 200);

    // Multipart: parts are held to the room left, and so is the object.
    let s3 = server.client_no_retry().await;
    let upload = common::multipart::create_upload(&s3, "quota", "big").await;
    let part = s3
        .upload_part()
        .bucket("quota")
        .key("big")
        .upload_id(&upload)
        .part_number(1)
        .body(common::pattern(20 * 1024, 2).into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        part.into_service_error().meta().code(),
        Some("QuotaExceeded")
    );

    // The counters equal a scan.
    let recomputed = admin::json(&server, &["usage", "recompute"]);
    for r in recomputed.as_array().unwrap() {
        assert_eq!(r["equal"], true, "{r}");
    }
    // Removing the quota lifts it.
    admin::run(
        &server,
        &[
            "bucket",
            "set",
            "quota",
            "--quota",
            "none",
            "--max-objects",
            "none",
        ],
    );
    assert_eq!(put(&server, "e", 200 * 1024).0, 200);
}

/// Many writers at once on one bucket: the counters (merge operands, no
/// read-modify-write) still equal a scan.
#[tokio::test]
async fn concurrent_writes_keep_counters_exact() {
    let server = Server::start_with(&["--inline-threshold", "1KiB"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("quota").send().await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let s3 = s3.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20u64 {
                let body = common::pattern((t * 997 + i * 131) as usize % 3000, i);
                // Overwrites of shared keys and deletes among them.
                let key = format!("k{}", (t + i) % 10);
                // 409s of writes racing on one key are expected.
                if i % 7 == 6 {
                    let _ = s3.delete_object().bucket("quota").key(&key).send().await;
                } else {
                    let _ = s3
                        .put_object()
                        .bucket("quota")
                        .key(&key)
                        .body(body.into())
                        .send()
                        .await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let recomputed = admin::json(&server, &["usage", "recompute"]);
    let r = &recomputed.as_array().unwrap()[0];
    assert_eq!(r["equal"], true, "{r}");
    assert!(r["scanned"]["trash_objects"].as_i64().unwrap() > 0);
}
