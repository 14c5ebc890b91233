//! The store against a real RocksDB and real files in a temporary directory.

use std::time::Duration;

use kura_storage::{ListItem, ListStart, NewObject, StorageError, Store, StoreConfig};

fn config(dir: &std::path::Path, retention: Duration) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        chunk_size: 16,
        inline_threshold: 4,
        retention,
    }
}

fn put(store: &Store, bucket: &str, key: &str, body: &[u8]) -> kura_storage::ObjectRow {
    let lock = store.lock_key(bucket, key).unwrap();
    let mut w = store.object_writer();
    w.write(body).unwrap();
    let data = w.finish().unwrap();
    store
        .commit_object(
            &lock,
            bucket,
            key,
            data,
            NewObject {
                etag: "\"e\"".into(),
                ..Default::default()
            },
        )
        .unwrap()
}

fn read_all(store: &Store, bucket: &str, key: &str, version: Option<&str>) -> Vec<u8> {
    let (_, mut r) = store.open_object(bucket, key, version).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn chunk_files(dir: &std::path::Path) -> usize {
    walk(&dir.join("chunks"))
}

fn walk(p: &std::path::Path) -> usize {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn objects_roundtrip_overwrite_delete_and_purge() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(config(tmp.path(), Duration::ZERO)).unwrap();
    store.create_bucket("b").unwrap();
    assert!(matches!(
        store.create_bucket("b"),
        Err(StorageError::BucketExists)
    ));

    let big: Vec<u8> = (0..100u8).collect();
    let v1 = put(&store, "b", "k", &big);
    assert_eq!(read_all(&store, "b", "k", None), big);
    assert_eq!(chunk_files(tmp.path()), 7, "100 bytes in 16-byte chunks");

    // A reader opened on v1 keeps it alive through overwrite and purge.
    let (_, mut held) = store.open_object("b", "k", None).unwrap();
    put(&store, "b", "k", b"new");
    assert_eq!(read_all(&store, "b", "k", None), b"new");
    assert_eq!(store.purge_due().unwrap(), 0, "v1 is being read");
    let mut buf = vec![0u8; 100];
    let mut got = 0;
    while got < 100 {
        got += held.read(&mut buf[got..]).unwrap();
    }
    assert_eq!(buf, big);
    drop(held);
    assert_eq!(store.purge_due().unwrap(), 1);
    assert_eq!(
        chunk_files(tmp.path()),
        0,
        "v1's chunks are gone; v2 is inline"
    );
    assert!(matches!(
        store.get_object("b", "k", Some(&v1.version_id())),
        Err(StorageError::NoSuchVersion)
    ));

    assert!(matches!(
        store.delete_bucket("b"),
        Err(StorageError::BucketNotEmpty)
    ));
    let lock = store.lock_key("b", "k").unwrap();
    assert!(store.delete_object(&lock, "b", "k").unwrap().is_some());
    assert!(store.delete_object(&lock, "b", "k").unwrap().is_none());
    drop(lock);
    assert!(matches!(
        store.get_object("b", "k", None),
        Err(StorageError::NoSuchKey)
    ));
    store.delete_bucket("b").unwrap();
    assert!(matches!(
        store.get_object("b", "k", None),
        Err(StorageError::NoSuchBucket)
    ));
}

/// A backlog larger than one window of due entries is purged in one pass,
/// and a version held by a reader does not hold up the ones due after it.
#[test]
fn a_large_backlog_is_purged_past_a_deferred_version() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(config(tmp.path(), Duration::ZERO)).unwrap();
    store.create_bucket("b").unwrap();
    // Retired first, so its purge entry comes first; a reader holds it.
    put(&store, "b", "held", &[1; 40]);
    let (_, held) = store.open_object("b", "held", None).unwrap();
    put(&store, "b", "held", b"new");
    // 2,500 more retired versions (inline: no files to sync).
    for i in 0..2_500 {
        let key = format!("k{i}");
        put(&store, "b", &key, b"v1");
        put(&store, "b", &key, b"v2");
    }
    assert_eq!(store.purge_due().unwrap(), 2_500);
    assert_eq!(store.purge_due().unwrap(), 0, "the held version waits");
    assert!(chunk_files(tmp.path()) > 0);
    drop(held);
    assert_eq!(store.purge_due().unwrap(), 1);
    assert_eq!(chunk_files(tmp.path()), 0);
}

#[test]
fn retained_versions_are_readable_until_due() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(config(tmp.path(), Duration::from_secs(3600))).unwrap();
    store.create_bucket("b").unwrap();
    let v1 = put(&store, "b", "k", &[1u8; 40]);
    let lock = store.lock_key("b", "k").unwrap();
    store.delete_object(&lock, "b", "k").unwrap();
    drop(lock);
    assert_eq!(store.purge_due().unwrap(), 0);
    assert_eq!(
        read_all(&store, "b", "k", Some(&v1.version_id())),
        vec![1u8; 40]
    );
}

#[test]
fn write_lock_is_exclusive_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(config(tmp.path(), Duration::ZERO)).unwrap();
    let lock = store.lock_key("b", "k").unwrap();
    assert!(store.is_writing("b", "k"));
    assert!(matches!(
        store.lock_key("b", "k"),
        Err(StorageError::Conflict)
    ));
    assert!(store.lock_key("b", "other").is_ok());
    drop(lock);
    assert!(store.lock_key("b", "k").is_ok());
}

#[test]
fn restart_keeps_objects_and_sweeps_orphans() {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = {
        let store = Store::open(config(tmp.path(), Duration::ZERO)).unwrap();
        store.create_bucket("b").unwrap();
        let v = put(&store, "b", "k", &[9u8; 50]);
        // An upload cut off by a crash: files written, never committed.
        let mut w = store.object_writer();
        w.write(&[3u8; 40]).unwrap();
        std::mem::forget(w);
        v
    };
    assert_eq!(chunk_files(tmp.path()), 4 + 3);
    let store = Store::open(config(tmp.path(), Duration::ZERO)).unwrap();
    assert_eq!(chunk_files(tmp.path()), 4, "orphans removed at start-up");
    assert_eq!(read_all(&store, "b", "k", None), vec![9u8; 50]);
    let v2 = put(&store, "b", "k2", b"x");
    assert!(
        v2.seq > v1.seq,
        "sequence numbers keep increasing across restarts"
    );
}

#[test]
fn listing_with_prefix_delimiter_and_paging() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(config(tmp.path(), Duration::ZERO)).unwrap();
    store.create_bucket("b").unwrap();
    store.create_bucket("bb").unwrap();
    for k in ["a/1", "a/2", "b", "c/x/y", "c/z", "d"] {
        put(&store, "b", k, b"1");
    }
    put(&store, "bb", "a/1", b"1");
    let names = |page: &kura_storage::ListPage| {
        page.items
            .iter()
            .map(|i| match i {
                ListItem::Object(k, _) => k.clone(),
                ListItem::CommonPrefix(p) => format!("P:{p}"),
            })
            .collect::<Vec<_>>()
    };
    let all = store
        .list_objects("b", "", Some("/"), &ListStart::Beginning, 1000)
        .unwrap();
    assert_eq!(names(&all), ["P:a/", "b", "P:c/", "d"]);
    assert!(!all.truncated);
    let p1 = store
        .list_objects("b", "", Some("/"), &ListStart::Beginning, 1)
        .unwrap();
    assert_eq!(names(&p1), ["P:a/"]);
    assert!(p1.truncated);
    let p2 = store
        .list_objects("b", "", Some("/"), &p1.items[0].resume_point(), 2)
        .unwrap();
    assert_eq!(names(&p2), ["b", "P:c/"]);
    let c = store
        .list_objects("b", "c/", Some("/"), &ListStart::Beginning, 10)
        .unwrap();
    assert_eq!(names(&c), ["P:c/x/", "c/z"]);
    let flat = store
        .list_objects("b", "", None, &ListStart::AfterKey("b".into()), 10)
        .unwrap();
    assert_eq!(names(&flat), ["c/x/y", "c/z", "d"]);
}
