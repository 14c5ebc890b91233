//! Start-up, the accept loop, background tasks and shutdown.

use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use kura_storage::{Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::access::ip::PeerAddr;
use crate::access::KeyRegistry;
use crate::config::ServeArgs;
use crate::credentials;
use crate::send_timeout::SendTimeout;
use crate::service::handle;
use crate::state::AppState;

/// How often access keys' last-used times are written.
const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// How often a front end sharing its metadata engine checks whether the
/// access keys changed elsewhere: a key revoked on one front end is refused
/// by the others within this (plus one etcd read).
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How long in-flight requests get to finish on shutdown.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Runs `kura serve` until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Everything kura creates is for its own user only. RocksDB creates its
    // files 0666 less the umask, at any time (flushes, compactions, new
    // WALs), so only a umask covers them all; set before any thread exists.
    // What exists already is chmod'ed at every start (the store does its
    // files, `credentials` the root credential file).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.data_dir)
        .with_context(|| format!("creating data directory {}", args.data_dir.display()))?;
    let (root, generated) = credentials::load_or_create(
        &args.data_dir,
        std::env::var("KURA_ACCESS_KEY_ID").ok(),
        std::env::var("KURA_SECRET_ACCESS_KEY").ok(),
    )?;
    if generated {
        println!("Generated root credentials (stored in the data directory, shown only now):");
        println!("  KURA_ACCESS_KEY_ID={}", root.access_key_id);
        println!("  KURA_SECRET_ACCESS_KEY={}", root.secret.expose());
    }
    let blobs = crate::blobs::open(
        &args.data_dir,
        args.blobs.as_deref(),
        &args.blob_credentials(),
    )?;
    let store = Store::open_on(
        StoreConfig {
            data_dir: args.data_dir.clone(),
            chunk_size: args.chunk_size,
            inline_threshold: args.inline_threshold as usize,
            retention: args.retention,
        },
        args.store_tuning(),
        &args.meta,
        blobs,
        Some(crate::blobs::opener()),
    )
    .context("opening the store")?;
    if let Some(secs) = args.lifecycle_day_secs {
        tracing::warn!(
            secs,
            "test-only lifecycle time scale: one lifecycle day lasts {secs}s"
        );
        store.set_lifecycle_day(Duration::from_secs(secs));
    }
    let keys = KeyRegistry::load(&store).context("loading access keys")?;
    let changes = crate::handlers::changes::wake_on_commit(&store);
    let state = Arc::new(AppState {
        store,
        root,
        region: args.region.clone(),
        domain: args.domain.clone(),
        scheme: if args.tls_cert.is_some() {
            "https"
        } else {
            "http"
        },
        max_object_size: args.max_object_size,
        reads_during_write: args.reads_during_write,
        keys,
        trusted_proxies: args.trusted_proxies.clone(),
        cors_default: crate::cors::default_rules(&args.cors_allow_origins),
        body_idle_timeout: args.body_idle_timeout,
        min_upload_rate: args.min_upload_rate.0,
        multipart_expiry: args.multipart_expiry,
        max_tags: usize::from(args.max_tags),
        changes,
        metrics: crate::metrics::Metrics::new(),
        access_log: crate::access_log::AccessLog {
            audit: match &args.audit_log {
                Some(path) => Some(crate::audit::AuditSink::start(
                    path.clone(),
                    args.audit_log_max_size,
                )?),
                None => None,
            },
        },
        metrics_token: args.metrics_token.clone(),
        disk: crate::disk::DiskGuard::new(args.data_dir.clone(), args.min_free_space),
        console: crate::console::Console::new(
            args.console_idle_timeout,
            args.console_session_lifetime,
            args.audit_log.clone(),
        ),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, state))
}

async fn serve(args: ServeArgs, state: Arc<AppState>) -> anyhow::Result<()> {
    let (tls, reloadable) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let (acceptor, cert) = crate::tls::acceptor(cert, key)?;
            (Some(acceptor), Some(cert))
        }
        _ => (None, None),
    };
    // Always taken: SIGHUP's default action would end the process.
    tokio::spawn(reload_on_sighup(Arc::clone(&state), reloadable));
    if let Some(addr) = args.metrics_listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics address {addr}"))?;
        println!("kura metrics on http://{}", listener.local_addr()?);
        tokio::spawn(serve_metrics(listener, Arc::clone(&state)));
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let scheme = state.scheme;
    // Tests and scripts wait for this line (and read the port from it when listening on :0).
    println!("kura listening on {scheme}://{addr}");
    tracing::info!(%addr, data_dir = %args.data_dir.display(), "kura started");

    tokio::spawn(purge_loop(Arc::clone(&state)));
    crate::webhooks::start_all(&state);
    tokio::spawn(usage_flush_loop(Arc::clone(&state)));
    if state.store.is_shared() {
        tokio::spawn(key_refresh_loop(Arc::clone(&state)));
    }

    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(args.header_read_timeout)
        // hyper's read buffer bounds the request head: 431 beyond it.
        .max_buf_size((args.max_header_size as usize).max(8192));
    let connections = Arc::new(Semaphore::new(args.max_connections.max(1)));
    let send_timeout = Some(args.send_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        // At the cap, stop accepting: further clients wait in the listen backlog.
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => p.expect("semaphore never closed"),
            _ = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Without TCP_NODELAY small responses wait ~40 ms on Nagle + delayed ACK.
                let _ = stream.set_nodelay(true);
                let permit = (permit, ConnectionGauge::open(&state));
                let state = Arc::clone(&state);
                let service = service_fn(move |mut req| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    handle(Arc::clone(&state), req)
                });
                match &tls {
                    None => {
                        let (io, handle) = crate::conn_io::track(stream);
                        let io = SendTimeout::new(io, send_timeout);
                        let conn = graceful.watch(http.serve_connection(TokioIo::new(io), service));
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                if e.is_timeout() {
                                    handle.answer_header_timeout();
                                }
                                tracing::debug!(%peer, error = %e, "connection ended with an error");
                            }
                            drop(handle);
                            drop(permit);
                        });
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let http = http.clone();
                        let handshake_timeout = args.header_read_timeout;
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let tls_stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(SendTimeout::new(stream, send_timeout))).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                            let conn = watcher.watch(http.serve_connection(TokioIo::new(tls_stream), service));
                            if let Err(e) = conn.await {
                                tracing::debug!(%peer, error = %e, "connection ended with an error");
                            }
                            drop(permit);
                        });
                    }
                }
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_DEADLINE) => tracing::warn!("drain deadline passed; closing connections"),
    }
    if let Err(e) = state.keys.flush(&state.store) {
        tracing::warn!(error = %e, "could not record key usage at shutdown");
    }
    if let Some(audit) = &state.access_log.audit {
        let audit_flushed = tokio::task::block_in_place(|| audit.flush(DRAIN_DEADLINE));
        if !audit_flushed {
            tracing::warn!("the audit log could not be flushed at shutdown");
        }
    }
    Ok(())
}

/// Counts an open connection in `kura_open_connections` while it lives.
struct ConnectionGauge(Arc<AppState>);

impl ConnectionGauge {
    fn open(state: &Arc<AppState>) -> ConnectionGauge {
        state.metrics.connections.inc();
        ConnectionGauge(Arc::clone(state))
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.0.metrics.connections.dec();
    }
}

/// Reloads the TLS certificate and key at every SIGHUP (without TLS, logs it and goes on). A pair that does
/// not load leaves the one in service, and the log says why.
async fn reload_on_sighup(state: Arc<AppState>, cert: Option<Arc<crate::tls::ReloadableCert>>) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP: TLS reload disabled");
            return;
        }
    };
    while hup.recv().await.is_some() {
        let Some(cert) = &cert else {
            tracing::info!("SIGHUP: no TLS certificate to reload");
            continue;
        };
        let c = Arc::clone(cert);
        let result = tokio::task::spawn_blocking(move || c.reload())
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("reload task failed: {e}")));
        match result {
            Ok(()) => {
                state.metrics.tls_reload(true);
                tracing::info!("TLS certificate reloaded");
            }
            Err(e) => {
                state.metrics.tls_reload(false);
                tracing::error!(error = %format!("{e:#}"), "TLS certificate reload failed; keeping the current certificate");
            }
        }
    }
}

/// `--metrics-listen`: `/metrics` and `/health/*` without authentication,
/// nothing else (404). Plain HTTP: meant for a private network.
async fn serve_metrics(listener: TcpListener, state: Arc<AppState>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = Arc::clone(&state);
        let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let state = Arc::clone(&state);
            async move {
                let (parts, _) = req.into_parts();
                let resp = match crate::operator_endpoints::route(&state, &parts) {
                    Some(ep) => crate::operator_endpoints::serve(&state, &parts, ep, true)
                        .await
                        .unwrap_or_else(|e| {
                            crate::response::error(&e, parts.uri.path(), "", false)
                        }),
                    None => crate::response::empty(http::StatusCode::NOT_FOUND),
                };
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "metrics connection ended with an error");
            }
        });
    }
}

/// Reloads the access keys when another front end changed them (shared
/// metadata engines only; on the embedded one every change goes through
/// this process and is applied at once).
async fn key_refresh_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(KEY_REFRESH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let st = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || st.keys.refresh(&st.store)).await {
            Ok(Ok(true)) => tracing::debug!("access keys changed elsewhere: reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "checking the access keys failed; will retry"),
            Err(e) => tracing::error!(error = %e, "access key refresh task panicked"),
        }
    }
}

/// Writes the access keys' last-used times every few seconds, in one unsynced batch.
async fn usage_flush_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(USAGE_FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let st = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || st.keys.flush(&st.store)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "recording key usage failed; will retry"),
            Err(e) => tracing::error!(error = %e, "key usage task panicked"),
        }
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Purges versions whose retention ended, applies lifecycle expiry, and
/// discards multipart uploads past their deadline, once a second (on the
/// one front end holding the purger role when several share an engine).
async fn purge_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Front ends sharing a metadata engine take turns: one runs these.
        let store = state.store.clone();
        if !matches!(
            tokio::task::spawn_blocking(move || store.is_purger()).await,
            Ok(true)
        ) {
            continue;
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.purge_due()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(purged = n, "purged expired versions"),
            Ok(Err(e)) => tracing::error!(error = %e, "purge failed; will retry"),
            Err(e) => tracing::error!(error = %e, "purge task panicked"),
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.trim_changes()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(trimmed = n, "trimmed the change log"),
            Ok(Err(e)) => tracing::error!(error = %e, "change log trim failed; will retry"),
            Err(e) => tracing::error!(error = %e, "change log trim task panicked"),
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.run_lifecycle()).await {
            Ok(Ok(p)) if p == kura_storage::LifecyclePass::default() => {}
            Ok(Ok(p)) => tracing::info!(
                enqueued = p.enqueued,
                expired = p.expired,
                "lifecycle rules applied"
            ),
            Ok(Err(e)) => tracing::error!(error = %e, "lifecycle expiry failed; will retry"),
            Err(e) => tracing::error!(error = %e, "lifecycle task panicked"),
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.expire_uploads()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(expired = n, "discarded expired multipart uploads"),
            Ok(Err(e)) => tracing::error!(error = %e, "upload expiry failed; will retry"),
            Err(e) => tracing::error!(error = %e, "upload expiry task panicked"),
        }
    }
}
