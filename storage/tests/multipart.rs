//! Multipart uploads against a real RocksDB and real chunk files: parts'
//! chunks become the object's, nothing leaks on abort, replacement, expiry
//! or reopening, and listings page by key and upload id.

use std::path::Path;
use std::time::Duration;

use kura_storage::{NewObject, NewPart, NewUpload, StorageError, Store, StoreConfig};

fn open(dir: &Path) -> Store {
    Store::open(StoreConfig {
        data_dir: dir.to_path_buf(),
        chunk_size: 16,
        inline_threshold: 4,
        retention: Duration::from_secs(3600),
    })
    .unwrap()
}

fn chunk_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("chunks"))
        .unwrap()
        .map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap().count())
        .sum()
}

/// An upload without options, discarded at `expires_ms`.
fn upload(expires_ms: u64) -> NewUpload {
    NewUpload {
        expires_ms,
        ..NewUpload::default()
    }
}

fn far() -> u64 {
    u64::MAX / 2
}

fn part(store: &Store, key: &str, id: &str, n: u32, body: &[u8]) {
    let lock = store.lock_part("bkt", key, id, n).unwrap();
    let mut w = store.part_writer();
    w.write(body).unwrap();
    let data = w.finish().unwrap();
    let new = NewPart {
        etag: format!("\"{n}-{}\"", body.len()),
        ..Default::default()
    };
    store
        .commit_part(&lock, ("bkt", key, id), n, data, new)
        .unwrap();
}

fn read_all(store: &Store, key: &str) -> Vec<u8> {
    let (_, mut r) = store.open_object("bkt", key, None).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 5];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn parts_become_the_object_and_unused_parts_go() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store.create_bucket("bkt").unwrap();
    let (id, _) = store.create_upload("bkt", "k", upload(far())).unwrap();
    part(&store, "k", &id, 1, &[1; 40]); // 3 chunk files
    part(&store, "k", &id, 2, &[2; 10]); // 1, never used
    part(&store, "k", &id, 3, &[3; 3]); // 1, tiny parts are files too
    part(&store, "k", &id, 1, &[4; 20]); // replaces part 1: 2 files, the 3 old ones go
    assert_eq!(chunk_files(tmp.path()), 4);

    // Parts survive a reopen: the orphan sweep knows their chunks.
    drop(store);
    let store = open(tmp.path());
    assert_eq!(chunk_files(tmp.path()), 4);
    let (parts, more) = store.list_parts("bkt", "k", &id, 0, 10).unwrap();
    assert!(!more);
    assert_eq!(
        parts.iter().map(|(n, p)| (*n, p.size)).collect::<Vec<_>>(),
        [(1, 20), (2, 10), (3, 3)]
    );
    let (page, more) = store.list_parts("bkt", "k", &id, 1, 1).unwrap();
    assert_eq!((page[0].0, more), (2, true));

    let lock = store.lock_key("bkt", "k").unwrap();
    let chosen = [(1, "\"1-20\"".to_string()), (3, "\"3-3\"".to_string())];
    // A part replaced since it was validated is refused.
    let stale = [(1, "\"1-40\"".to_string())];
    assert!(matches!(
        store.complete_upload(&lock, "bkt", "k", &id, &stale, NewObject::default(), far()),
        Err(StorageError::Conflict)
    ));
    let row = store
        .complete_upload(&lock, "bkt", "k", &id, &chosen, NewObject::default(), far())
        .unwrap();
    drop(lock);
    // The completion is remembered, for a repeated Complete.
    let done = store.completed_upload("bkt", "k", &id).unwrap().unwrap();
    assert_eq!(
        (done.seq, done.parts.as_slice()),
        (row.seq, chosen.as_slice())
    );
    assert_eq!(
        store
            .completed_upload("bkt", "k", "0".repeat(32).as_str())
            .unwrap(),
        None
    );
    assert_eq!(row.size, 23);
    assert_eq!(row.part_sizes, [20, 3]);
    assert_eq!(
        chunk_files(tmp.path()),
        3,
        "part 2's file removed, no data copied"
    );
    assert_eq!(read_all(&store, "k"), [vec![4; 20], vec![3; 3]].concat());
    assert!(matches!(
        store.upload("bkt", "k", &id),
        Err(StorageError::NoSuchUpload)
    ));

    // The object's chunks belong to it now: a reopen keeps them.
    drop(store);
    let store = open(tmp.path());
    assert_eq!(chunk_files(tmp.path()), 3);
    assert_eq!(read_all(&store, "k"), [vec![4; 20], vec![3; 3]].concat());
}

#[test]
fn abort_and_expiry_remove_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store.create_bucket("bkt").unwrap();
    let (a, _) = store.create_upload("bkt", "a", upload(far())).unwrap();
    let (b, _) = store.create_upload("bkt", "b", upload(1)).unwrap();
    part(&store, "a", &a, 1, &[1; 33]);
    assert_eq!(chunk_files(tmp.path()), 3);
    // Past its deadline an upload is gone for requests at once…
    assert!(matches!(
        store.upload("bkt", "b", &b),
        Err(StorageError::NoSuchUpload)
    ));
    // …and its rows and files at the next expiry run.
    assert_eq!(store.expire_uploads().unwrap(), 1);
    assert_eq!(store.expire_uploads().unwrap(), 0);
    store.abort_upload("bkt", "a", &a).unwrap();
    assert_eq!(chunk_files(tmp.path()), 0);
    assert!(matches!(
        store.abort_upload("bkt", "a", &a),
        Err(StorageError::NoSuchUpload)
    ));
    let mut seen = 0;
    store
        .list_uploads("bkt", "", None, None, |_| {
            seen += 1;
            true
        })
        .unwrap();
    assert_eq!(seen, 0);
}

#[test]
fn uploads_list_by_key_then_start_with_markers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store.create_bucket("bkt").unwrap();
    let mut ids = Vec::new();
    for key in ["a", "a\0b", "a", "ab", "b/c", "b/d"] {
        ids.push((
            key,
            store.create_upload("bkt", key, upload(far())).unwrap().0,
        ));
    }
    let list = |prefix: &str, key_marker: Option<&str>, id_marker: Option<&str>| {
        let mut out = Vec::new();
        store
            .list_uploads("bkt", prefix, key_marker, id_marker, |u| {
                out.push((u.key, u.upload_id));
                true
            })
            .unwrap();
        out
    };
    let all = list("", None, None);
    let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "a", "a\0b", "ab", "b/c", "b/d"]);
    assert_eq!(all[0].1, ids[0].1, "older upload of the same key first");
    assert_eq!(all[1].1, ids[2].1);
    assert_eq!(
        list("a", Some("a"), Some(&ids[0].1)).len(),
        3,
        "after the first upload of a"
    );
    assert_eq!(
        list("", Some("a"), None).len(),
        4,
        "after every upload of a"
    );
    assert_eq!(list("b/", None, None).len(), 2);
    assert_eq!(list("a\0", None, None).len(), 1);
    assert_eq!(list("", Some("b/c"), None).len(), 1);
}

#[test]
fn completion_records_expire_with_the_upload_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store.create_bucket("bkt").unwrap();
    let complete = |key: &str, remember_until_ms: u64| {
        let (id, _) = store.create_upload("bkt", key, upload(far())).unwrap();
        part(&store, key, &id, 1, &[1; 20]);
        let lock = store.lock_key("bkt", key).unwrap();
        let chosen = [(1, "\"1-20\"".to_string())];
        store
            .complete_upload(
                &lock,
                "bkt",
                key,
                &id,
                &chosen,
                NewObject::default(),
                remember_until_ms,
            )
            .unwrap();
        id
    };
    let old = complete("old", 1);
    let kept = complete("kept", far());
    // Past its deadline a record no longer answers, and the sweep removes it
    // (the upload's own deadline entry went with the completion).
    assert_eq!(store.completed_upload("bkt", "old", &old).unwrap(), None);
    assert_eq!(store.expire_uploads().unwrap(), 0);
    assert!(store
        .completed_upload("bkt", "kept", &kept)
        .unwrap()
        .is_some());
    // Discarding the bucket's uploads (DeleteBucket) forgets its completions.
    store.discard_bucket_uploads("bkt").unwrap();
    assert_eq!(store.completed_upload("bkt", "kept", &kept).unwrap(), None);
}
