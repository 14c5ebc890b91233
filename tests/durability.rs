//! Restarts, crashes and cut-off uploads: complete or nothing, and no leaked files.

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use common::{eventually, md5_hex, pattern, Server};

#[tokio::test]
async fn everything_survives_a_restart() {
    let mut server = Server::start_with(&["--chunk-size", "1MiB"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("keep").send().await.unwrap();
    let big = pattern(3 << 20, 9);
    s3.put_object()
        .bucket("keep")
        .key("big")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("keep")
        .key("small")
        .content_type("text/plain")
        .metadata("k", "v")
        .body(ByteStream::from_static(b"tiny"))
        .send()
        .await
        .unwrap();

    server.restart(); // SIGKILL: a 200 must already mean synced.
    let s3 = server.client().await;
    let got = s3
        .get_object()
        .bucket("keep")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(
        md5_hex(&got.body.collect().await.unwrap().into_bytes()),
        md5_hex(&big)
    );
    let got = s3
        .get_object()
        .bucket("keep")
        .key("small")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().unwrap().get("k").map(String::as_str),
        Some("v")
    );
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"tiny");
    let buckets = s3.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets().len(), 1);
}

/// Starts a PUT of `total` bytes, sends `sent` of them, and returns the open socket.
fn partial_upload(server: &Server, key: &str, total: usize, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(&server.addr).unwrap();
    let head = common::raw::signed_head("PUT", &format!("/bkt/{key}"), &server.addr, total);
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&vec![1u8; sent]).unwrap();
    s.flush().unwrap();
    s
}

#[tokio::test]
async fn cut_off_upload_leaves_nothing() {
    let server = Server::start_with(&["--chunk-size", "1MiB"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let socket = partial_upload(&server, "cut", 10 << 20, 4 << 20);
    eventually(
        "chunk files of the upload in progress",
        Duration::from_secs(20),
        || server.chunk_files() >= 2,
    )
    .await;
    drop(socket); // the client goes away mid-body
    eventually(
        "chunk files removed after the disconnect",
        Duration::from_secs(20),
        || server.chunk_files() == 0,
    )
    .await;
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("cut")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    // The key is free again: its write lock was released.
    s3.put_object()
        .bucket("bkt")
        .key("cut")
        .body(ByteStream::from_static(b"ok"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn crash_mid_upload_is_cleaned_at_start_up() {
    let mut server = Server::start_with(&["--chunk-size", "1MiB"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("kept")
        .body(ByteStream::from(pattern(2 << 20, 3)))
        .send()
        .await
        .unwrap();
    let _socket = partial_upload(&server, "crash", 10 << 20, 4 << 20);
    eventually(
        "chunk files of the upload in progress",
        Duration::from_secs(20),
        || server.chunk_files() >= 4,
    )
    .await;
    server.restart();
    // On a shared chunk backend (the etcd + RADOS pass) the start-up sweep
    // keeps chunks younger than an hour: another front end's uploads.
    if !common::engines::distributed() {
        assert_eq!(
            server.chunk_files(),
            2,
            "only the committed object's chunks remain"
        );
    }
    let s3 = server.client_no_retry().await;
    let head = || async {
        s3.head_object()
            .bucket("bkt")
            .key("crash")
            .send()
            .await
            .unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16())
    };
    // On etcd the killed front end's write lock is a leased record: the key
    // answers 409 until that lease ends (5 s), then 404.
    if common::engines::distributed() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while head().await == Some(409) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    assert_eq!(head().await, Some(404));
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().len(),
        2 << 20
    );
}
