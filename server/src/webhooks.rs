//! Webhook delivery: one task per webhook follows its bucket's change log
//! from the webhook's stored cursor and POSTs each matching entry as JSON,
//! signed with HMAC-SHA256 (`x-kura-signature: sha256=<hex>` over the body),
//! in log order, at least once. A failed POST is retried with exponential
//! backoff (0.1 s doubling to 30 s) until it succeeds; the cursor advances
//! (synced) only after a 2xx, so a restart resumes where delivery stood.
//! All of it runs on its own tasks: a receiver that is down never slows a
//! request.
//!
//! Front ends sharing a metadata engine deliver from one place: only the
//! front end holding the purger role posts (two deliverers would send
//! every entry twice, interleaved out of order, and move one cursor back
//! and forth). A webhook registered on another front end is found by the
//! purger's periodic look at the registered webhooks.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use kura_storage::{ChangeQuery, ChangeRead, StorageError, WebhookRow};
use sha2::Sha256;
use tokio::net::TcpStream;

use crate::state::AppState;

/// Entries read from the log at once.
const PAGE: usize = 100;
/// First retry delay; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a front end sharing the engine looks for webhooks registered
/// on other front ends.
const DISCOVER_EVERY: Duration = Duration::from_secs(2);

/// The webhooks this process runs a delivery task for: (bucket, id).
static RUNNING: std::sync::Mutex<BTreeSet<(String, String)>> =
    std::sync::Mutex::new(BTreeSet::new());

/// Starts delivery for every registered webhook (at server start), and on
/// a shared engine keeps looking for webhooks other front ends register.
pub fn start_all(state: &Arc<AppState>) {
    start_registered(state);
    if state.store.is_shared() {
        let state = Arc::clone(state);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(DISCOVER_EVERY).await;
                let s = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || start_registered(&s)).await;
            }
        });
    }
}

fn start_registered(state: &Arc<AppState>) {
    match state.store.webhooks() {
        Ok(all) => {
            for (bucket, id, _) in all {
                spawn(Arc::clone(state), bucket, id);
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot list webhooks; none delivered"),
    }
}

/// Starts delivery for one webhook (unless this process runs it already);
/// the task ends when it is removed.
pub fn spawn(state: Arc<AppState>, bucket: String, id: String) {
    let running = (bucket.clone(), id.clone());
    if !RUNNING
        .lock()
        .expect("not poisoned")
        .insert(running.clone())
    {
        return;
    }
    tokio::spawn(async move {
        deliver(state, &bucket, &id).await;
        RUNNING.lock().expect("not poisoned").remove(&running);
        tracing::info!(bucket, webhook = id, "webhook removed; delivery stopped");
    });
}

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn storage<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&kura_storage::Store) -> Result<T, StorageError> + Send + 'static,
) -> anyhow::Result<T> {
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
}

async fn deliver(state: Arc<AppState>, bucket: &str, id: &str) {
    let mut commits = state.changes.clone();
    loop {
        commits.borrow_and_update();
        // Only the purger delivers (see the module docs); on the embedded
        // engine this process always is. (No I/O: flags in memory.)
        if !state.store.holds_purger() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        match step(&state, bucket, id).await {
            Ok(Step::Idle) => {
                let _ = tokio::time::timeout(Duration::from_secs(60), commits.changed()).await;
            }
            Ok(Step::Busy) => {}
            Ok(Step::Removed) => return,
            Err(e) => {
                tracing::warn!(bucket, webhook = id, error = %e, "webhook delivery; will retry");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

enum Step {
    /// Nothing left to deliver now.
    Idle,
    /// More may be waiting.
    Busy,
    /// The webhook (or its bucket) is gone.
    Removed,
}

/// Delivers one page of the log.
async fn step(state: &Arc<AppState>, bucket: &str, id: &str) -> anyhow::Result<Step> {
    let (b, i) = (bucket.to_string(), id.to_string());
    let Some(row) = storage(state, move |s| s.webhook(&b, &i)).await? else {
        return Ok(Step::Removed);
    };
    let (b, i) = (bucket.to_string(), id.to_string());
    let cursor = storage(state, move |s| s.webhook_cursor(&b, &i)).await?;
    let query = ChangeQuery {
        after: Some(cursor),
        since_ms: None,
        prefix: row.prefix.clone(),
        max: PAGE,
        ..Default::default()
    };
    let b = bucket.to_string();
    let page = match storage(state, move |s| s.changes(&b, &query)).await {
        Err(e)
            if e.downcast_ref::<StorageError>()
                .is_some_and(|e| matches!(e, StorageError::NoSuchBucket)) =>
        {
            return Ok(Step::Removed)
        }
        Err(e) => return Err(e),
        Ok(ChangeRead::Expired { restart }) => {
            tracing::error!(
                bucket,
                webhook = id,
                "webhook fell behind the change log's retention; entries were lost"
            );
            set_cursor(state, bucket, id, restart).await?;
            return Ok(Step::Busy);
        }
        Ok(ChangeRead::Page(p)) => p,
    };
    for (seq, entry) in page.entries {
        if row.events.is_empty() || row.events.iter().any(|e| e == entry.event.as_str()) {
            let mut value =
                serde_json::to_value(crate::handlers::changes::change(bucket, seq, entry))?;
            value["bucket"] = serde_json::Value::from(bucket);
            let body = serde_json::to_vec(&value)?;
            if !post_until_delivered(state, bucket, id, &row, seq, body).await? {
                return Ok(Step::Removed);
            }
        }
        set_cursor(state, bucket, id, seq).await?;
    }
    if page.next != cursor {
        set_cursor(state, bucket, id, page.next).await?;
    }
    Ok(if page.more { Step::Busy } else { Step::Idle })
}

async fn set_cursor(state: &Arc<AppState>, bucket: &str, id: &str, c: u64) -> anyhow::Result<()> {
    let (b, i) = (bucket.to_string(), id.to_string());
    storage(state, move |s| s.set_webhook_cursor(&b, &i, c)).await
}

/// POSTs until the receiver answers 2xx; `false` if the webhook was removed meanwhile.
async fn post_until_delivered(
    state: &Arc<AppState>,
    bucket: &str,
    id: &str,
    row: &WebhookRow,
    seq: u64,
    body: Vec<u8>,
) -> anyhow::Result<bool> {
    let sig = signature(&row.secret, &body);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let attempt = tokio::time::timeout(POST_TIMEOUT, post(&row.url, id, seq, &sig, &body));
        match attempt.await {
            Ok(Ok(())) => return Ok(true),
            Ok(Err(e)) => {
                tracing::warn!(bucket, webhook = id, seq, error = %e, "webhook POST failed")
            }
            Err(_) => tracing::warn!(bucket, webhook = id, seq, "webhook POST timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        let (b, i) = (bucket.to_string(), id.to_string());
        if storage(state, move |s| s.webhook(&b, &i)).await?.is_none() {
            return Ok(false);
        }
    }
}

/// One POST over plain HTTP or HTTPS (system roots).
async fn post(url: &str, id: &str, seq: u64, sig: &str, body: &[u8]) -> anyhow::Result<()> {
    let uri: Uri = url.parse().context("webhook URL")?;
    let authority = uri.authority().context("webhook URL without host")?.clone();
    let https = uri.scheme_str() == Some("https");
    let host = authority.host().trim_matches(['[', ']']).to_string();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let req = Request::post(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-kura-signature", sig)
        .header("x-kura-webhook", id)
        .header("x-kura-seq", seq.to_string())
        .body(Full::new(Bytes::copy_from_slice(body)))?;
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    let status = if https {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let config = tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from(host)?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        exchange(TokioIo::new(tls), req).await?
    } else {
        exchange(TokioIo::new(tcp), req).await?
    };
    if !status.is_success() {
        bail!("receiver answered {status}");
    }
    Ok(())
}

async fn exchange<I>(io: I, req: Request<Full<Bytes>>) -> anyhow::Result<http::StatusCode>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    // Read the answer so the receiver is not cut off mid-response.
    let _ = resp.into_body().collect().await;
    Ok(status)
}

/// Seconds since the oldest change not yet delivered to the webhook committed (0 when caught up).
pub fn lag_seconds(store: &kura_storage::Store, bucket: &str, id: &str, prefix: &str) -> u64 {
    let Ok(cursor) = store.webhook_cursor(bucket, id) else {
        return 0;
    };
    let q = ChangeQuery {
        after: Some(cursor),
        since_ms: None,
        prefix: prefix.to_string(),
        max: 1,
        ..Default::default()
    };
    match store.changes(bucket, &q) {
        Ok(ChangeRead::Page(p)) => p
            .entries
            .first()
            .map(|(_, e)| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                now.saturating_sub(e.at_ms) / 1000
            })
            .unwrap_or(0),
        _ => 0,
    }
}
