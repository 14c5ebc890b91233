//! The metadata engine seam: an ordered, transactional key-value store
//! under kura's column families and key encodings.
//!
//! Everything in `storage` reads and writes metadata through [`Engine`]:
//! point reads ([`Engine::get`]), ordered scans ([`Engine::cursor`],
//! [`Engine::entries`]), consistent snapshots ([`Engine::snapshot`]) and
//! atomic multi-key commits of a [`Batch`] ([`Engine::commit`]), optionally
//! guarded by preconditions ([`Batch::expect`]) so that an engine whose
//! writers are not all in this process (etcd, TiKV, FoundationDB) can refuse
//! a commit whose reads went stale. RocksDB ([`rocks::RocksEngine`]) is the
//! embedded default.
//!
//! Dispatch is static: [`Engine`] is an enum and every call is a `match`
//! the compiler sees through, so the embedded default pays no virtual call
//! per row. `docs/design.md` ("Metadata engine seam") says how each
//! operation maps to RocksDB, etcd, TiKV and FoundationDB.

mod batch;
pub(crate) mod etcd;
pub(crate) mod leases;
pub(crate) mod rocks;

use std::ops::Deref;
use std::path::Path;

pub(crate) use batch::{Batch, Expect, Op};

use crate::error::StorageResult;

/// A column family: a named, separately ordered key space. Cheap to copy;
/// the name is one of `keys::ALL_CFS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Cf(pub(crate) &'static str);

/// How durable a commit must be before [`Engine::commit`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// On stable storage (RocksDB: the WAL fsync'd; etcd: committed by a
    /// quorum, which fsyncs its log).
    Synced,
    /// May be lost by a crash just after; only for writes that are redone
    /// when lost (a purge's last step, last-use times, the scrub cursor).
    Buffered,
}

/// What a scan may see: key bounds and, optionally, a snapshot.
#[derive(Default)]
pub(crate) struct ReadBounds<'a> {
    /// First key the scan may return (inclusive).
    pub(crate) lower: Option<Vec<u8>>,
    /// First key the scan may not return (exclusive).
    pub(crate) upper: Option<Vec<u8>>,
    /// Read at this snapshot instead of the latest state.
    pub(crate) snapshot: Option<&'a Snapshot<'a>>,
}

impl<'a> ReadBounds<'a> {
    /// The whole column family.
    pub(crate) fn all() -> Self {
        ReadBounds::default()
    }

    /// Keys starting with `prefix` (the upper bound ends the prefix; the
    /// scan still starts where it is positioned).
    pub(crate) fn prefix(prefix: &[u8]) -> Self {
        ReadBounds {
            upper: crate::keys::prefix_successor(prefix),
            ..ReadBounds::default()
        }
    }

    /// Keys in `[lo, hi)`.
    pub(crate) fn range(lo: &[u8], hi: &[u8]) -> Self {
        ReadBounds {
            lower: Some(lo.to_vec()),
            upper: Some(hi.to_vec()),
            snapshot: None,
        }
    }

    /// Keys before `hi`.
    pub(crate) fn below(hi: Vec<u8>) -> Self {
        ReadBounds {
            upper: Some(hi),
            ..ReadBounds::default()
        }
    }

    /// The same bounds, read at `snapshot`.
    pub(crate) fn at(mut self, snapshot: &'a Snapshot<'a>) -> Self {
        self.snapshot = Some(snapshot);
        self
    }
}

/// The metadata engine a store runs on.
pub(crate) enum Engine {
    /// Embedded RocksDB in the data directory (the default).
    Rocks(rocks::RocksEngine),
    /// An etcd cluster shared by several front ends.
    /// (Boxed: the embedded variant stays small and inline.)
    Etcd(Box<etcd::EtcdEngine>),
}

impl Engine {
    /// This front end's coordination records on a shared engine; `None`
    /// on the embedded one, whose in-memory tables are all there is.
    #[inline]
    pub(crate) fn coord(&self) -> Option<&leases::Coord> {
        match self {
            Engine::Rocks(_) => None,
            Engine::Etcd(e) => Some(&e.coord),
        }
    }
}

/// A value read by [`Engine::get`]; RocksDB's is pinned in its block cache
/// (no copy).
pub(crate) enum Value<'a> {
    Rocks(rocksdb::DBPinnableSlice<'a>),
    Owned(Vec<u8>),
}

impl Deref for Value<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Value::Rocks(v) => v,
            Value::Owned(v) => v,
        }
    }
}

impl AsRef<[u8]> for Value<'_> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// A consistent read view: every read through it sees the commits made
/// before it was taken and none after.
pub(crate) enum Snapshot<'a> {
    Rocks(rocksdb::Snapshot<'a>),
    /// An etcd revision: reads at it see the store as it was then (until
    /// compaction removes it).
    Etcd(i64),
}

/// A positioned scan over one column family: seek, then step forward or
/// backward in key order. Stops at its [`ReadBounds`].
pub(crate) enum Cursor<'a> {
    Rocks(rocks::RawIter<'a>),
    Etcd(Box<etcd::EtcdCursor<'a>>),
}

impl Cursor<'_> {
    /// Positions at the first key `>= key`.
    #[inline]
    pub(crate) fn seek(&mut self, key: impl AsRef<[u8]>) {
        match self {
            Cursor::Rocks(it) => it.seek(key),
            Cursor::Etcd(it) => it.seek(key.as_ref()),
        }
    }

    /// Positions at the last key `<= key`.
    #[inline]
    pub(crate) fn seek_for_prev(&mut self, key: impl AsRef<[u8]>) {
        match self {
            Cursor::Rocks(it) => it.seek_for_prev(key),
            Cursor::Etcd(it) => it.seek_for_prev(key.as_ref()),
        }
    }

    /// Positions at the first key within the bounds.
    #[inline]
    pub(crate) fn seek_to_first(&mut self) {
        match self {
            Cursor::Rocks(it) => it.seek_to_first(),
            Cursor::Etcd(it) => it.seek_to_first(),
        }
    }

    /// Whether the cursor is on an entry (false past either end, or on an
    /// error: check [`Cursor::status`]).
    #[inline]
    pub(crate) fn valid(&self) -> bool {
        match self {
            Cursor::Rocks(it) => it.valid(),
            Cursor::Etcd(it) => it.valid(),
        }
    }

    /// The current entry's key.
    #[inline]
    pub(crate) fn key(&self) -> Option<&[u8]> {
        match self {
            Cursor::Rocks(it) => it.key(),
            Cursor::Etcd(it) => it.key(),
        }
    }

    /// The current entry's value.
    #[inline]
    pub(crate) fn value(&self) -> Option<&[u8]> {
        match self {
            Cursor::Rocks(it) => it.value(),
            Cursor::Etcd(it) => it.value(),
        }
    }

    /// Moves to the next key.
    #[inline]
    pub(crate) fn next(&mut self) {
        match self {
            Cursor::Rocks(it) => it.next(),
            Cursor::Etcd(it) => it.next(),
        }
    }

    /// Moves to the previous key.
    #[inline]
    pub(crate) fn prev(&mut self) {
        match self {
            Cursor::Rocks(it) => it.prev(),
            Cursor::Etcd(it) => it.prev(),
        }
    }

    /// The error that stopped the scan, if one did.
    #[inline]
    pub(crate) fn status(&self) -> StorageResult<()> {
        match self {
            Cursor::Rocks(it) => Ok(it.status()?),
            Cursor::Etcd(it) => it.status(),
        }
    }
}

/// The (key, value) entries of a [`Cursor`], forward from where it starts.
pub(crate) struct Entries<'a> {
    cursor: Cursor<'a>,
    started: bool,
    done: bool,
}

impl Iterator for Entries<'_> {
    type Item = StorageResult<(Box<[u8]>, Box<[u8]>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.started {
            self.cursor.next();
        }
        self.started = true;
        match (self.cursor.key(), self.cursor.value()) {
            (Some(k), Some(v)) if self.cursor.valid() => Some(Ok((k.into(), v.into()))),
            _ => {
                self.done = true;
                self.cursor.status().err().map(Err)
            }
        }
    }
}

impl Engine {
    /// Whether other processes may commit to this engine (etcd): then every
    /// read-modify-write needs its guards, which in-process locks make
    /// redundant on an engine only this process writes (RocksDB).
    #[inline]
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Engine::Etcd(_))
    }

    /// The value of `key` in `cf`, if any.
    #[inline]
    pub(crate) fn get(&self, cf: Cf, key: impl AsRef<[u8]>) -> StorageResult<Option<Value<'_>>> {
        match self {
            Engine::Rocks(e) => Ok(e.get(cf, key)?.map(Value::Rocks)),
            Engine::Etcd(e) => Ok(e.get(cf, key.as_ref(), 0)?.map(Value::Owned)),
        }
    }

    /// [`Engine::get`], copied out.
    pub(crate) fn get_owned(
        &self,
        cf: Cf,
        key: impl AsRef<[u8]>,
    ) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.get(cf, key)?.map(|v| v.to_vec()))
    }

    /// [`Engine::get`] at `snapshot`.
    pub(crate) fn get_at<'a>(
        &'a self,
        snapshot: &Snapshot<'a>,
        cf: Cf,
        key: impl AsRef<[u8]>,
    ) -> StorageResult<Option<Value<'a>>> {
        match (self, snapshot) {
            (Engine::Rocks(e), Snapshot::Rocks(s)) => Ok(e.get_at(s, cf, key)?.map(Value::Rocks)),
            (Engine::Etcd(e), Snapshot::Etcd(rev)) => {
                Ok(e.get(cf, key.as_ref(), *rev)?.map(Value::Owned))
            }
            _ => unreachable!("a snapshot of another engine"),
        }
    }

    /// The values of `keys` in `cf`, in one batched lookup.
    pub(crate) fn multi_get<K: AsRef<[u8]>>(
        &self,
        cf: Cf,
        keys: &[K],
    ) -> Vec<StorageResult<Option<Value<'_>>>> {
        match self {
            Engine::Rocks(e) => e
                .multi_get(cf, keys)
                .into_iter()
                .map(|r| Ok(r?.map(Value::Rocks)))
                .collect(),
            Engine::Etcd(e) => match e.multi_get(cf, keys) {
                Ok(values) => values
                    .into_iter()
                    .map(|v| Ok(v.map(Value::Owned)))
                    .collect(),
                Err(e) => {
                    let msg = e.to_string();
                    keys.iter()
                        .map(|_| Err(crate::StorageError::Io(std::io::Error::other(msg.clone()))))
                        .collect()
                }
            },
        }
    }

    /// The most operations one [`Engine::commit`] may hold, for an engine
    /// that limits its transactions (etcd: `--max-txn-ops`, 128 by
    /// default); `None` for RocksDB, whose batches are unbounded. Larger
    /// logical changes are committed in several steps whose last one is
    /// the commit point (`split_commit.rs`, `docs/design.md` "### etcd").
    #[inline]
    pub(crate) fn max_ops_per_commit(&self) -> Option<usize> {
        match self {
            Engine::Rocks(_) => None,
            Engine::Etcd(_) => Some(etcd::MAX_OPS),
        }
    }

    /// A cursor over `cf` within `bounds`, not yet positioned.
    #[inline]
    pub(crate) fn cursor<'a>(&'a self, cf: Cf, bounds: ReadBounds<'a>) -> Cursor<'a> {
        match self {
            Engine::Rocks(e) => Cursor::Rocks(e.cursor(cf, bounds)),
            Engine::Etcd(e) => Cursor::Etcd(Box::new(e.cursor(cf, bounds))),
        }
    }

    /// The entries of `cf` within `bounds`, forward from `from` (or from
    /// the first key).
    pub(crate) fn entries<'a>(
        &'a self,
        cf: Cf,
        bounds: ReadBounds<'a>,
        from: Option<&[u8]>,
    ) -> Entries<'a> {
        let mut cursor = self.cursor(cf, bounds);
        match from {
            Some(k) => cursor.seek(k),
            None => cursor.seek_to_first(),
        }
        Entries {
            cursor,
            started: false,
            done: false,
        }
    }

    /// A consistent read view of every column family.
    pub(crate) fn snapshot(&self) -> StorageResult<Snapshot<'_>> {
        match self {
            Engine::Rocks(e) => Ok(Snapshot::Rocks(e.snapshot())),
            Engine::Etcd(e) => Ok(Snapshot::Etcd(e.snapshot()?)),
        }
    }

    /// Applies `batch` atomically, all of it or none, if every one of its
    /// preconditions holds ([`crate::StorageError::Conflict`] otherwise).
    #[inline]
    pub(crate) fn commit(&self, batch: Batch, durability: Durability) -> StorageResult<()> {
        match self {
            Engine::Rocks(e) => e.commit(batch, durability),
            // Every etcd commit is a quorum write, synced by each member.
            Engine::Etcd(e) => e.commit(batch),
        }
    }

    /// Makes deleted and overwritten values of `cf` leave the disk (access
    /// key secrets): RocksDB flushes and compacts; an engine with history
    /// compacts it.
    pub(crate) fn erase_history(&self, cf: Cf) -> StorageResult<()> {
        match self {
            Engine::Rocks(e) => e.erase_history(cf),
            Engine::Etcd(e) => e.erase_history(),
        }
    }

    /// Writes a consistent copy of the whole metadata to `dir`.
    pub(crate) fn checkpoint(&self, dir: &Path) -> StorageResult<()> {
        match self {
            Engine::Rocks(e) => e.checkpoint(dir),
            Engine::Etcd(_) => Err(crate::StorageError::Io(std::io::Error::other(
                "backups of metadata on etcd are taken with `etcdctl snapshot save`",
            ))),
        }
    }

    /// An engine statistic of `cf` (RocksDB property names), if the engine
    /// has it.
    pub(crate) fn property_int(&self, cf: Cf, name: &str) -> StorageResult<Option<u64>> {
        match self {
            Engine::Rocks(e) => e.property_int(cf, name),
            Engine::Etcd(_) => Ok(None),
        }
    }

    /// Flushes `cf`'s memtable (tests that look at files on disk).
    #[cfg(test)]
    pub(crate) fn flush(&self, cf: Cf) -> StorageResult<()> {
        match self {
            Engine::Rocks(e) => e.flush(cf),
            Engine::Etcd(_) => Ok(()),
        }
    }
}

pub use etcd::EtcdUrl;

/// Which metadata engine a store opens (`kura serve --meta`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MetaUrl {
    /// RocksDB in `meta/` of the data directory (`embedded`, the default).
    #[default]
    Embedded,
    /// An etcd cluster (`etcd://h1:2379,h2:2379/prefix`); boxed to keep
    /// the server's arguments small.
    Etcd(Box<EtcdUrl>),
}

impl std::str::FromStr for MetaUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "embedded" {
            Ok(MetaUrl::Embedded)
        } else if s.starts_with("etcd://") {
            Ok(MetaUrl::Etcd(Box::new(s.parse()?)))
        } else {
            Err(format!(
                "{s:?}: expected `embedded` or etcd://host:port[,host:port...]/prefix"
            ))
        }
    }
}

impl std::fmt::Display for MetaUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaUrl::Embedded => f.write_str("embedded"),
            MetaUrl::Etcd(u) => u.fmt(f),
        }
    }
}

impl Engine {
    /// Opens the engine `meta` names; the embedded one lives at `path`.
    pub(crate) fn open(
        meta: &MetaUrl,
        path: &Path,
        tuning: &crate::store::StoreTuning,
    ) -> StorageResult<Engine> {
        Ok(match meta {
            MetaUrl::Embedded => Engine::Rocks(rocks::RocksEngine::open(path, tuning)?),
            MetaUrl::Etcd(url) => Engine::Etcd(Box::new(etcd::EtcdEngine::connect(url)?)),
        })
    }
}
