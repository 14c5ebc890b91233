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
