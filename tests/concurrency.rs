//! The per-file concurrency policy (README "Per-file concurrency policy"),
//! each rule against the running server, with timing the test controls: a
//! download read a little at a time, an upload held open on a raw socket.

use crate::common;

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use common::raw::Raw;
use common::slow::{SlowGet, SlowPut};
use common::{md5_hex, pattern, Server};

const MIB: usize = 1 << 20;

async fn put(s: &Server, bucket: &str, key: &str, body: Vec<u8>) {
    s.client()
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("put");
}

async fn get(s: &Server, bucket: &str, key: &str) -> Vec<u8> {
    s.client()
        .await
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}

fn assert_conflict(r: &common::raw::RawResponse, what: &str) {
    assert_eq!(r.status, 409, "{what}: {r:?}");
    if !r.body.is_empty() {
        assert_eq!(r.code(), "OperationAborted", "{what}");
    }
    assert!(r.header("retry-after").is_some(), "{what}: Retry-After");
}

/// Rules 1-3: two slow downloads of a 64 MiB object run side by side while
/// the key is overwritten and then deleted (neither waits for them), and
/// with a 1 s retention the old version's purge falls due mid-download;
/// both still get exactly the old bytes.
#[tokio::test(flavor = "multi_thread")]
async fn slow_downloads_keep_their_version_through_overwrite_delete_and_purge() {
    let s = Server::start_with(&["--retention", "1s", "--chunk-size", "8MiB"]);
    let c = s.client().await;
    c.create_bucket().bucket("xfer").send().await.unwrap();
    let old = pattern(64 * MIB, 1);
    let new = pattern(3 * MIB, 2);
    put(&s, "xfer", "big.bin", old.clone()).await;
    let chunks_of_old = s.chunk_files();
    assert_eq!(chunks_of_old, 8);

    let addr = s.addr.clone();
    let (mut a, mut b) = tokio::task::spawn_blocking(move || {
        let mut a = SlowGet::start(&addr, "/xfer/big.bin");
        let mut b = SlowGet::start(&addr, "/xfer/big.bin");
        assert_eq!((a.status, b.status), (200, 200));
        a.read(MIB);
        b.read(MIB / 2);
        (a, b)
    })
    .await
    .unwrap();

    // Updates and deletes do not wait for the downloads.
    let started = std::time::Instant::now();
    put(&s, "xfer", "big.bin", new.clone()).await;
    assert_eq!(md5_hex(&get(&s, "xfer", "big.bin").await), md5_hex(&new));
    c.delete_object()
        .bucket("xfer")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = s
        .client_no_retry()
        .await
        .get_object()
        .bucket("xfer")
        .key("big.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));

    // The old version is due now; the purger must wait for the readers.
    common::eventually(
        "the purge of the old version deferred",
        Duration::from_secs(10),
        || {
            s.log()
                .contains("purge deferred: a download is reading this version")
        },
    )
    .await;
    let (a, b) = tokio::task::spawn_blocking(move || {
        a.read(10 * MIB);
        b.read(20 * MIB);
        (a.finish(), b.finish())
    })
    .await
    .unwrap();
    assert_eq!(a.len(), old.len());
    assert_eq!(
        md5_hex(&a),
        md5_hex(&old),
        "first slow reader got the old bytes"
    );
    assert_eq!(
        md5_hex(&b),
        md5_hex(&old),
        "second slow reader got the old bytes"
    );
    // Once the readers are gone, the purge happens and the space comes back.
    common::eventually(
        "old and new versions purged",
        Duration::from_secs(15),
        || s.chunk_files() == 0,
    )
    .await;
}

/// Rule 4: while an upload of a key is in progress, GET, HEAD, PUT (update
/// or create), CompleteMultipartUpload, DELETE, DELETE of a version and
/// PutObjectAcl of that key are refused at once with
/// 409 OperationAborted and Retry-After; other keys are unaffected; the
/// upload then completes and replaces the old version.
#[tokio::test(flavor = "multi_thread")]
async fn every_access_to_a_key_being_written_is_refused() {
    let s = Server::start();
    let c = s.client().await;
    c.create_bucket().bucket("xfer").send().await.unwrap();
    // Versioned, so the PUT hands out the id the version delete below names.
    common::enable_versioning(&c, "xfer").await;
    let old_version = c
        .put_object()
        .bucket("xfer")
        .key("doc.bin")
        .body(ByteStream::from_static(b"old version"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    put(&s, "xfer", "other-src", b"source".to_vec()).await;
    let addr = s.addr.clone();
    let new = pattern(2 * MIB, 3);
    let body = new.clone();
    let upload =
        tokio::task::spawn_blocking(move || SlowPut::start(&addr, "/xfer/doc.bin", body, MIB))
            .await
            .unwrap();

    // CompleteMultipartUpload onto the key is a write too.
    let nr = s.client_no_retry().await;
    let mp = nr
        .create_multipart_upload()
        .bucket("xfer")
        .key("doc.bin")
        .send()
        .await
        .unwrap();
    let upload_id = mp.upload_id().unwrap();
    let part = nr
        .upload_part()
        .bucket("xfer")
        .key("doc.bin")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let complete = nr
        .complete_multipart_upload()
        .bucket("xfer")
        .key("doc.bin")
        .upload_id(upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("complete during a write");
    assert_eq!(complete.raw_response().unwrap().status().as_u16(), 409);
    assert_eq!(
        complete.into_service_error().meta().code(),
        Some("OperationAborted")
    );

    let addr = s.addr.clone();
    tokio::task::spawn_blocking(move || {
        assert_conflict(&Raw::new("GET", "/xfer/doc.bin").send(&addr), "GET");
        assert_conflict(&Raw::new("HEAD", "/xfer/doc.bin").send(&addr), "HEAD");
        assert_conflict(
            &Raw::new("PUT", "/xfer/doc.bin").body("clobber").send(&addr),
            "PUT",
        );
        assert_conflict(
            &Raw::new("PUT", "/xfer/doc.bin")
                .header("if-none-match", "*")
                .body("create")
                .send(&addr),
            "PUT If-None-Match",
        );
        assert_conflict(&Raw::new("DELETE", "/xfer/doc.bin").send(&addr), "DELETE");
        assert_conflict(
            &Raw::new("DELETE", &format!("/xfer/doc.bin?versionId={old_version}")).send(&addr),
            "DELETE version",
        );
        assert_conflict(
            &Raw::new("PUT", "/xfer/doc.bin?acl")
                .header("x-amz-acl", "public-read")
                .send(&addr),
            "PutObjectAcl",
        );
        // A copy onto the key is a write; a copy from it reads it.
        assert_conflict(
            &Raw::new("PUT", "/xfer/doc.bin")
                .header("x-amz-copy-source", "/xfer/other-src")
                .send(&addr),
            "CopyObject onto",
        );
        assert_conflict(
            &Raw::new("PUT", "/xfer/copy.bin")
                .header("x-amz-copy-source", "/xfer/doc.bin")
                .send(&addr),
            "CopyObject from",
        );
        // Another key is not affected.
        assert_eq!(
            Raw::new("PUT", "/xfer/other").body("x").send(&addr).status,
            200
        );
        let done = upload.finish();
        assert_eq!(done.status, 200, "{done:?}");
    })
    .await
    .unwrap();
    assert_eq!(md5_hex(&get(&s, "xfer", "doc.bin").await), md5_hex(&new));
}

/// Rule 4, `--reads-during-write=previous`: downloads started during a
/// write get the previous version; writes stay exclusive.
#[tokio::test(flavor = "multi_thread")]
async fn previous_mode_serves_the_old_version_during_a_write() {
    let s = Server::start_with(&["--reads-during-write", "previous"]);
    let c = s.client().await;
    c.create_bucket().bucket("xfer").send().await.unwrap();
    let old = pattern(5 * MIB, 4);
    put(&s, "xfer", "doc.bin", old.clone()).await;
    let addr = s.addr.clone();
    let new = pattern(2 * MIB, 5);
    let old_md5 = md5_hex(&old);
    let body = new.clone();
    tokio::task::spawn_blocking(move || {
        let upload = SlowPut::start(&addr, "/xfer/doc.bin", body, MIB);
        let r = Raw::new("GET", "/xfer/doc.bin").send(&addr);
        assert_eq!(r.status, 200);
        assert_eq!(
            md5_hex(&r.body),
            md5_hex(&old),
            "the previous version is served"
        );
        assert_eq!(Raw::new("HEAD", "/xfer/doc.bin").send(&addr).status, 200);
        let copy = Raw::new("PUT", "/xfer/copy.bin")
            .header("x-amz-copy-source", "/xfer/doc.bin")
            .send(&addr);
        assert_eq!(copy.status, 200, "a copy reads the previous version too");
        let r = Raw::new("GET", "/xfer/copy.bin").send(&addr);
        assert_eq!(md5_hex(&r.body), old_md5);
        assert_conflict(
            &Raw::new("PUT", "/xfer/doc.bin").body("clobber").send(&addr),
            "PUT",
        );
        assert_conflict(&Raw::new("DELETE", "/xfer/doc.bin").send(&addr), "DELETE");
        assert_eq!(upload.finish().status, 200);
    })
    .await
    .unwrap();
    assert_eq!(md5_hex(&get(&s, "xfer", "doc.bin").await), md5_hex(&new));
}

/// Rule 6: a cut-off upload releases its lock and leaves no file behind;
/// the key keeps its previous version.
#[tokio::test(flavor = "multi_thread")]
async fn a_cut_off_upload_releases_its_lock() {
    let s = Server::start();
    let c = s.client().await;
    c.create_bucket().bucket("xfer").send().await.unwrap();
    put(&s, "xfer", "doc.bin", b"kept".to_vec()).await;
    let addr = s.addr.clone();
    tokio::task::spawn_blocking(move || {
        SlowPut::start(&addr, "/xfer/doc.bin", pattern(20 * MIB, 6), 10 * MIB).cut_off()
    })
    .await
    .unwrap();
    let addr = s.addr.clone();
    common::eventually("the lock released", Duration::from_secs(10), || {
        Raw::new("HEAD", "/xfer/doc.bin").send(&addr).status == 200
    })
    .await;
    assert_eq!(get(&s, "xfer", "doc.bin").await, b"kept");
    common::eventually(
        "the partial upload's files removed",
        Duration::from_secs(10),
        || s.chunk_files() == 0,
    )
    .await;
    put(&s, "xfer", "doc.bin", b"next".to_vec()).await;
    assert_eq!(get(&s, "xfer", "doc.bin").await, b"next");
}

/// Rule 5: creating a key that exists is refused.
#[tokio::test(flavor = "multi_thread")]
async fn create_only_put_refuses_an_existing_key() {
    let s = Server::start();
    let c = s.client().await;
    c.create_bucket().bucket("xfer").send().await.unwrap();
    let addr = s.addr.clone();
    tokio::task::spawn_blocking(move || {
        let create = || {
            Raw::new("PUT", "/xfer/once.txt")
                .header("if-none-match", "*")
                .body("first")
                .send(&addr)
        };
        assert_eq!(create().status, 200);
        let again = create();
        assert_eq!(again.status, 412);
        assert_eq!(again.code(), "PreconditionFailed");
    })
    .await
    .unwrap();
    assert_eq!(get(&s, "xfer", "once.txt").await, b"first");
}
