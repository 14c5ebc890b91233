//! Limits: object size (server-wide and per bucket), request head size,
//! slow clients (headers and bodies), and the connection cap.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::raw::{signed_head, Raw};
use common::{admin, Server};

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(&server.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Reads until the server closes the connection (or 30 s pass).
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn oversized_upload_is_refused_before_its_body_is_stored() {
    let server = Server::start_with(&["--max-object-size", "1MiB"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("limits").send().await.unwrap();

    // Only the head is sent: the answer comes without the server waiting for
    // (or storing) a byte of the 3 MiB body.
    let mut conn = connect(&server);
    let head = signed_head("PUT", "/limits/big.bin", &server.addr, 3 << 20);
    conn.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("<Code>EntityTooLarge</Code>"), "{answer}");
    drop(conn);
    assert_eq!(server.chunk_files(), 0);
    let head = s3
        .head_object()
        .bucket("limits")
        .key("big.bin")
        .send()
        .await;
    assert_eq!(
        head.unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16()),
        Some(404)
    );

    // A bucket's own, smaller limit, set through the admin CLI.
    s3.create_bucket().bucket("small").send().await.unwrap();
    let shown = admin::json(
        &server,
        &["bucket", "set", "small", "--max-object-size", "1KiB"],
    );
    assert_eq!(shown["max_object_size"], 1024);
    let too_big = s3
        .put_object()
        .bucket("small")
        .key("a")
        .body(ByteStream::from(vec![7u8; 2048]))
        .send()
        .await;
    assert_eq!(too_big.unwrap_err().code(), Some("EntityTooLarge"));
    s3.put_object()
        .bucket("small")
        .key("a")
        .body(ByteStream::from(vec![7u8; 1000]))
        .send()
        .await
        .unwrap();
    // The same 2 KiB fit in the other bucket, under the server's limit.
    s3.put_object()
        .bucket("limits")
        .key("a")
        .body(ByteStream::from(vec![7u8; 2048]))
        .send()
        .await
        .unwrap();
    // And `none` returns the bucket to the server's limit.
    let shown = admin::json(
        &server,
        &["bucket", "set", "small", "--max-object-size", "none"],
    );
    assert!(shown["max_object_size"].is_null());
}

#[tokio::test]
async fn slow_header_client_is_cut_off_while_others_are_served() {
    let server = Server::start_with(&["--header-read-timeout", "2s"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("busy").send().await.unwrap();

    let request = format!(
        "GET /busy HTTP/1.1\r\nHost: {}\r\nX-Slow: {}\r\n\r\n",
        server.addr,
        "z".repeat(64)
    );
    let mut slow = connect(&server);
    let mut reader = slow.try_clone().unwrap();
    let started = Instant::now();
    // One byte a second, for far longer than the timeout if never stopped.
    let writer = std::thread::spawn(move || {
        let mut sent = 0;
        for b in request.bytes() {
            if slow.write_all(&[b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
        (sent, request.len())
    });
    let closed = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 1024];
        // Returns when the server closes the connection.
        let n = reader.read(&mut buf).unwrap_or(0);
        (
            started.elapsed(),
            String::from_utf8_lossy(&buf[..n]).into_owned(),
        )
    });

    // Meanwhile everyone else is served normally.
    for i in 0..5 {
        let key = format!("k{i}");
        s3.put_object()
            .bucket("busy")
            .key(&key)
            .body(ByteStream::from_static(b"data"))
            .send()
            .await
            .unwrap();
        let got = s3
            .get_object()
            .bucket("busy")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"data"
        );
    }

    let (after, answer) = closed.await.unwrap();
    assert!(
        after < Duration::from_secs(10),
        "cut off only after {after:?}"
    );
    assert!(
        !answer.contains(" 200 "),
        "the slow request was served: {answer}"
    );
    let (sent, total) = writer.join().unwrap();
    assert!(sent < total, "the slow client got to send its whole head");
}

#[tokio::test]
async fn stalled_body_gets_request_timeout_and_the_connection_closed() {
    let server = Server::start_with(&["--body-idle-timeout", "1s"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("slow").send().await.unwrap();

    let mut conn = connect(&server);
    let head = signed_head("PUT", "/slow/partial.bin", &server.addr, 100);
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&[1u8; 10]).unwrap();
    // Then nothing: the server answers and closes (read_all sees the end).
    let started = Instant::now();
    let answer = read_all(&mut conn);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    let head = s3
        .head_object()
        .bucket("slow")
        .key("partial.bin")
        .send()
        .await;
    assert!(head.is_err());
    assert_eq!(server.chunk_files(), 0);
}

#[tokio::test]
async fn request_head_size_is_limited() {
    let server = Server::start_with(&["--max-header-size", "16KiB"]);
    let ok = Raw::new("GET", "/")
        .header("x-amz-meta-pad", &"p".repeat(1024))
        .send(&server.addr);
    assert_eq!(ok.status, 200);
    let mut conn = connect(&server);
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nX-Pad: {}\r\n\r\n",
        server.addr,
        "p".repeat(64 * 1024)
    );
    let _ = conn.write_all(huge.as_bytes());
    let answer = read_all(&mut conn);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = Server::start_with(&["--max-connections", "1"]);
    // Connection A holds the only slot (idle, no request yet).
    let a = connect(&server);
    let addr = server.addr.clone();
    let b = std::thread::spawn(move || Raw::new("GET", "/").send(&addr).status);
    // B cannot be served while A is open…
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !b.is_finished(),
        "a second connection was served beyond the cap"
    );
    // …and is served as soon as A closes.
    drop(a);
    assert_eq!(b.join().unwrap(), 200);
}
