//! The metadata engine on etcd v3 (3.4 and later): each column family is a
//! key prefix `<root>/<cf>/` and each commit one `Txn` (see
//! `docs/design.md`, "Metadata engine seam").
//!
//! `storage` is synchronous and is called from async threads too (point
//! lookups), so the etcd client runs on a runtime of its own: a call
//! spawns its request there and waits on a channel. It never enters the
//! caller's runtime, so it cannot deadlock or panic in one.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::mpsc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, KeyValue, SortOrder,
    SortTarget, Txn, TxnOp, TxnOpResponse,
};

use super::batch::{Batch, Expect, Op};
use super::{Cf, ReadBounds};
use crate::error::{StorageError, StorageResult};
use crate::keys;

/// A usage counter's value (`None`: absent) and its `mod_revision`.
type Counter = (Option<Vec<u8>>, i64);

/// A commit's `Txn` operations, and each merged counter's final value.
type TxnPlan = (Vec<TxnOp>, Vec<(Vec<u8>, Option<Vec<u8>>)>);

/// The in-process lock stripe of a counter key.
fn stripe(key: &[u8]) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % COUNTER_STRIPES as u64) as usize
}

/// One page of a scan: (full key, value) entries, whether the range has
/// more, and the revision read at.
type Page = (Vec<(Vec<u8>, Vec<u8>)>, bool, i64);

/// Keys a scan reads per round trip.
const PAGE: i64 = 512;
/// Attempts of a commit whose usage counters moved under it (another
/// front end wrote them: within one process their writers take turns).
const MERGE_RETRIES: usize = 16;
/// Operations kura puts in one `Txn`: etcd refuses more than
/// `--max-txn-ops` (128 by default); the margin leaves room for the
/// usage counters a commit adds. Larger changes are split by
/// `split_commit.rs`.
pub(crate) const MAX_OPS: usize = 100;
/// Stripes of the in-process counter locks.
const COUNTER_STRIPES: usize = 64;

/// How far back a front end compacts etcd's history by default.
const COMPACTION_WINDOW: Duration = Duration::from_secs(300);

/// Where the metadata lives:
/// `etcd://h1:2379,h2:2379/root[?compaction=5m][&lease=5s]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdUrl {
    /// `host:port` of each member.
    pub endpoints: Vec<String>,
    /// Every key kura writes starts with `<root>/`.
    pub root: String,
    /// The engine compacts etcd's history to the revision it saw this long
    /// ago (`?compaction=5m`, the default); `None` (`?compaction=off`)
    /// leaves it to etcd's `--auto-compaction-*` flags.
    pub compaction: Option<Duration>,
    /// Time to live of the front end's etcd lease (`?lease=5s`, the
    /// default; 2 s to 60 s): a dead front end's locks and read guards
    /// outlive it by at most this, and a front end cut off from etcd for
    /// about this long is fenced (503) until it has a new lease.
    pub lease: Duration,
}

/// `30s`, `5m` or `1h` (a bare number is seconds).
fn parse_secs(v: &str) -> Option<u64> {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = n.parse().ok()?;
    match unit {
        "s" | "" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
}

/// The lease's time to live: whole seconds from 2 s (renewals go out every
/// third of it, and the front end stops believing it 1 s early) to 60 s.
fn parse_lease(v: &str) -> Result<Duration, String> {
    match parse_secs(v) {
        Some(secs) if (2..=60).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(format!("lease={v:?}: expected 2s to 60s, e.g. 5s")),
    }
}

/// `30s`, `5m`, `1h` or `off`.
fn parse_compaction(v: &str) -> Result<Option<Duration>, String> {
    if v == "off" {
        return Ok(None);
    }
    match parse_secs(v) {
        Some(0) => Err(format!("compaction={v:?}: use off, not 0")),
        Some(secs) => Ok(Some(Duration::from_secs(secs))),
        None => Err(format!("compaction={v:?}: expected e.g. 5m or off")),
    }
}

impl std::str::FromStr for EtcdUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("etcd://")
            .ok_or_else(|| format!("{s:?}: expected etcd://host:port[,host:port...]/prefix"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut compaction = Some(COMPACTION_WINDOW);
        let mut lease = super::leases::LEASE_TTL;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("compaction", v)) => compaction = parse_compaction(v)?,
                Some(("lease", v)) => lease = parse_lease(v)?,
                _ => {
                    return Err(format!(
                        "{s:?}: unknown option {pair:?} (known: compaction=5m|off, lease=5s)"
                    ))
                }
            }
        }
        let (hosts, root) = rest.split_once('/').unwrap_or((rest, ""));
        let endpoints: Vec<String> = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        if endpoints.is_empty() {
            return Err(format!("{s:?}: no etcd endpoint"));
        }
        let root = root.trim_matches('/');
        Ok(EtcdUrl {
            endpoints,
            root: if root.is_empty() { "kura" } else { root }.to_string(),
            compaction,
            lease,
        })
    }
}

impl std::fmt::Display for EtcdUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "etcd://{}/{}", self.endpoints.join(","), self.root)?;
        let mut options = Vec::new();
        match self.compaction {
            Some(w) if w == COMPACTION_WINDOW => {}
            Some(w) => options.push(format!("compaction={}s", w.as_secs())),
            None => options.push("compaction=off".to_string()),
        }
        if self.lease != super::leases::LEASE_TTL {
            options.push(format!("lease={}s", self.lease.as_secs()));
        }
        if !options.is_empty() {
            write!(f, "?{}", options.join("&"))?;
        }
        Ok(())
    }
}

/// Attempts of a request that could not reach a member.
const UNSENT_RETRIES: u32 = 8;

/// Whether `e` says the request never reached a member (its connection
/// could not be made): safe to send again, and the client's balancer
/// then picks a member at random, so a dead member costs a retry, not a
/// failed request.
fn unsent(e: &etcd_client::Error) -> bool {
    e.to_string().contains("tcp connect error")
}

/// Runs `f` until it succeeds or fails for another reason than an
/// unreachable member (at most [`UNSENT_RETRIES`] times), then hands the
/// result to `done`.
pub(super) async fn retry_unsent<T, F>(
    client: Client,
    f: impl Fn(Client) -> F,
    done: impl FnOnce(Result<T, etcd_client::Error>),
) where
    F: Future<Output = Result<T, etcd_client::Error>>,
{
    let mut attempt = 0;
    loop {
        match f(client.clone()).await {
            Err(e) if attempt < UNSENT_RETRIES && unsent(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
            }
            r => return done(r),
        }
    }
}

fn etcd_err(e: etcd_client::Error) -> StorageError {
    StorageError::Io(std::io::Error::other(format!("etcd: {e}")))
}

/// Whether a failed request was refused, so nothing of it was applied:
/// never sent (no connection), or answered with an error etcd gives before
/// proposing a change (a `Txn` too large or with too many operations, the
/// space quota, a lease or permission refused). Anything else — a timeout,
/// a connection lost after sending, "leader changed", "request timed out"
/// — may have been applied.
fn refused(e: &etcd_client::Error) -> bool {
    use etcd_client::Error as E;
    match e {
        // gRPC codes: InvalidArgument 3, NotFound 5, AlreadyExists 6,
        // PermissionDenied 7, ResourceExhausted 8, FailedPrecondition 9,
        // OutOfRange 11, Unimplemented 12, Unauthenticated 16.
        E::GRpcStatus(s) => matches!(s.code() as i32, 3 | 5 | 6 | 7 | 8 | 9 | 11 | 12 | 16),
        E::InvalidArgs(_) | E::InvalidUri(_) | E::InvalidMetadataValue(_) => true,
        E::EndpointError(_) | E::EndpointsNotManaged | E::Utf8Error(_) => true,
        _ => unsent(e),
    }
}

/// A failed commit's error: a refusal stays an I/O error (nothing was
/// written); any other failure is [`StorageError::CommitUnknown`], so that
/// the caller checks its commit point before removing anything.
fn commit_err(e: etcd_client::Error) -> StorageError {
    if refused(&e) {
        etcd_err(e)
    } else {
        StorageError::CommitUnknown(format!("etcd: {e}"))
    }
}

/// etcd as a [`super::Engine`].
pub(crate) struct EtcdEngine {
    /// Always `Some` until dropped (see the `Drop` impl).
    rt: Option<tokio::runtime::Runtime>,
    client: Client,
    root: Vec<u8>,
    /// This front end's lease and coordination records (`leases.rs`).
    pub(crate) coord: super::leases::Coord,
    /// A usage counter's read-modify-write holds its stripe from the read
    /// to the `Txn`, so this process's commits into one bucket never race
    /// each other on its counter (they did: with 32 concurrent PUTs into
    /// one bucket, a commit lost its guard 16 times in a row and the
    /// client got 409).
    counter_locks: Vec<parking_lot::Mutex<()>>,
    /// Each usage counter's value and `mod_revision` as this process last
    /// read or wrote it (full key): the base of the next merge without a
    /// read. A stale entry only fails the `Txn`'s compare, and is dropped.
    counters: parking_lot::Mutex<HashMap<Vec<u8>, Counter>>,
}

impl EtcdEngine {
    /// Connects to the cluster (and checks that it answers).
    pub(crate) fn connect(url: &EtcdUrl) -> StorageResult<EtcdEngine> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kura-etcd")
            .enable_all()
            .build()?;
        let endpoints: Vec<String> = url
            .endpoints
            .iter()
            .map(|e| {
                if e.contains("://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                }
            })
            .collect();
        let opts = ConnectOptions::new()
            .with_connect_timeout(std::time::Duration::from_secs(5))
            .with_timeout(std::time::Duration::from_secs(10));
        let client = rt
            .block_on(Client::connect(endpoints, Some(opts)))
            .map_err(etcd_err)?;
        let mut root = url.root.as_bytes().to_vec();
        root.push(b'/');
        let coord = super::leases::Coord::start(&rt, client.clone(), &root, url.lease)?;
        let engine = EtcdEngine {
            rt: Some(rt),
            client,
            root,
            coord,
            counter_locks: (0..COUNTER_STRIPES)
                .map(|_| parking_lot::Mutex::new(()))
                .collect(),
            counters: parking_lot::Mutex::new(HashMap::new()),
        };
        engine.revision()?;
        if let Some(window) = url.compaction {
            engine
                .rt
                .as_ref()
                .expect("just built")
                .spawn(compact_history(
                    engine.client.clone(),
                    engine.root.clone(),
                    window,
                ));
        }
        Ok(engine)
    }

    /// Runs `f` with a client on the engine's runtime and waits for it.
    fn run<T, F>(&self, f: impl Fn(Client) -> F + Send + 'static) -> StorageResult<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        self.run_raw(f)
            .map_err(|_| StorageError::Io(std::io::Error::other("etcd runtime stopped")))?
            .map_err(etcd_err)
    }

    /// [`EtcdEngine::run`] with etcd's own error (`Err(())`: the runtime
    /// stopped before answering).
    fn run_raw<T, F>(
        &self,
        f: impl Fn(Client) -> F + Send + 'static,
    ) -> Result<Result<T, etcd_client::Error>, ()>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let rt = self.rt.as_ref().expect("the runtime lives until drop");
        rt.spawn(retry_unsent(self.client.clone(), f, move |r| {
            let _ = tx.send(r);
        }));
        rx.recv().map_err(|_| ())
    }

    /// The full etcd key of `key` in `cf`.
    fn key(&self, cf: Cf, key: &[u8]) -> Vec<u8> {
        let mut k = self.cf_prefix(cf);
        k.extend_from_slice(key);
        k
    }

    fn cf_prefix(&self, cf: Cf) -> Vec<u8> {
        let mut k = self.root.clone();
        k.extend_from_slice(cf.0.as_bytes());
        k.push(b'/');
        k
    }

    /// The current revision of the store.
    fn revision(&self) -> StorageResult<i64> {
        let probe = self.root.clone();
        self.run(move |mut c| {
            let probe = probe.clone();
            async move {
                let r = c
                    .get(probe, Some(GetOptions::new().with_count_only()))
                    .await?;
                Ok(r.header().map(|h| h.revision()).unwrap_or(0))
            }
        })
    }

    fn get_kv(&self, cf: Cf, key: &[u8], rev: i64) -> StorageResult<Option<KeyValue>> {
        let k = self.key(cf, key);
        self.run(move |mut c| {
            let k = k.clone();
            async move {
                let mut r = c.get(k, Some(GetOptions::new().with_revision(rev))).await?;
                Ok(r.take_kvs().into_iter().next())
            }
        })
    }

    pub(crate) fn get(&self, cf: Cf, key: &[u8], rev: i64) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.get_kv(cf, key, rev)?.map(|kv| kv.into_key_value().1))
    }

    /// The values of `keys` of `cf`: one `Txn` of reads per [`MAX_OPS`]
    /// keys (one round trip, not one per key), all at one revision each.
    pub(crate) fn multi_get<K: AsRef<[u8]>>(
        &self,
        cf: Cf,
        keys: &[K],
    ) -> StorageResult<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        for page in keys.chunks(MAX_OPS) {
            let ops: Vec<TxnOp> = page
                .iter()
                .map(|k| TxnOp::get(self.key(cf, k.as_ref()), None))
                .collect();
            let txn = Txn::new().and_then(ops);
            let values = self.run(move |mut c| {
                let txn = txn.clone();
                async move {
                    let r = c.txn(txn).await?;
                    Ok(r.op_responses()
                        .into_iter()
                        .map(|op| match op {
                            TxnOpResponse::Get(mut g) => g
                                .take_kvs()
                                .into_iter()
                                .next()
                                .map(|kv| kv.into_key_value().1),
                            _ => None,
                        })
                        .collect::<Vec<_>>())
                }
            })?;
            out.extend(values);
        }
        Ok(out)
    }

    pub(crate) fn snapshot(&self) -> StorageResult<i64> {
        self.revision()
    }

    pub(crate) fn cursor<'a>(&'a self, cf: Cf, bounds: ReadBounds<'_>) -> EtcdCursor<'a> {
        let prefix = self.cf_prefix(cf);
        let lower = {
            let mut k = prefix.clone();
            k.extend_from_slice(bounds.lower.as_deref().unwrap_or_default());
            k
        };
        let upper = match &bounds.upper {
            Some(u) => {
                let mut k = prefix.clone();
                k.extend_from_slice(u);
                k
            }
            None => keys::prefix_successor(&prefix).expect("a cf prefix ends in '/'"),
        };
        let rev = match bounds.snapshot {
            Some(super::Snapshot::Etcd(rev)) => *rev,
            _ => 0,
        };
        EtcdCursor {
            engine: self,
            plen: prefix.len(),
            lower,
            upper,
            rev,
            page: Vec::new(),
            pos: 0,
            forward: true,
            more: false,
            error: None,
        }
    }

    /// Reads one page: forward from `from` (inclusive) or backward from
    /// below `to` (exclusive), within the cursor's bounds.
    fn page(&self, lo: Vec<u8>, hi: Vec<u8>, forward: bool, rev: i64) -> StorageResult<Page> {
        if lo >= hi {
            return Ok((Vec::new(), false, rev));
        }
        self.run(move |mut c| {
            let (lo, hi) = (lo.clone(), hi.clone());
            async move {
                let mut opts = GetOptions::new()
                    .with_range(hi)
                    .with_limit(PAGE)
                    .with_revision(rev);
                if !forward {
                    // etcd 3.4 sorts the whole range before the limit for a
                    // descending read; kura's reverse scans are within one
                    // key's versions, so the range is small.
                    opts = opts.with_sort(SortTarget::Key, SortOrder::Descend);
                }
                let mut r = c.get(lo, Some(opts)).await?;
                let rev = r.header().map(|h| h.revision()).unwrap_or(rev);
                let more = r.more();
                let kvs = r
                    .take_kvs()
                    .into_iter()
                    .map(|kv| kv.into_key_value())
                    .collect();
                Ok((kvs, more, rev))
            }
        })
    }

    /// The usage counters `batch` merges into (full keys).
    fn counter_keys(&self, batch: &Batch) -> BTreeSet<Vec<u8>> {
        batch
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Merge { cf, key, .. } => Some(self.key(*cf, key)),
                _ => None,
            })
            .collect()
    }

    /// Applies `batch` as one `Txn`: its guards as compares; usage merges as
    /// read-modify-write guarded by the revision read, retried when a
    /// concurrent commit moved a counter.
    pub(crate) fn commit(&self, batch: Batch) -> StorageResult<()> {
        // A front end whose lease lapsed may hold locks that are gone.
        self.coord.usable()?;
        let counters = self.counter_keys(&batch);
        let merges = !counters.is_empty();
        // In stripe order, so two commits never wait on each other crosswise.
        let stripes: BTreeSet<usize> = counters.iter().map(|k| stripe(k)).collect();
        let _turns: Vec<_> = stripes
            .iter()
            .map(|i| self.counter_locks[*i].lock())
            .collect();
        for attempt in 0..MERGE_RETRIES {
            if attempt > 0 {
                // Another front end moved a counter: let it finish.
                let pause = rand::Rng::gen_range(&mut rand::thread_rng(), 1..=5 * attempt as u64);
                std::thread::sleep(Duration::from_millis(pause));
            }
            let mut compares = Vec::new();
            for g in &batch.guards {
                let k = self.key(g.cf, &g.key);
                compares.push(match &g.expect {
                    Expect::Absent => Compare::create_revision(k, CompareOp::Equal, 0),
                    Expect::Present => Compare::create_revision(k, CompareOp::Greater, 0),
                    Expect::Value(v) => Compare::value(k, CompareOp::Equal, v.clone()),
                    // Over a range etcd compares every key in it, and an
                    // empty range as one absent key.
                    Expect::NoneIn(end) => Compare::create_revision(k, CompareOp::Equal, 0)
                        .with_range(self.key(g.cf, end)),
                });
            }
            let (ops, written) = self.txn_ops(&batch, &mut compares)?;
            let txn = Txn::new().when(compares).and_then(ops);
            let fault = crate::test_faults::etcd_commit_fault(&batch);
            if fault == Some(crate::test_faults::CommitFault::LoseRequest) {
                return Err(StorageError::CommitUnknown(
                    "KURA_TEST_ETCD_LOSE_REQUEST: TEST-ONLY request lost".into(),
                ));
            }
            let result = self
                .run_raw(move |mut c| {
                    let txn = txn.clone();
                    async move {
                        let r = c.txn(txn).await?;
                        Ok((r.succeeded(), r.header().map(|h| h.revision())))
                    }
                })
                .map_err(|_| StorageError::CommitUnknown("etcd runtime stopped".into()))
                .and_then(|r| r.map_err(commit_err));
            let result = match (fault, result) {
                (Some(crate::test_faults::CommitFault::LoseAnswer), Ok(_)) => {
                    Err(StorageError::CommitUnknown(
                        "KURA_TEST_ETCD_LOSE_ANSWER: TEST-ONLY answer lost".into(),
                    ))
                }
                (_, r) => r,
            };
            let mut cache = self.counters.lock();
            match result {
                Ok((true, Some(rev))) => {
                    for (k, v) in written {
                        // A deleted key compares as mod_revision 0.
                        let rev = if v.is_some() { rev } else { 0 };
                        cache.insert(k, (v, rev));
                    }
                    return Ok(());
                }
                Ok((true, None)) => {
                    for k in &counters {
                        cache.remove(k);
                    }
                    return Ok(());
                }
                Ok((false, _)) => {
                    for k in &counters {
                        cache.remove(k);
                    }
                }
                Err(e) => {
                    for k in &counters {
                        cache.remove(k);
                    }
                    return Err(e);
                }
            }
            drop(cache);
            if !merges || !self.guards_hold(&batch)? {
                return Err(StorageError::Conflict);
            }
        }
        Err(StorageError::Conflict)
    }

    fn guards_hold(&self, batch: &Batch) -> StorageResult<bool> {
        for g in &batch.guards {
            if let Expect::NoneIn(end) = &g.expect {
                let mut it = self.cursor(g.cf, ReadBounds::range(&g.key, end));
                it.seek(&g.key);
                let empty = !it.valid();
                it.status()?;
                if !empty {
                    return Ok(false);
                }
                continue;
            }
            let now = self.get(g.cf, &g.key, 0)?;
            let holds = match &g.expect {
                Expect::Absent => now.is_none(),
                Expect::Present => now.is_some(),
                Expect::Value(v) => now.as_ref() == Some(v),
                Expect::NoneIn(_) => unreachable!("checked above"),
            };
            if !holds {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The batch's writes as txn operations, and the final value of each
    /// usage counter it merges into. etcd refuses a txn that writes
    /// one key twice, or a key inside a range it also deletes: the last
    /// write of a key wins (as in a RocksDB batch), and a range deletion is
    /// cut around keys written after it.
    fn txn_ops(&self, batch: &Batch, compares: &mut Vec<Compare>) -> StorageResult<TxnPlan> {
        // Full key -> final value (None: deleted).
        let mut points: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        // Range deletions, and the point keys written after each.
        let mut ranges: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for op in &batch.ops {
            match op {
                Op::Put { cf, key, value } => {
                    points.insert(self.key(*cf, key), Some(value.clone()));
                }
                Op::Delete { cf, key } => {
                    points.insert(self.key(*cf, key), None);
                }
                Op::DeleteRange { cf, from, to } => {
                    let (from, to) = (self.key(*cf, from), self.key(*cf, to));
                    points.retain(|k, _| !(from <= *k && *k < to));
                    merged.retain(|k, _| !(from <= *k && *k < to));
                    ranges.push((from, to));
                }
                Op::Merge { cf, key, operand } => {
                    let full = self.key(*cf, key);
                    let base = match points.get(&full) {
                        Some(v) => v.clone(),
                        None => match merged.get(&full) {
                            Some(v) => Some(v.clone()),
                            None => {
                                let (value, rev) = self.counter(*cf, key, &full)?;
                                compares.push(Compare::mod_revision(
                                    full.clone(),
                                    CompareOp::Equal,
                                    rev,
                                ));
                                value
                            }
                        },
                    };
                    let folded = crate::usage::fold_usage(base.as_deref(), [operand.as_slice()]);
                    match points.get_mut(&full) {
                        Some(slot) => *slot = Some(folded),
                        None => {
                            merged.insert(full, folded);
                        }
                    }
                }
            }
        }
        let counters = self.counter_keys(batch);
        for (k, v) in merged {
            points.insert(k, Some(v));
        }
        let written = counters
            .into_iter()
            .map(|k| {
                let v = points.get(&k).cloned().flatten();
                (k, v)
            })
            .collect();
        let mut ops = Vec::new();
        for (from, to) in ranges {
            // Cut the range around the point writes inside it.
            let mut start = from;
            for k in points.range(start.clone()..to.clone()).map(|(k, _)| k) {
                if start < *k {
                    ops.push(TxnOp::delete(
                        start.clone(),
                        Some(DeleteOptions::new().with_range(k.clone())),
                    ));
                }
                start = k.clone();
                start.push(0);
            }
            if start < to {
                ops.push(TxnOp::delete(
                    start,
                    Some(DeleteOptions::new().with_range(to)),
                ));
            }
        }
        for (k, v) in points {
            ops.push(match v {
                Some(v) => TxnOp::put(k, v, None),
                None => TxnOp::delete(k, None),
            });
        }
        Ok((ops, written))
    }

    /// A usage counter's value and `mod_revision`: as this process last saw
    /// it, or read now.
    fn counter(&self, cf: Cf, key: &[u8], full: &[u8]) -> StorageResult<Counter> {
        if let Some(known) = self.counters.lock().get(full) {
            return Ok(known.clone());
        }
        let kv = self.get_kv(cf, key, 0)?;
        let rev = kv.as_ref().map(|kv| kv.mod_revision()).unwrap_or(0);
        Ok((kv.map(|kv| kv.into_key_value().1), rev))
    }

    /// Compacts the history up to now, physically, so overwritten values
    /// leave the members' databases (a defragmentation returns the pages).
    pub(crate) fn erase_history(&self) -> StorageResult<()> {
        let rev = self.revision()?;
        self.run(move |mut c| async move {
            c.compact(
                rev,
                Some(etcd_client::CompactionOptions::new().with_physical()),
            )
            .await?;
            Ok(())
        })
    }
}

/// Compacts etcd's history, forever, to the revision seen `window` ago
/// (sampled every fifth of it): kura overwrites rows all the time (usage
/// counters, the sequence reservation, the purge queue), and etcd keeps
/// every revision until compacted. Snapshot reads (a usage recompute, a
/// long listing) must finish within the window; a read at a compacted
/// revision fails rather than see another state. Several front ends
/// compacting the same cluster is harmless: a revision already compacted
/// is refused and skipped. The freed pages return to the disk only with a
/// defragmentation (`etcdctl defrag`, per member, now and then).
async fn compact_history(mut client: Client, probe: Vec<u8>, window: Duration) {
    let mut seen: VecDeque<(tokio::time::Instant, i64)> = VecDeque::new();
    let mut tick = tokio::time::interval((window / 5).max(Duration::from_millis(200)));
    let mut compacted = 0;
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        match client
            .get(probe.clone(), Some(GetOptions::new().with_count_only()))
            .await
        {
            Ok(r) => {
                if let Some(h) = r.header() {
                    seen.push_back((now, h.revision()));
                }
            }
            Err(e) => tracing::debug!(error = %e, "etcd compaction: no revision"),
        }
        let mut target = None;
        while seen
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= window)
        {
            target = seen.pop_front().map(|(_, rev)| rev);
        }
        if let Some(rev) = target.filter(|&r| r > compacted) {
            match client.compact(rev, None).await {
                Ok(_) => {
                    compacted = rev;
                    tracing::debug!(revision = rev, "etcd history compacted");
                }
                // Another front end compacted past it already.
                Err(e) => tracing::debug!(error = %e, revision = rev, "etcd compaction skipped"),
            }
        }
    }
}

impl Drop for EtcdEngine {
    /// A clean stop frees this front end's locks and purger role at once.
    /// The store may be dropped on an async worker (the last `Arc` of the
    /// server state goes with a cancelled task at shutdown), where dropping
    /// a runtime panics: shut it down without waiting instead. (A graceful
    /// stop of kura on etcd panicked so; seen in benches/scale_out.sh.)
    fn drop(&mut self) {
        self.coord.revoke();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A cursor over one column family: pages of [`PAGE`] keys read at one
/// revision (the first page's, unless a snapshot fixed it), so a scan
/// sees one consistent state as a RocksDB iterator does.
pub(crate) struct EtcdCursor<'a> {
    engine: &'a EtcdEngine,
    /// Length of `<root>/<cf>/`, cut from returned keys.
    plen: usize,
    lower: Vec<u8>,
    upper: Vec<u8>,
    rev: i64,
    /// Full keys and values, in the direction of travel.
    page: Vec<(Vec<u8>, Vec<u8>)>,
    pos: usize,
    forward: bool,
    /// Whether the range has keys beyond this page.
    more: bool,
    error: Option<StorageError>,
}

impl EtcdCursor<'_> {
    fn load(&mut self, lo: Vec<u8>, hi: Vec<u8>, forward: bool) {
        self.forward = forward;
        self.pos = 0;
        match self.engine.page(lo, hi, forward, self.rev) {
            Ok((page, more, rev)) => {
                self.page = page;
                self.more = more;
                self.rev = rev;
            }
            Err(e) => {
                self.page.clear();
                self.more = false;
                self.error = Some(e);
            }
        }
    }

    fn full(&self, key: &[u8]) -> Vec<u8> {
        // `lower` always starts with `<root>/<cf>/`; `upper` does not when
        // it is the family's end (the prefix's successor).
        let mut k = self.lower[..self.plen].to_vec();
        k.extend_from_slice(key);
        k
    }

    pub(crate) fn seek(&mut self, key: &[u8]) {
        let lo = self.full(key).max(self.lower.clone());
        self.load(lo, self.upper.clone(), true);
    }

    pub(crate) fn seek_for_prev(&mut self, key: &[u8]) {
        let mut hi = self.full(key);
        hi.push(0);
        let hi = hi.min(self.upper.clone());
        self.load(self.lower.clone(), hi, false);
    }

    pub(crate) fn seek_to_first(&mut self) {
        self.load(self.lower.clone(), self.upper.clone(), true);
    }

    pub(crate) fn valid(&self) -> bool {
        self.pos < self.page.len()
    }

    pub(crate) fn key(&self) -> Option<&[u8]> {
        self.page.get(self.pos).map(|(k, _)| &k[self.plen..])
    }

    pub(crate) fn value(&self) -> Option<&[u8]> {
        self.page.get(self.pos).map(|(_, v)| v.as_slice())
    }

    pub(crate) fn next(&mut self) {
        let Some((cur, _)) = self.page.get(self.pos) else {
            return;
        };
        let mut after = cur.clone();
        after.push(0);
        if !self.forward {
            self.load(after, self.upper.clone(), true);
            return;
        }
        self.pos += 1;
        if self.pos == self.page.len() && self.more {
            self.load(after, self.upper.clone(), true);
        }
    }

    pub(crate) fn prev(&mut self) {
        let Some((cur, _)) = self.page.get(self.pos) else {
            return;
        };
        let before = cur.clone();
        if self.forward {
            self.load(self.lower.clone(), before, false);
            return;
        }
        self.pos += 1;
        if self.pos == self.page.len() && self.more {
            self.load(self.lower.clone(), before, false);
        }
    }

    pub(crate) fn status(&self) -> StorageResult<()> {
        match &self.error {
            None => Ok(()),
            Some(e) => Err(StorageError::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_endpoints_and_a_root() {
        let u: EtcdUrl = "etcd://h1:2379,h2:2379/tenant/a".parse().unwrap();
        assert_eq!(u.endpoints, ["h1:2379", "h2:2379"]);
        assert_eq!(u.root, "tenant/a");
        assert_eq!(u.to_string(), "etcd://h1:2379,h2:2379/tenant/a");
        let u: EtcdUrl = "etcd://127.0.0.1:2379".parse().unwrap();
        assert_eq!(u.root, "kura");
        assert_eq!(u.compaction, Some(COMPACTION_WINDOW));
        let u: EtcdUrl = "etcd://h1:2379/t?compaction=2s".parse().unwrap();
        assert_eq!(
            (u.root.as_str(), u.compaction),
            ("t", Some(Duration::from_secs(2)))
        );
        assert_eq!(u.to_string(), "etcd://h1:2379/t?compaction=2s");
        let u: EtcdUrl = "etcd://h1:2379/t?compaction=off".parse().unwrap();
        assert_eq!(u.compaction, None);
        assert_eq!(u.to_string().parse::<EtcdUrl>().unwrap(), u);
        assert!("etcd://h1:2379/t?compaction=0".parse::<EtcdUrl>().is_err());
        let u: EtcdUrl = "etcd://h1:2379/t?lease=10s&compaction=off".parse().unwrap();
        assert_eq!(u.lease, Duration::from_secs(10));
        assert_eq!(u.to_string(), "etcd://h1:2379/t?compaction=off&lease=10s");
        assert_eq!(u.to_string().parse::<EtcdUrl>().unwrap(), u);
        for bad in ["1s", "61s", "2m", "x", "", "5ms"] {
            let url = format!("etcd://h1:2379/t?lease={bad}");
            assert!(url.parse::<EtcdUrl>().is_err(), "{url}");
        }
        assert!("etcd://h1:2379/t?other=1".parse::<EtcdUrl>().is_err());
        assert!("http://h1:2379/x".parse::<EtcdUrl>().is_err());
        assert!("etcd:///x".parse::<EtcdUrl>().is_err());
    }
}
