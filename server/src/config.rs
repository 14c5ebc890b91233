//! Command-line configuration of `kura serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::body::MinRate;

/// Options of `kura serve`. Every option can also be set from the
/// environment (`KURA_<NAME>`) and the config file (`--config`), with
/// precedence flag > environment > file > default (see `config_layers.rs`:
/// a new field needs nothing more than its `#[arg]`).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML config file whose keys are these options' long names
    /// (`data-dir = "/var/lib/kura"`); unknown keys are errors.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "KURA_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Data directory (metadata and chunk files).
    #[arg(long, env = "KURA_DATA_DIR", default_value = "./kura-data")]
    pub data_dir: PathBuf,
    /// Metadata engine: `embedded` (RocksDB in the data directory) or an etcd
    /// cluster, `etcd://host:2379[,host:2379...]/prefix[?compaction=5m&lease=5s]`
    /// (every key kura writes starts with `prefix/`; chunk bytes go where
    /// `--blobs` says). kura compacts etcd's history older than
    /// `compaction` (default 5m; `off` leaves it to etcd's own flags);
    /// `lease` (2s-60s) is how long a dead front end's locks outlive it.
    #[arg(long, default_value = "embedded")]
    pub meta: kura_storage::MetaUrl,
    /// Where chunk bytes go: local files under the data directory (default),
    /// `s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]` (any S3-compatible
    /// endpoint), or `rados://POOL?conf=/etc/ceph/ceph.conf[&namespace=NS]`
    /// (Ceph RADOS; `&op_timeout=60s` by default: a RADOS operation that
    /// waits longer fails its request with 503, `0` waits for ever); one
    /// object per chunk. A data directory keeps the backend it was first
    /// started on.
    #[arg(long, env = "KURA_BLOBS", value_name = "URL")]
    pub blobs: Option<String>,
    /// Access key id for an `s3://` `--blobs` endpoint.
    #[arg(long, env = "KURA_BLOBS_ACCESS_KEY_ID", hide_env_values = true)]
    pub blobs_access_key_id: Option<String>,
    /// Its secret (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "KURA_BLOBS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub blobs_secret_access_key: Option<String>,
    /// Region the `--blobs` endpoint expects in signatures.
    #[arg(long, env = "KURA_BLOBS_REGION", default_value = "us-east-1")]
    pub blobs_region: String,
    /// Domain for virtual-host-style requests (`<bucket>.<domain>`).
    #[arg(long, env = "KURA_DOMAIN")]
    pub domain: Option<String>,
    /// Region reported to clients and expected in signatures.
    #[arg(long, env = "KURA_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Maximum size of one chunk file, e.g. `8MiB`.
    #[arg(long, env = "KURA_CHUNK_SIZE", default_value = "8MiB", value_parser = parse_size)]
    pub chunk_size: u64,
    /// Objects up to this size are kept inside the metadata store.
    #[arg(long, env = "KURA_INLINE_THRESHOLD", default_value = "4KiB", value_parser = parse_size)]
    pub inline_threshold: u64,
    /// How long deleted and replaced versions stay recoverable, e.g. `24h`, `7d`, `5s`.
    #[arg(long, env = "KURA_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub retention: Duration,
    /// Largest object accepted by a single PUT.
    #[arg(long, env = "KURA_MAX_OBJECT_SIZE", default_value = "5GiB", value_parser = parse_size)]
    pub max_object_size: u64,
    /// Downloads of a key while it is being written: `reject` (409) or `previous` (serve the prior version).
    #[arg(
        long,
        env = "KURA_READS_DURING_WRITE",
        value_enum,
        default_value = "reject"
    )]
    pub reads_during_write: crate::state::ReadsDuringWrite,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` header is believed.
    #[arg(long = "trusted-proxy", env = "KURA_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::access::ip::parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Browser origins allowed on every bucket that has no CORS rules of its
    /// own (e.g. the origin of a web application served elsewhere).
    #[arg(
        long = "cors-allow-origin",
        env = "KURA_CORS_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_allow_origins: Vec<String>,
    /// Largest request head (request line and headers) accepted; 431 beyond.
    #[arg(long, env = "KURA_MAX_HEADER_SIZE", default_value = "64KiB", value_parser = parse_size)]
    pub max_header_size: u64,
    /// Time a client has to send its request headers; the connection is closed after it.
    #[arg(long, env = "KURA_HEADER_READ_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// Time a request body may stall before 400 RequestTimeout and the connection is closed.
    #[arg(long, env = "KURA_BODY_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_idle_timeout: Duration,
    /// Time a response may wait for its client to accept any bytes before the
    /// connection is closed (a download that stops being read ends); `0s` turns it off.
    #[arg(long, env = "KURA_SEND_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub send_timeout: Duration,
    /// Slowest average a request body may arrive at, as `SIZE/DURATION`, measured
    /// from DURATION after the body began (400 RequestTimeout below it); `off` turns it off.
    #[arg(long, env = "KURA_MIN_UPLOAD_RATE", default_value = "5MiB/1m", value_parser = parse_rate)]
    pub min_upload_rate: MinUploadRate,
    /// Open connections served at once; further clients wait to be accepted.
    #[arg(long, env = "KURA_MAX_CONNECTIONS", default_value = "1024")]
    pub max_connections: usize,
    /// PEM certificate chain: serve HTTPS (with `--tls-key`).
    #[arg(long, env = "KURA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "KURA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// How long a multipart upload may stay unfinished before it is discarded, e.g. `24h`, `7d`.
    #[arg(long, env = "KURA_MULTIPART_EXPIRY", default_value = "24h", value_parser = parse_duration)]
    pub multipart_expiry: Duration,
    /// Most tags one object may carry: S3's 10 by default, up to 50 for
    /// exchanges that search on more keys (bucket tags stay at 50).
    #[arg(long, default_value = "10", value_parser = clap::value_parser!(u16).range(1..=50))]
    pub max_tags: u16,
    /// TEST ONLY: the length of a lifecycle "day" in seconds, so that a
    /// `Days: 1` lifecycle rule acts after one second. Hidden from `--help`;
    /// never set it on a server holding real data.
    #[arg(long, env = "KURA_LIFECYCLE_DAY_SECS", hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_day_secs: Option<u64>,
    /// Also serve `/metrics` and `/health/*` on this address, without authentication
    /// (on the main listener `/metrics` needs `--metrics-token` or a `*:admin` key).
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token that may read `/metrics` on the main listener (`Authorization: Bearer TOKEN`).
    #[arg(long, hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Log format of stderr: `human` or `json` (one JSON object per line, for log shippers).
    #[arg(long, value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// Write every request's access record as a JSON line to this file (appended,
    /// fsync'd in batches, rotated by size into `FILE.<UTC time>`).
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// Size at which the audit log is rotated, e.g. `100MiB`.
    #[arg(long, default_value = "100MiB", value_parser = parse_size)]
    pub audit_log_max_size: u64,
    /// Free space the data directory's file system keeps: writes that would
    /// go below it answer 507 InsufficientStorage (reads, deletes and
    /// listings go on). A size (`1GiB`), a share (`2%`), `off`, or `auto`:
    /// 1 GiB or 2% of the file system, whichever is smaller.
    #[arg(long, default_value = "auto", value_parser = crate::disk::parse_min_free_space)]
    pub min_free_space: crate::disk::MinFreeSpace,
    /// How long a web console session lasts without use before its user must sign in again.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub console_idle_timeout: Duration,
    /// How long a web console session lasts at most after sign-in, however busy.
    #[arg(long, default_value = "12h", value_parser = parse_duration)]
    pub console_session_lifetime: Duration,
    /// RocksDB block cache, shared by all column families (index and filter blocks included).
    #[arg(long, default_value = "32MiB", value_parser = parse_size)]
    pub rocksdb_block_cache: u64,
    /// RocksDB memtable size of one column family.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    pub rocksdb_write_buffer_size: u64,
    /// RocksDB memtables of all column families together; the largest is flushed beyond it.
    #[arg(long, default_value = "48MiB", value_parser = parse_size)]
    pub rocksdb_total_write_buffers: u64,
}

impl ServeArgs {
    /// Credentials and region of a remote `--blobs` backend.
    pub fn blob_credentials(&self) -> crate::blobs::BlobCredentials {
        crate::blobs::BlobCredentials {
            access_key_id: self.blobs_access_key_id.clone(),
            secret_access_key: self.blobs_secret_access_key.clone(),
            region: self.blobs_region.clone(),
        }
    }

    /// RocksDB's memory bounds from the `--rocksdb-*` options.
    pub fn store_tuning(&self) -> kura_storage::StoreTuning {
        kura_storage::StoreTuning {
            block_cache: self.rocksdb_block_cache as usize,
            write_buffer_size: self.rocksdb_write_buffer_size as usize,
            max_write_buffers: 2,
            total_write_buffers: self.rocksdb_total_write_buffers as usize,
        }
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// `--min-upload-rate`: a minimum, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinUploadRate(pub Option<MinRate>);

/// Parses `SIZE/DURATION` (e.g. `5MiB/1m`), or `off` / `0` for no minimum.
pub fn parse_rate(s: &str) -> Result<MinUploadRate, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") || s == "0" {
        return Ok(MinUploadRate(None));
    }
    let (size, per) = s
        .split_once('/')
        .ok_or_else(|| format!("invalid rate {s:?}: use SIZE/DURATION, e.g. 5MiB/1m, or off"))?;
    let per = parse_duration(per)?;
    if per.is_zero() {
        return Err(format!("invalid rate {s:?}: the period must not be zero"));
    }
    Ok(MinUploadRate(Some(MinRate {
        bytes: parse_size(size)?,
        per,
    })))
}

/// Parses sizes like `4096`, `64KiB`, `8MiB`, `5GiB` (also `KB`/`MB`/`GB`, `K`/`M`/`G`, all binary).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size: {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("invalid size unit in {s:?}")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("size out of range: {s:?}"))
}

/// Parses durations like `30s`, `15m`, `24h`, `7d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration: {s:?}"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid duration unit in {s:?} (use s, m, h or d)")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("duration out of range: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("5GiB"), Ok(5 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
    }

    #[test]
    fn rates() {
        let default = parse_rate("5MiB/1m").unwrap().0.unwrap();
        assert_eq!(default.bytes, 5 << 20);
        assert_eq!(default.per, Duration::from_secs(60));
        assert_eq!(parse_rate("off"), Ok(MinUploadRate(None)));
        assert_eq!(parse_rate("0"), Ok(MinUploadRate(None)));
        assert!(parse_rate("5MiB").is_err());
        assert!(parse_rate("5MiB/0s").is_err());
        assert!(parse_rate("0/1m").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("1w").is_err());
    }
}
