//! Persisted values. Each is written as one format-version byte followed by
//! its postcard encoding, so the layout can evolve without losing data: a
//! type whose layout changes raises its [`Row::FORMAT`] and decodes its older
//! formats in [`Row::upgrade`].

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};

/// The first format of every row.
const FORMAT_V1: u8 = 1;
/// Format 2: `ObjectRow::null_version` and `BucketRow::versioning` added.
const FORMAT_V2: u8 = 2;
/// Format 3: `ObjectRow::tags` and `UploadRow::tags` added.
pub(crate) const FORMAT_V3: u8 = 3;
/// Format 4: `ObjectRow::part_checksums` and `ChunkRef::crcs` (block checksums)
/// added, in `ObjectRow` and `PartRow`.
pub(crate) const FORMAT_V4: u8 = 4;
/// Format 5: `ChunkRef::backend` (which chunk backend holds the chunk)
/// added, in `ObjectRow` and `PartRow`; older chunks are the server's.
pub(crate) const FORMAT_V5: u8 = 5;

/// A persisted row type: the format it is written in, and how rows written
/// in its older formats are read.
pub(crate) trait Row: Serialize + DeserializeOwned {
    /// The format byte written now.
    const FORMAT: u8 = FORMAT_V1;

    /// Decodes the postcard bytes of a row written in an older `format`.
    fn upgrade(format: u8, _raw: &[u8]) -> StorageResult<Self> {
        Err(StorageError::Corrupt(format!(
            "unknown row format {format}"
        )))
    }
}

/// Serializes a row with its format marker.
pub(crate) fn encode<T: Row>(row: &T) -> Vec<u8> {
    let mut out = vec![T::FORMAT];
    // postcard only fails on writer errors or unsupported types, neither of
    // which a Vec and these plain structs can produce.
    out.extend(postcard::to_allocvec(row).expect("row serialization cannot fail"));
    out
}

/// Deserializes a row written by [`encode`].
pub(crate) fn decode<T: Row>(raw: &[u8]) -> StorageResult<T> {
    match raw.split_first() {
        Some((&v, rest)) if v == T::FORMAT => postcard_decode(rest),
        Some((&v, rest)) => T::upgrade(v, rest),
        None => Err(StorageError::Corrupt("empty row".into())),
    }
}

pub(crate) fn postcard_decode<T: DeserializeOwned>(raw: &[u8]) -> StorageResult<T> {
    postcard::from_bytes(raw).map_err(|e| StorageError::Corrupt(format!("undecodable row: {e}")))
}

/// A bucket's S3 versioning state (`GetBucketVersioning`). Whatever the
/// state, replaced and deleted versions stay in the trash for the retention
/// period; the state decides what S3 clients see (see the README's trash
/// section).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Versioning {
    /// Versioning was never enabled: S3's unversioned behaviour (writes
    /// return no version id, DELETE shows no delete marker). New buckets
    /// start here and can never come back once enabled.
    #[default]
    Unversioned,
    /// Every write creates a version with its own id.
    Enabled,
    /// Writes create the key's `null` version.
    Suspended,
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
    /// S3 versioning state. Buckets of format 1 (before states existed)
    /// reported `Enabled` and handed out version ids, so they read as
    /// `Enabled`.
    pub versioning: Versioning,
}

/// `BucketRow` as format 1 wrote it.
#[derive(Deserialize)]
struct BucketRowV1 {
    created_ms: u64,
    max_object_size: Option<u64>,
    retention_secs: Option<u64>,
}

impl Row for BucketRow {
    const FORMAT: u8 = FORMAT_V2;

    fn upgrade(format: u8, raw: &[u8]) -> StorageResult<Self> {
        if format != FORMAT_V1 {
            return Err(StorageError::Corrupt(format!(
                "unknown row format {format}"
            )));
        }
        let v1: BucketRowV1 = postcard_decode(raw)?;
        Ok(BucketRow {
            created_ms: v1.created_ms,
            max_object_size: v1.max_object_size,
            retention_secs: v1.retention_secs,
            versioning: Versioning::Enabled,
        })
    }
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkRef {
    /// Random id; names the file.
    pub id: [u8; 16],
    /// Bytes in the file.
    pub len: u64,
    /// CRC32C of each [`CHECKSUM_BLOCK`]-byte block of the file (the last
    /// one may be shorter), 4 bytes little-endian each, verified as the
    /// bytes are read. Empty for chunks written before format 4: those are
    /// served unverified.
    #[serde(with = "serde_bytes")]
    pub crcs: Vec<u8>,
    /// The chunk backend holding it: [`SERVER_BACKEND`] (0) for the
    /// server's own (`--blobs`, or local chunk files), another number for
    /// a backend registered for a bucket (issue 15, per-bucket backends).
    /// One byte in the row for 0 (postcard varint).
    pub backend: u16,
}

/// [`ChunkRef::backend`] of the server's own chunk backend; every chunk
/// written before format 5 is there.
pub const SERVER_BACKEND: u16 = 0;

/// Bytes covered by one checksum of a chunk. A read verifies whole blocks,
/// so a 1-byte range GET reads and checksums at most one block (256 KiB,
/// ~20 µs of CRC32C) instead of the whole chunk (8 MiB by default); the
/// price is 4 bytes of metadata per block (16 KiB per GiB stored).
pub const CHECKSUM_BLOCK: u64 = 256 << 10;

impl ChunkRef {
    /// The recorded CRC32C of block `index`, if the chunk has checksums.
    pub fn block_crc(&self, index: usize) -> Option<u32> {
        let raw = self.crcs.get(index * 4..index * 4 + 4)?;
        Some(u32::from_le_bytes(raw.try_into().expect("4 bytes")))
    }

    /// Whether this chunk carries block checksums (written at format 4 or later).
    pub fn is_checksummed(&self) -> bool {
        !self.crcs.is_empty()
    }
}

/// `ChunkRef` before format 4 (no checksums).
#[derive(Deserialize)]
pub(crate) struct ChunkRefV1 {
    id: [u8; 16],
    len: u64,
}

/// `DataLocation` before format 4.
#[derive(Deserialize)]
pub(crate) enum DataLocationV1 {
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    Chunks(Vec<ChunkRefV1>),
}

impl From<DataLocationV1> for DataLocation {
    fn from(old: DataLocationV1) -> Self {
        match old {
            DataLocationV1::Inline(v) => DataLocation::Inline(v),
            DataLocationV1::Chunks(c) => DataLocation::Chunks(upgrade_chunks(c)),
        }
    }
}

/// Chunk references written before format 4: no checksums, not verified.
pub(crate) fn upgrade_chunks(old: Vec<ChunkRefV1>) -> Vec<ChunkRef> {
    old.into_iter()
        .map(|c| ChunkRef {
            id: c.id,
            len: c.len,
            crcs: Vec::new(),
            backend: SERVER_BACKEND,
        })
        .collect()
}

/// `ChunkRef` in format 4 (no backend: the server's).
#[derive(Deserialize)]
pub(crate) struct ChunkRefV4 {
    id: [u8; 16],
    len: u64,
    #[serde(with = "serde_bytes")]
    crcs: Vec<u8>,
}

/// `DataLocation` in format 4.
#[derive(Deserialize)]
pub(crate) enum DataLocationV4 {
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    Chunks(Vec<ChunkRefV4>),
}

impl From<DataLocationV4> for DataLocation {
    fn from(old: DataLocationV4) -> Self {
        match old {
            DataLocationV4::Inline(v) => DataLocation::Inline(v),
            DataLocationV4::Chunks(c) => DataLocation::Chunks(upgrade_chunks_v4(c)),
        }
    }
}

/// Chunk references written in format 4: on the server's backend.
pub(crate) fn upgrade_chunks_v4(old: Vec<ChunkRefV4>) -> Vec<ChunkRef> {
    old.into_iter()
        .map(|c| ChunkRef {
            id: c.id,
            len: c.len,
            crcs: c.crcs,
            backend: SERVER_BACKEND,
        })
        .collect()
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
    /// Written as the key's `null` version (bucket unversioned or
    /// Suspended). The newest such row of a key is its `null` version; older
    /// ones were replaced by it, stay in the trash, and are shown under their
    /// own ids.
    pub null_version: bool,
    /// Object tags (S3 tagging), in the order they were given.
    pub tags: Vec<(String, String)>,
    /// For a multipart object uploaded with an additional checksum: each
    /// part's checksum (base64, the algorithm of [`ObjectRow::checksums`]),
    /// in part order, as GetObjectAttributes lists them; else empty.
    pub part_checksums: Vec<String>,
}

/// `ObjectRow` as format 1 wrote it (every version had its own id).
#[derive(Deserialize)]
struct ObjectRowV1 {
    seq: u64,
    delete_marker: bool,
    size: u64,
    etag: String,
    modified_ms: u64,
    headers: Vec<(String, String)>,
    checksums: Vec<(String, String)>,
    part_sizes: Vec<u64>,
    data: DataLocationV1,
    expires_ms: u64,
}

/// `ObjectRow` as format 2 wrote it (no tags).
#[derive(Deserialize)]
struct ObjectRowV2 {
    seq: u64,
    delete_marker: bool,
    size: u64,
    etag: String,
    modified_ms: u64,
    headers: Vec<(String, String)>,
    checksums: Vec<(String, String)>,
    part_sizes: Vec<u64>,
    data: DataLocationV1,
    expires_ms: u64,
    null_version: bool,
}

/// `ObjectRow` as format 3 wrote it (no part checksums, chunks without checksums).
#[derive(Deserialize)]
struct ObjectRowV3 {
    seq: u64,
    delete_marker: bool,
    size: u64,
    etag: String,
    modified_ms: u64,
    headers: Vec<(String, String)>,
    checksums: Vec<(String, String)>,
    part_sizes: Vec<u64>,
    data: DataLocationV1,
    expires_ms: u64,
    null_version: bool,
    tags: Vec<(String, String)>,
}

/// `ObjectRow` as format 4 wrote it (chunks without a backend number).
#[derive(Deserialize)]
struct ObjectRowV4 {
    seq: u64,
    delete_marker: bool,
    size: u64,
    etag: String,
    modified_ms: u64,
    headers: Vec<(String, String)>,
    checksums: Vec<(String, String)>,
    part_sizes: Vec<u64>,
    data: DataLocationV4,
    expires_ms: u64,
    null_version: bool,
    tags: Vec<(String, String)>,
    part_checksums: Vec<String>,
}

impl Row for ObjectRow {
    const FORMAT: u8 = FORMAT_V5;

    fn upgrade(format: u8, raw: &[u8]) -> StorageResult<Self> {
        if format == FORMAT_V4 {
            let v4: ObjectRowV4 = postcard_decode(raw)?;
            return Ok(ObjectRow {
                seq: v4.seq,
                delete_marker: v4.delete_marker,
                size: v4.size,
                etag: v4.etag,
                modified_ms: v4.modified_ms,
                headers: v4.headers,
                checksums: v4.checksums,
                part_sizes: v4.part_sizes,
                data: v4.data.into(),
                expires_ms: v4.expires_ms,
                null_version: v4.null_version,
                tags: v4.tags,
                part_checksums: v4.part_checksums,
            });
        }
        if format == FORMAT_V3 {
            let v3: ObjectRowV3 = postcard_decode(raw)?;
            return Ok(ObjectRow {
                seq: v3.seq,
                delete_marker: v3.delete_marker,
                size: v3.size,
                etag: v3.etag,
                modified_ms: v3.modified_ms,
                headers: v3.headers,
                checksums: v3.checksums,
                part_sizes: v3.part_sizes,
                data: v3.data.into(),
                expires_ms: v3.expires_ms,
                null_version: v3.null_version,
                tags: v3.tags,
                part_checksums: Vec::new(),
            });
        }
        if format == FORMAT_V2 {
            let v2: ObjectRowV2 = postcard_decode(raw)?;
            return Ok(ObjectRow {
                seq: v2.seq,
                delete_marker: v2.delete_marker,
                size: v2.size,
                etag: v2.etag,
                modified_ms: v2.modified_ms,
                headers: v2.headers,
                checksums: v2.checksums,
                part_sizes: v2.part_sizes,
                data: v2.data.into(),
                expires_ms: v2.expires_ms,
                null_version: v2.null_version,
                tags: Vec::new(),
                part_checksums: Vec::new(),
            });
        }
        if format != FORMAT_V1 {
            return Err(StorageError::Corrupt(format!(
                "unknown row format {format}"
            )));
        }
        let v1: ObjectRowV1 = postcard_decode(raw)?;
        Ok(ObjectRow {
            seq: v1.seq,
            delete_marker: v1.delete_marker,
            size: v1.size,
            etag: v1.etag,
            modified_ms: v1.modified_ms,
            headers: v1.headers,
            checksums: v1.checksums,
            part_sizes: v1.part_sizes,
            data: v1.data.into(),
            expires_ms: v1.expires_ms,
            null_version: false,
            tags: Vec::new(),
            part_checksums: Vec::new(),
        })
    }
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
    /// download reads them), each with the backend holding it.
    pub chunks: Vec<ChunkAt>,
}

/// Format 2: each chunk of [`PurgeEntry::chunks`] names its backend.
impl Row for PurgeEntry {
    const FORMAT: u8 = FORMAT_V2;

    fn upgrade(format: u8, raw: &[u8]) -> StorageResult<Self> {
        #[derive(Deserialize)]
        struct V1 {
            bucket: String,
            key: String,
            seq: u64,
            chunks: Vec<[u8; 16]>,
        }
        match format {
            FORMAT_V1 => {
                let old: V1 = postcard_decode(raw)?;
                Ok(PurgeEntry {
                    bucket: old.bucket,
                    key: old.key,
                    seq: old.seq,
                    chunks: old
                        .chunks
                        .into_iter()
                        .map(|id| ChunkAt {
                            id,
                            backend: SERVER_BACKEND,
                        })
                        .collect(),
                })
            }
            other => Err(StorageError::Corrupt(format!(
                "unknown purge entry format {other}"
            ))),
        }
    }
}

/// Where one chunk is: its id in its backend (what removing it takes).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct ChunkAt {
    /// The chunk's id.
    pub id: [u8; 16],
    /// The backend holding it ([`ChunkRef::backend`]).
    pub backend: u16,
}

impl From<&ChunkRef> for ChunkAt {
    fn from(c: &ChunkRef) -> ChunkAt {
        ChunkAt {
            id: c.id,
            backend: c.backend,
        }
    }
}

/// What the expiry queue names: one upload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct UploadRef {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) upload_id: String,
}

impl Row for UploadRef {}

// Rows declared elsewhere, all still in their first format.

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
            null_version: true,
            tags: vec![("dst".into(), "0020".into())],
            part_checksums: vec!["AAAAAA==".into()],
        };
        let raw = encode(&row);
        assert_eq!(raw[0], FORMAT_V5);
        assert_eq!(decode::<ObjectRow>(&raw).unwrap(), row);
        assert!(decode::<ObjectRow>(&[9, 1, 2]).is_err());
        assert!(decode::<ObjectRow>(&[]).is_err());
    }

    /// Purge entries of format 1 (chunk ids only) read as chunks on the
    /// server's backend; format 2 keeps each chunk's backend.
    #[test]
    fn format_1_purge_entries_upgrade() {
        #[derive(Serialize)]
        struct V1 {
            bucket: String,
            key: String,
            seq: u64,
            chunks: Vec<[u8; 16]>,
        }
        let mut raw = vec![FORMAT_V1];
        raw.extend(
            postcard::to_allocvec(&V1 {
                bucket: "b".into(),
                key: "k".into(),
                seq: 7,
                chunks: vec![[3; 16]],
            })
            .unwrap(),
        );
        let old: PurgeEntry = decode(&raw).unwrap();
        assert_eq!(
            (old.seq, old.chunks.clone()),
            (
                7,
                vec![ChunkAt {
                    id: [3; 16],
                    backend: 0
                }]
            )
        );
        let mut new = old;
        new.chunks[0].backend = 4;
        let again = encode(&new);
        assert_eq!(again[0], FORMAT_V2);
        assert_eq!(decode::<PurgeEntry>(&again).unwrap(), new);
    }

    /// Rows written before versioning states (format 1) still decode: their
    /// versions have their own ids, their buckets are `Enabled`.
    #[test]
    fn format_1_rows_upgrade() {
        #[derive(Serialize)]
        struct OldObject {
            seq: u64,
            delete_marker: bool,
            size: u64,
            etag: String,
            modified_ms: u64,
            headers: Vec<(String, String)>,
            checksums: Vec<(String, String)>,
            part_sizes: Vec<u64>,
            data: DataLocation,
            expires_ms: u64,
        }
        let mut raw = vec![FORMAT_V1];
        raw.extend(
            postcard::to_allocvec(&OldObject {
                seq: 7,
                delete_marker: false,
                size: 2,
                etag: "\"e\"".into(),
                modified_ms: 3,
                headers: vec![],
                checksums: vec![("CRC32".into(), "x".into())],
                part_sizes: vec![],
                data: DataLocation::Inline(b"hi".to_vec()),
                expires_ms: 9,
            })
            .unwrap(),
        );
        let row: ObjectRow = decode(&raw).unwrap();
        assert_eq!((row.seq, row.expires_ms, row.null_version), (7, 9, false));
        assert_eq!(row.data, DataLocation::Inline(b"hi".to_vec()));

        let mut raw = vec![FORMAT_V1];
        raw.extend(postcard::to_allocvec(&(5u64, Some(10u64), None::<u64>)).unwrap());
        let bucket: BucketRow = decode(&raw).unwrap();
        assert_eq!(
            bucket,
            BucketRow {
                created_ms: 5,
                max_object_size: Some(10),
                retention_secs: None,
                versioning: Versioning::Enabled,
            }
        );
        let fresh = BucketRow {
            versioning: Versioning::Unversioned,
            ..bucket
        };
        assert_eq!(decode::<BucketRow>(&encode(&fresh)).unwrap(), fresh);
        assert!(decode::<BucketRow>(&[3, 0]).is_err());
    }

    /// Rows of format 2 (before tags) decode with no tags.
    #[test]
    fn format_2_rows_upgrade() {
        let row = ObjectRow {
            seq: 8,
            delete_marker: false,
            size: 2,
            etag: "\"e\"".into(),
            modified_ms: 3,
            headers: vec![("x-amz-meta-a".into(), "b".into())],
            checksums: vec![],
            part_sizes: vec![],
            data: DataLocation::Inline(b"hi".to_vec()),
            expires_ms: 0,
            null_version: true,
            tags: vec![],
            part_checksums: vec![],
        };
        // Format 2 is format 4 without the trailing tags and part
        // checksums (two empty vectors, one byte each); format 3 without
        // the part checksums.
        let v4 = encode(&row);
        let mut v2 = vec![FORMAT_V2];
        v2.extend_from_slice(&v4[1..v4.len() - 2]);
        assert_eq!(decode::<ObjectRow>(&v2).unwrap(), row);
        let tagged = ObjectRow {
            tags: vec![("k".into(), "v".into())],
            ..row
        };
        let v4 = encode(&tagged);
        let mut v3 = vec![FORMAT_V3];
        v3.extend_from_slice(&v4[1..v4.len() - 1]);
        assert_eq!(decode::<ObjectRow>(&v3).unwrap(), tagged);
    }

    /// Rows of format 3 (chunks without checksums) decode with none: their
    /// chunks are served unverified.
    #[test]
    fn format_3_chunk_rows_upgrade_without_checksums() {
        #[derive(Serialize)]
        struct OldChunk {
            id: [u8; 16],
            len: u64,
        }
        #[derive(Serialize)]
        enum OldData {
            _Inline(Vec<u8>),
            Chunks(Vec<OldChunk>),
        }
        let mut raw = vec![FORMAT_V3];
        raw.extend(
            postcard::to_allocvec(&(
                (9u64, false, 10u64, "\"e\"".to_string(), 3u64),
                (
                    Vec::<(String, String)>::new(),
                    Vec::<(String, String)>::new(),
                ),
                vec![4u64, 6],
                OldData::Chunks(vec![
                    OldChunk {
                        id: [1; 16],
                        len: 4,
                    },
                    OldChunk {
                        id: [2; 16],
                        len: 6,
                    },
                ]),
                (0u64, true, vec![("k".to_string(), "v".to_string())]),
            ))
            .unwrap(),
        );
        let row: ObjectRow = decode(&raw).unwrap();
        assert_eq!((row.seq, row.size, row.null_version), (9, 10, true));
        assert_eq!(row.tags, vec![("k".to_string(), "v".to_string())]);
        let chunks = row.chunks();
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[1].id, chunks[1].len), ([2; 16], 6));
        assert!(!chunks[0].is_checksummed());
        // Written again, the row is format 5 and reads back the same.
        let again = encode(&row);
        assert_eq!(again[0], FORMAT_V5);
        assert_eq!(decode::<ObjectRow>(&again).unwrap(), row);
    }

    /// Format-4 rows (chunks without a backend number) read as chunks on
    /// the server's backend; format 5 keeps a bucket backend's number.
    #[test]
    fn format_4_chunks_upgrade_to_the_servers_backend() {
        #[derive(Serialize)]
        struct ChunkV4 {
            id: [u8; 16],
            len: u64,
            #[serde(with = "serde_bytes")]
            crcs: Vec<u8>,
        }
        #[derive(Serialize)]
        enum DataV4 {
            #[allow(dead_code)]
            Inline(Vec<u8>),
            Chunks(Vec<ChunkV4>),
        }
        let mut raw = vec![FORMAT_V4];
        raw.extend(
            postcard::to_allocvec(&(
                (7u64, false, 10u64, "\"e\"".to_string(), 5u64),
                (
                    Vec::<(String, String)>::new(),
                    Vec::<(String, String)>::new(),
                    Vec::<u64>::new(),
                ),
                DataV4::Chunks(vec![ChunkV4 {
                    id: [3; 16],
                    len: 10,
                    crcs: vec![1, 2, 3, 4],
                }]),
                (0u64, false, Vec::<(String, String)>::new()),
                vec!["AAAAAA==".to_string()],
            ))
            .unwrap(),
        );
        let mut row: ObjectRow = decode(&raw).unwrap();
        assert_eq!(row.part_checksums, ["AAAAAA=="]);
        let chunk = &row.chunks()[0];
        assert_eq!((chunk.id, chunk.len), ([3; 16], 10));
        assert_eq!(chunk.crcs, [1, 2, 3, 4]);
        assert_eq!(chunk.backend, SERVER_BACKEND);
        if let DataLocation::Chunks(c) = &mut row.data {
            c[0].backend = 3;
        }
        let again = encode(&row);
        assert_eq!(again[0], FORMAT_V5);
        assert_eq!(decode::<ObjectRow>(&again).unwrap().chunks()[0].backend, 3);

        // Parts of uploads in progress likewise.
        let mut raw = vec![FORMAT_V4];
        raw.extend(
            postcard::to_allocvec(&(
                "\"p\"".to_string(),
                10u64,
                5u64,
                vec![ChunkV4 {
                    id: [4; 16],
                    len: 10,
                    crcs: vec![9; 4],
                }],
                None::<(String, String)>,
                Some("crc".to_string()),
            ))
            .unwrap(),
        );
        let part: crate::multipart::PartRow = decode(&raw).unwrap();
        assert_eq!(part.crc64nvme.as_deref(), Some("crc"));
        assert_eq!((part.chunks[0].id, part.chunks[0].backend), ([4; 16], 0));
        assert_eq!(part.chunks[0].crcs, [9; 4]);
        assert_eq!(encode(&part)[0], FORMAT_V5);
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
