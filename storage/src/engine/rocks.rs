//! The embedded engine: RocksDB in `meta/` of the data directory.

use std::path::Path;

use parking_lot::RwLock;
use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, ColumnFamily, ColumnFamilyDescriptor,
    CompactOptions, DBPinnableSlice, DBRawIteratorWithThreadMode, FlushOptions, MergeOperands,
    Options, ReadOptions, WriteBatch, WriteOptions, DB,
};

use super::batch::{Batch, Expect, Op};
use super::{Cf, Durability, ReadBounds};
use crate::error::{StorageError, StorageResult};
use crate::keys::{self, ALL_CFS};
use crate::store::StoreTuning;

/// A raw RocksDB iterator (seek, then step).
pub(crate) type RawIter<'a> = DBRawIteratorWithThreadMode<'a, DB>;

/// RocksDB as a [`super::Engine`].
pub(crate) struct RocksEngine {
    db: DB,
    /// Guarded commits (a batch with preconditions) hold this exclusively
    /// from checking their guards to writing; plain commits hold it shared,
    /// so none slips between a guard's check and its write. Uncontended
    /// (no commit is guarded today), it costs one atomic per commit.
    commits: RwLock<()>,
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
    // them at 1 MiB by default): 2 MiB at the default size, above glibc's
    // mmap threshold as it stands after start-up, so each block is mapped on
    // its own and returned to the system when a flushed memtable is freed,
    // instead of staying resident in malloc's arenas (README, Performance,
    // round 4: peak RSS of the 4 KiB workloads 161 → 132 MiB).
    opts.set_arena_block_size(tuning.write_buffer_size / 8);
    opts.set_max_write_buffer_number(tuning.max_write_buffers.max(2) as i32);
    opts
}

/// RocksDB's form of the usage counters' merge function.
fn merge_usage(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    Some(crate::usage::fold_usage(existing, operands))
}

impl RocksEngine {
    /// Opens (creating if needed) the database at `path` with every column
    /// family of `keys::ALL_CFS`.
    pub(crate) fn open(path: &Path, tuning: &StoreTuning) -> StorageResult<RocksEngine> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.increase_parallelism(2);
        opts.set_db_write_buffer_size(tuning.total_write_buffers);
        let cache = Cache::new_lru_cache(tuning.block_cache)?;
        let cfs = ALL_CFS.iter().map(|name| {
            let mut cf_opts = cf_options(tuning, &cache);
            if *name == keys::CF_USAGE {
                cf_opts.set_merge_operator_associative("kura-usage-sum", merge_usage);
                // A busy bucket's operands are folded in the memtable as they
                // come, so reading its counters (every PUT into a bucket with
                // a quota) never sums thousands of them.
                cf_opts.set_max_successive_merges(16);
            }
            ColumnFamilyDescriptor::new(*name, cf_opts)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(RocksEngine {
            db,
            commits: RwLock::new(()),
        })
    }

    #[inline]
    fn cf(&self, cf: Cf) -> &ColumnFamily {
        // Every CF in ALL_CFS is created at open; a missing one is a programming error.
        self.db
            .cf_handle(cf.0)
            .expect("column family opened at start-up")
    }

    #[inline]
    pub(crate) fn get(
        &self,
        cf: Cf,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<DBPinnableSlice<'_>>, rocksdb::Error> {
        self.db.get_pinned_cf(self.cf(cf), key)
    }

    pub(crate) fn get_at<'a>(
        &'a self,
        snapshot: &rocksdb::Snapshot<'a>,
        cf: Cf,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<DBPinnableSlice<'a>>, rocksdb::Error> {
        let mut opts = ReadOptions::default();
        opts.set_snapshot(snapshot);
        self.db.get_pinned_cf_opt(self.cf(cf), key, &opts)
    }

    pub(crate) fn multi_get<K: AsRef<[u8]>>(
        &self,
        cf: Cf,
        keys: &[K],
    ) -> Vec<Result<Option<DBPinnableSlice<'_>>, rocksdb::Error>> {
        self.db.batched_multi_get_cf(self.cf(cf), keys, false)
    }

    #[inline]
    pub(crate) fn cursor<'a>(&'a self, cf: Cf, bounds: ReadBounds<'a>) -> RawIter<'a> {
        let mut opts = ReadOptions::default();
        if let Some(lower) = bounds.lower {
            opts.set_iterate_lower_bound(lower);
        }
        if let Some(upper) = bounds.upper {
            opts.set_iterate_upper_bound(upper);
        }
        if let Some(super::Snapshot::Rocks(s)) = bounds.snapshot {
            opts.set_snapshot(s);
        }
        self.db.raw_iterator_cf_opt(self.cf(cf), opts)
    }

    pub(crate) fn snapshot(&self) -> rocksdb::Snapshot<'_> {
        self.db.snapshot()
    }

    /// Does the guard hold now?
    fn holds(&self, cf: Cf, key: &[u8], expect: &Expect) -> StorageResult<bool> {
        if let Expect::NoneIn(end) = expect {
            let mut it = self.cursor(cf, ReadBounds::range(key, end));
            it.seek(key);
            let empty = !it.valid();
            it.status()?;
            return Ok(empty);
        }
        let now = self.get(cf, key)?;
        Ok(match expect {
            Expect::Absent => now.is_none(),
            Expect::Present => now.is_some(),
            Expect::Value(v) => now.is_some_and(|n| *n == **v),
            Expect::NoneIn(_) => unreachable!("checked above"),
        })
    }

    pub(crate) fn commit(&self, batch: Batch, durability: Durability) -> StorageResult<()> {
        let mut wb = WriteBatch::default();
        for op in &batch.ops {
            match op {
                Op::Put { cf, key, value } => wb.put_cf(self.cf(*cf), key, value),
                Op::Delete { cf, key } => wb.delete_cf(self.cf(*cf), key),
                Op::DeleteRange { cf, from, to } => wb.delete_range_cf(self.cf(*cf), from, to),
                Op::Merge { cf, key, operand } => wb.merge_cf(self.cf(*cf), key, operand),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(durability == Durability::Synced);
        if batch.guards.is_empty() {
            let _shared = self.commits.read();
            self.db.write_opt(wb, &wo)?;
        } else {
            let _exclusive = self.commits.write();
            for g in &batch.guards {
                if !self.holds(g.cf, &g.key, &g.expect)? {
                    return Err(StorageError::Conflict);
                }
            }
            self.db.write_opt(wb, &wo)?;
        }
        Ok(())
    }

    /// Flushes every family's memtable, so that no live data remains only
    /// in the current WAL and RocksDB deletes it as obsolete (a WAL holds
    /// the writes of all families and goes only once each has flushed
    /// them); then rewrites `cf`'s SST files down to the bottom level,
    /// which drops the old values.
    pub(crate) fn erase_history(&self, cf: Cf) -> StorageResult<()> {
        let mut flush = FlushOptions::default();
        flush.set_wait(true);
        for name in ALL_CFS {
            self.db.flush_cf_opt(self.cf(Cf(name)), &flush)?;
        }
        let mut compact = CompactOptions::default();
        compact.set_exclusive_manual_compaction(true);
        compact.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        self.db
            .compact_range_cf_opt(self.cf(cf), None::<&[u8]>, None::<&[u8]>, &compact);
        Ok(())
    }

    /// RocksDB flushes the memtables first, so the checkpoint is SST files
    /// (hard-linked when on the same file system) and holds every write
    /// acknowledged before this call.
    pub(crate) fn checkpoint(&self, dir: &Path) -> StorageResult<()> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    pub(crate) fn property_int(&self, cf: Cf, name: &str) -> StorageResult<Option<u64>> {
        Ok(self.db.property_int_value_cf(self.cf(cf), name)?)
    }

    #[cfg(test)]
    pub(crate) fn flush(&self, cf: Cf) -> StorageResult<()> {
        Ok(self.db.flush_cf(self.cf(cf))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, ReadBounds};
    use crate::keys::{CF_META, CF_USAGE};
    use crate::usage::Usage;

    fn engine(dir: &Path) -> Engine {
        Engine::Rocks(RocksEngine::open(dir, &StoreTuning::default()).unwrap())
    }

    fn keys_of(e: &Engine, bounds: ReadBounds<'_>, from: Option<&[u8]>) -> Vec<Vec<u8>> {
        e.entries(Cf(CF_META), bounds, from)
            .map(|r| r.unwrap().0.to_vec())
            .collect()
    }

    #[test]
    fn a_guarded_commit_writes_all_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let e = engine(tmp.path());
        let meta = Cf(CF_META);
        let mut b = Batch::default();
        b.put_cf(meta, b"k", b"v1");
        b.expect(meta, b"k", Expect::Absent);
        e.commit(b, Durability::Synced).unwrap();

        // Stale guards: nothing of the batch lands.
        for stale in [Expect::Absent, Expect::Value(b"v0".to_vec())] {
            let mut b = Batch::default();
            b.put_cf(meta, b"k", b"v2");
            b.put_cf(meta, b"other", b"x");
            b.expect(meta, b"k", stale);
            assert!(matches!(
                e.commit(b, Durability::Synced),
                Err(StorageError::Conflict)
            ));
            assert_eq!(e.get_owned(meta, b"k").unwrap().unwrap(), b"v1");
            assert!(e.get(meta, b"other").unwrap().is_none());
        }
        let mut b = Batch::default();
        b.put_cf(meta, b"k", b"v2");
        b.expect(meta, b"k", Expect::Value(b"v1".to_vec()));
        b.expect(meta, b"k", Expect::Present);
        e.commit(b, Durability::Synced).unwrap();
        assert_eq!(e.get_owned(meta, b"k").unwrap().unwrap(), b"v2");
    }

    #[test]
    fn scans_keep_to_their_bounds_and_snapshots_to_their_time() {
        let tmp = tempfile::tempdir().unwrap();
        let e = engine(tmp.path());
        let meta = Cf(CF_META);
        let mut b = Batch::default();
        for k in [&b"a1"[..], b"a2", b"a3", b"b1", b"c1"] {
            b.put_cf(meta, k, k);
        }
        e.commit(b, Durability::Synced).unwrap();
        let snap = e.snapshot().unwrap();
        let mut b = Batch::default();
        b.delete_range_cf(meta, b"a2", b"b1");
        b.delete_cf(meta, b"c1");
        b.put_cf(meta, b"a9", b"new");
        e.commit(b, Durability::Buffered).unwrap();

        assert_eq!(
            keys_of(&e, ReadBounds::all(), None),
            [&b"a1"[..], b"a9", b"b1"]
        );
        assert_eq!(keys_of(&e, ReadBounds::prefix(b"a"), Some(b"a2")), [b"a9"]);
        assert_eq!(
            keys_of(&e, ReadBounds::all().at(&snap), None),
            [&b"a1"[..], b"a2", b"a3", b"b1", b"c1"]
        );
        assert_eq!(
            keys_of(&e, ReadBounds::range(b"a2", b"b1").at(&snap), Some(b"a")),
            [b"a2", b"a3"]
        );
        assert_eq!(
            e.get_at(&snap, meta, b"c1").unwrap().as_deref(),
            Some(&b"c1"[..])
        );
        assert!(e.get(meta, b"c1").unwrap().is_none());

        // Reverse positioning stays within the bounds too.
        let mut c = e.cursor(meta, ReadBounds::below(b"b".to_vec()));
        c.seek_for_prev(b"zz");
        assert_eq!(c.key(), Some(&b"a9"[..]));
        c.prev();
        assert_eq!(c.key(), Some(&b"a1"[..]));
        c.prev();
        assert!(!c.valid());
        c.status().unwrap();
        let got: Vec<_> = e
            .multi_get(meta, &[&b"a1"[..], b"zz"])
            .into_iter()
            .map(|r| r.unwrap().map(|v| v.to_vec()))
            .collect();
        assert_eq!(got, [Some(b"a1".to_vec()), None]);
    }

    #[test]
    fn usage_operands_fold_into_their_counters() {
        let tmp = tempfile::tempdir().unwrap();
        let e = engine(tmp.path());
        let usage = Cf(CF_USAGE);
        for _ in 0..40 {
            let mut b = Batch::default();
            let d = Usage {
                objects: 1,
                bytes: 10,
                ..Usage::default()
            };
            b.merge_cf(usage, b"bucket", d.encode());
            e.commit(b, Durability::Buffered).unwrap();
        }
        let raw = e.get(usage, b"bucket").unwrap().unwrap();
        let total = Usage::decode(&raw).unwrap();
        assert_eq!((total.objects, total.bytes), (40, 400));
    }
}
