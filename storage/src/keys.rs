//! Column families and key layouts: every RocksDB key kura writes is built here.
//!
//! Object keys are arbitrary UTF-8 (which may contain NUL), so wherever a key
//! is followed by more fields it is written *terminated*: `0x00` is escaped
//! as `0x00 0xFF` and the end is marked by `0x00 0x01`. This keeps the byte
//! order of encoded keys equal to the order of the original keys, which the
//! listings rely on.

use crate::error::{StorageError, StorageResult};

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
/// Multipart uploads in progress: [`upload_key`] → `UploadRow`.
pub const CF_UPLOADS: &str = "uploads";
/// Uploaded parts: [`part_key`] → `PartRow`.
pub const CF_PARTS: &str = "parts";
/// Upload deadlines: [`upload_expiry_key`] → `UploadRef`.
pub const CF_UPLOAD_EXPIRY: &str = "upload_expiry";
/// Completed multipart uploads, remembered for the multipart expiry period
/// so a repeated Complete gets the same answer: [`upload_key`] →
/// `CompletedUpload` (see `storage/src/completed.rs`).
pub const CF_COMPLETED_UPLOADS: &str = "completed_uploads";
/// Published objects: [`public_token_key`] → object key, and
/// [`public_object_key`] → token (see `storage/src/public.rs`).
pub const CF_PUBLIC: &str = "public";
/// Change log: [`change_key`] → `ChangeEntry` (see `storage/src/changes.rs`);
/// [`change_key`] with sequence 0 holds the bucket's trim mark.
pub const CF_CHANGES: &str = "changes";
/// Webhooks: `w · len(bucket) · bucket · id` → `WebhookRow`, and
/// `c · len(bucket) · bucket · id` → its delivery cursor (u64 BE).
pub const CF_WEBHOOKS: &str = "webhooks";
/// Search index of current objects by tag, user metadata, size and
/// Last-Modified: entries with empty values (see `storage/src/search_index.rs`).
pub const CF_SEARCH: &str = "search";

/// Per-bucket configuration documents: `len(bucket) · bucket · kind` → the
/// document (see `storage/src/bucket_configs.rs`).
pub const CF_BUCKET_CONFIGS: &str = "bucket_configs";
/// Lifecycle: `c · bucket` → configuration, `s · bucket` → enqueue-pass
/// cursor, `q · due · seq` → queued expiry (see `storage/src/lifecycle*.rs`).
pub const CF_LIFECYCLE: &str = "lifecycle";
/// Usage counters: bucket name → `Usage` (merge operands summed, see `storage/src/usage.rs`).
pub const CF_USAGE: &str = "usage";

/// Share links (upload and download links): `l · id` → `LinkRow`
/// (see `storage/src/links.rs`).
pub const CF_LINKS: &str = "links";

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
    CF_UPLOADS,
    CF_PARTS,
    CF_UPLOAD_EXPIRY,
    CF_PUBLIC,
    CF_COMPLETED_UPLOADS,
    CF_CHANGES,
    CF_WEBHOOKS,
    CF_BUCKET_CONFIGS,
    CF_LIFECYCLE,
    CF_SEARCH,
    CF_USAGE,
    CF_LINKS,
];

/// The prefix every key of `bucket` starts with in `objects` / `versions`:
/// the bucket name's length in one byte, then the name, so `ab` and `abc`
/// never share key prefixes. S3 names are at most 63 bytes; a name whose
/// length does not fit the byte is refused ([`StorageError::BucketNameTooLong`]):
/// cut to one byte, a 259-byte name would read and write another bucket's keys.
pub fn bucket_prefix(bucket: &str) -> StorageResult<Vec<u8>> {
    let len = u8::try_from(bucket.len()).map_err(|_| StorageError::BucketNameTooLong)?;
    let mut out = Vec::with_capacity(bucket.len() + 1);
    out.push(len);
    out.extend_from_slice(bucket.as_bytes());
    Ok(out)
}

/// Key of the current version of `bucket`/`key` in `objects`.
pub fn object_key(bucket: &str, key: &str) -> StorageResult<Vec<u8>> {
    let mut out = bucket_prefix(bucket)?;
    out.extend_from_slice(key.as_bytes());
    Ok(out)
}

/// Splits an `objects` key back into the object key (bucket prefix removed).
pub fn object_key_name(bucket_prefix_len: usize, raw: &[u8]) -> Option<&str> {
    std::str::from_utf8(raw.get(bucket_prefix_len..)?).ok()
}

/// Appends `key` in terminated form (see module docs).
pub(crate) fn push_terminated(out: &mut Vec<u8>, key: &str) {
    for &b in key.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Prefix of every version of `bucket`/`key` in `versions`.
pub fn version_key_prefix(bucket: &str, key: &str) -> StorageResult<Vec<u8>> {
    let mut out = bucket_prefix(bucket)?;
    push_terminated(&mut out, key);
    Ok(out)
}

/// Key of one version in `versions`: newest first within a key, because the
/// sequence number is stored inverted.
pub fn version_key(bucket: &str, key: &str, seq: u64) -> StorageResult<Vec<u8>> {
    let mut out = version_key_prefix(bucket, key)?;
    out.extend_from_slice(&(u64::MAX - seq).to_be_bytes());
    Ok(out)
}

/// Splits a `versions` key (bucket prefix of `bucket_prefix_len` bytes
/// removed) back into the object key and the version's sequence number.
pub fn version_key_parts(bucket_prefix_len: usize, raw: &[u8]) -> Option<(String, u64)> {
    let rest = raw.get(bucket_prefix_len..)?;
    let (key_part, seq) = rest.split_at(rest.len().checked_sub(8)?);
    let seq = u64::MAX - u64::from_be_bytes(seq.try_into().ok()?);
    let mut key = Vec::with_capacity(key_part.len());
    let mut i = 0;
    loop {
        match (key_part.get(i), key_part.get(i + 1)) {
            (Some(0), Some(0xFF)) => {
                key.push(0);
                i += 2;
            }
            (Some(0), Some(0x01)) if i + 2 == key_part.len() => break,
            (Some(0), _) | (None, _) => return None,
            (Some(&b), _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    Some((String::from_utf8(key).ok()?, seq))
}

/// `key` escaped as in [`version_key_prefix`] but without the terminator:
/// every version key of a key starting with `prefix` starts with this.
pub fn version_key_range_prefix(bucket: &str, prefix: &str) -> StorageResult<Vec<u8>> {
    let mut out = bucket_prefix(bucket)?;
    push_terminated(&mut out, prefix);
    out.truncate(out.len() - 2);
    Ok(out)
}

/// Key of a published object's token in `public`.
pub fn public_object_key(bucket: &str, key: &str) -> StorageResult<Vec<u8>> {
    let mut out = vec![b'k'];
    out.extend_from_slice(&object_key(bucket, key)?);
    Ok(out)
}

/// Key of a public token in `public`.
pub fn public_token_key(token: &str) -> Vec<u8> {
    let mut out = vec![b't'];
    out.extend_from_slice(token.as_bytes());
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

/// Key of a multipart upload in `uploads`: the key in terminated form then
/// the fixed-length upload id, so uploads sort by key, then by start time
/// (ids begin with the sequence number), and one upload's key is never a
/// prefix of another's.
pub fn upload_key(bucket: &str, key: &str, upload_id: &str) -> StorageResult<Vec<u8>> {
    let mut out = version_key_prefix(bucket, key)?;
    out.extend_from_slice(upload_id.as_bytes());
    Ok(out)
}

/// Splits the part of an `uploads` key after the bucket prefix into the
/// object key and the upload id.
pub fn parse_upload_key(rest: &[u8]) -> Option<(String, String)> {
    let mut key = Vec::new();
    let mut i = 0;
    loop {
        match (rest.get(i)?, rest.get(i + 1)) {
            (0, Some(0xFF)) => {
                key.push(0);
                i += 2;
            }
            (0, Some(0x01)) => break,
            (0, _) => return None,
            (&b, _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    let id = std::str::from_utf8(&rest[i + 2..]).ok()?;
    Some((String::from_utf8(key).ok()?, id.to_string()))
}

/// Key of one part in `parts`: the upload key then the part number, big-endian.
pub fn part_key(upload_key: &[u8], part_number: u32) -> Vec<u8> {
    let mut out = upload_key.to_vec();
    out.extend_from_slice(&part_number.to_be_bytes());
    out
}

/// Key of an upload's deadline in `upload_expiry`: due time (ms) then the upload key.
pub fn upload_expiry_key(due_ms: u64, upload_key: &[u8]) -> Vec<u8> {
    let mut out = due_ms.to_be_bytes().to_vec();
    out.extend_from_slice(upload_key);
    out
}

/// Prefix of the meta keys of unfinished retention re-schedules.
pub const RESCHEDULE_PREFIX: &[u8] = b"reschedule/";

/// Meta key of `bucket`'s unfinished retention re-schedule: its value is
/// the `versions` key to continue from.
pub fn reschedule_key(bucket: &str) -> Vec<u8> {
    let mut out = RESCHEDULE_PREFIX.to_vec();
    out.extend_from_slice(bucket.as_bytes());
    out
}

/// Meta key of `bucket`'s tag set (`crate::tagging::BucketTags`).
pub fn bucket_tags_key(bucket: &str) -> Vec<u8> {
    let mut out = b"bucket_tags/".to_vec();
    out.extend_from_slice(bucket.as_bytes());
    out
}

/// Key of one change-log entry: the bucket prefix then the change sequence
/// (big-endian), so a bucket's log is one range in commit order.
pub fn change_key(bucket: &str, seq: u64) -> StorageResult<Vec<u8>> {
    let mut out = bucket_prefix(bucket)?;
    out.extend_from_slice(&seq.to_be_bytes());
    Ok(out)
}

/// The sequence number of a change-log key of a bucket whose prefix is `bucket_prefix_len` bytes.
pub fn change_key_seq(bucket_prefix_len: usize, raw: &[u8]) -> Option<u64> {
    let rest = raw.get(bucket_prefix_len..)?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// Meta key holding the last issued version sequence number.
pub const META_LAST_SEQ: &[u8] = b"last_seq";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_prefixes_do_not_collide() {
        let a = object_key("ab", "c").unwrap();
        let b = object_key("abc", "").unwrap();
        assert_ne!(a, b);
        assert!(!b.starts_with(&bucket_prefix("ab").unwrap()));
    }

    #[test]
    fn names_too_long_for_the_length_byte_are_refused() {
        // 259 = 256 + 3: cut to one byte it would read as the 3-byte "abc".
        let long = format!("abc{}", "x".repeat(256));
        for r in [
            bucket_prefix(&long),
            object_key(&long, "k"),
            version_key(&long, "k", 1),
            version_key_prefix(&long, "k"),
            version_key_range_prefix(&long, ""),
            public_object_key(&long, "k"),
            upload_key(&long, "k", "id"),
        ] {
            assert!(matches!(r, Err(StorageError::BucketNameTooLong)));
        }
        assert_eq!(bucket_prefix(&"a".repeat(255)).unwrap()[0], 255);
    }

    #[test]
    fn terminated_keys_keep_order() {
        let keys = ["a", "a\0", "a\0b", "a/b", "ab", "b"];
        let mut encoded: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| version_key("b", k, 7).unwrap())
            .collect();
        let orig = encoded.clone();
        encoded.sort();
        assert_eq!(encoded, orig);
        // No version key of one object is a prefix-match of another's.
        assert!(!version_key("b", "a\0", 1)
            .unwrap()
            .starts_with(&version_key_prefix("b", "a").unwrap()));
    }

    #[test]
    fn versions_sort_newest_first() {
        assert!(version_key("b", "k", 10).unwrap() < version_key("b", "k", 9).unwrap());
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[b'a', 0xFF]), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }

    #[test]
    fn upload_keys_roundtrip() {
        let id = "0123456789abcdef0123456789abcdef";
        for key in ["a", "a\0b", "", "ünï/c"] {
            let raw = upload_key("bkt", key, id).unwrap();
            let rest = &raw[bucket_prefix("bkt").unwrap().len()..];
            assert_eq!(
                parse_upload_key(rest),
                Some((key.to_string(), id.to_string()))
            );
        }
        assert!(upload_key("b", "a", id).unwrap() < upload_key("b", "a\0", id).unwrap());
        assert!(
            part_key(&upload_key("b", "a", id).unwrap(), 2)
                < part_key(&upload_key("b", "a", id).unwrap(), 10)
        );
    }

    #[test]
    fn version_keys_roundtrip() {
        for key in ["", "a", "a\0", "a\0b\0", "日本/x"] {
            let raw = version_key("bkt", key, 77).unwrap();
            let parts = version_key_parts(bucket_prefix("bkt").unwrap().len(), &raw);
            assert_eq!(parts, Some((key.to_string(), 77)));
            assert!(raw.starts_with(&version_key_range_prefix("bkt", key).unwrap()));
            assert!(raw.starts_with(&version_key_range_prefix("bkt", "").unwrap()));
        }
        assert!(!version_key("bkt", "b", 1)
            .unwrap()
            .starts_with(&version_key_range_prefix("bkt", "a").unwrap()));
        assert_eq!(version_key_parts(4, b"\x03bkt"), None);
    }

    #[test]
    fn purge_keys_roundtrip() {
        let k = purge_key(1234, 9);
        assert_eq!(purge_key_due(&k), Some(1234));
        assert!(purge_key(5, 100) < purge_key(6, 1));
    }
}
