//! Prometheus metrics: what kura records per request (cheap, lock-light)
//! and what it reads at scrape time (RocksDB's figures, the purge queue,
//! webhook lag, disk space).
//!
//! The request path never builds a label set out of strings: every
//! operation's latency histogram and byte counters are resolved once at
//! start-up ([`OpMetrics`]), and its per-status counters for the usual
//! statuses ([`COMMON_STATUSES`]) once at their first use, so recording a
//! request takes no lock on a label map and hashes nothing (other statuses
//! go through the family's map, keyed by a `(&'static str, u16)` pair).
//!
//! What recording costs GET 4 KiB ×64 is measured by A/B against a build
//! with it compiled out (`--features bench-no-metrics`, see the README's
//! Performance section); that feature is for that measurement only.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use kura_protocol::router::Operation;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::state::AppState;

/// Pseudo-operations: requests that are not S3 operations of the table.
pub const EXTRA_OPS: &[&str] = &[
    "Admin",
    "GetPublicObject",
    "Unknown",
    "Metrics",
    "HealthLive",
    "HealthReady",
];

/// Whether requests are recorded: always, except in the build that
/// measures what recording costs (`--features bench-no-metrics`).
const RECORDING: bool = !cfg!(feature = "bench-no-metrics");

/// How many due purge entries a scrape counts at most.
const PURGE_COUNT_CAP: u64 = 100_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    op: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabel {
    bucket: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    bucket: String,
    webhook: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

type LatencyFamily = Family<OpLabel, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to ~16 s, doubling (then +Inf).
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The statuses whose counters each operation keeps resolved.
pub const COMMON_STATUSES: [u16; 14] = [
    200, 204, 206, 304, 400, 403, 404, 405, 409, 412, 416, 500, 503, 507,
];

/// One operation's series, resolved once.
#[derive(Clone)]
pub struct OpMetrics {
    name: &'static str,
    duration: Histogram,
    bytes_in: Counter,
    bytes_out: Counter,
    /// `kura_requests_total{op, status}` for [`COMMON_STATUSES`], filled in
    /// at first use (a series appears once a request had that status).
    statuses: [OnceLock<Counter>; COMMON_STATUSES.len()],
}

impl OpMetrics {
    /// Counts one request of this operation answered with `status`.
    fn count(&self, family: &Family<RequestLabels, Counter>, status: u16) {
        let labels = || RequestLabels {
            op: self.name,
            status,
        };
        match COMMON_STATUSES.iter().position(|s| *s == status) {
            Some(i) => self.statuses[i]
                .get_or_init(|| family.get_or_create(&labels()).clone())
                .inc(),
            None => family.get_or_create(&labels()).inc(),
        };
    }
}

/// Every metric kura exports.
pub struct Metrics {
    registry: Registry,
    ops: HashMap<&'static str, OpMetrics>,
    unknown: OpMetrics,
    requests: Family<RequestLabels, Counter>,
    /// Requests being served (from the head's arrival to the last body byte sent).
    pub in_flight: Gauge,
    /// Open client connections.
    pub connections: Gauge,
    /// Requests refused with 409 because another write held the key's lock.
    pub lock_conflicts: Counter,
    /// Audit records lost because the audit writer fell behind (see `audit.rs`).
    pub audit_dropped: Counter,
    /// Certificate reloads by outcome.
    tls_reloads: Family<OutcomeLabel, Counter>,
    bucket_objects: Family<BucketLabel, Gauge>,
    bucket_bytes: Family<BucketLabel, Gauge>,
    bucket_trash_bytes: Family<BucketLabel, Gauge>,
    buckets: Gauge,
    purge_due: Gauge,
    purge_queued: Gauge,
    lifecycle_backlog: Gauge,
    webhook_lag: Family<WebhookLabels, Gauge>,
    disk_free: Gauge,
    disk_total: Gauge,
    rocksdb_memtable: Gauge,
    rocksdb_block_cache: Gauge,
    rocksdb_pending_compaction: Gauge,
    rocksdb_running_compactions: Gauge,
    rocksdb_write_stopped: Gauge,
    rocksdb_delayed_write_rate: Gauge,
    rocksdb_estimated_keys: Gauge,
    rocksdb_live_sst: Gauge,
}

/// Per-bucket usage for the `kura_bucket_*` gauges: (bucket, objects,
/// bytes, trash bytes), from the usage counters kept in the metadata store.
pub type BucketUsage = (String, u64, u64, u64);

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kura");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by operation and HTTP status",
            requests.clone(),
        );
        let duration = LatencyFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "request_duration",
            "Time from the request head to the last response byte, by operation",
            Unit::Seconds,
            duration.clone(),
        );
        let bytes_in = Family::<OpLabel, Counter>::default();
        registry.register_with_unit(
            "request_body",
            "Request payload bytes received, by operation",
            Unit::Bytes,
            bytes_in.clone(),
        );
        let bytes_out = Family::<OpLabel, Counter>::default();
        registry.register_with_unit(
            "response_body",
            "Response body bytes sent, by operation",
            Unit::Bytes,
            bytes_out.clone(),
        );
        let resolve = |name: &'static str| OpMetrics {
            name,
            duration: duration.get_or_create(&OpLabel { op: name }).clone(),
            bytes_in: bytes_in.get_or_create(&OpLabel { op: name }).clone(),
            bytes_out: bytes_out.get_or_create(&OpLabel { op: name }).clone(),
            statuses: Default::default(),
        };
        let ops: HashMap<_, _> = Operation::NAMES
            .iter()
            .chain(EXTRA_OPS)
            .chain(crate::links::OPS)
            .map(|n| (*n, resolve(n)))
            .collect();
        let unknown = ops["Unknown"].clone();

        let gauge = |registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>| {
            let g = Gauge::default();
            match unit {
                Some(u) => registry.register_with_unit(name, help, u, g.clone()),
                None => registry.register(name, help, g.clone()),
            }
            g
        };
        let in_flight = gauge(
            &mut registry,
            "in_flight_requests",
            "Requests being served",
            None,
        );
        let connections = gauge(
            &mut registry,
            "open_connections",
            "Open client connections",
            None,
        );
        let lock_conflicts = Counter::default();
        registry.register(
            "lock_conflicts",
            "Requests refused with 409 OperationAborted: another write held the key",
            lock_conflicts.clone(),
        );
        let audit_dropped = Counter::default();
        registry.register(
            "audit_dropped",
            "Audit records not written because the audit writer fell behind",
            audit_dropped.clone(),
        );
        let tls_reloads = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "tls_reloads",
            "TLS certificate reloads by outcome (ok, failed)",
            tls_reloads.clone(),
        );
        let per_bucket = |registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>| {
            let f = Family::<BucketLabel, Gauge>::default();
            match unit {
                Some(u) => registry.register_with_unit(name, help, u, f.clone()),
                None => registry.register(name, help, f.clone()),
            }
            f
        };
        let bucket_objects = per_bucket(
            &mut registry,
            "bucket_objects",
            "Objects stored per bucket (current versions)",
            None,
        );
        let bucket_bytes = per_bucket(
            &mut registry,
            "bucket_stored",
            "Bytes stored per bucket",
            Some(Unit::Bytes),
        );
        let bucket_trash_bytes = per_bucket(
            &mut registry,
            "bucket_trash",
            "Bytes of deleted and replaced versions kept for retention, per bucket",
            Some(Unit::Bytes),
        );
        let buckets = gauge(&mut registry, "buckets", "Buckets", None);
        let purge_due = gauge(
            &mut registry,
            "purge_due",
            "Versions whose retention ended, waiting for the purge task (counted up to 100000)",
            None,
        );
        let purge_queued = gauge(
            &mut registry,
            "purge_queued",
            "Versions in the purge queue, due or not (RocksDB estimate)",
            None,
        );
        let lifecycle_backlog = gauge(
            &mut registry,
            "lifecycle_backlog",
            "Objects a lifecycle rule made due and not yet expired (0 until lifecycle rules exist)",
            None,
        );
        let webhook_lag = Family::<WebhookLabels, Gauge>::default();
        registry.register_with_unit(
            "webhook_lag",
            "Age of the oldest change not yet delivered to a webhook",
            Unit::Seconds,
            webhook_lag.clone(),
        );
        let disk_free = gauge(
            &mut registry,
            "data_dir_free",
            "Free space on the data directory's file system (for unprivileged users)",
            Some(Unit::Bytes),
        );
        let disk_total = gauge(
            &mut registry,
            "data_dir_size",
            "Size of the data directory's file system",
            Some(Unit::Bytes),
        );
        let rocks = registry.sub_registry_with_prefix("rocksdb");
        let rocksdb_memtable = gauge(
            rocks,
            "memtable",
            "Bytes in RocksDB memtables (rocksdb.cur-size-all-mem-tables, all families)",
            Some(Unit::Bytes),
        );
        let rocksdb_block_cache = gauge(
            rocks,
            "block_cache_usage",
            "Bytes in RocksDB's block cache (rocksdb.block-cache-usage)",
            Some(Unit::Bytes),
        );
        let rocksdb_pending_compaction = gauge(
            rocks,
            "pending_compaction",
            "Bytes RocksDB compaction still has to rewrite (rocksdb.estimate-pending-compaction-bytes)",
            Some(Unit::Bytes),
        );
        let rocksdb_running_compactions = gauge(
            rocks,
            "running_compactions",
            "Compactions running (rocksdb.num-running-compactions)",
            None,
        );
        let rocksdb_write_stopped = gauge(
            rocks,
            "write_stopped",
            "1 while RocksDB stops writes (rocksdb.is-write-stopped)",
            None,
        );
        let rocksdb_delayed_write_rate = gauge(
            rocks,
            "delayed_write_rate",
            "Bytes per second RocksDB slows writes to, 0 when not stalling (rocksdb.actual-delayed-write-rate)",
            None,
        );
        let rocksdb_estimated_keys = gauge(
            rocks,
            "estimated_keys",
            "Estimated keys in all column families (rocksdb.estimate-num-keys)",
            None,
        );
        let rocksdb_live_sst = gauge(
            rocks,
            "live_sst",
            "Bytes of live SST files (rocksdb.live-sst-files-size)",
            Some(Unit::Bytes),
        );
        Metrics {
            registry,
            ops,
            unknown,
            requests,
            in_flight,
            connections,
            lock_conflicts,
            audit_dropped,
            tls_reloads,
            bucket_objects,
            bucket_bytes,
            bucket_trash_bytes,
            buckets,
            purge_due,
            purge_queued,
            lifecycle_backlog,
            webhook_lag,
            disk_free,
            disk_total,
            rocksdb_memtable,
            rocksdb_block_cache,
            rocksdb_pending_compaction,
            rocksdb_running_compactions,
            rocksdb_write_stopped,
            rocksdb_delayed_write_rate,
            rocksdb_estimated_keys,
            rocksdb_live_sst,
        }
    }

    /// The pre-resolved series of an operation (by its `&'static` name).
    pub fn op(&self, name: &'static str) -> &OpMetrics {
        self.ops.get(name).unwrap_or(&self.unknown)
    }

    /// Counts a request whose head arrived (see [`Metrics::record`]).
    pub fn request_started(&self) {
        if RECORDING {
            self.in_flight.inc();
        }
    }

    /// Records one finished request.
    pub fn record(&self, op: &OpMetrics, status: u16, seconds: f64, bytes_in: u64, bytes_out: u64) {
        if !RECORDING {
            return;
        }
        self.in_flight.dec();
        op.count(&self.requests, status);
        op.duration.observe(seconds);
        if bytes_in > 0 {
            op.bytes_in.inc_by(bytes_in);
        }
        if bytes_out > 0 {
            op.bytes_out.inc_by(bytes_out);
        }
    }

    /// Counts a certificate reload.
    pub fn tls_reload(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.tls_reloads
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// Reads the scrape-time figures (blocking: RocksDB and the file
    /// system) and renders every metric in Prometheus text format.
    pub fn render(&self, state: &AppState) -> String {
        self.refresh(state);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn refresh(&self, state: &AppState) {
        let store = &state.store;
        let db = store.db_stats();
        let set = |g: &Gauge, v: u64| {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        set(&self.rocksdb_memtable, db.memtable_bytes);
        set(&self.rocksdb_block_cache, db.block_cache_bytes);
        set(
            &self.rocksdb_pending_compaction,
            db.pending_compaction_bytes,
        );
        set(&self.rocksdb_running_compactions, db.running_compactions);
        set(&self.rocksdb_write_stopped, db.write_stopped);
        set(&self.rocksdb_delayed_write_rate, db.delayed_write_rate);
        set(&self.rocksdb_estimated_keys, db.estimated_keys);
        set(&self.rocksdb_live_sst, db.live_sst_bytes);
        if let Ok(p) = store.purge_backlog(PURGE_COUNT_CAP) {
            set(&self.purge_due, p.due);
            set(&self.purge_queued, p.queued_estimate);
        }
        if let Ok(buckets) = store.list_buckets() {
            set(&self.buckets, buckets.len() as u64);
        }
        // Buckets deleted since the last scrape must not linger.
        self.bucket_objects.clear();
        self.bucket_bytes.clear();
        self.bucket_trash_bytes.clear();
        for (bucket, objects, bytes, trash) in bucket_usage(state) {
            let l = BucketLabel { bucket };
            set(&self.bucket_objects.get_or_create(&l), objects);
            set(&self.bucket_bytes.get_or_create(&l), bytes);
            set(&self.bucket_trash_bytes.get_or_create(&l), trash);
        }
        self.webhook_lag.clear();
        if let Ok(hooks) = store.webhooks() {
            for (bucket, id, row) in hooks {
                let lag = crate::webhooks::lag_seconds(store, &bucket, &id, &row.prefix);
                let l = WebhookLabels {
                    bucket,
                    webhook: id,
                };
                set(&self.webhook_lag.get_or_create(&l), lag);
            }
        }
        if let Some((free, total)) = disk_space(&store.config().data_dir) {
            set(&self.disk_free, free);
            set(&self.disk_total, total);
        }
        // The lifecycle backlog stays 0 until lifecycle rules exist (hook).
        self.lifecycle_backlog.set(0);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Per-bucket usage: the hook for the usage counters kept with every write
/// (issue 13 §4). Until those exist, nothing is scanned: a scan per scrape
/// would cost in proportion to the number of objects.
fn bucket_usage(state: &AppState) -> Vec<BucketUsage> {
    // The counters kept in each write's batch: one read per bucket, no scan.
    match state.store.all_usage() {
        Ok(all) => all
            .into_iter()
            .map(|(bucket, u)| {
                let n = |v: i64| v.max(0) as u64;
                (bucket, n(u.objects), n(u.bytes), n(u.trash_bytes))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "reading usage counters for /metrics");
            Vec::new()
        }
    }
}

/// Free space (for unprivileged users) and size of the file system holding `dir`.
pub fn disk_space(dir: &Path) -> Option<(u64, u64)> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some((
        s.f_bavail.saturating_mul(s.f_frsize),
        s.f_blocks.saturating_mul(s.f_frsize),
    ))
}

/// Request payload bytes, counted by the body reader and read when the
/// request is logged (present only on requests that announce a body).
#[derive(Clone, Default)]
pub struct BytesIn(pub std::sync::Arc<AtomicU64>);

#[cfg(test)]
mod tests {
    use super::*;

    /// What one request's recording costs, printed (`--nocapture`) for the
    /// README's cost note; asserts only that the series move.
    #[test]
    fn recording_a_request_moves_its_series() {
        let m = Metrics::new();
        let n = 200_000u32;
        let t = std::time::Instant::now();
        for _ in 0..n {
            m.request_started();
            m.record(m.op("GetObject"), 200, 0.0004, 0, 4096);
        }
        m.request_started();
        m.record(m.op("GetObject"), 599, 0.0004, 0, 0);
        println!("record: {:?} per request", t.elapsed() / n);
        assert_eq!(m.op("NoSuchOperation").name, "Unknown");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &m.registry).unwrap();
        assert!(text.contains(&format!(
            "kura_requests_total{{op=\"GetObject\",status=\"200\"}} {n}"
        )));
        assert!(text.contains("kura_requests_total{op=\"GetObject\",status=\"599\"} 1"));
        assert!(text.contains("kura_in_flight_requests 0"), "{text}");
        assert!(!text.contains("status=\"404\""), "unused statuses stay out");
        assert!(text.contains(&format!(
            "kura_response_body_bytes_total{{op=\"GetObject\"}} {}",
            u64::from(n) * 4096
        )));
        assert!(text.contains(&format!(
            "kura_request_duration_seconds_count{{op=\"GetObject\"}} {}",
            n + 1
        )));
    }
}
