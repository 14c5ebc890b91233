//! kura's own write batch: the operations of one logical change and the
//! preconditions under which it may commit.

use super::Cf;

/// One write of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Sets `key` to `value`.
    Put {
        cf: Cf,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Removes `key`.
    Delete { cf: Cf, key: Vec<u8> },
    /// Removes every key in `[from, to)`.
    DeleteRange { cf: Cf, from: Vec<u8>, to: Vec<u8> },
    /// Folds `operand` into `key`'s value with the column family's merge
    /// function (only `CF_USAGE` has one: `usage::merge_usage`).
    Merge {
        cf: Cf,
        key: Vec<u8>,
        operand: Vec<u8>,
    },
}

/// What a precondition requires of a key at commit time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The key does not exist.
    Absent,
    /// The key exists, whatever its value.
    Present,
    /// The key holds exactly this value (what the caller read).
    Value(Vec<u8>),
    /// No key exists in `[key, end)` (a range the caller found empty, or
    /// found to end where it read; etcd: `create_revision == 0` over the
    /// range).
    NoneIn(Vec<u8>),
}

/// A precondition of a [`Batch`]: `key` of `cf` is as `expect` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Guard {
    pub(crate) cf: Cf,
    pub(crate) key: Vec<u8>,
    pub(crate) expect: Expect,
}

/// The writes of one logical change, committed atomically by
/// [`super::Engine::commit`] (all or none), and the preconditions that
/// must hold for it to commit. Engine-neutral: RocksDB turns it into a
/// `WriteBatch`, etcd into one `Txn` (guards as compares), TiKV and
/// FoundationDB into one transaction.
#[derive(Debug, Default, Clone)]
pub(crate) struct Batch {
    pub(crate) ops: Vec<Op>,
    pub(crate) guards: Vec<Guard>,
}

impl Batch {
    /// Sets `key` of `cf` to `value`.
    #[inline]
    pub(crate) fn put_cf(&mut self, cf: Cf, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.ops.push(Op::Put {
            cf,
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        });
    }

    /// Removes `key` of `cf`.
    #[inline]
    pub(crate) fn delete_cf(&mut self, cf: Cf, key: impl AsRef<[u8]>) {
        self.ops.push(Op::Delete {
            cf,
            key: key.as_ref().to_vec(),
        });
    }

    /// Removes the keys of `cf` in `[from, to)`.
    pub(crate) fn delete_range_cf(&mut self, cf: Cf, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) {
        self.ops.push(Op::DeleteRange {
            cf,
            from: from.as_ref().to_vec(),
            to: to.as_ref().to_vec(),
        });
    }

    /// Folds `operand` into `key` of `cf` (see [`Op::Merge`]).
    #[inline]
    pub(crate) fn merge_cf(&mut self, cf: Cf, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) {
        self.ops.push(Op::Merge {
            cf,
            key: key.as_ref().to_vec(),
            operand: operand.as_ref().to_vec(),
        });
    }

    /// Commits only if `key` of `cf` is still as `expect` says when the
    /// batch is applied; otherwise the commit fails with
    /// [`crate::StorageError::Conflict`] and writes nothing.
    pub(crate) fn expect(&mut self, cf: Cf, key: impl AsRef<[u8]>, expect: Expect) {
        self.guards.push(Guard {
            cf,
            key: key.as_ref().to_vec(),
            expect,
        });
    }

    /// Whether the batch writes nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
