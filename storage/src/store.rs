//! Opening the store, version sequence numbers, and buckets.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBIteratorWithThreadMode,
    DBRawIteratorWithThreadMode, Direction, IteratorMode, Options, ReadOptions, WriteBatch,
    WriteOptions, DB,
};

use crate::chunks::ChunkStore;
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, ALL_CFS, CF_BUCKETS, CF_META, CF_OBJECTS};
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
    pub(crate) db: DB,
    pub(crate) chunks: ChunkStore,
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

/// A raw RocksDB iterator (seek, then step).
pub(crate) type RawIter<'a> = DBRawIteratorWithThreadMode<'a, DB>;
/// A RocksDB iterator of (key, value) entries.
pub(crate) type EntryIter<'a> = DBIteratorWithThreadMode<'a, DB>;

/// Read options whose upper bound ends the keys starting with `prefix`.
fn prefix_bound(prefix: &[u8]) -> ReadOptions {
    let mut opts = ReadOptions::default();
    if let Some(upper) = keys::prefix_successor(prefix) {
        opts.set_iterate_upper_bound(upper);
    }
    opts
}

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

/// Options of every column family. Bloom filters let a point lookup
/// (every GET and PUT reads the object row) skip the SST files that cannot
/// hold the key: without them, RocksDB searched the index of every L0 file,
/// 18% of the CPU of serving 4 KiB objects.
fn cf_options(tuning: &StoreTuning, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    table.set_block_cache(cache);
    // Index and filter blocks count against the cache instead of growing
    // outside it with the data; pinning L0's keeps point lookups fast.
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    let mut opts = Options::default();
    opts.set_block_based_table_factory(&table);
    opts.set_write_buffer_size(tuning.write_buffer_size);
    // Memtable memory in blocks of an eighth of a memtable (RocksDB caps
    // them at 1 MiB by default): 2 MiB at the default size, which is at the
    // server's fixed malloc mmap threshold (`kura_server::malloc_tuning`),
    // so each block is mapped on its own and returned to the system when a
    // flushed memtable is freed, instead of fragmenting malloc's arenas.
    opts.set_arena_block_size(tuning.write_buffer_size / 8);
    opts.set_max_write_buffer_number(tuning.max_write_buffers.max(2) as i32);
    opts
}

impl Store {
    /// Opens (creating if needed) the store, then removes chunk files that no
    /// committed metadata refers to (uploads a crash cut off).
    pub fn open(config: StoreConfig) -> StorageResult<Store> {
        Self::open_with(config, StoreTuning::default())
    }

    /// [`Store::open`] with RocksDB memory bounds of its own.
    pub fn open_with(config: StoreConfig, tuning: StoreTuning) -> StorageResult<Store> {
        let store = Store::open_unswept(config, tuning)?;
        let removed = store.sweep_orphan_chunks()?;
        if removed > 0 {
            tracing::info!(
                removed,
                "removed orphan chunk files left by interrupted uploads"
            );
        }
        Ok(store)
    }

    /// Opens the store but leaves orphan chunk files where they are, for
    /// `kura fsck` to report (and remove only when asked to).
    pub fn open_unswept(config: StoreConfig, tuning: StoreTuning) -> StorageResult<Store> {
        std::fs::create_dir_all(&config.data_dir)?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.increase_parallelism(2);
        opts.set_db_write_buffer_size(tuning.total_write_buffers);
        let cache = Cache::new_lru_cache(tuning.block_cache)?;
        let cfs = ALL_CFS.iter().map(|name| {
            let mut cf_opts = cf_options(&tuning, &cache);
            if *name == keys::CF_USAGE {
                cf_opts.set_merge_operator_associative("kura-usage-sum", crate::usage::merge_usage);
                // A busy bucket's operands are folded in the memtable as they
                // come, so reading its counters (every PUT into a bucket with
                // a quota) never sums thousands of them.
                cf_opts.set_max_successive_merges(16);
            }
            ColumnFamilyDescriptor::new(*name, cf_opts)
        });
        let db = DB::open_cf_descriptors(&opts, config.data_dir.join("meta"), cfs)?;
        let chunks = ChunkStore::open(config.data_dir.join("chunks"))?;
        let sealed = db.get_cf(cf(&db, CF_META), META_KEYS_SEALED)?.is_some();
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
        let stored = match db.get_cf(cf(&db, CF_META), keys::META_LAST_SEQ)? {
            Some(v) => u64::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("bad sequence counter".into()))?,
            ),
            None => 0,
        };
        let changes = crate::change_log::ChangeLog::recover(&db)?;
        let store = Store {
            inner: Arc::new(Inner {
                db,
                chunks,
                locks: Arc::default(),
                readers: Arc::default(),
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

    pub(crate) fn cf(&self, name: &str) -> &ColumnFamily {
        cf(&self.inner.db, name)
    }

    /// A raw iterator over the keys of `cf` that start with `prefix`: the
    /// upper bound is set in RocksDB, so the iterator stops at the end of
    /// the prefix without reading (or skipping tombstones) past it.
    pub(crate) fn bounded(&self, cf: &str, prefix: Vec<u8>) -> RawIter<'_> {
        self.inner
            .db
            .raw_iterator_cf_opt(self.cf(cf), prefix_bound(&prefix))
    }

    /// The entries of `cf` under `prefix`, forward from `start` (at or after
    /// the prefix); bounded as [`Store::bounded`] is.
    pub(crate) fn bounded_from(&self, cf: &str, prefix: &[u8], start: &[u8]) -> EntryIter<'_> {
        self.inner.db.iterator_cf_opt(
            self.cf(cf),
            prefix_bound(prefix),
            IteratorMode::From(start, Direction::Forward),
        )
    }

    /// Commits a batch durably (WAL fsync'd before returning). RocksDB groups
    /// concurrent synced writes into one fsync, so parallel small PUTs share syncs.
    pub(crate) fn write_synced(&self, batch: WriteBatch) -> StorageResult<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.inner.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// A new, unique, increasing sequence number.
    pub(crate) fn next_seq(&self) -> StorageResult<u64> {
        let mut s = self.inner.seq.lock();
        s.next += 1;
        if s.next >= s.reserved_end {
            let end = s.next + SEQ_BLOCK;
            let mut wo = WriteOptions::default();
            wo.set_sync(true);
            self.inner.db.put_cf_opt(
                self.cf(CF_META),
                keys::META_LAST_SEQ,
                end.to_be_bytes(),
                &wo,
            )?;
            s.reserved_end = end;
        }
        Ok(s.next)
    }

    /// A writer for a new object's bytes.
    pub fn object_writer(&self) -> ObjectWriter {
        ObjectWriter::new(
            self.inner.chunks.clone(),
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
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_BUCKETS), name.as_bytes(), rows::encode(&row));
        self.write_synced(batch)?;
        Ok(row)
    }

    pub(crate) fn bucket_lock(&self, name: &str) -> StorageResult<crate::locks::WriteLock> {
        let mut key = vec![0u8];
        key.extend_from_slice(name.as_bytes());
        self.inner.locks.try_lock(key).ok_or(StorageError::Conflict)
    }

    /// A bucket's row, if it exists.
    pub fn bucket(&self, name: &str) -> StorageResult<Option<BucketRow>> {
        match self
            .inner
            .db
            .get_pinned_cf(self.cf(CF_BUCKETS), name.as_bytes())?
        {
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
        cf: &str,
        what: &str,
    ) -> StorageResult<Vec<(String, T)>> {
        let mut out = Vec::new();
        for item in self.inner.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
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
        self.require_bucket(name)?;
        let prefix = keys::bucket_prefix(name)?;
        let mut it = self.inner.db.raw_iterator_cf(self.cf(CF_OBJECTS));
        it.seek(&prefix);
        if it.valid() && it.key().is_some_and(|k| k.starts_with(&prefix)) {
            return Err(StorageError::BucketNotEmpty);
        }
        it.status()?;
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_BUCKETS), name.as_bytes());
        // Empty already if maintained right; dropped anyway, so a bucket
        // created later under the name can never inherit stray entries.
        if let Some(end) = keys::prefix_successor(&prefix) {
            batch.delete_range_cf(self.cf(keys::CF_SEARCH), &prefix, &end);
        }
        self.drop_bucket_versions(&mut batch, name)?;
        self.drop_bucket_changes(&mut batch, name)?;
        self.drop_bucket_configs(&mut batch, name)?;
        batch.delete_cf(self.cf(CF_META), keys::bucket_tags_key(name));
        self.drop_bucket_lifecycle(&mut batch, name);
        self.drop_bucket_usage(&mut batch, name);
        self.write_synced(batch)?;
        Ok(())
    }
}

fn cf<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
    // Every CF in ALL_CFS is created at open; a missing one is a programming error.
    db.cf_handle(name)
        .expect("column family opened at start-up")
}
