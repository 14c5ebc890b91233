//! Opening the store, version sequence numbers, and buckets.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use crate::chunk_backends::{BackendOpener, Backends};
use crate::chunk_store::{ChunkBackend, ChunkStore};
use crate::engine::{Batch, Cf, Cursor, Engine, Entries, Expect, MetaUrl, ReadBounds};
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_BUCKETS, CF_META, CF_OBJECTS};
use crate::latches::Latches;
use crate::locks::{LockTable, Readers};
use crate::rows::{self, BucketRow, Versioning};
use crate::secrets::{SecretBox, META_KEYS_SEALED};
use crate::writer::ObjectWriter;

/// Storage settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Root of the data directory (`meta/` and `chunks/` live below it).
    pub data_dir: PathBuf,
    /// Maximum size of one chunk file.
    pub chunk_size: u64,
    /// Objects up to this size are stored inside their metadata row.
    pub inline_threshold: usize,
    /// How long replaced and deleted versions stay recoverable.
    pub retention: Duration,
}

/// RocksDB's memory bounds. The defaults keep a server's resident memory
/// under ~150 MiB with small-object workloads: without them every column
/// family had its own 8 MiB block cache and up to 2 × 64 MiB of memtables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTuning {
    /// Block cache shared by every column family (index and filter blocks included).
    pub block_cache: usize,
    /// One memtable's size, per column family.
    pub write_buffer_size: usize,
    /// Memtables a column family may hold (one active, the rest being flushed).
    pub max_write_buffers: u32,
    /// All memtables together: RocksDB flushes the largest beyond it.
    pub total_write_buffers: usize,
}

impl Default for StoreTuning {
    fn default() -> Self {
        StoreTuning {
            block_cache: 32 << 20,
            write_buffer_size: 16 << 20,
            max_write_buffers: 2,
            total_write_buffers: 48 << 20,
        }
    }
}

/// The storage engine. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The metadata engine (see `engine/`).
    pub(crate) db: Engine,
    pub(crate) chunks: ChunkStore,
    /// The buckets' own chunk backends (see `chunk_backends.rs`).
    pub(crate) backends: Backends,
    pub(crate) locks: Arc<LockTable>,
    pub(crate) readers: Arc<Readers>,
    /// Short sections over one key's version rows (see `latches.rs`).
    pub(crate) latches: Latches,
    pub(crate) config: StoreConfig,
    /// Seals access key rows (see `secrets.rs`).
    pub(crate) secrets: SecretBox,
    seq: Mutex<SeqState>,
    /// Commits into a bucket hold this shared; deleting a bucket holds it
    /// exclusively, so no object can be committed into a bucket between the
    /// emptiness check and the deletion.
    bucket_commits: RwLock<()>,
    /// Serialises the short metadata steps of multipart uploads (part
    /// commit, complete, abort, expiry), so a part never lands in an upload
    /// that is being completed or removed.
    pub(crate) multipart: Mutex<()>,
    /// Tests stop a purge here, after a version's files are removed and
    /// before its rows are: `false` simulates a crash at that point.
    #[cfg(test)]
    pub(crate) purge_hook: Mutex<Option<PurgeHook>>,
    /// Version rows a listing decoded, so tests can check that a page
    /// costs what its size says, however many versions a key has.
    #[cfg(test)]
    pub(crate) listed_rows: std::sync::atomic::AtomicUsize,
    /// The change log's sequence counter (see `changes.rs`).
    pub(crate) changes: crate::change_log::ChangeLog,
    /// Length of a lifecycle "day" in ms (see `lifecycle.rs`).
    pub(crate) lifecycle_day_ms: std::sync::atomic::AtomicU64,
}

#[cfg(test)]
pub(crate) type PurgeHook = Box<dyn Fn(u64) -> bool + Send>;

/// Sequence numbers are handed out from blocks reserved durably in
/// `CF_META`, so they stay unique across restarts without a write per number.
struct SeqState {
    next: u64,
    reserved_end: u64,
}

const SEQ_BLOCK: u64 = 1 << 20;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the store, then removes chunk files that no
    /// committed metadata refers to (uploads a crash cut off).
    pub fn open(config: StoreConfig) -> StorageResult<Store> {
        Self::open_with(config, StoreTuning::default())
    }

    /// [`Store::open`] with RocksDB memory bounds of its own.
    pub fn open_with(config: StoreConfig, tuning: StoreTuning) -> StorageResult<Store> {
        Store::open_on(config, tuning, &MetaUrl::Embedded, None, None)
    }

    /// [`Store::open_with`] on the metadata engine `meta`, with the chunks
    /// in `blobs` instead of local files under the data directory when
    /// given, and the buckets' own backends opened by `opener`.
    pub fn open_on(
        config: StoreConfig,
        tuning: StoreTuning,
        meta: &MetaUrl,
        blobs: Option<Arc<dyn ChunkBackend>>,
        opener: Option<BackendOpener>,
    ) -> StorageResult<Store> {
        let store = Store::open_unswept_on(config, tuning, meta, blobs, opener)?;
        // Owner rows of commits a crash cut off first, so their files are
        // orphans for the sweep below.
        store.sweep_split_commits()?;
        let removed = store.sweep_orphan_chunks()?;
        if removed > 0 {
            tracing::info!(
                removed,
                chunks = %store.inner.chunks.describe(),
                "removed orphan chunk files left by interrupted uploads"
            );
        }
        Ok(store)
    }

    /// Opens the store but leaves orphan chunk files where they are, for
    /// `kura fsck` to report (and remove only when asked to).
    pub fn open_unswept(config: StoreConfig, tuning: StoreTuning) -> StorageResult<Store> {
        Store::open_unswept_on(config, tuning, &MetaUrl::Embedded, None, None)
    }

    /// [`Store::open_unswept`] on the metadata engine `meta`, with the
    /// chunks in `blobs` when given; `opener` opens the buckets' own
    /// backends (`chunk_backends.rs`; without one, chunks in them cannot be
    /// reached).
    pub fn open_unswept_on(
        config: StoreConfig,
        tuning: StoreTuning,
        meta: &MetaUrl,
        blobs: Option<Arc<dyn ChunkBackend>>,
        opener: Option<BackendOpener>,
    ) -> StorageResult<Store> {
        std::fs::create_dir_all(&config.data_dir)?;
        let db = Engine::open(meta, &config.data_dir.join("meta"), &tuning)?;
        let chunks = match blobs {
            Some(backend) => ChunkStore::remote(backend),
            None => ChunkStore::local(config.data_dir.join("chunks"))?,
        };
        let sealed = db.get(Cf(CF_META), META_KEYS_SEALED)?.is_some();
        // Once rows are sealed, only the key that sealed them will do.
        let secrets = SecretBox::open(&config.data_dir, !sealed)?;
        // `meta/` and `chunks/` are entries of the data directory: without
        // this fsync a power cut soon after the first start can lose both
        // (found by the power-loss test, tests/powercut.rs). The data
        // directory's own entry is its parent's: synced too, best-effort (a
        // parent we may not read is the installer's business).
        crate::chunks::sync_dir(&config.data_dir)?;
        if let Some(parent) = config
            .data_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            let _ = crate::chunks::sync_dir(parent);
        }
        let stored = match db.get(Cf(CF_META), keys::META_LAST_SEQ)? {
            Some(v) => decode_seq(&v)?,
            None => 0,
        };
        let changes = crate::change_log::ChangeLog::recover(&db)?;
        let coord = db.coord().cloned();
        let backends = Backends::new(opener, db.is_shared());
        let store = Store {
            inner: Arc::new(Inner {
                db,
                chunks,
                backends,
                locks: Arc::new(LockTable::new(coord.clone())),
                readers: Arc::new(Readers::new(coord.clone())),
                latches: Latches::default(),
                config,
                secrets,
                // Starting from the clock keeps version ids roughly time-ordered.
                seq: Mutex::new(SeqState {
                    next: stored.max(now_us()),
                    reserved_end: 0,
                }),
                bucket_commits: RwLock::new(()),
                multipart: Mutex::new(()),
                #[cfg(test)]
                purge_hook: Mutex::new(None),
                #[cfg(test)]
                listed_rows: Default::default(),
                changes,
                lifecycle_day_ms: crate::lifecycle::DAY_MS.into(),
            }),
        };
        store.start_bucket_backends()?;
        crate::change_log::sync_horizons(&store.inner)?;
        store.resume_reschedules()?;
        if !sealed {
            store.seal_plaintext_keys()?;
        }
        crate::file_modes::restrict(&store.inner.config.data_dir)?;
        Ok(store)
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// The column family `name` (one of `keys::ALL_CFS`).
    #[inline]
    pub(crate) fn cf(&self, name: &'static str) -> Cf {
        Cf(name)
    }

    /// A raw iterator over the keys of `cf` that start with `prefix`: the
    /// upper bound is set in RocksDB, so the iterator stops at the end of
    /// the prefix without reading (or skipping tombstones) past it.
    pub(crate) fn bounded(&self, cf: &'static str, prefix: Vec<u8>) -> Cursor<'_> {
        self.inner
            .db
            .cursor(self.cf(cf), ReadBounds::prefix(&prefix))
    }

    /// The entries of `cf` under `prefix`, forward from `start` (at or after
    /// the prefix); bounded as [`Store::bounded`] is.
    pub(crate) fn bounded_from(
        &self,
        cf: &'static str,
        prefix: &[u8],
        start: &[u8],
    ) -> Entries<'_> {
        self.inner
            .db
            .entries(self.cf(cf), ReadBounds::prefix(prefix), Some(start))
    }

    /// Commits a batch durably (WAL fsync'd before returning). RocksDB groups
    /// concurrent synced writes into one fsync, so parallel small PUTs share syncs.
    /// A batch over an engine's size limit (etcd) commits in steps whose
    /// last is the commit point (`split_commit.rs`).
    pub(crate) fn write_synced(&self, batch: Batch) -> StorageResult<()> {
        self.commit_synced(batch)
    }

    /// A new, unique, increasing sequence number.
    pub(crate) fn next_seq(&self) -> StorageResult<u64> {
        self.next_seq_from(0)
    }

    /// [`Store::next_seq`], at least `floor`: a new version of a key takes
    /// one above the key's newest version, which another front end (with
    /// its own block of numbers, lower than this one's) may have written.
    /// A `floor` beyond this front end's block reserves a fresh block above
    /// every block reserved so far, so numbers stay unique.
    pub(crate) fn next_seq_from(&self, floor: u64) -> StorageResult<u64> {
        let mut s = self.inner.seq.lock();
        s.next = (s.next + 1).max(floor);
        while s.next >= s.reserved_end {
            // Reserve the block above the last one any front end sharing
            // the engine reserved, guarded by the value read: a concurrent
            // reservation makes this one fail and retry above it.
            let stored = self
                .inner
                .db
                .get_owned(self.cf(CF_META), keys::META_LAST_SEQ)?;
            let last = match &stored {
                Some(v) => decode_seq(v)?,
                None => 0,
            };
            let start = s.next.max(last + 1);
            let end = start + SEQ_BLOCK;
            let mut batch = Batch::default();
            batch.put_cf(self.cf(CF_META), keys::META_LAST_SEQ, end.to_be_bytes());
            let expect = match stored {
                Some(v) => Expect::Value(v),
                None => Expect::Absent,
            };
            batch.expect(self.cf(CF_META), keys::META_LAST_SEQ, expect);
            match self.write_synced(batch) {
                Ok(()) => {
                    s.next = start;
                    s.reserved_end = end;
                }
                Err(StorageError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(s.next)
    }

    /// A writer for a new object's bytes on the server's backend (the
    /// server writes through [`Store::object_writer_in`], which follows
    /// the bucket's backend).
    pub fn object_writer(&self) -> ObjectWriter {
        ObjectWriter::new(
            self.inner.chunks.clone(),
            crate::rows::SERVER_BACKEND,
            self.inner.config.chunk_size,
            self.inner.config.inline_threshold,
        )
    }

    /// Creates a bucket; [`StorageError::BucketExists`] if it exists.
    pub fn create_bucket(&self, name: &str) -> StorageResult<BucketRow> {
        // One lock for bucket creation and deletion keeps check-then-write atomic.
        let _guard = self.bucket_lock(name)?;
        if self.bucket(name)?.is_some() {
            return Err(StorageError::BucketExists);
        }
        let row = BucketRow {
            created_ms: now_ms(),
            max_object_size: None,
            retention_secs: None,
            versioning: Versioning::Unversioned,
        };
        let mut batch = Batch::default();
        batch.put_cf(self.cf(CF_BUCKETS), name.as_bytes(), rows::encode(&row));
        // The lock above covers this process; the guard covers every front
        // end sharing a distributed engine (and costs a rare bucket creation
        // one exclusive commit on RocksDB).
        batch.expect(self.cf(CF_BUCKETS), name.as_bytes(), Expect::Absent);
        match self.write_synced(batch) {
            Err(StorageError::Conflict) => Err(StorageError::BucketExists),
            r => r.map(|()| row),
        }
    }

    pub(crate) fn bucket_lock(&self, name: &str) -> StorageResult<crate::locks::WriteLock> {
        let mut key = vec![0u8];
        key.extend_from_slice(name.as_bytes());
        self.inner.locks.try_lock(key)
    }

    /// A bucket's row, if it exists.
    pub fn bucket(&self, name: &str) -> StorageResult<Option<BucketRow>> {
        match self.inner.db.get(self.cf(CF_BUCKETS), name.as_bytes())? {
            Some(raw) => Ok(Some(rows::decode(&raw)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn require_bucket(&self, name: &str) -> StorageResult<BucketRow> {
        self.bucket(name)?.ok_or(StorageError::NoSuchBucket)
    }

    /// All buckets, by name.
    pub fn list_buckets(&self) -> StorageResult<Vec<(String, BucketRow)>> {
        self.named_rows(CF_BUCKETS, "bucket name")
    }

    /// Every row of a column family keyed by a UTF-8 name (`what`, for the
    /// corruption error), in key order.
    pub(crate) fn named_rows<T: rows::Row>(
        &self,
        cf: &'static str,
        what: &str,
    ) -> StorageResult<Vec<(String, T)>> {
        let mut out = Vec::new();
        for item in self.inner.db.entries(self.cf(cf), ReadBounds::all(), None) {
            let (k, v) = item?;
            let name =
                String::from_utf8(k.to_vec()).map_err(|_| StorageError::Corrupt(what.into()))?;
            out.push((name, rows::decode(&v)?));
        }
        Ok(out)
    }

    /// Held while a change is committed into an existing bucket (see `bucket_commits`).
    pub(crate) fn commit_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.inner.bucket_commits.read()
    }

    /// Waits for the commits in flight into any bucket and holds off new
    /// ones while held: a settings change committed under it is seen by
    /// every later commit, and every earlier one is visible to it (lifecycle
    /// configurations, an index rebuild).
    pub(crate) fn commit_barrier(&self) -> parking_lot::RwLockWriteGuard<'_, ()> {
        self.inner.bucket_commits.write()
    }

    /// Deletes an empty bucket.
    pub fn delete_bucket(&self, name: &str) -> StorageResult<()> {
        let _guard = self.bucket_lock(name)?;
        let _no_commits = self.inner.bucket_commits.write();
        // On a shared engine the bucket is claimed first: from then on no
        // front end commits into it (see `guards.rs`), so what is read
        // below is all there is.
        let claim = match self.shared() {
            true => self.retry_guarded(|| {
                let raw = self
                    .inner
                    .db
                    .get_owned(self.cf(CF_BUCKETS), name.as_bytes())?
                    .ok_or(StorageError::NoSuchBucket)?;
                self.take_claim(
                    crate::guards::deleting_key(name),
                    CF_BUCKETS,
                    name.as_bytes(),
                    Some(&raw),
                )
            })?,
            false => None,
        };
        let done = self.delete_claimed_bucket(name, &claim);
        if done.is_err() {
            self.drop_claim(claim);
        }
        done
    }

    /// [`Store::delete_bucket`] once claimed.
    fn delete_claimed_bucket(
        &self,
        name: &str,
        claim: &Option<crate::guards::Claim>,
    ) -> StorageResult<()> {
        self.require_bucket(name)?;
        let prefix = keys::bucket_prefix(name)?;
        let mut it = self.inner.db.cursor(self.cf(CF_OBJECTS), ReadBounds::all());
        it.seek(&prefix);
        if it.valid() && it.key().is_some_and(|k| k.starts_with(&prefix)) {
            return Err(StorageError::BucketNotEmpty);
        }
        it.status()?;
        drop(it);
        if let Some(limit) = self.inner.db.max_ops_per_commit() {
            // etcd: the noncurrent versions go to the purge queue a page
            // per commit first (two rows each). Each page stands alone: a
            // version queued is purged whether or not the bucket goes; the
            // last commit below deletes the bucket row.
            loop {
                let mut page = Batch::default();
                if self.drop_bucket_versions(&mut page, name, limit / 2 - 1)? == 0 {
                    break;
                }
                self.write_synced(page)?;
            }
        }
        let mut batch = Batch::default();
        batch.delete_cf(self.cf(CF_BUCKETS), name.as_bytes());
        // Empty already if maintained right; dropped anyway, so a bucket
        // created later under the name can never inherit stray entries.
        if let Some(end) = keys::prefix_successor(&prefix) {
            batch.delete_range_cf(self.cf(keys::CF_SEARCH), &prefix, &end);
        }
        self.drop_bucket_versions(&mut batch, name, usize::MAX)?;
        self.drop_bucket_changes(&mut batch, name)?;
        self.drop_bucket_configs(&mut batch, name)?;
        batch.delete_cf(self.cf(CF_META), keys::bucket_tags_key(name));
        self.drop_bucket_lifecycle(&mut batch, name);
        self.drop_bucket_usage(&mut batch, name);
        self.drop_bucket_backend(&mut batch, name);
        self.finish_claim(&mut batch, claim);
        self.expect_present(&mut batch, CF_BUCKETS, name.as_bytes());
        self.write_synced(batch)?;
        self.forget_bucket_backend(name);
        Ok(())
    }
}

fn decode_seq(raw: &[u8]) -> StorageResult<u64> {
    Ok(u64::from_be_bytes(raw.try_into().map_err(|_| {
        StorageError::Corrupt("bad sequence counter".into())
    })?))
}
