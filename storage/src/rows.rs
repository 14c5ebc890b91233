//! Persisted values. Each is written as one format-version byte followed by
//! its postcard encoding, so the layout can evolve without losing data: a new
//! version adds a variant and a migration in `decode`.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};

/// Current format version of every row.
const FORMAT_V1: u8 = 1;

/// Serializes a row with its format marker.
pub(crate) fn encode<T: Serialize>(row: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_V1];
    // postcard only fails on writer errors or unsupported types, neither of
    // which a Vec and these plain structs can produce.
    out.extend(postcard::to_allocvec(row).expect("row serialization cannot fail"));
    out
}

/// Deserializes a row written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(raw: &[u8]) -> StorageResult<T> {
    match raw.split_first() {
        Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest)
            .map_err(|e| StorageError::Corrupt(format!("undecodable row: {e}"))),
        Some((v, _)) => Err(StorageError::Corrupt(format!("unknown row format {v}"))),
        None => Err(StorageError::Corrupt("empty row".into())),
    }
}

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketRow {
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Largest object a single upload may store in this bucket (`None`: the server's limit).
    pub max_object_size: Option<u64>,
    /// This bucket's retention of replaced and deleted versions, in seconds;
    /// `None` follows the server-wide `--retention`.
    pub retention_secs: Option<u64>,
}

/// Where an object version's bytes live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum DataLocation {
    /// Small objects live in the row itself (one RocksDB write, no file).
    /// `serde_bytes`: same postcard bytes as a plain `Vec<u8>` (length, then
    /// the bytes), but decoded in one copy instead of byte by byte, which was
    /// the largest cost of serving small objects.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Larger ones in chunk files, in order.
    Chunks(Vec<ChunkRef>),
}

/// One chunk file of an object.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkRef {
    /// Random id; names the file.
    pub id: [u8; 16],
    /// Bytes in the file.
    pub len: u64,
}

/// One version of an object (current, noncurrent, or a delete marker).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRow {
    /// Monotonic sequence number; the version id is derived from it.
    pub seq: u64,
    /// True for a delete marker (no data).
    pub delete_marker: bool,
    /// Size in bytes.
    pub size: u64,
    /// Entity tag, quoted as sent on the wire (`"hex"` or `"hex-N"`).
    pub etag: String,
    /// Last-Modified, ms since the epoch.
    pub modified_ms: u64,
    /// Stored response headers (content-type, cache-control, x-amz-meta-*, …), lowercase names.
    pub headers: Vec<(String, String)>,
    /// Checksums kept with the object: (algorithm name, base64 value).
    pub checksums: Vec<(String, String)>,
    /// Sizes of the parts for multipart objects (empty for single PUTs).
    pub part_sizes: Vec<u64>,
    /// The bytes.
    pub data: DataLocation,
    /// When a replaced or deleted version stops being recoverable, ms since the epoch (0 for the current one).
    pub expires_ms: u64,
}

impl ObjectRow {
    /// The S3 version id of this version.
    pub fn version_id(&self) -> String {
        version_id(self.seq)
    }

    /// Chunk files this version references.
    pub fn chunks(&self) -> &[ChunkRef] {
        match &self.data {
            DataLocation::Chunks(c) => c,
            DataLocation::Inline(_) => &[],
        }
    }

    /// The value of a stored header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Version ids are the sequence number in fixed-width hex: sortable and opaque enough.
pub fn version_id(seq: u64) -> String {
    format!("{seq:016x}")
}

/// Parses a version id made by [`version_id`].
pub fn parse_version_id(id: &str) -> Option<u64> {
    if id.len() != 16 {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

/// A version whose data is due to be removed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PurgeEntry {
    /// Bucket of the version.
    pub bucket: String,
    /// Key of the version.
    pub key: String,
    /// Sequence number of the version.
    pub seq: u64,
    /// Chunk files to remove even though no version row lists them any more
    /// (a version deleted by id is hidden at once; its files go when no
    /// download reads them).
    pub chunks: Vec<[u8; 16]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_roundtrip_with_marker() {
        let row = ObjectRow {
            seq: 5,
            delete_marker: false,
            size: 3,
            etag: "\"abc\"".into(),
            modified_ms: 1,
            headers: vec![("content-type".into(), "text/plain".into())],
            checksums: vec![],
            part_sizes: vec![],
            data: DataLocation::Inline(b"abc".to_vec()),
            expires_ms: 0,
        };
        let raw = encode(&row);
        assert_eq!(raw[0], FORMAT_V1);
        assert_eq!(decode::<ObjectRow>(&raw).unwrap(), row);
        assert!(decode::<ObjectRow>(&[9, 1, 2]).is_err());
        assert!(decode::<ObjectRow>(&[]).is_err());
    }

    #[test]
    fn inline_data_encodes_as_a_plain_byte_vector() {
        // Variant 0, varint length 3, the bytes: what `Vec<u8>` gave before
        // `serde_bytes`, so rows written either way decode the same.
        let inline = DataLocation::Inline(b"abc".to_vec());
        assert_eq!(
            postcard::to_allocvec(&inline).unwrap(),
            [0, 3, b'a', b'b', b'c']
        );
        let plain: (u8, Vec<u8>) = postcard::from_bytes(&[0, 3, b'a', b'b', b'c']).unwrap();
        assert_eq!(plain, (0, b"abc".to_vec()));
    }

    #[test]
    fn version_ids_roundtrip() {
        assert_eq!(parse_version_id(&version_id(42)), Some(42));
        assert_eq!(parse_version_id("zz"), None);
        assert_eq!(parse_version_id("null"), None);
    }
}
