//! Commits whose outcome is unknown (issue 15): etcd applied the change but
//! its answer never reached kura (a timeout, a connection reset, a member
//! killed). The write must not remove the chunk files of a change that did
//! commit; it reads its commit point again and answers as if the answer
//! had come (`storage/src/unknown_outcome.rs`, `split_commit.rs`). A commit
//! that cannot be settled keeps its files and answers 503.
//!
//! The faults are test-only switches of the etcd engine
//! (`KURA_TEST_ETCD_LOSE_ANSWER` / `_REQUEST`, `storage/src/test_faults.rs`).

use aws_sdk_s3::primitives::ByteStream;

use crate::common;
use common::etcd::Etcd;
use common::multipart::{completed, create_upload, upload_part};
use common::{get_version, pattern, Server};

/// 16 KiB chunks: 96 KiB is six chunk files, 5 MiB is 320 (a commit split
/// into steps, whose last one is the commit point).
const CHUNK: &str = "16KiB";
const SMALL: usize = 96 << 10;
const BIG: usize = 5 << 20;

async fn put(c: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) -> Result<(), String> {
    c.put_object()
        .bucket("lost")
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{:?}", e.raw_response().map(|r| r.status().as_u16())))
}

#[tokio::test]
async fn a_commit_whose_answer_is_lost_keeps_its_chunks() {
    let Some(etcd) = Etcd::start() else { return };
    let s = Server::start_with_env(
        &["--meta", &etcd.meta("lost"), "--chunk-size", CHUNK],
        &[
            // Object rows of keys `lost-…` and every part row: applied,
            // answer dropped.
            ("KURA_TEST_ETCD_LOSE_ANSWER", "lost-,parts/"),
            // Object rows of keys `unsent-…`: never sent, answer dropped.
            ("KURA_TEST_ETCD_LOSE_REQUEST", "unsent-"),
        ],
    );
    let c = s.client_no_retry().await;
    c.create_bucket().bucket("lost").send().await.unwrap();

    // A PUT (one commit) and a large PUT (the split commit's commit point)
    // whose answers were lost: the commit point shows they applied, so
    // they answer 200 and their bytes stay readable.
    let small = pattern(SMALL, 1);
    put(&c, "lost-small", small.clone()).await.unwrap();
    assert_eq!(get_version(&c, "lost", "lost-small", None).await, small);
    let big = pattern(BIG, 2);
    put(&c, "lost-big", big.clone()).await.unwrap();
    assert_eq!(get_version(&c, "lost", "lost-big", None).await, big);
    assert!(
        etcd.keys("lost/meta/split/").is_empty(),
        "the split commit's head and undo pages are gone"
    );

    // An UploadPart whose answer was lost: the part row is there, the
    // part answers, completes, and reads back whole.
    let id = create_upload(&c, "lost", "mp").await;
    let part = pattern(SMALL, 3);
    let done = upload_part(&c, "lost", "mp", &id, 1, &part).await;
    c.complete_multipart_upload()
        .bucket("lost")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(completed(vec![done]))
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&c, "lost", "mp", None).await, part);
    let files = s.chunk_files();
    assert_eq!(files, 6 + 320 + 6, "every committed write kept its files");

    // A commit never applied, its answer lost too: kura cannot tell, so
    // it answers 503 and keeps the files (the orphan sweep's job).
    let refused = put(&c, "unsent-x", pattern(SMALL, 4)).await;
    assert_eq!(refused, Err("Some(503)".to_string()));
    assert!(c
        .head_object()
        .bucket("lost")
        .key("unsent-x")
        .send()
        .await
        .is_err());
    assert_eq!(
        s.chunk_files(),
        files + 6,
        "an unknown outcome keeps its files"
    );
    assert!(s.log().contains("commit answer lost"), "{}", s.log());
}
