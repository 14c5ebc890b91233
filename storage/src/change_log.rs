//! The change log's sequence counter: the numbers handed to commits, the
//! batches still being written (readers see nothing past the oldest), and
//! the listener woken when that horizon moves. Kept apart from `changes.rs`
//! (the log's reads and writes) so the store can own it without the two
//! importing each other.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::engine::{Cf, Engine, ReadBounds};
use parking_lot::{Mutex, RwLock};

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_CHANGES};

pub(crate) type Listener = Arc<dyn Fn(u64) + Send + Sync>;

/// The sequence counter and what is in flight.
pub(crate) struct ChangeLog {
    pub(crate) state: Mutex<LogState>,
    pub(crate) listener: RwLock<Option<Listener>>,
}

pub(crate) struct LogState {
    /// The last number handed out.
    pub(crate) last: u64,
    /// First numbers of batches being written.
    pub(crate) in_flight: BTreeSet<u64>,
}

impl LogState {
    pub(crate) fn horizon(&self) -> u64 {
        match self.in_flight.first() {
            Some(first) => first - 1,
            None => self.last,
        }
    }
}

impl ChangeLog {
    /// A counter resuming after the largest sequence found in `db`'s log.
    pub(crate) fn recover(db: &Engine) -> StorageResult<ChangeLog> {
        let mut last = 0u64;
        let mut it = db.cursor(Cf(CF_CHANGES), ReadBounds::all());
        it.seek_to_first();
        // One seek per bucket: its trim mark (sequence 0) comes first, its
        // newest entry last.
        while it.valid() {
            let Some(k) = it.key() else { break };
            let plen = 1 + *k.first().unwrap_or(&0) as usize;
            let prefix = k
                .get(..plen)
                .ok_or_else(|| StorageError::Corrupt("change key".into()))?
                .to_vec();
            if keys::change_key_seq(plen, k) == Some(0) {
                last = last.max(decode_mark(it.value().unwrap_or_default())?);
            }
            let Some(next) = keys::prefix_successor(&prefix) else {
                break;
            };
            it.seek_for_prev(&next);
            if let Some(seq) = it.key().and_then(|k| keys::change_key_seq(plen, k)) {
                last = last.max(seq);
            }
            it.seek(&next);
        }
        it.status()?;
        Ok(ChangeLog {
            state: Mutex::new(LogState {
                last,
                in_flight: BTreeSet::new(),
            }),
            listener: RwLock::new(None),
        })
    }
}

pub(crate) fn decode_mark(raw: &[u8]) -> StorageResult<u64> {
    Ok(u64::from_be_bytes(raw.try_into().map_err(|_| {
        StorageError::Corrupt("change log trim mark".into())
    })?))
}

pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
