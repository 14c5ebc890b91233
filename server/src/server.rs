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

use crate::config::ServeArgs;
use crate::credentials;
use crate::service::handle;
use crate::state::AppState;

/// How long a client may take to send request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish on shutdown.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Runs `kura serve` until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
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
    let store = Store::open(StoreConfig {
        data_dir: args.data_dir.clone(),
        chunk_size: args.chunk_size,
        inline_threshold: args.inline_threshold as usize,
        retention: args.retention,
    })
    .context("opening the store")?;
    let state = Arc::new(AppState {
        store,
        root,
        region: args.region.clone(),
        domain: args.domain.clone(),
        max_object_size: args.max_object_size,
        reads_during_write: args.reads_during_write,
        multipart_expiry: args.multipart_expiry,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, state))
}

async fn serve(args: ServeArgs, state: Arc<AppState>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts wait for this line (and read the port from it when listening on :0).
    println!("kura listening on http://{addr}");
    tracing::info!(%addr, data_dir = %args.data_dir.display(), "kura started");

    tokio::spawn(purge_loop(Arc::clone(&state)));

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
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
                let state = Arc::clone(&state);
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| handle(Arc::clone(&state), req)));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
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
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Purges versions whose retention ended and discards multipart uploads
/// past their deadline, once a second.
async fn purge_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.purge_due()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(purged = n, "purged expired versions"),
            Ok(Err(e)) => tracing::error!(error = %e, "purge failed; will retry"),
            Err(e) => tracing::error!(error = %e, "purge task panicked"),
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
