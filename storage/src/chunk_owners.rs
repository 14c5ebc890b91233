//! Who owns a chunk file: the value of its `CF_CHUNKS` entry.
//!
//! A chunk file normally belongs to one version. A metadata-only update
//! ([`crate::Store::update_metadata`]) makes a new version that *shares* the
//! files of the version it replaces, so an entry lists every version still
//! using the file: the sequence numbers, 8 bytes big-endian each, one after
//! the other. Entries written before sharing existed hold one number and
//! read the same way.
//!
//! Purging a version removes it from the list of each of its files; a file
//! is removed only once its list is empty. Every change of a list happens
//! under the key's latch (all versions sharing a file are versions of one
//! key), so a purge and a metadata update never lose each other's change.

use crate::error::{StorageError, StorageResult};
use crate::keys::CF_CHUNKS;
use crate::store::Store;

/// Decodes an owner list.
pub(crate) fn decode(raw: &[u8]) -> StorageResult<Vec<u64>> {
    if raw.is_empty() || !raw.len().is_multiple_of(8) {
        return Err(StorageError::Corrupt("chunk owner entry".into()));
    }
    Ok(raw
        .chunks_exact(8)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
        .collect())
}

/// Encodes an owner list.
pub(crate) fn encode(owners: &[u64]) -> Vec<u8> {
    owners.iter().flat_map(|s| s.to_be_bytes()).collect()
}

impl Store {
    /// The owners of each of `ids` (empty where no entry exists), read in
    /// one batched lookup: a 5 GiB object has 640 chunks, and a metadata
    /// update must not pay 640 separate reads.
    pub(crate) fn chunk_owners_of(&self, ids: &[[u8; 16]]) -> StorageResult<Vec<Vec<u64>>> {
        self.inner
            .db
            .multi_get(self.cf(CF_CHUNKS), ids)
            .into_iter()
            .map(|r| match r? {
                Some(raw) => decode(&raw),
                None => Ok(Vec::new()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_owner_entries_read_as_before() {
        assert_eq!(decode(&7u64.to_be_bytes()).unwrap(), [7]);
        assert_eq!(decode(&encode(&[7, 9])).unwrap(), [7, 9]);
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 2, 3]).is_err());
    }
}
