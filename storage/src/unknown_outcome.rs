//! Writes whose metadata commit has an unknown outcome.
//!
//! On a shared engine a commit can be sent and its answer lost (a timeout,
//! a connection reset, a member killed): etcd may have applied it. The
//! writer's cleanup guard removes a write's chunk files when its commit
//! fails, which would destroy the bytes of a write that did commit. So on
//! [`StorageError::CommitUnknown`] the write reads its commit point again
//! (the version row, the part row): found, the write committed and answers
//! as if the commit had answered; not found, the outcome stays unknown (the
//! request may still be applied), the chunk files are kept (the start-up
//! orphan sweep removes them if no row names them) and the client gets 503.

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_OBJECTS, CF_PARTS, CF_VERSIONS};
use crate::rows::{self, ObjectRow};
use crate::store::Store;

impl Store {
    /// Whether version `seq` of `bucket`/`key` is committed: the current
    /// row, or (replaced since) a noncurrent one.
    pub(crate) fn version_committed(
        &self,
        bucket: &str,
        key: &str,
        seq: u64,
    ) -> StorageResult<bool> {
        let current = self
            .inner
            .db
            .get_owned(self.cf(CF_OBJECTS), keys::object_key(bucket, key)?)?;
        if let Some(raw) = current {
            let row: ObjectRow = rows::decode(&raw)?;
            if row.seq == seq {
                return Ok(true);
            }
        }
        Ok(self
            .inner
            .db
            .get(self.cf(CF_VERSIONS), keys::version_key(bucket, key, seq)?)?
            .is_some())
    }

    /// Whether part row `pkey` holds exactly `encoded` (a part row carries
    /// its own time and chunk ids, so only its own commit wrote it).
    pub(crate) fn part_committed(&self, pkey: &[u8], encoded: &[u8]) -> StorageResult<bool> {
        Ok(self.inner.db.get_owned(self.cf(CF_PARTS), pkey)?.as_deref() == Some(encoded))
    }

    /// Settles an unknown outcome with `committed` (reading the commit
    /// point): `Ok(true)` if it committed, `Err(CommitUnknown)` if that
    /// cannot be told. Logs which.
    pub(crate) fn settle_unknown(
        &self,
        why: String,
        committed: impl FnOnce() -> StorageResult<bool>,
    ) -> StorageResult<()> {
        match committed() {
            Ok(true) => {
                tracing::warn!(%why, "commit answer lost; the commit point shows it applied");
                Ok(())
            }
            Ok(false) => {
                tracing::error!(%why, "commit answer lost and the change not (yet) seen; its chunk files are kept");
                Err(StorageError::CommitUnknown(why))
            }
            Err(e) => {
                tracing::error!(%why, error = %e, "commit answer lost and its commit point unreadable; its chunk files are kept");
                Err(StorageError::CommitUnknown(why))
            }
        }
    }
}
