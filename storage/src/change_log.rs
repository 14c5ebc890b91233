//! The change log's sequence counter: the numbers handed to commits, the
//! batches still being written (readers see nothing past the oldest), and
//! the listener woken when that horizon moves. Kept apart from `changes.rs`
//! (the log's reads and writes) so the store can own it without the two
//! importing each other.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::engine::{Cf, Engine, ReadBounds};
use parking_lot::{Mutex, RwLock};

use crate::error::{StorageError, StorageResult};
use crate::keys::{self, CF_CHANGES};

pub(crate) type Listener = Arc<dyn Fn(u64) + Send + Sync>;

/// The sequence counter and what is in flight.
pub(crate) struct ChangeLog {
    pub(crate) state: Mutex<LogState>,
    pub(crate) listener: RwLock<Option<Listener>>,
    /// On a shared engine, the smallest horizon the other live front ends
    /// promise (`u64::MAX` when alone or embedded): readers see no further.
    pub(crate) others: AtomicU64,
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
            others: AtomicU64::new(u64::MAX),
        })
    }

    /// What readers of this process may see: its own horizon, and no
    /// further than any other front end sharing the engine promises.
    pub(crate) fn horizon(&self) -> u64 {
        let own = self.state.lock().horizon();
        own.min(self.others.load(Ordering::Acquire))
    }

    /// The horizon this front end promises the others: no number at or
    /// below it will ever commit here. While nothing is in flight the
    /// counter moves up to the clock (numbers start there anyway), so an
    /// idle front end does not hold the others' readers back.
    fn promise(&self) -> u64 {
        let mut s = self.state.lock();
        if s.in_flight.is_empty() {
            s.last = s.last.max(now_us());
        }
        s.horizon()
    }
}

/// How often a front end on a shared engine publishes its horizon and
/// reads the others': how far a feed may lag a commit of another front end.
const HORIZON_SYNC: Duration = Duration::from_millis(200);

/// On a shared engine: joins the front ends' change-log horizons (each
/// publishes the horizon it promises in a leased record; a reader's
/// horizon is the smallest of them), first at once, then every
/// [`HORIZON_SYNC`] from a thread that ends with the store.
pub(crate) fn sync_horizons(inner: &Arc<crate::store::Inner>) -> StorageResult<()> {
    let Some(coord) = inner.db.coord() else {
        return Ok(());
    };
    // Number above every promise already made, so no reader has passed
    // this front end's first numbers; then promise before serving.
    let (_, max) = coord.horizons()?;
    {
        let mut s = inner.changes.state.lock();
        s.last = s.last.max(max);
    }
    coord.publish_horizon(inner.changes.promise())?;
    exchange(inner)?;
    let weak = Arc::downgrade(inner);
    std::thread::Builder::new()
        .name("kura-horizon".into())
        .spawn(move || horizon_loop(weak))?;
    Ok(())
}

fn horizon_loop(weak: Weak<crate::store::Inner>) {
    loop {
        std::thread::sleep(HORIZON_SYNC);
        let Some(inner) = weak.upgrade() else { return };
        if let Err(e) = exchange(&inner) {
            tracing::debug!(error = %e, "change-log horizon exchange failed; will retry");
        }
    }
}

/// Publishes this front end's promise, reads the others', and wakes the
/// feed's listeners when the joint horizon moved.
fn exchange(inner: &crate::store::Inner) -> StorageResult<()> {
    let Some(coord) = inner.db.coord() else {
        return Ok(());
    };
    let log = &inner.changes;
    coord.publish_horizon(log.promise())?;
    let (others, _) = coord.horizons()?;
    let others = others.unwrap_or(u64::MAX);
    if log.others.swap(others, Ordering::AcqRel) != others {
        let horizon = log.horizon();
        if let Some(f) = log.listener.read().as_ref() {
            f(horizon);
        }
    }
    Ok(())
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
