//! Access keys besides the root key: their rows, and when each was last used.
//!
//! Administrative changes (create, disable, rotate, delete) are rare and each
//! is one synced write. Usage times change on every request, so the server
//! collects them in memory and hands them over in batches through
//! [`Store::record_key_usage`], written without fsync: losing the last few
//! seconds of "last used" in a crash is harmless, a synced write per request
//! would not be.
//!
//! Rows are sealed (encrypted and authenticated, see `secrets.rs`). A secret
//! that is replaced or deleted must also leave the disk: RocksDB keeps the
//! old value in its WAL and SST files until they are rewritten, so those
//! changes end with [`Store::scrub_access_keys`].

use std::collections::HashMap;

use crate::engine::{Batch, Durability, ReadBounds};
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::keys::{CF_ACCESS_KEYS, CF_KEY_USAGE, CF_META};
use crate::rows;
use crate::secrets::META_KEYS_SEALED;
use crate::store::Store;

/// Meta key of the access keys' generation (see [`Store::access_keys_generation`]).
const META_KEYS_GENERATION: &[u8] = b"access_keys_generation";

/// What a key may do in the buckets a grant names: in the whole bucket, or
/// only on the keys under one prefix (a "folder", e.g. `incoming/`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grant {
    /// A bucket name, or `*` for every bucket (including ones not yet created).
    pub bucket: String,
    /// Only keys beginning with this; empty: the whole bucket. A prefix
    /// grant never carries `admin` (bucket settings are bucket-wide).
    pub prefix: String,
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

/// `Grant` as format 1 wrote it: always the whole bucket.
#[derive(Deserialize)]
struct GrantV1 {
    bucket: String,
    read: bool,
    write: bool,
    admin: bool,
}

/// `AccessKeyRow` as format 1 wrote it (before prefix grants).
#[derive(Deserialize)]
struct AccessKeyRowV1 {
    name: String,
    secret: String,
    created_ms: u64,
    enabled: bool,
    grants: Vec<GrantV1>,
    allow_ips: Vec<String>,
}

/// Format 2: `Grant::prefix` added; format-1 grants cover their whole bucket.
const ACCESS_KEY_FORMAT_V2: u8 = 2;

impl crate::rows::Row for AccessKeyRow {
    const FORMAT: u8 = ACCESS_KEY_FORMAT_V2;

    fn upgrade(format: u8, raw: &[u8]) -> StorageResult<Self> {
        if format != 1 {
            return Err(StorageError::Corrupt(format!(
                "unknown access key row format {format}"
            )));
        }
        let v1: AccessKeyRowV1 = postcard::from_bytes(raw)
            .map_err(|e| StorageError::Corrupt(format!("undecodable access key row: {e}")))?;
        Ok(AccessKeyRow {
            name: v1.name,
            secret: v1.secret,
            created_ms: v1.created_ms,
            enabled: v1.enabled,
            grants: v1
                .grants
                .into_iter()
                .map(|g| Grant {
                    bucket: g.bucket,
                    prefix: String::new(),
                    read: g.read,
                    write: g.write,
                    admin: g.admin,
                })
                .collect(),
            allow_ips: v1.allow_ips,
        })
    }
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
    /// Creates or replaces an access key (one synced write). Replacing its
    /// secret scrubs the old one from the disk before returning.
    pub fn put_access_key(&self, id: &str, row: &AccessKeyRow) -> StorageResult<()> {
        let old_secret = self.access_key(id)?.map(|old| old.secret);
        let mut batch = Batch::default();
        batch.put_cf(
            self.cf(CF_ACCESS_KEYS),
            id.as_bytes(),
            self.seal_row(id, row),
        );
        self.bump_keys_generation(&mut batch);
        self.write_synced(batch)?;
        if old_secret.is_some_and(|old| old != row.secret) {
            self.scrub_access_keys()?;
        }
        Ok(())
    }

    /// Changes access key `id` with `change` (read-modify-write, one synced
    /// write; the secret scrubbed as by [`Store::put_access_key`] if it
    /// changed). On a shared engine the commit requires the row as read, so
    /// an admin change on another front end (a key disabled there) is never
    /// overwritten with a stale copy: it reads again. `None` if no such key.
    pub fn update_access_key(
        &self,
        id: &str,
        change: impl Fn(&mut AccessKeyRow),
    ) -> StorageResult<Option<AccessKeyRow>> {
        let updated = self.retry_guarded(|| {
            let Some(raw) = self
                .inner
                .db
                .get_owned(self.cf(CF_ACCESS_KEYS), id.as_bytes())?
            else {
                return Ok(None);
            };
            let old = self.unseal_row(id, &raw)?;
            let mut row = old.clone();
            change(&mut row);
            let mut batch = Batch::default();
            self.expect_read(&mut batch, CF_ACCESS_KEYS, id.as_bytes(), Some(&raw));
            batch.put_cf(
                self.cf(CF_ACCESS_KEYS),
                id.as_bytes(),
                self.seal_row(id, &row),
            );
            self.bump_keys_generation(&mut batch);
            self.write_synced(batch)?;
            Ok(Some((old.secret != row.secret, row)))
        })?;
        match updated {
            Some((rotated, row)) => {
                if rotated {
                    self.scrub_access_keys()?;
                }
                Ok(Some(row))
            }
            None => Ok(None),
        }
    }

    /// Adds to `batch` a new value of the access keys' generation, which
    /// front ends sharing the engine poll to reload their key caches.
    fn bump_keys_generation(&self, batch: &mut Batch) {
        let mut g = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut g);
        batch.put_cf(self.cf(CF_META), META_KEYS_GENERATION, g);
    }

    /// The access keys' generation: it changes with every change of any
    /// access key (`None` before the first). A front end caching the keys
    /// reloads them when it sees it change.
    pub fn access_keys_generation(&self) -> StorageResult<Option<Vec<u8>>> {
        self.inner
            .db
            .get_owned(self.cf(CF_META), META_KEYS_GENERATION)
    }

    /// Whether other front ends share this store's metadata engine (then
    /// in-memory caches of its rows must be refreshed; see
    /// `docs/design.md`, "Read-modify-write across front ends").
    pub fn is_shared(&self) -> bool {
        self.shared()
    }

    fn seal_row(&self, id: &str, row: &AccessKeyRow) -> Vec<u8> {
        self.inner.secrets.seal(id, &rows::encode(row))
    }

    fn unseal_row(&self, id: &str, value: &[u8]) -> StorageResult<AccessKeyRow> {
        rows::decode(&self.inner.secrets.unseal(id, value)?)
    }

    /// One access key, if it exists.
    pub fn access_key(&self, id: &str) -> StorageResult<Option<AccessKeyRow>> {
        match self.inner.db.get(self.cf(CF_ACCESS_KEYS), id.as_bytes())? {
            Some(raw) => Ok(Some(self.unseal_row(id, &raw)?)),
            None => Ok(None),
        }
    }

    /// Every access key, by id.
    pub fn access_keys(&self) -> StorageResult<Vec<(String, AccessKeyRow)>> {
        let mut out = Vec::new();
        for item in self
            .inner
            .db
            .entries(self.cf(CF_ACCESS_KEYS), ReadBounds::all(), None)
        {
            let (k, v) = item?;
            let id = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Corrupt("access key id".into()))?;
            let row = self.unseal_row(&id, &v)?;
            out.push((id, row));
        }
        Ok(out)
    }

    /// Seals the plaintext rows an older build wrote, in one synced batch
    /// that also marks the store as sealed, then scrubs the plaintext from
    /// the disk. Run at open while the marker is absent; a crash before the
    /// batch leaves everything plaintext and unmarked, so it simply runs again.
    pub(crate) fn seal_plaintext_keys(&self) -> StorageResult<()> {
        let mut batch = Batch::default();
        let mut sealed = 0usize;
        for item in self
            .inner
            .db
            .entries(self.cf(CF_ACCESS_KEYS), ReadBounds::all(), None)
        {
            let (k, v) = item?;
            let id = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Corrupt("access key id".into()))?;
            let row: AccessKeyRow = rows::decode(&v)?;
            batch.put_cf(self.cf(CF_ACCESS_KEYS), &k, self.seal_row(&id, &row));
            sealed += 1;
        }
        batch.put_cf(self.cf(CF_META), META_KEYS_SEALED, [1u8]);
        self.write_synced(batch)?;
        if sealed > 0 {
            self.scrub_access_keys()?;
            tracing::info!(
                sealed,
                "encrypted the access keys stored in plaintext by an older build"
            );
        }
        Ok(())
    }

    /// Makes replaced and deleted access key rows leave the disk: flushes
    /// every column family's memtable, so that no live data remains only in
    /// the current WAL and RocksDB deletes it as obsolete (a WAL holds the
    /// writes of all families and goes only once each has flushed them);
    /// then rewrites the access keys' SST files, down to the bottom level,
    /// which drops the old values. Admin changes are rare; the cost is a
    /// few small files.
    pub fn scrub_access_keys(&self) -> StorageResult<()> {
        self.inner.db.erase_history(self.cf(CF_ACCESS_KEYS))
    }

    /// Deletes an access key and its usage record (one synced write), and
    /// scrubs its secret from the disk.
    pub fn delete_access_key(&self, id: &str) -> StorageResult<()> {
        let mut batch = Batch::default();
        batch.delete_cf(self.cf(CF_ACCESS_KEYS), id.as_bytes());
        batch.delete_cf(self.cf(CF_KEY_USAGE), id.as_bytes());
        self.bump_keys_generation(&mut batch);
        self.write_synced(batch)?;
        self.scrub_access_keys()
    }

    /// Records when keys were last used, in one batch written to the WAL
    /// without fsync (see the module docs). Usage of keys deleted meanwhile
    /// is dropped.
    pub fn record_key_usage(&self, usage: &[(String, u64)]) -> StorageResult<()> {
        let mut batch = Batch::default();
        for (id, ms) in usage {
            let exists = self
                .inner
                .db
                .get(self.cf(CF_ACCESS_KEYS), id.as_bytes())?
                .is_some();
            if exists {
                // Not for a key another front end deletes meanwhile.
                self.expect_present(&mut batch, CF_ACCESS_KEYS, id.as_bytes());
                batch.put_cf(self.cf(CF_KEY_USAGE), id.as_bytes(), ms.to_be_bytes());
            }
        }
        match self.inner.db.commit(batch, Durability::Buffered) {
            // Usage times are best effort: the next flush records them.
            Err(StorageError::Conflict) => Ok(()),
            r => r,
        }
    }

    /// When each key was last used (keys never used are absent).
    pub fn key_usage(&self) -> StorageResult<HashMap<String, u64>> {
        let mut out = HashMap::new();
        for item in self
            .inner
            .db
            .entries(self.cf(CF_KEY_USAGE), ReadBounds::all(), None)
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

    fn row(secret: &str) -> AccessKeyRow {
        AccessKeyRow {
            name: "partner".into(),
            secret: secret.into(),
            created_ms: 1,
            enabled: true,
            grants: Vec::new(),
            allow_ips: Vec::new(),
        }
    }

    /// Whether any file under `dir` contains `needle`.
    fn on_disk(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(on_disk(&path, needle));
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    found.push(path);
                }
            }
        }
        found
    }

    #[test]
    fn secrets_are_sealed_and_old_ones_leave_the_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let first = "FIRSTsecretFIRSTsecretFIRSTsecret0000000";
        let second = "SECONDsecretSECONDsecretSECONDsecret0000";
        s.put_access_key("AKID", &row(first)).unwrap();
        s.put_access_key("GONE", &row(second)).unwrap();
        // Other families have unflushed writes in the same WAL.
        s.create_bucket("bkt").unwrap();
        // Sealed: the plaintext never reaches a file, even before a flush.
        assert_eq!(
            on_disk(tmp.path(), first.as_bytes()),
            Vec::<std::path::PathBuf>::new()
        );
        let stored = |id: &str| {
            s.inner
                .db
                .get_owned(s.cf(CF_ACCESS_KEYS), id.as_bytes())
                .unwrap()
                .unwrap()
        };
        let sealed_first = stored("AKID");
        let sealed_second = stored("GONE");
        s.inner.db.flush(s.cf(CF_ACCESS_KEYS)).unwrap();
        assert!(!on_disk(tmp.path(), &sealed_first).is_empty());

        // Rotation and deletion scrub the old sealed values too: with the key
        // file beside them, they would be as good as plaintext.
        s.put_access_key("AKID", &row("THIRDsecret")).unwrap();
        assert!(on_disk(tmp.path(), &sealed_first).is_empty());
        assert!(!on_disk(tmp.path(), &sealed_second).is_empty());
        s.delete_access_key("GONE").unwrap();
        assert!(on_disk(tmp.path(), &sealed_second).is_empty());
        // A change that keeps the secret (disable) does not need a scrub.
        let mut off = row("THIRDsecret");
        off.enabled = false;
        s.put_access_key("AKID", &off).unwrap();
        drop(s);
        let s = store(tmp.path());
        assert_eq!(s.access_key("AKID").unwrap(), Some(off));
        assert_eq!(s.access_key("GONE").unwrap(), None);
    }

    #[test]
    fn plaintext_rows_of_an_older_build_are_sealed_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let old = "OLDBUILDsecretOLDBUILDsecretOLDBUILD0000";
        {
            // What a build before encryption wrote: plain rows, no marker, no key file.
            let s = store(tmp.path());
            let mut batch = Batch::default();
            batch.put_cf(s.cf(CF_ACCESS_KEYS), b"OLDKEY", rows::encode(&row(old)));
            batch.delete_cf(s.cf(CF_META), META_KEYS_SEALED);
            s.write_synced(batch).unwrap();
            s.inner.db.flush(s.cf(CF_ACCESS_KEYS)).unwrap();
        }
        std::fs::remove_file(tmp.path().join(crate::secrets::KEY_FILE)).unwrap();
        assert!(!on_disk(tmp.path(), old.as_bytes()).is_empty());
        let s = store(tmp.path());
        assert_eq!(s.access_key("OLDKEY").unwrap(), Some(row(old)));
        assert_eq!(
            on_disk(tmp.path(), old.as_bytes()),
            Vec::<std::path::PathBuf>::new()
        );
        drop(s);
        // Sealed rows need their key: without the file the store says so.
        std::fs::remove_file(tmp.path().join(crate::secrets::KEY_FILE)).unwrap();
        let err = Store::open(StoreConfig {
            data_dir: tmp.path().to_path_buf(),
            chunk_size: 1 << 20,
            inline_threshold: 1024,
            retention: Duration::from_secs(60),
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("access-keys.key"), "{err}");
    }

    /// Rows written before prefix grants (format 1, sealed or still in
    /// plaintext) read back with every grant covering its whole bucket.
    #[test]
    fn format_1_rows_read_as_whole_bucket_grants() {
        #[derive(Serialize)]
        struct OldGrant {
            bucket: String,
            read: bool,
            write: bool,
            admin: bool,
        }
        #[derive(Serialize)]
        struct OldRow {
            name: String,
            secret: String,
            created_ms: u64,
            enabled: bool,
            grants: Vec<OldGrant>,
            allow_ips: Vec<String>,
        }
        let old = OldRow {
            name: "partner".into(),
            secret: "s3cr3t".into(),
            created_ms: 7,
            enabled: true,
            grants: vec![
                OldGrant {
                    bucket: "reports".into(),
                    read: true,
                    write: false,
                    admin: false,
                },
                OldGrant {
                    bucket: "*".into(),
                    read: false,
                    write: false,
                    admin: true,
                },
            ],
            allow_ips: vec!["10.0.0.0/8".into()],
        };
        let mut raw = vec![1u8];
        raw.extend(postcard::to_allocvec(&old).unwrap());
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let mut batch = Batch::default();
        batch.put_cf(
            s.cf(CF_ACCESS_KEYS),
            b"OLDKEY",
            s.inner.secrets.seal("OLDKEY", &raw),
        );
        s.write_synced(batch).unwrap();
        let want = AccessKeyRow {
            name: "partner".into(),
            secret: "s3cr3t".into(),
            created_ms: 7,
            enabled: true,
            grants: vec![
                Grant {
                    bucket: "reports".into(),
                    prefix: String::new(),
                    read: true,
                    write: false,
                    admin: false,
                },
                Grant {
                    bucket: "*".into(),
                    prefix: String::new(),
                    read: false,
                    write: false,
                    admin: true,
                },
            ],
            allow_ips: vec!["10.0.0.0/8".into()],
        };
        assert_eq!(s.access_key("OLDKEY").unwrap(), Some(want.clone()));
        // Plaintext rows of a build before sealing upgrade the same way.
        assert_eq!(rows::decode::<AccessKeyRow>(&raw).unwrap(), want);
        // Written back, the row is in the new format and keeps its prefix.
        let mut new = want;
        new.grants[0].prefix = "2026/".into();
        s.put_access_key("OLDKEY", &new).unwrap();
        assert_eq!(s.access_key("OLDKEY").unwrap(), Some(new));
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
                prefix: "in/".into(),
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
