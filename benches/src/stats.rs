//! Latency histograms, throughput and errors, and the report built from them.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::format_size;

/// What one worker measured for one kind of operation.
#[derive(Clone)]
pub struct Recorder {
    /// Latency of successful operations, in microseconds.
    hist: Histogram<u64>,
    ops: u64,
    bytes: u64,
    errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            // 1 µs to 1 hour at 3 significant digits.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds"),
            ops: 0,
            bytes: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Recorder {
    /// A successful operation that moved `bytes` of object data.
    pub fn ok(&mut self, latency: Duration, bytes: u64) {
        self.hist
            .saturating_record(latency.as_micros().max(1) as u64);
        self.ops += 1;
        self.bytes += bytes;
    }

    /// A failed operation.
    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    /// Adds another worker's measurements.
    pub fn merge(&mut self, other: &Recorder) {
        self.hist.add(&other.hist).expect("same histogram bounds");
        self.ops += other.ops;
        self.bytes += other.bytes;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
    }

    /// Figures over `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let ms = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        Summary {
            ops: self.ops,
            bytes: self.bytes,
            ops_per_sec: self.ops as f64 / secs,
            mib_per_sec: self.bytes as f64 / secs / (1 << 20) as f64,
            latency_ms: Latency {
                mean: if self.ops == 0 {
                    0.0
                } else {
                    self.hist.mean() / 1000.0
                },
                p50: ms(0.50),
                p90: ms(0.90),
                p99: ms(0.99),
                max: self.hist.max() as f64 / 1000.0,
            },
            error_count: self.errors.values().sum(),
            errors: self.errors.clone(),
        }
    }
}

/// Throughput, latency and errors of one kind of operation (or all).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Successful operations.
    pub ops: u64,
    /// Object bytes moved by successful operations.
    pub bytes: u64,
    pub ops_per_sec: f64,
    pub mib_per_sec: f64,
    pub latency_ms: Latency,
    /// Failed operations.
    pub error_count: u64,
    /// Failed operations by S3 error code (or `HTTP <status>`, `ConnectError`...).
    pub errors: BTreeMap<String, u64>,
}

/// Latency of successful operations, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub workload: String,
    pub endpoint: String,
    pub bucket: String,
    /// Object size in bytes.
    pub size: u64,
    pub concurrency: usize,
    /// Seconds the measured phase lasted (preparation and cleanup excluded).
    pub elapsed_s: f64,
    /// All operations together.
    #[serde(flatten)]
    pub total: Summary,
    /// Per operation kind (`get`, `put`, `delete`, `list`, `multipart`).
    pub by_op: BTreeMap<String, Summary>,
    /// Whether GET bodies were checked against the uploaded bytes.
    pub verified: bool,
}

impl Report {
    /// The human-readable form.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} {} x{} against {} for {:.1}s\n",
            self.workload,
            format_size(self.size),
            self.concurrency,
            self.endpoint,
            self.elapsed_s
        );
        let mut line = |name: &str, s: &Summary| {
            out.push_str(&format!(
                "  {name:<9} {:>9} ops {:>10.1} ops/s {:>9.1} MiB/s  latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}\n",
                s.ops, s.ops_per_sec, s.mib_per_sec, s.latency_ms.p50, s.latency_ms.p90, s.latency_ms.p99, s.latency_ms.max
            ));
            if s.error_count > 0 {
                let list: Vec<String> = s.errors.iter().map(|(c, n)| format!("{c}: {n}")).collect();
                out.push_str(&format!(
                    "            errors {} ({})\n",
                    s.error_count,
                    list.join(", ")
                ));
            }
        };
        if self.by_op.len() > 1 {
            for (name, s) in &self.by_op {
                line(name, s);
            }
        }
        line("total", &self.total);
        if self.verified {
            out.push_str("  GET bodies verified against the uploaded bytes\n");
        }
        out
    }
}
