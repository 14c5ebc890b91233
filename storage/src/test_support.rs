//! Helpers shared by the unit tests of several modules.

use crate::objects::NewObject;
use crate::Store;

/// Writes `body` as the current version of `key` in bucket `b`.
pub(crate) fn put(s: &Store, key: &str, body: &[u8]) {
    let lock = s.lock_key("b", key).unwrap();
    let mut w = s.object_writer();
    w.write(body).unwrap();
    let data = w.finish().unwrap();
    s.commit_object(&lock, "b", key, data, NewObject::default())
        .unwrap();
}

/// A store in `dir` with tiny chunks (16 bytes) and inline objects (up to
/// 4 bytes), so that a few bytes exercise every path; `retention` as given.
pub(crate) fn store(dir: &std::path::Path, retention: std::time::Duration) -> Store {
    Store::open(crate::StoreConfig {
        data_dir: dir.to_path_buf(),
        chunk_size: 16,
        inline_threshold: 4,
        retention,
    })
    .unwrap()
}
