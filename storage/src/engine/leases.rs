//! Coordination records on etcd, bound to this front end's lease (see
//! `docs/design.md`, "Coordination records (leased)").
//!
//! A front end grants one lease when it connects (`?lease=`, default
//! [`LEASE_TTL`]) and renews
//! it every third of that from a task on the engine's runtime. Every record
//! it writes here is bound to that lease, so when the process dies its
//! records vanish within the TTL:
//!
//! * `<root>/coord/locks/<lock key>` = front-end id: a key's write lock;
//! * `<root>/coord/readers/<seq>/<front end>/<n>`: a download of version `seq`;
//! * `<root>/coord/purger` = front-end id: who runs the purge loops;
//! * `<root>/coord/horizon/<front end>` = the change-log horizon it promises.
//!
//! The front end believes its lease until a renewal it *sent* at `t` was
//! answered: then until `t + TTL - margin`, which ends before etcd's own
//! timer (started when the request arrived). Past that it is *fenced*: it
//! takes no lock, registers no reader, commits nothing and drops the purger
//! role, grants itself a new lease, and commits again only once every lock
//! taken under the old lease is released (their records are gone, so their
//! holders must not commit).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Weak};
use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use parking_lot::Mutex;

use crate::error::{StorageError, StorageResult};

/// Default time to live of a front end's lease (`?lease=` in the etcd URL):
/// its records outlive it by at most this.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(5);
/// How much earlier than etcd this front end stops believing its lease.
const MARGIN: Duration = Duration::from_millis(1000);
/// Attempts to delete a record of this front end before giving up its lease.
const RELEASE_ATTEMPTS: u64 = 3;

/// This front end's identity and lease, and the records it holds. Cheap
/// to clone.
#[derive(Clone)]
pub(crate) struct Coord(Arc<Inner>);

struct Inner {
    /// Random, fixed for the life of the process: names its records.
    id: String,
    /// `<root>/coord/`.
    prefix: Vec<u8>,
    client: Client,
    rt: tokio::runtime::Handle,
    /// The lease's time to live, whole seconds (etcd's unit), at least 2.
    ttl: Duration,
    /// The current lease.
    lease: AtomicI64,
    /// Milliseconds since `base` until which the lease is believed.
    valid_until: AtomicU64,
    base: Instant,
    locks: Mutex<LockCounts>,
    /// Live read registrations: n -> seq (re-registered under a new lease).
    readers: Mutex<HashMap<u64, u64>>,
    next_reader: AtomicU64,
    /// Whether this front end holds the purger record.
    purger: AtomicBool,
    /// A lease this front end gives up (0: none): one of its records could
    /// not be deleted, and would otherwise outlive its use for as long as
    /// the front end lives (a key locked for good). The renewal task
    /// replaces the lease, and the record goes with the old one.
    abandoned: AtomicI64,
}

/// Write locks held, by lease generation.
#[derive(Default)]
struct LockCounts {
    epoch: u64,
    current: usize,
    /// Locks taken under an earlier lease, not yet released.
    old: usize,
}

fn etcd_err(e: etcd_client::Error) -> StorageError {
    StorageError::Unavailable(format!("etcd: {e}"))
}

impl Coord {
    /// Grants this front end's lease and starts renewing it on `rt`.
    pub(crate) fn start(
        rt: &tokio::runtime::Runtime,
        client: Client,
        root: &[u8],
        ttl: Duration,
    ) -> StorageResult<Coord> {
        let mut prefix = root.to_vec();
        prefix.extend_from_slice(b"coord/");
        let id = hex::encode(rand::random::<[u8; 8]>());
        let base = Instant::now();
        let mut c = client.clone();
        let sent = Instant::now();
        let lease = rt
            .block_on(async move { c.lease_grant(ttl.as_secs() as i64, None).await })
            .map_err(etcd_err)?;
        let coord = Coord(Arc::new(Inner {
            id,
            prefix,
            client,
            rt: rt.handle().clone(),
            ttl,
            lease: AtomicI64::new(lease.id()),
            valid_until: AtomicU64::new(0),
            base,
            locks: Mutex::default(),
            readers: Mutex::default(),
            next_reader: AtomicU64::new(0),
            purger: AtomicBool::new(false),
            abandoned: AtomicI64::new(0),
        }));
        coord.believe_until(sent, lease.ttl());
        rt.spawn(keep_alive(Arc::downgrade(&coord.0)));
        tracing::info!(front_end = %coord.0.id, lease = lease.id(), "etcd lease granted");
        Ok(coord)
    }

    fn now_ms(&self) -> u64 {
        self.0.base.elapsed().as_millis() as u64
    }

    fn believe_until(&self, sent: Instant, ttl_secs: i64) {
        let until = sent.duration_since(self.0.base) + Duration::from_secs(ttl_secs.max(0) as u64);
        let until = until.saturating_sub(MARGIN).as_millis() as u64;
        self.0.valid_until.fetch_max(until, Ordering::AcqRel);
    }

    /// Whether the lease is still believed to hold.
    fn live(&self) -> bool {
        self.now_ms() < self.0.valid_until.load(Ordering::Acquire)
    }

    /// `Ok` while this front end may commit: its lease holds and no lock
    /// of an earlier lease is still held by a request.
    pub(crate) fn usable(&self) -> StorageResult<()> {
        if !self.live() {
            return Err(StorageError::Unavailable(
                "this front end's etcd lease lapsed".into(),
            ));
        }
        if self.0.locks.lock().old > 0 {
            return Err(StorageError::Unavailable(
                "write locks of a lapsed etcd lease are still held".into(),
            ));
        }
        Ok(())
    }

    fn key(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut k = self.0.prefix.clone();
        for p in parts {
            k.extend_from_slice(p);
        }
        k
    }

    /// Runs `f` with a client on the engine's runtime and waits for it.
    fn run<T, F>(&self, f: impl Fn(Client) -> F + Send + 'static) -> StorageResult<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.0.rt.spawn(super::etcd::retry_unsent(
            self.0.client.clone(),
            f,
            move |r| {
                let _ = tx.send(r);
            },
        ));
        rx.recv()
            .map_err(|_| StorageError::Unavailable("etcd runtime stopped".into()))?
            .map_err(etcd_err)
    }

    /// Creates `key` = id under the lease if it does not exist; whether it did.
    fn create(&self, key: Vec<u8>, value: Vec<u8>) -> StorageResult<bool> {
        let lease = self.0.lease.load(Ordering::Acquire);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                value,
                Some(PutOptions::new().with_lease(lease)),
            )]);
        self.run(move |mut c| {
            let txn = txn.clone();
            async move { Ok(c.txn(txn).await?.succeeded()) }
        })
    }

    /// Deletes `key` if it is still bound to `lease` (a record of a lapsed
    /// lease may belong to another front end by now). The caller still
    /// holds what the record stands for (the key's local write lock), so
    /// sending the delete again cannot remove a later holder's record. If
    /// etcd answers none of the attempts, the record would stay for as long
    /// as this front end keeps its lease: the lease is given up instead
    /// (see `abandoned`).
    fn release(&self, key: Vec<u8>, lease: i64) {
        let txn = Txn::new()
            .when([Compare::lease(key.clone(), CompareOp::Equal, lease)])
            .and_then([TxnOp::delete(key, None)]);
        let lost = crate::test_faults::lose_release();
        for attempt in 1..=RELEASE_ATTEMPTS {
            let txn = txn.clone();
            let sent = if lost {
                Err(StorageError::Unavailable(
                    "TEST-ONLY: a lost release".into(),
                ))
            } else {
                self.run(move |mut c| {
                    let txn = txn.clone();
                    async move { c.txn(txn).await.map(|_| ()) }
                })
            };
            match sent {
                Ok(()) => return,
                Err(e) if attempt == RELEASE_ATTEMPTS => {
                    tracing::warn!(
                        error = %e,
                        lease,
                        "releasing a coordination record failed; giving up the lease it is bound to"
                    );
                    self.abandon(lease);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50 * attempt)),
            }
        }
    }

    /// Asks the renewal task to replace `lease` (if it is still the current
    /// one): every record bound to it goes with it.
    fn abandon(&self, lease: i64) {
        if self.0.lease.load(Ordering::Acquire) == lease {
            self.0.abandoned.store(lease, Ordering::Release);
        }
    }

    /// Whether `key` is this front end's record under its current lease.
    fn holds(&self, key: Vec<u8>) -> bool {
        let lease = self.0.lease.load(Ordering::Acquire);
        let id = self.0.id.as_bytes().to_vec();
        self.run(move |mut c| {
            let key = key.clone();
            async move { Ok(c.get(key, None).await?.take_kvs().into_iter().next()) }
        })
        .ok()
        .flatten()
        .is_some_and(|kv| kv.lease() == lease && kv.value() == id.as_slice())
    }

    fn exists(&self, key: Vec<u8>, prefix: bool) -> StorageResult<bool> {
        self.run(move |mut c| {
            let key = key.clone();
            async move {
                let mut opts = GetOptions::new().with_count_only();
                if prefix {
                    opts = opts.with_prefix();
                }
                Ok(c.get(key, Some(opts)).await?.count() > 0)
            }
        })
    }

    /// Takes the write lock `key` for this front end; `Conflict` if any
    /// front end holds it.
    pub(crate) fn lock(&self, key: &[u8]) -> StorageResult<RemoteLock> {
        self.usable()?;
        let epoch = self.0.locks.lock().epoch;
        let lease = self.0.lease.load(Ordering::Acquire);
        let full = self.key(&[b"locks/", key]);
        match self.create(full.clone(), self.0.id.as_bytes().to_vec()) {
            Ok(true) => {}
            Ok(false) => return Err(StorageError::Conflict),
            Err(e) => {
                // Sent but not answered: the record may exist. The local
                // lock is still held, so removing it here is safe.
                self.release(full, lease);
                return Err(e);
            }
        }
        let mut counts = self.0.locks.lock();
        if counts.epoch == epoch {
            counts.current += 1;
        } else {
            // The lease changed under the request: count it as old.
            counts.old += 1;
        }
        Ok(RemoteLock {
            coord: self.clone(),
            key: full,
            epoch,
            lease,
        })
    }

    /// Whether any front end holds the write lock `key` (`false` when
    /// etcd cannot answer: a read then proceeds as with no writer).
    pub(crate) fn is_locked(&self, key: &[u8]) -> bool {
        self.exists(self.key(&[b"locks/", key]), false)
            .unwrap_or(false)
    }

    fn reader_key(&self, seq: u64, n: u64) -> Vec<u8> {
        self.key(&[
            b"readers/",
            &seq.to_be_bytes(),
            b"/",
            self.0.id.as_bytes(),
            b"/",
            &n.to_be_bytes(),
        ])
    }

    /// Registers a download of version `seq`, seen by every front end's purger.
    pub(crate) fn register_reader(&self, seq: u64) -> StorageResult<RemoteRead> {
        self.usable()?;
        let n = self.0.next_reader.fetch_add(1, Ordering::Relaxed);
        let lease = self.0.lease.load(Ordering::Acquire);
        let key = self.reader_key(seq, n);
        let put = key.clone();
        if let Err(e) = self.run(move |mut c| {
            let put = put.clone();
            async move {
                c.put(put, Vec::new(), Some(PutOptions::new().with_lease(lease)))
                    .await
                    .map(|_| ())
            }
        }) {
            // The record may exist: it would hold this version's purge off.
            self.release(key, lease);
            return Err(e);
        }
        self.0.readers.lock().insert(n, seq);
        Ok(RemoteRead {
            coord: self.clone(),
            seq,
            n,
        })
    }

    /// Whether any front end has a download of version `seq` registered.
    pub(crate) fn has_readers(&self, seq: u64) -> StorageResult<bool> {
        let mut prefix = self.key(&[b"readers/", &seq.to_be_bytes()]);
        prefix.push(b'/');
        self.exists(prefix, true)
    }

    /// Whether this front end holds the purger role now (no round trip;
    /// [`Coord::hold_purger`] takes it).
    pub(crate) fn purger_held(&self) -> bool {
        self.usable().is_ok() && self.0.purger.load(Ordering::Acquire)
    }

    /// Whether this front end runs the purge loops: takes the `purger`
    /// record if no live front end holds it.
    pub(crate) fn hold_purger(&self) -> bool {
        if self.usable().is_err() {
            self.0.purger.store(false, Ordering::Release);
            return false;
        }
        if self.0.purger.load(Ordering::Acquire) {
            return true;
        }
        let key = self.key(&[b"purger"]);
        let held = match self.create(key.clone(), self.0.id.as_bytes().to_vec()) {
            Ok(true) => true,
            // Held by a live front end, or by this one already: a create
            // sent earlier whose answer was lost may have taken it (no one
            // else could then take it while this front end lives).
            Ok(false) => self.holds(key),
            Err(e) => {
                tracing::warn!(error = %e, "could not take the purger record");
                false
            }
        };
        if held {
            tracing::info!(front_end = %self.0.id, "this front end runs the purger");
            self.0.purger.store(true, Ordering::Release);
        }
        held
    }

    /// Publishes the change-log horizon this front end promises (it will
    /// never commit a change number at or below it).
    pub(crate) fn publish_horizon(&self, promise: u64) -> StorageResult<()> {
        self.usable()?;
        let lease = self.0.lease.load(Ordering::Acquire);
        let key = self.key(&[b"horizon/", self.0.id.as_bytes()]);
        self.run(move |mut c| {
            let key = key.clone();
            async move {
                c.put(
                    key,
                    promise.to_be_bytes().to_vec(),
                    Some(PutOptions::new().with_lease(lease)),
                )
                .await
                .map(|_| ())
            }
        })
    }

    /// The smallest horizon another live front end promises (`None`:
    /// there is none), and the largest any front end promises.
    pub(crate) fn horizons(&self) -> StorageResult<(Option<u64>, u64)> {
        let prefix = self.key(&[b"horizon/"]);
        let own = self.key(&[b"horizon/", self.0.id.as_bytes()]);
        let kvs = self.run(move |mut c| {
            let prefix = prefix.clone();
            async move {
                let mut r = c.get(prefix, Some(GetOptions::new().with_prefix())).await?;
                Ok(r.take_kvs()
                    .into_iter()
                    .map(|kv| kv.into_key_value())
                    .collect::<Vec<_>>())
            }
        })?;
        let mut others: Option<u64> = None;
        let mut max = 0;
        for (k, v) in kvs {
            let Ok(raw) = <[u8; 8]>::try_from(v.as_slice()) else {
                continue;
            };
            let promise = u64::from_be_bytes(raw);
            max = max.max(promise);
            if k != own {
                others = Some(others.map_or(promise, |o| o.min(promise)));
            }
        }
        Ok((others, max))
    }

    /// Ends the lease at once (a clean shutdown): every record goes with it.
    pub(crate) fn revoke(&self) {
        let lease = self.0.lease.load(Ordering::Acquire);
        let _ = self.run(move |mut c| async move { c.lease_revoke(lease).await.map(|_| ()) });
    }

    /// A fresh lease after the old one lapsed: the locks of the old one
    /// keep the front end fenced until released; downloads in progress
    /// re-register under the new one.
    async fn renew(&self) {
        let mut c = self.0.client.clone();
        let sent = Instant::now();
        let lease = match tokio::time::timeout(
            self.0.ttl / 3,
            c.lease_grant(self.0.ttl.as_secs() as i64, None),
        )
        .await
        {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "granting a new etcd lease failed; will retry");
                return;
            }
            Err(_) => return,
        };
        let old = self.0.lease.swap(lease.id(), Ordering::AcqRel);
        {
            let mut counts = self.0.locks.lock();
            counts.epoch += 1;
            counts.old += counts.current;
            counts.current = 0;
        }
        self.0.purger.store(false, Ordering::Release);
        // The old lease's records must not outlive it if etcd still has it.
        let _ = c.lease_revoke(old).await;
        let readers: Vec<(u64, u64)> = self
            .0
            .readers
            .lock()
            .iter()
            .map(|(n, s)| (*n, *s))
            .collect();
        for (n, seq) in readers {
            let key = self.reader_key(seq, n);
            let opts = PutOptions::new().with_lease(lease.id());
            if let Err(e) = c.put(key, Vec::new(), Some(opts)).await {
                tracing::warn!(error = %e, "re-registering a download failed");
            }
        }
        self.believe_until(sent, lease.ttl());
        tracing::warn!(
            front_end = %self.0.id,
            lease = lease.id(),
            "the etcd lease lapsed: took a new one; writes resume once the old locks are released"
        );
    }
}

/// Renews the lease every third of its TTL while the front end lives.
async fn keep_alive(coord: Weak<Inner>) {
    let mut stream = None;
    let mut failed = false;
    loop {
        // After a failure, try again soon: another member may answer.
        let Some(ttl) = coord.upgrade().map(|inner| inner.ttl) else {
            return;
        };
        let pause = if failed {
            Duration::from_millis(100)
        } else {
            ttl / 3
        };
        tokio::time::sleep(pause).await;
        let Some(inner) = coord.upgrade() else { return };
        let coord = Coord(inner);
        let id = coord.0.lease.load(Ordering::Acquire);
        if coord.0.abandoned.load(Ordering::Acquire) == id {
            stream = None;
            coord.renew().await;
            // Not replaced (etcd did not answer): try again soon.
            failed = coord.0.lease.load(Ordering::Acquire) == id;
            continue;
        }
        let sent = Instant::now();
        let mut client = coord.0.client.clone();
        let renewed = tokio::time::timeout(ttl / 3, async {
            if stream.is_none() {
                stream = Some(client.lease_keep_alive(id).await?);
            }
            let (keeper, answers) = stream.as_mut().expect("opened above");
            keeper.keep_alive().await?;
            answers.message().await
        })
        .await;
        failed = false;
        match renewed {
            Ok(Ok(Some(r))) if r.ttl() > 0 => coord.believe_until(sent, r.ttl()),
            Ok(Ok(Some(_))) => {
                // etcd no longer knows the lease: it expired.
                stream = None;
                coord.renew().await;
            }
            other => {
                failed = true;
                if let Ok(Err(e)) = other {
                    tracing::warn!(error = %e, "renewing the etcd lease failed; will retry");
                }
                stream = None;
                if !coord.live() {
                    coord.renew().await;
                }
            }
        }
    }
}

/// A write lock's record; deleted on drop.
pub(crate) struct RemoteLock {
    coord: Coord,
    key: Vec<u8>,
    epoch: u64,
    lease: i64,
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        {
            let mut counts = self.coord.0.locks.lock();
            if counts.epoch == self.epoch {
                counts.current -= 1;
            } else {
                counts.old -= 1;
            }
        }
        self.coord
            .release(std::mem::take(&mut self.key), self.lease);
    }
}

impl std::fmt::Debug for RemoteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteLock").finish_non_exhaustive()
    }
}

/// A download's registration; deleted on drop.
pub(crate) struct RemoteRead {
    coord: Coord,
    seq: u64,
    n: u64,
}

impl Drop for RemoteRead {
    fn drop(&mut self) {
        self.coord.0.readers.lock().remove(&self.n);
        let key = self.coord.reader_key(self.seq, self.n);
        // Whichever lease it is bound to now, it is this front end's.
        let lease = self.coord.0.lease.load(Ordering::Acquire);
        self.coord.release(key, lease);
    }
}

impl std::fmt::Debug for RemoteRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRead").finish_non_exhaustive()
    }
}
