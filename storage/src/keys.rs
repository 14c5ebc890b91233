//! Column families and key layouts: every RocksDB key kura writes is built here.
//!
//! Object keys are arbitrary UTF-8 (which may contain NUL), so wherever a key
//! is followed by more fields it is written *terminated*: `0x00` is escaped
//! as `0x00 0xFF` and the end is marked by `0x00 0x01`. This keeps the byte
//! order of encoded keys equal to the order of the original keys, which the
//! listings rely on.

/// Buckets: `bucket name` → [`crate::rows::BucketRow`].
pub const CF_BUCKETS: &str = "buckets";
/// Current object versions: [`object_key`] → [`crate::rows::ObjectRow`].
pub const CF_OBJECTS: &str = "objects";
/// Noncurrent versions and delete markers: [`version_key`] → [`crate::rows::ObjectRow`].
pub const CF_VERSIONS: &str = "versions";
/// Chunk files that metadata refers to: chunk id → owner version id. Files not listed here are orphans.
pub const CF_CHUNKS: &str = "chunks";
/// Purge queue: [`purge_key`] → [`crate::rows::PurgeEntry`].
pub const CF_PURGE: &str = "purge";
/// Settings and counters: name → value.
pub const CF_META: &str = "meta";
/// Access keys: access key id → [`crate::access::AccessKeyRow`].
pub const CF_ACCESS_KEYS: &str = "access_keys";
/// When each access key was last used: access key id → ms since the epoch
/// (u64 big-endian). Kept apart from the key rows so usage flushes, written
/// without fsync, never race with (or resurrect) administrative changes.
pub const CF_KEY_USAGE: &str = "key_usage";

/// Every column family, in creation order.
pub const ALL_CFS: &[&str] = &[
    CF_BUCKETS,
    CF_OBJECTS,
    CF_VERSIONS,
    CF_CHUNKS,
    CF_PURGE,
    CF_META,
    CF_ACCESS_KEYS,
    CF_KEY_USAGE,
];

/// The prefix every key of `bucket` starts with in `objects` / `versions`:
/// the bucket name's length (names are at most 63 bytes) then the name, so
/// `ab` and `abc` never share key prefixes.
pub fn bucket_prefix(bucket: &str) -> Vec<u8> {
    debug_assert!(bucket.len() < 256);
    let mut out = Vec::with_capacity(bucket.len() + 1);
    out.push(bucket.len() as u8);
    out.extend_from_slice(bucket.as_bytes());
    out
}

/// Key of the current version of `bucket`/`key` in `objects`.
pub fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut out = bucket_prefix(bucket);
    out.extend_from_slice(key.as_bytes());
    out
}

/// Splits an `objects` key back into the object key (bucket prefix removed).
pub fn object_key_name(bucket_prefix_len: usize, raw: &[u8]) -> Option<&str> {
    std::str::from_utf8(raw.get(bucket_prefix_len..)?).ok()
}

/// Appends `key` in terminated form (see module docs).
fn push_terminated(out: &mut Vec<u8>, key: &str) {
    for &b in key.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Prefix of every version of `bucket`/`key` in `versions`.
pub fn version_key_prefix(bucket: &str, key: &str) -> Vec<u8> {
    let mut out = bucket_prefix(bucket);
    push_terminated(&mut out, key);
    out
}

/// Key of one version in `versions`: newest first within a key, because the
/// sequence number is stored inverted.
pub fn version_key(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    let mut out = version_key_prefix(bucket, key);
    out.extend_from_slice(&(u64::MAX - seq).to_be_bytes());
    out
}

/// Key of a purge-queue entry: due time (ms since the epoch) then the version sequence.
pub fn purge_key(due_ms: u64, seq: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&due_ms.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out
}

/// Due time of a purge-queue key.
pub fn purge_key_due(raw: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(raw.get(..8)?.try_into().ok()?))
}

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` if there is none (all `0xFF`). Used as an exclusive upper bound
/// and to skip past a CommonPrefix in one seek.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Meta key holding the last issued version sequence number.
pub const META_LAST_SEQ: &[u8] = b"last_seq";
/// Meta key holding the on-disk format version.
pub const META_FORMAT: &[u8] = b"format";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_prefixes_do_not_collide() {
        let a = object_key("ab", "c");
        let b = object_key("abc", "");
        assert_ne!(a, b);
        assert!(!b.starts_with(&bucket_prefix("ab")));
    }

    #[test]
    fn terminated_keys_keep_order() {
        let keys = ["a", "a\0", "a\0b", "a/b", "ab", "b"];
        let mut encoded: Vec<Vec<u8>> = keys.iter().map(|k| version_key("b", k, 7)).collect();
        let orig = encoded.clone();
        encoded.sort();
        assert_eq!(encoded, orig);
        // No version key of one object is a prefix-match of another's.
        assert!(!version_key("b", "a\0", 1).starts_with(&version_key_prefix("b", "a")));
    }

    #[test]
    fn versions_sort_newest_first() {
        assert!(version_key("b", "k", 10) < version_key("b", "k", 9));
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[b'a', 0xFF]), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }

    #[test]
    fn purge_keys_roundtrip() {
        let k = purge_key(1234, 9);
        assert_eq!(purge_key_due(&k), Some(1234));
        assert!(purge_key(5, 100) < purge_key(6, 1));
    }
}
