//! What every request handler can reach.

use std::time::Duration;

use ipnet::IpNet;
use kura_storage::Store;

use crate::access::KeyRegistry;
use crate::credentials::Credentials;

/// How downloads behave while a write of the same key is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadsDuringWrite {
    /// Refuse with 409 OperationAborted (the default policy).
    Reject,
    /// Serve the version that was current before the write began.
    Previous,
}

/// Shared server state.
pub struct AppState {
    /// The storage engine.
    pub store: Store,
    /// Root credentials.
    pub root: Credentials,
    /// Region name reported and expected in signatures.
    pub region: String,
    /// Domain for virtual-host-style addressing.
    pub domain: Option<String>,
    /// `https` when kura terminates TLS, else `http`: the scheme of the URLs
    /// it hands out (public links, multipart Location).
    pub scheme: &'static str,
    /// Largest object a single PUT may store.
    pub max_object_size: u64,
    /// Download policy during writes.
    pub reads_during_write: ReadsDuringWrite,
    /// Run-time access keys.
    pub keys: KeyRegistry,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// CORS rules of buckets without their own (`--cors-allow-origin`).
    pub cors_default: Option<kura_protocol::xml::CorsConfiguration>,
    /// How long a request body may stall before 400 RequestTimeout.
    pub body_idle_timeout: Duration,
    /// The slowest average a request body may arrive at (400 RequestTimeout below it).
    pub min_upload_rate: Option<crate::body::MinRate>,
    /// How long a multipart upload may stay unfinished.
    pub multipart_expiry: std::time::Duration,
    /// Most tags one object may carry (`--max-tags`).
    pub max_tags: usize,
    /// The change log's horizon, updated after every logged commit: long
    /// polls of the change feed wait on it.
    pub changes: tokio::sync::watch::Receiver<u64>,
    /// Prometheus metrics (see `metrics.rs`).
    pub metrics: crate::metrics::Metrics,
    /// Where access records go (log lines, audit file).
    pub access_log: crate::access_log::AccessLog,
    /// The bearer token that may read `/metrics` on the main listener.
    pub metrics_token: Option<String>,
    /// The free-space mark writes are held to (`--min-free-space`).
    pub disk: crate::disk::DiskGuard,
    /// The web console's sessions (`/_kura/console/`).
    pub console: crate::console::Console,
}
