//! Command line: one subcommand per workload, shared connection and load options.

use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{Args, Parser, Subcommand};

/// Load generator for S3 endpoints.
#[derive(Debug, Clone, Parser)]
#[command(name = "kura-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub workload: Workload,
}

/// The workloads.
#[derive(Debug, Clone, Subcommand)]
pub enum Workload {
    /// PUT new objects.
    Put(Common),
    /// GET objects (uploaded first, unless --skip-prepare).
    Get(Common),
    /// A GET/PUT/DELETE mix over a pool of prepared objects.
    Mixed {
        #[command(flatten)]
        common: Common,
        /// Relative weights of GET:PUT:DELETE.
        #[arg(long, default_value = "60:30:10", value_parser = parse_ratio)]
        ratio: Ratio,
    },
    /// ListObjectsV2 pages over prepared objects.
    List {
        #[command(flatten)]
        common: Common,
        /// Keys per page.
        #[arg(long, default_value_t = 1000)]
        max_keys: u32,
    },
    /// Multipart uploads (create, parts, complete); one operation is one whole upload.
    Multipart {
        #[command(flatten)]
        common: Common,
        /// Size of each part but the last (S3's minimum is 5 MiB).
        #[arg(long, default_value = "8MiB", value_parser = parse_size)]
        part_size: u64,
    },
    /// DELETE prepared objects, each once.
    Delete(Common),
    /// kura's indexed search (`GET /{bucket}?search&QUERY`), the first page
    /// each time, over objects already there (use with --skip-prepare).
    Search {
        #[command(flatten)]
        common: Common,
        /// The search conditions, e.g. `tag.dst=0000000000042`.
        #[arg(long)]
        query: String,
        /// Results per page.
        #[arg(long, default_value_t = 1000)]
        max_keys: u32,
    },
}

impl Workload {
    /// The options every workload shares.
    pub fn common(&self) -> &Common {
        match self {
            Workload::Put(c) | Workload::Get(c) | Workload::Delete(c) => c,
            Workload::Mixed { common, .. }
            | Workload::List { common, .. }
            | Workload::Search { common, .. }
            | Workload::Multipart { common, .. } => common,
        }
    }

    /// The workload's name, as reported.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Put(_) => "put",
            Workload::Get(_) => "get",
            Workload::Mixed { .. } => "mixed",
            Workload::List { .. } => "list",
            Workload::Search { .. } => "search",
            Workload::Multipart { .. } => "multipart",
            Workload::Delete(_) => "delete",
        }
    }
}

/// Options shared by all workloads.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// S3 endpoint, e.g. http://127.0.0.1:9000 (requests are path-style).
    #[arg(
        long,
        env = "KURA_BENCH_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,
    /// Access key ID.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: String,
    /// Region used in signatures.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Bucket to work in (created if missing).
    #[arg(long, default_value = "kura-bench")]
    pub bucket: String,
    /// Key prefix of every object the run touches.
    #[arg(long, default_value = "kura-bench/")]
    pub prefix: String,
    /// Object size: 4KiB, 1MiB, 1GiB, or bytes.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub size: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// How long to run (30s, 2m). Ignored when --ops is given.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many operations instead of after --duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Objects to prepare for get/mixed/list/delete (default: get and mixed
    /// one per worker, list 1000, delete 10000).
    #[arg(long)]
    pub objects: Option<u64>,
    /// Assume the objects already exist (from an earlier run, or as static
    /// files of a plain HTTP server) instead of uploading them first.
    #[arg(long)]
    pub skip_prepare: bool,
    /// Leave the objects the run created in place.
    #[arg(long)]
    pub no_cleanup: bool,
    /// Check that every GET returns exactly the bytes that were uploaded.
    #[arg(long)]
    pub verify: bool,
    /// Print the result as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// GET:PUT:DELETE weights of the mixed workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub get: u32,
    pub put: u32,
    pub delete: u32,
}

/// Parses `get:put:delete` weights, e.g. `60:30:10`.
pub fn parse_ratio(s: &str) -> anyhow::Result<Ratio> {
    let parts: Vec<u32> = s
        .split(':')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("ratio {s:?}: {e}"))?;
    let [get, put, delete] = parts[..] else {
        bail!("ratio {s:?}: expected GET:PUT:DELETE, e.g. 60:30:10");
    };
    if get + put + delete == 0 {
        bail!("ratio {s:?}: all weights are zero");
    }
    Ok(Ratio { get, put, delete })
}

/// Parses `4KiB`, `1MiB`, `1GiB`, `10MB`, `512` (bytes).
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().map_err(|_| anyhow!("size {s:?}: no number"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        u => bail!("size {s:?}: unknown unit {u:?}"),
    };
    Ok((num * mult as f64) as u64)
}

/// Parses `30s`, `2m`, `500ms`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| anyhow!("duration {s:?}: no number"))?;
    let secs = match unit {
        "" | "s" => num,
        "ms" => num / 1000.0,
        "m" => num * 60.0,
        "h" => num * 3600.0,
        u => bail!("duration {s:?}: unknown unit {u:?}"),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// `4096` → `4KiB`, for reports.
pub fn format_size(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, unit) in UNITS {
        if n >= unit && n.is_multiple_of(unit) {
            return format!("{}{name}", n / unit);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(parse_size("4XB").is_err());
        assert_eq!(format_size(4096), "4KiB");
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(1000), "1000B");
    }

    #[test]
    fn durations_and_ratios() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_ratio("60:30:10").unwrap(),
            Ratio {
                get: 60,
                put: 30,
                delete: 10
            }
        );
        assert!(parse_ratio("1:2").is_err());
        assert!(parse_ratio("0:0:0").is_err());
    }
}
