//! Per-bucket chunk backends: which backend holds a bucket's new chunks.
//!
//! Two kinds of rows in `meta`:
//! * `chunk_backend/<n>` (`n` a big-endian `u16`, 1 and up) → a
//!   [`BackendSpec`] (URL and credentials), sealed like access keys
//!   (`secrets.rs`, bound to the row's name). A URL registered again reuses
//!   its number (with the credentials given last). Numbers are never
//!   reused: chunk references name their backend by it
//!   ([`crate::rows::ChunkRef::backend`]), and a registry row outlives every
//!   bucket that used it.
//! * `bucket_backend/<bucket>` → `n`: where the bucket's new chunks go.
//!   No row: the server's own backend (number 0, `--blobs` or local files).
//!
//! Writers take the bucket's number when they start
//! ([`Store::object_writer_in`]); everything after (reads, scrubs, purges,
//! clean-ups) uses the number in each chunk's reference. So switching a
//! bucket's backend moves nothing: old objects stay readable where they
//! are, new ones go to the new backend, and an object completed from
//! parts may mix both.
//!
//! The bucket → number mapping is cached per process so that a PUT pays no
//! metadata read for it. On the embedded engine only this process writes
//! the rows: the cache is exact (and with no bucket backend at all a PUT
//! pays one atomic load). On a shared engine another front end may change
//! the setting: an entry is trusted for [`SHARED_TTL`], so a switch reaches
//! every front end within about a second (a write routed by a stale entry
//! still lands in a registered backend and records its number: nothing is
//! lost, it is only where the switch had not yet applied).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::chunk_store::{ChunkBackend, ChunkStore};
use crate::engine::{Batch, Expect};
use crate::error::{StorageError, StorageResult};
use crate::keys::{CF_BUCKETS as CF_BUCKETS_CF, CF_META};
use crate::rows::{self, Row, SERVER_BACKEND};
use crate::store::Store;
use crate::writer::ObjectWriter;

/// Prefix of the registry rows.
const REGISTRY_PREFIX: &[u8] = b"chunk_backend/";
/// Prefix of the per-bucket rows.
const BUCKET_PREFIX: &[u8] = b"bucket_backend/";
/// How long a front end on a shared engine trusts a cached bucket setting.
pub const SHARED_TTL: Duration = Duration::from_secs(1);
/// How long a front end on a shared engine uses an opened bucket backend
/// before it reads its registry row again (new credentials set on another
/// front end).
pub const SHARED_REFRESH: Duration = Duration::from_secs(10);

/// A chunk backend as registered: where, and how to sign in.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct BackendSpec {
    /// The backend's URL, as `--blobs` takes it (`s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]`).
    pub url: String,
    /// Access key id (S3), if any.
    pub access_key_id: Option<String>,
    /// Its secret; never shown back.
    pub secret_access_key: Option<String>,
    /// Region for signatures (`None`: `us-east-1`).
    pub region: Option<String>,
}

impl fmt::Debug for BackendSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSpec")
            .field("url", &self.url)
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Row for BackendSpec {}

/// A backend opened from a registry row, with the row.
type OpenedWith = (BackendSpec, Arc<dyn ChunkBackend>);

/// Opens a backend from its spec (the server's `blobs::parse`).
pub type BackendOpener =
    Arc<dyn Fn(&BackendSpec) -> io::Result<Arc<dyn ChunkBackend>> + Send + Sync>;

/// A bucket's backend, as shown to an operator (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketBackend {
    /// Its number in the registry.
    pub number: u16,
    /// Its URL.
    pub url: String,
    /// The access key id it signs with, if any.
    pub access_key_id: Option<String>,
    /// Its region, if set.
    pub region: Option<String>,
}

/// The per-process state: the opener and the bucket → number cache.
pub(crate) struct Backends {
    pub(crate) opener: Option<BackendOpener>,
    /// Whether any bucket may have a backend row (embedded engine: exact;
    /// shared: always `true`).
    any: AtomicBool,
    shared: bool,
    cache: RwLock<HashMap<String, (u16, Instant)>>,
}

impl Backends {
    pub(crate) fn new(opener: Option<BackendOpener>, shared: bool) -> Backends {
        Backends {
            opener,
            any: AtomicBool::new(shared),
            shared,
            cache: Default::default(),
        }
    }
}

fn registry_key(n: u16) -> Vec<u8> {
    let mut k = REGISTRY_PREFIX.to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// What a registry row is sealed to: its own name, so a row cannot be
/// moved to another number (or read as an access key).
fn sealed_as(n: u16) -> String {
    format!("chunk_backend/{n}")
}

fn bucket_key(bucket: &str) -> Vec<u8> {
    let mut k = BUCKET_PREFIX.to_vec();
    k.extend_from_slice(bucket.as_bytes());
    k
}

fn decode_number(raw: &[u8]) -> StorageResult<u16> {
    Ok(u16::from_be_bytes(raw.try_into().map_err(|_| {
        StorageError::Corrupt("bad bucket backend number".into())
    })?))
}

impl Store {
    /// Wires the bucket backends up at open: how numbers are opened, and
    /// whether any bucket has one (embedded).
    pub(crate) fn start_bucket_backends(&self) -> StorageResult<()> {
        let weak = Arc::downgrade(&self.inner);
        // What each number was opened with: read again, an unchanged row
        // keeps its open backend (a RADOS connection is not made anew).
        let opened: parking_lot::Mutex<HashMap<u16, OpenedWith>> = Default::default();
        let resolve = move |n: u16| -> io::Result<Arc<dyn ChunkBackend>> {
            let inner = weak
                .upgrade()
                .ok_or_else(|| io::Error::other("the store is closed"))?;
            let store = Store { inner };
            let spec = store
                .backend_spec(n)
                .map_err(io::Error::other)?
                .ok_or_else(|| io::Error::other(format!("chunk backend {n} is not registered")))?;
            if let Some((was, backend)) = opened.lock().get(&n) {
                if *was == spec {
                    return Ok(Arc::clone(backend));
                }
            }
            let opener = store.inner.backends.opener.as_ref().ok_or_else(|| {
                io::Error::other(format!(
                    "chunk backend {n} ({}) cannot be opened by this process",
                    spec.url
                ))
            })?;
            let backend = opener(&spec)?;
            opened.lock().insert(n, (spec, Arc::clone(&backend)));
            Ok(backend)
        };
        // On a shared engine another front end may give a backend new
        // credentials: its row is read again after `SHARED_REFRESH`.
        let refresh = self.inner.backends.shared.then_some(SHARED_REFRESH);
        self.inner.chunks.set_resolver(Box::new(resolve), refresh);
        if !self.inner.backends.shared {
            let mut it = self.bounded(CF_META, BUCKET_PREFIX.to_vec());
            it.seek(BUCKET_PREFIX);
            let any = it.valid();
            it.status()?;
            self.inner.backends.any.store(any, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The registered backend `n` with its credentials.
    pub(crate) fn backend_spec(&self, n: u16) -> StorageResult<Option<BackendSpec>> {
        match self.inner.db.get_owned(self.cf(CF_META), registry_key(n))? {
            Some(raw) => {
                let plain = self.inner.secrets.unseal(&sealed_as(n), &raw)?;
                Ok(Some(rows::decode(&plain)?))
            }
            None => Ok(None),
        }
    }

    /// Every registered backend (number and spec, credentials included),
    /// by number.
    pub fn chunk_backends(&self) -> StorageResult<Vec<(u16, BackendSpec)>> {
        let mut out = Vec::new();
        for item in self.bounded_from(CF_META, REGISTRY_PREFIX, REGISTRY_PREFIX) {
            let (k, v) = item?;
            let n = decode_number(&k[REGISTRY_PREFIX.len()..])?;
            let plain = self.inner.secrets.unseal(&sealed_as(n), &v)?;
            out.push((n, rows::decode(&plain)?));
        }
        Ok(out)
    }

    /// The numbers of every registered backend.
    pub(crate) fn backend_numbers(&self) -> StorageResult<Vec<u16>> {
        let mut out = Vec::new();
        for item in self.bounded_from(CF_META, REGISTRY_PREFIX, REGISTRY_PREFIX) {
            let (k, _) = item?;
            out.push(decode_number(&k[REGISTRY_PREFIX.len()..])?);
        }
        Ok(out)
    }

    /// The backend number of `bucket`'s new chunks (0: the server's).
    /// Cached: see the module docs.
    #[inline]
    pub(crate) fn bucket_backend_number(&self, bucket: &str) -> StorageResult<u16> {
        let b = &self.inner.backends;
        if !b.any.load(Ordering::Relaxed) {
            return Ok(SERVER_BACKEND);
        }
        if let Some(&(n, at)) = b.cache.read().get(bucket) {
            if !b.shared || at.elapsed() < SHARED_TTL {
                return Ok(n);
            }
        }
        let n = match self.inner.db.get(self.cf(CF_META), bucket_key(bucket))? {
            Some(raw) => decode_number(&raw)?,
            None => SERVER_BACKEND,
        };
        let mut cache = b.cache.write();
        if b.shared {
            cache.insert(bucket.to_string(), (n, Instant::now()));
        } else {
            // A change committed since the read above has put its own
            // value: it wins (see `set_bucket_backend`).
            cache
                .entry(bucket.to_string())
                .or_insert((n, Instant::now()));
        }
        Ok(n)
    }

    /// A writer for a new object's bytes in `bucket`, into the bucket's
    /// backend.
    pub fn object_writer_in(&self, bucket: &str) -> StorageResult<ObjectWriter> {
        Ok(ObjectWriter::new(
            self.inner.chunks.clone(),
            self.bucket_backend_number(bucket)?,
            self.inner.config.chunk_size,
            self.inner.config.inline_threshold,
        ))
    }

    /// A writer for part data of an upload into `bucket` (always chunks,
    /// see [`Store::part_writer`]), into the bucket's backend.
    pub fn part_writer_in(&self, bucket: &str) -> StorageResult<ObjectWriter> {
        Ok(ObjectWriter::new(
            self.inner.chunks.clone(),
            self.bucket_backend_number(bucket)?,
            self.inner.config.chunk_size,
            0,
        ))
    }

    /// `bucket`'s backend, if it has one of its own.
    pub fn bucket_backend(&self, bucket: &str) -> StorageResult<Option<BucketBackend>> {
        let Some(raw) = self
            .inner
            .db
            .get_owned(self.cf(CF_META), bucket_key(bucket))?
        else {
            return Ok(None);
        };
        let n = decode_number(&raw)?;
        let spec = self
            .backend_spec(n)?
            .ok_or_else(|| StorageError::Corrupt(format!("chunk backend {n} is not registered")))?;
        Ok(Some(BucketBackend {
            number: n,
            url: spec.url,
            access_key_id: spec.access_key_id,
            region: spec.region,
        }))
    }

    /// Opens `spec` and proves it takes, returns and deletes a chunk, so a
    /// setting that cannot work is refused before any upload depends on it.
    /// Blocking (network round trips).
    pub fn probe_backend(&self, spec: &BackendSpec) -> StorageResult<()> {
        let opener = self.inner.backends.opener.as_ref().ok_or_else(|| {
            StorageError::Io(io::Error::other("this process cannot open chunk backends"))
        })?;
        let backend = opener(spec)?;
        let id = ChunkStore::new_id();
        let probe = Bytes::from_static(b"kura backend probe");
        backend.put(&id, probe.clone())?;
        let mut back = Vec::new();
        let read = backend.read(&id, 0, probe.len() as u64, &mut back);
        let deleted = backend.delete(&id);
        read?;
        if back != probe {
            return Err(StorageError::Io(io::Error::other(
                "the backend returned other bytes than were written",
            )));
        }
        deleted?;
        Ok(())
    }

    /// Sets where `bucket`'s new chunks go: `Some(spec)` registers the
    /// backend (or reuses the number of its URL, taking these credentials)
    /// and points the bucket at it; `None` returns the bucket to the
    /// server's backend. One guarded commit; returns the number (0 for
    /// the server's). The caller probes the backend first
    /// ([`Store::probe_backend`]).
    pub fn set_bucket_backend(
        &self,
        bucket: &str,
        spec: Option<&BackendSpec>,
    ) -> StorageResult<u16> {
        let _guard = self.bucket_lock(bucket)?;
        let n = self.retry_guarded(|| self.try_set_bucket_backend(bucket, spec))?;
        if spec.is_some() {
            // Its credentials may have been replaced: the next use opens it anew.
            self.inner.chunks.forget(n);
        }
        let b = &self.inner.backends;
        // Published after the commit, overwriting whatever a concurrent
        // reader cached from before it.
        b.any.store(true, Ordering::Relaxed);
        b.cache
            .write()
            .insert(bucket.to_string(), (n, Instant::now()));
        Ok(n)
    }

    fn try_set_bucket_backend(
        &self,
        bucket: &str,
        spec: Option<&BackendSpec>,
    ) -> StorageResult<u16> {
        let mut batch = Batch::default();
        let raw = self
            .inner
            .db
            .get_owned(self.cf(CF_BUCKETS_CF), bucket.as_bytes())?
            .ok_or(StorageError::NoSuchBucket)?;
        self.expect_read(&mut batch, CF_BUCKETS_CF, bucket.as_bytes(), Some(&raw));
        let n = match spec {
            None => {
                batch.delete_cf(self.cf(CF_META), bucket_key(bucket));
                SERVER_BACKEND
            }
            Some(spec) => {
                let known = self.chunk_backends()?;
                let (n, rewrite) = match known.iter().find(|(_, s)| s.url == spec.url) {
                    Some((n, s)) => (*n, s != spec),
                    None => {
                        let n = known.last().map_or(1, |(n, _)| n + 1);
                        if n == u16::MAX {
                            return Err(StorageError::Io(io::Error::other(
                                "too many chunk backends registered",
                            )));
                        }
                        (n, true)
                    }
                };
                if rewrite {
                    let key = registry_key(n);
                    let old = self.inner.db.get_owned(self.cf(CF_META), &key)?;
                    batch.expect(
                        self.cf(CF_META),
                        &key,
                        match old {
                            Some(v) => Expect::Value(v),
                            None => Expect::Absent,
                        },
                    );
                    let sealed = self.inner.secrets.seal(&sealed_as(n), &rows::encode(spec));
                    batch.put_cf(self.cf(CF_META), key, sealed);
                }
                batch.put_cf(self.cf(CF_META), bucket_key(bucket), n.to_be_bytes());
                n
            }
        };
        self.write_synced(batch)?;
        Ok(n)
    }

    /// Adds to `batch` the removal of `bucket`'s backend setting (the
    /// bucket is being deleted: a bucket created later under its name
    /// starts on the server's backend).
    pub(crate) fn drop_bucket_backend(&self, batch: &mut Batch, bucket: &str) {
        batch.delete_cf(self.cf(CF_META), bucket_key(bucket));
    }

    /// After a bucket's deletion is committed: forget its cached setting.
    pub(crate) fn forget_bucket_backend(&self, bucket: &str) {
        let b = &self.inner.backends;
        if b.any.load(Ordering::Relaxed) {
            b.cache
                .write()
                .insert(bucket.to_string(), (SERVER_BACKEND, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::chunk_store::ChunkId;
    use crate::engine::MetaUrl;
    use crate::objects::NewObject;
    use crate::{StoreConfig, StoreTuning};

    /// A backend of plain files in a directory of its own, standing in for
    /// a remote one (the integration test uses a real S3 endpoint).
    #[derive(Debug)]
    struct DirChunks(PathBuf);

    impl ChunkBackend for DirChunks {
        fn describe(&self) -> String {
            self.0.display().to_string()
        }
        fn put(&self, id: &ChunkId, data: Bytes) -> io::Result<()> {
            std::fs::write(self.0.join(hex::encode(id)), data)
        }
        fn read(&self, id: &ChunkId, offset: u64, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
            let all = std::fs::read(self.0.join(hex::encode(id)))?;
            let end = (offset + len).min(all.len() as u64) as usize;
            buf.extend_from_slice(&all[(offset as usize).min(end)..end]);
            Ok(())
        }
        fn stored_len(&self, id: &ChunkId) -> io::Result<u64> {
            Ok(std::fs::metadata(self.0.join(hex::encode(id)))?.len())
        }
        fn delete(&self, id: &ChunkId) -> io::Result<()> {
            match std::fs::remove_file(self.0.join(hex::encode(id))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
        fn list(&self, visit: &mut dyn FnMut(ChunkId, Option<SystemTime>)) -> io::Result<()> {
            for e in std::fs::read_dir(&self.0)? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(id) = hex::decode(&name)
                    .ok()
                    .and_then(|v| ChunkId::try_from(v).ok())
                {
                    visit(id, e.metadata()?.modified().ok());
                }
            }
            Ok(())
        }
    }

    fn open(dir: &std::path::Path) -> Store {
        let opener: BackendOpener = Arc::new(|spec: &BackendSpec| {
            let path = spec
                .url
                .strip_prefix("dir://")
                .ok_or_else(|| io::Error::other("bad url"))?;
            Ok(Arc::new(DirChunks(path.into())) as Arc<dyn ChunkBackend>)
        });
        Store::open_on(
            StoreConfig {
                data_dir: dir.join("data"),
                chunk_size: 16,
                inline_threshold: 4,
                retention: Duration::ZERO,
            },
            StoreTuning::default(),
            &MetaUrl::Embedded,
            None,
            Some(opener),
        )
        .unwrap()
    }

    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    /// The registry reuses a URL's number and keeps secrets sealed; a
    /// bucket's objects go to its backend, are read and purged there, and
    /// a switch back leaves them readable; the setting survives a reopen.
    #[test]
    fn buckets_write_to_their_backend_and_purge_there() {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
        std::fs::create_dir_all(&one).unwrap();
        std::fs::create_dir_all(&two).unwrap();
        let spec = |dir: &PathBuf, secret: &str| BackendSpec {
            url: format!("dir://{}", dir.display()),
            access_key_id: Some("AKID".into()),
            secret_access_key: Some(secret.into()),
            region: None,
        };
        let s = open(tmp.path());
        s.create_bucket("b").unwrap();
        s.create_bucket("c").unwrap();
        assert_eq!(s.bucket_backend_number("b").unwrap(), 0);
        s.probe_backend(&spec(&one, "topsecret-1")).unwrap();
        assert_eq!(files(&one), 0, "the probe cleans up");
        assert_eq!(
            s.set_bucket_backend("b", Some(&spec(&one, "topsecret-1")))
                .unwrap(),
            1
        );
        assert_eq!(
            s.set_bucket_backend("c", Some(&spec(&two, "topsecret-2")))
                .unwrap(),
            2
        );
        // The same URL again: its number, with the credentials given last.
        assert_eq!(
            s.set_bucket_backend("c", Some(&spec(&one, "topsecret-3")))
                .unwrap(),
            1
        );
        assert_eq!(
            s.backend_spec(1)
                .unwrap()
                .unwrap()
                .secret_access_key
                .as_deref(),
            Some("topsecret-3")
        );
        for (_, v) in s
            .bounded_from(CF_META, REGISTRY_PREFIX, REGISTRY_PREFIX)
            .map(|r| r.unwrap())
        {
            assert!(!v.windows(9).any(|w| w == b"topsecret"), "sealed at rest");
        }
        assert!(matches!(
            s.set_bucket_backend("nope", Some(&spec(&one, "x"))),
            Err(StorageError::NoSuchBucket)
        ));

        let put = |key: &str, body: &[u8]| {
            let lock = s.lock_key("b", key).unwrap();
            let mut w = s.object_writer_in("b").unwrap();
            w.write(body).unwrap();
            let data = w.finish().unwrap();
            s.commit_object(&lock, "b", key, data, NewObject::default())
                .unwrap()
        };
        let body = b"forty bytes of data, in three chunks...".to_vec();
        let row = put("k", &body);
        assert!(row.chunks().iter().all(|c| c.backend == 1));
        let mut local = 0;
        s.inner.chunks.list(|_| local += 1).unwrap();
        assert_eq!((files(&one), local), (3, 0));
        let read = |key: &str| {
            let (_, mut r) = s.open_object("b", key, None).unwrap();
            let mut out = Vec::new();
            loop {
                let frame = r.next_frame(1 << 20).unwrap();
                if frame.is_empty() {
                    return out;
                }
                out.extend_from_slice(&frame);
            }
        };
        assert_eq!(read("k"), body);

        // Back to the server's backend: the old object stays where it is.
        assert_eq!(s.set_bucket_backend("b", None).unwrap(), 0);
        let local = put("l", &body);
        assert!(local.chunks().iter().all(|c| c.backend == 0));
        assert_eq!(read("k"), body);
        drop(s);

        // Reopened (the sweep lists every backend, and keeps what is referenced).
        let s = open(tmp.path());
        assert_eq!(s.bucket_backend_number("c").unwrap(), 1);
        assert_eq!(s.bucket_backend_number("b").unwrap(), 0);
        assert_eq!(files(&one), 3);
        let lock = s.lock_key("b", "k").unwrap();
        s.delete_object(&lock, "b", "k").unwrap();
        drop(lock);
        s.purge_due().unwrap();
        assert_eq!(files(&one), 0, "purged from its own backend");
        let (_, mut r) = s.open_object("b", "l", None).unwrap();
        assert_eq!(r.next_frame(1 << 20).unwrap().len(), 16);
    }
}
