//! Access keys besides the root key: their rows, and when each was last used.
//!
//! Administrative changes (create, disable, rotate, delete) are rare and each
//! is one synced write. Usage times change on every request, so the server
//! collects them in memory and hands them over in batches through
//! [`Store::record_key_usage`], written without fsync: losing the last few
//! seconds of "last used" in a crash is harmless, a synced write per request
//! would not be.

use std::collections::HashMap;

use rocksdb::{IteratorMode, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::keys::{CF_ACCESS_KEYS, CF_KEY_USAGE};
use crate::rows;
use crate::store::Store;

/// What a key may do in the buckets a grant names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grant {
    /// A bucket name, or `*` for every bucket (including ones not yet created).
    pub bucket: String,
    /// GetObject, HeadObject, listings.
    pub read: bool,
    /// PutObject, DeleteObject, multipart, being the target of a copy.
    pub write: bool,
    /// Everything, including creating and deleting the bucket; on `*`, the admin API.
    pub admin: bool,
}

/// One access key.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKeyRow {
    /// Name or description chosen by the operator.
    pub name: String,
    /// The secret access key.
    pub secret: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Disabled keys are refused.
    pub enabled: bool,
    /// Per-bucket permissions.
    pub grants: Vec<Grant>,
    /// CIDR ranges requests signed with this key may come from; empty: anywhere.
    pub allow_ips: Vec<String>,
}

// Hand-written so the secret never reaches a log line.
impl std::fmt::Debug for AccessKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRow")
            .field("name", &self.name)
            .field("secret", &"***")
            .field("created_ms", &self.created_ms)
            .field("enabled", &self.enabled)
            .field("grants", &self.grants)
            .field("allow_ips", &self.allow_ips)
            .finish()
    }
}

impl Store {
    /// Creates or replaces an access key (one synced write).
    pub fn put_access_key(&self, id: &str, row: &AccessKeyRow) -> StorageResult<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_ACCESS_KEYS), id.as_bytes(), rows::encode(row));
        self.write_synced(batch)
    }

    /// One access key, if it exists.
    pub fn access_key(&self, id: &str) -> StorageResult<Option<AccessKeyRow>> {
        match self
            .inner
            .db
            .get_pinned_cf(self.cf(CF_ACCESS_KEYS), id.as_bytes())?
        {
            Some(raw) => Ok(Some(rows::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// Every access key, by id.
    pub fn access_keys(&self) -> StorageResult<Vec<(String, AccessKeyRow)>> {
        self.named_rows(CF_ACCESS_KEYS, "access key id")
    }

    /// Deletes an access key and its usage record (one synced write).
    pub fn delete_access_key(&self, id: &str) -> StorageResult<()> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_ACCESS_KEYS), id.as_bytes());
        batch.delete_cf(self.cf(CF_KEY_USAGE), id.as_bytes());
        self.write_synced(batch)
    }

    /// Records when keys were last used, in one batch written to the WAL
    /// without fsync (see the module docs). Usage of keys deleted meanwhile
    /// is dropped.
    pub fn record_key_usage(&self, usage: &[(String, u64)]) -> StorageResult<()> {
        let mut batch = WriteBatch::default();
        for (id, ms) in usage {
            if self.access_key(id)?.is_some() {
                batch.put_cf(self.cf(CF_KEY_USAGE), id.as_bytes(), ms.to_be_bytes());
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.inner.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// When each key was last used (keys never used are absent).
    pub fn key_usage(&self) -> StorageResult<HashMap<String, u64>> {
        let mut out = HashMap::new();
        for item in self
            .inner
            .db
            .iterator_cf(self.cf(CF_KEY_USAGE), IteratorMode::Start)
        {
            let (k, v) = item?;
            let id = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Corrupt("access key id".into()))?;
            let ms = u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("key usage".into()))?,
            );
            out.insert(id, ms);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use std::time::Duration;

    fn store(dir: &std::path::Path) -> Store {
        Store::open(StoreConfig {
            data_dir: dir.to_path_buf(),
            chunk_size: 1 << 20,
            inline_threshold: 1024,
            retention: Duration::from_secs(60),
        })
        .unwrap()
    }

    #[test]
    fn keys_roundtrip_usage_and_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let row = AccessKeyRow {
            name: "partner-a".into(),
            secret: "s3cr3t".into(),
            created_ms: 1,
            enabled: true,
            grants: vec![Grant {
                bucket: "a".into(),
                read: true,
                write: false,
                admin: false,
            }],
            allow_ips: vec!["10.0.0.0/8".into()],
        };
        s.put_access_key("AKID", &row).unwrap();
        assert_eq!(s.access_key("AKID").unwrap(), Some(row.clone()));
        assert!(!format!("{row:?}").contains("s3cr3t"));
        s.record_key_usage(&[("AKID".into(), 42), ("GONE".into(), 7)])
            .unwrap();
        assert_eq!(s.key_usage().unwrap().get("AKID"), Some(&42));
        assert_eq!(s.key_usage().unwrap().get("GONE"), None);
        s.delete_access_key("AKID").unwrap();
        assert!(s.access_keys().unwrap().is_empty());
        assert!(s.key_usage().unwrap().is_empty());
    }
}
