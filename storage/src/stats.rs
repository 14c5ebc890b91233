//! Cheap figures for monitoring: RocksDB's own properties and the purge
//! backlog. Read at scrape time by the server's `/metrics`, never on the
//! request path.

use crate::engine::ReadBounds;

use crate::keys::{self, ALL_CFS, CF_META, CF_PURGE};
use crate::store::{now_ms, Store};
use crate::{StorageError, StorageResult};

/// RocksDB's figures, summed over the column families where they are per
/// family (memtables, pending compaction bytes) and taken once where the
/// resource is shared (the block cache) or database-wide (write stops).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Bytes in active and immutable memtables (`rocksdb.cur-size-all-mem-tables`).
    pub memtable_bytes: u64,
    /// Bytes held in the block cache (`rocksdb.block-cache-usage`, the largest over families).
    pub block_cache_bytes: u64,
    /// Bytes compaction still has to rewrite (`rocksdb.estimate-pending-compaction-bytes`).
    pub pending_compaction_bytes: u64,
    /// Compactions running now (`rocksdb.num-running-compactions`).
    pub running_compactions: u64,
    /// 1 while writes are stopped (`rocksdb.is-write-stopped`).
    pub write_stopped: u64,
    /// The rate writes are slowed to, 0 when they are not (`rocksdb.actual-delayed-write-rate`).
    pub delayed_write_rate: u64,
    /// Estimated number of keys over all families (`rocksdb.estimate-num-keys`).
    pub estimated_keys: u64,
    /// Bytes of live SST files (`rocksdb.live-sst-files-size`).
    pub live_sst_bytes: u64,
}

/// Versions waiting in the purge queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeBacklog {
    /// Entries whose retention ended and that wait for the purge task
    /// (counted up to the cap given to [`Store::purge_backlog`]).
    pub due: u64,
    /// Every entry in the queue, due or not (RocksDB's estimate).
    pub queued_estimate: u64,
}

impl Store {
    /// RocksDB's figures (a handful of in-memory property reads per family).
    pub fn db_stats(&self) -> DbStats {
        let db = &self.inner.db;
        let int = |cf: &'static str, name: &str| {
            db.property_int(self.cf(cf), name)
                .ok()
                .flatten()
                .unwrap_or(0)
        };
        let mut s = DbStats::default();
        for cf in ALL_CFS {
            s.memtable_bytes += int(cf, "rocksdb.cur-size-all-mem-tables");
            s.pending_compaction_bytes += int(cf, "rocksdb.estimate-pending-compaction-bytes");
            s.estimated_keys += int(cf, "rocksdb.estimate-num-keys");
            s.live_sst_bytes += int(cf, "rocksdb.live-sst-files-size");
            s.block_cache_bytes = s
                .block_cache_bytes
                .max(int(cf, "rocksdb.block-cache-usage"));
        }
        let first = ALL_CFS[0];
        s.running_compactions = int(first, "rocksdb.num-running-compactions");
        s.write_stopped = int(first, "rocksdb.is-write-stopped");
        s.delayed_write_rate = int(first, "rocksdb.actual-delayed-write-rate");
        s
    }

    /// The purge queue: entries already due (counted up to `cap`, so a huge
    /// backlog costs a bounded scan) and RocksDB's estimate of all entries.
    pub fn purge_backlog(&self, cap: u64) -> StorageResult<PurgeBacklog> {
        let now = now_ms();
        let mut due = 0;
        // Entries are keyed by due time first: the due ones come first.
        for item in self
            .inner
            .db
            .entries(self.cf(CF_PURGE), ReadBounds::all(), None)
        {
            let (k, _) = item?;
            if due >= cap || keys::purge_key_due(&k).is_none_or(|d| d > now) {
                break;
            }
            due += 1;
        }
        let queued_estimate = self
            .inner
            .db
            .property_int(self.cf(CF_PURGE), "rocksdb.estimate-num-keys")?
            .unwrap_or(0);
        Ok(PurgeBacklog {
            due,
            queued_estimate: queued_estimate.max(due),
        })
    }

    /// A cheap liveness probe of the metadata store for `/health/ready`: a
    /// point read answers, and RocksDB does not stop writes.
    pub fn health_check(&self) -> StorageResult<()> {
        self.inner.db.get(self.cf(CF_META), b"health-probe")?;
        let stopped = self
            .inner
            .db
            .property_int(self.cf(CF_META), "rocksdb.is-write-stopped")?
            .unwrap_or(0);
        if stopped != 0 {
            return Err(StorageError::Io(std::io::Error::other(
                "RocksDB has stopped writes (compaction far behind)",
            )));
        }
        Ok(())
    }
}
