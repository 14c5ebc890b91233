//! `kura replicate --source http://kura-a/bucket --target s3://bucket@http://other`:
//! continuous backup. Follows the source bucket's change feed and makes each
//! changed key on the target equal to its current state on the source:
//! copies the current version (bytes streamed, never buffered, with its
//! content headers and user metadata; the MD5 of the copied bytes checked
//! against the target's ETag and a single-part source ETag), or deletes the
//! key. The keys of one feed page are applied concurrently (each once: an
//! apply converges the key to the source's *current* state, so later entries
//! of the same key in the page add nothing), then the cursor is stored
//! (fsynced) in a local state file, so a restart resumes without gaps;
//! re-applying a page is harmless for the same reason.
//!
//! `--keep-deleted 7d` holds deletes back: a key gone from the source is
//! recorded in the state file with its due time and removed from the target
//! only then (if it is still gone from the source); a key re-created
//! meanwhile cancels its pending delete.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Args;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use md5::{Digest, Md5};
use parking_lot::Mutex;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::client::Client;
use super::replicate_state::ReplicaState;
use crate::config::parse_duration;

/// Keys of one feed page applied at once.
const CONCURRENCY: usize = 16;

/// Path encoding: everything but unreserved characters and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// Query-value encoding.
const VALUE: &AsciiSet = &PATH.add(b'/');

/// Stored headers copied with an object.
const COPIED: &[&str] = &[
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// Arguments of `kura replicate`.
#[derive(Debug, Clone, Args)]
pub struct ReplicateArgs {
    /// The source bucket, `http(s)://HOST:PORT/BUCKET` (a kura server);
    /// credentials from KURA_ACCESS_KEY_ID / KURA_SECRET_ACCESS_KEY (read on the bucket).
    #[arg(long)]
    pub source: String,
    /// The target, `s3://BUCKET@http(s)://HOST:PORT` (any S3 server); credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long)]
    pub target: String,
    /// Where the cursor is kept (default: `kura-replicate-BUCKET.state` here).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Stop once caught up instead of following.
    #[arg(long)]
    pub once: bool,
    /// Report progress as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Keep files deleted on the source this long on the target (e.g. `7d`)
    /// before deleting them there; a key re-created meanwhile stays. The
    /// pending deletes live in the state file, so they survive restarts.
    #[arg(long, value_parser = parse_duration)]
    pub keep_deleted: Option<Duration>,
    /// Source access key id.
    #[arg(long, env = "KURA_ACCESS_KEY_ID", hide_env_values = true)]
    pub source_access_key_id: String,
    /// Source secret.
    #[arg(long, env = "KURA_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub source_secret_access_key: String,
    /// Target access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub target_access_key_id: String,
    /// Target secret.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub target_secret_access_key: String,
    /// Region of both (signatures).
    #[arg(long, env = "KURA_REGION", default_value = "us-east-1")]
    pub region: String,
}

/// Runs `kura replicate`.
pub fn run(args: ReplicateArgs) -> anyhow::Result<()> {
    super::block_on(run_async(args))
}

struct Side {
    client: Client,
    bucket: String,
}

impl Side {
    fn path(&self, key: &str) -> String {
        format!(
            "/{}/{}",
            utf8_percent_encode(&self.bucket, PATH),
            utf8_percent_encode(key, PATH)
        )
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(http::header::HeaderName, String)],
    ) -> anyhow::Result<http::Response<Incoming>> {
        let body = Empty::<Bytes>::new();
        self.client.stream(method, path, headers, body).await
    }
}

fn client(endpoint: &str, id: &str, secret: &str, region: &str) -> anyhow::Result<Client> {
    Ok(Client {
        endpoint: endpoint.parse().context("endpoint URL")?,
        access_key_id: id.to_string(),
        secret: secret.to_string(),
        region: region.to_string(),
        ca_bundle: None,
    })
}

fn parse_source(s: &str) -> anyhow::Result<(String, String)> {
    let uri: Uri = s.parse().context("--source")?;
    let bucket = uri.path().trim_matches('/').to_string();
    if bucket.is_empty() || bucket.contains('/') {
        bail!("--source must be http(s)://HOST:PORT/BUCKET");
    }
    let scheme = uri.scheme_str().unwrap_or("http");
    let auth = uri
        .authority()
        .ok_or_else(|| anyhow!("--source needs a host"))?;
    Ok((format!("{scheme}://{auth}"), bucket))
}

fn parse_target(s: &str) -> anyhow::Result<(String, String)> {
    let rest = s
        .strip_prefix("s3://")
        .ok_or_else(|| anyhow!("--target must be s3://BUCKET@http(s)://HOST:PORT"))?;
    let (bucket, endpoint) = rest
        .split_once('@')
        .ok_or_else(|| anyhow!("--target must be s3://BUCKET@http(s)://HOST:PORT"))?;
    Ok((
        endpoint.trim_end_matches('/').to_string(),
        bucket.to_string(),
    ))
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The headers that define an object besides its bytes.
fn describing(h: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = h
        .iter()
        .filter(|(n, _)| COPIED.contains(&n.as_str()) || n.as_str().starts_with("x-amz-meta-"))
        .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    out.sort();
    out
}

/// A body that hashes what passes through it.
struct Hashing {
    inner: Incoming,
    md5: Arc<Mutex<Md5>>,
}

impl Body for Hashing {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.md5.lock().update(data);
            }
        }
        polled
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What applying one entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    /// The source's current version was copied.
    Copied,
    /// The key is gone from the source and was deleted on the target.
    Deleted,
    /// The key is gone from the source; its delete is held back.
    Gone,
    /// The target already had the source's current version.
    Unchanged,
    /// The version seen went away while being copied: a later entry of the
    /// key brings its new state.
    Raced,
}

/// Makes `key` on the target what it is now on the source; a key gone from
/// the source is deleted on the target only if `delete_now`.
async fn apply(
    source: &Side,
    target: &Side,
    key: &str,
    delete_now: bool,
) -> anyhow::Result<Applied> {
    let head = source.call(Method::HEAD, &source.path(key), &[]).await?;
    if head.status() == StatusCode::NOT_FOUND {
        if !delete_now {
            return Ok(Applied::Gone);
        }
        let r = target.call(Method::DELETE, &target.path(key), &[]).await?;
        if !r.status().is_success() && r.status() != StatusCode::NOT_FOUND {
            bail!("target DELETE {key}: {}", r.status());
        }
        return Ok(Applied::Deleted);
    }
    if !head.status().is_success() {
        bail!("source HEAD {key}: {}", head.status());
    }
    let etag = header(head.headers(), "etag").unwrap_or_default();
    let version = header(head.headers(), "x-amz-version-id");
    let wanted = describing(head.headers());
    let theirs = target.call(Method::HEAD, &target.path(key), &[]).await?;
    if theirs.status().is_success()
        && header(theirs.headers(), "etag").as_deref() == Some(etag.as_str())
        && describing(theirs.headers()) == wanted
    {
        return Ok(Applied::Unchanged);
    }
    // The version seen by HEAD, so bytes and headers belong together.
    let mut get_path = source.path(key);
    if let Some(v) = &version {
        get_path.push_str(&format!("?versionId={}", utf8_percent_encode(v, VALUE)));
    }
    let got = source.call(Method::GET, &get_path, &[]).await?;
    if got.status() == StatusCode::NOT_FOUND {
        // Replaced or deleted meanwhile: a later entry brings the new state.
        return Ok(Applied::Raced);
    }
    if !got.status().is_success() {
        bail!("source GET {key}: {}", got.status());
    }
    let len = header(got.headers(), "content-length")
        .ok_or_else(|| anyhow!("source GET {key} without Content-Length"))?;
    let mut headers = vec![(http::header::CONTENT_LENGTH, len)];
    for (name, value) in describing(got.headers()) {
        headers.push((name.parse()?, value));
    }
    let md5 = Arc::new(Mutex::new(Md5::new()));
    let body = Hashing {
        inner: got.into_body(),
        md5: md5.clone(),
    };
    let put = target
        .client
        .stream(Method::PUT, &target.path(key), &headers, body)
        .await?;
    let status = put.status();
    let target_etag = header(put.headers(), "etag").unwrap_or_default();
    let _ = put.into_body().collect().await;
    if !status.is_success() {
        bail!("target PUT {key}: {status}");
    }
    let digest = hex::encode(std::mem::take(&mut *md5.lock()).finalize());
    let unquoted = |s: &str| s.trim_matches('"').to_string();
    if unquoted(&target_etag) != digest {
        bail!("target PUT {key}: ETag {target_etag} is not the MD5 of the bytes sent ({digest})");
    }
    if !etag.contains('-') && unquoted(&etag) != digest {
        bail!("source GET {key}: bytes do not match its ETag {etag}");
    }
    Ok(Applied::Copied)
}

/// Applies `key`, retrying with exponential backoff until it succeeds;
/// counts the failures in `errors`.
async fn apply_retrying(
    source: &Side,
    target: &Side,
    key: &str,
    delete_now: bool,
    errors: &Mutex<u64>,
) -> Applied {
    let mut backoff = Duration::from_millis(200);
    loop {
        match apply(source, target, key, delete_now).await {
            Ok(a) => return a,
            Err(e) => {
                *errors.lock() += 1;
                eprintln!("kura replicate: {key}: {e:#}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Applies each of `keys` (distinct), at most [`CONCURRENCY`] at once;
/// returns what each did, in the order of `keys`.
async fn apply_all(
    source: &Arc<Side>,
    target: &Arc<Side>,
    keys: &[String],
    delete_now: bool,
    errors: &Arc<Mutex<u64>>,
) -> anyhow::Result<Vec<Applied>> {
    let mut out = vec![Applied::Unchanged; keys.len()];
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < keys.len() || !set.is_empty() {
        while next < keys.len() && set.len() < CONCURRENCY {
            let (s, t, e) = (source.clone(), target.clone(), errors.clone());
            let key = keys[next].clone();
            let i = next;
            set.spawn(async move { (i, apply_retrying(&s, &t, &key, delete_now, &e).await) });
            next += 1;
        }
        if let Some(done) = set.join_next().await {
            let (i, applied) = done.context("apply task")?;
            out[i] = applied;
        }
    }
    Ok(out)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn parse_time_ms(t: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Counters reported on stdout.
#[derive(Default)]
struct Counters {
    copied: u64,
    deleted: u64,
}

async fn run_async(args: ReplicateArgs) -> anyhow::Result<()> {
    let (src_endpoint, src_bucket) = parse_source(&args.source)?;
    let (dst_endpoint, dst_bucket) = parse_target(&args.target)?;
    let source = Arc::new(Side {
        client: client(
            &src_endpoint,
            &args.source_access_key_id,
            &args.source_secret_access_key,
            &args.region,
        )?,
        bucket: src_bucket.clone(),
    });
    let target = Arc::new(Side {
        client: client(
            &dst_endpoint,
            &args.target_access_key_id,
            &args.target_secret_access_key,
            &args.region,
        )?,
        bucket: dst_bucket,
    });
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("kura-replicate-{src_bucket}.state")));
    let mut state = ReplicaState::load(&state_path)?;
    let keep_ms = args
        .keep_deleted
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let errors = Arc::new(Mutex::new(0u64));
    let mut counts = Counters::default();
    let mut backoff = Duration::from_millis(200);
    loop {
        apply_due(
            &source,
            &target,
            &mut state,
            &state_path,
            &errors,
            &mut counts,
        )
        .await?;
        let mut path = format!(
            "/{}?changes&max-items=1000",
            utf8_percent_encode(&src_bucket, VALUE)
        );
        if let Some(c) = &state.cursor {
            path.push_str(&format!("&after={}", utf8_percent_encode(c, VALUE)));
        }
        if !args.once {
            // Wake up in time for the next held-back delete.
            let wait = state.next_due().map_or(20, |due| {
                due.saturating_sub(now_ms()).div_ceil(1000).clamp(1, 20)
            });
            path.push_str(&format!("&wait={wait}"));
        }
        let answer = source
            .client
            .send(Method::GET, &path, &[], Vec::new())
            .await;
        let page: Value = match answer {
            Ok(a) if a.status.is_success() => serde_json::from_slice(&a.body)?,
            Ok(a) if a.status == StatusCode::GONE => {
                bail!(
                    "the source's change log no longer reaches back to the stored cursor: \
                     copy the bucket in full, then set the cursor in {} to {}",
                    state_path.display(),
                    serde_json::from_slice::<Value>(&a.body).unwrap_or_default()["cursor"]
                )
            }
            Ok(a) => bail!(
                "source feed: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            ),
            Err(e) => {
                *errors.lock() += 1;
                eprintln!("kura replicate: source feed: {e:#}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        let changes = page["changes"].as_array().cloned().unwrap_or_default();
        // Each key once, with the time its delete is due from (the delete's
        // own time when its last entry is one, else now).
        let mut keys: Vec<String> = Vec::new();
        let mut deleted_at: std::collections::HashMap<String, u64> = Default::default();
        let mut last_at = None;
        for c in &changes {
            let key = c["key"].as_str().unwrap_or_default().to_string();
            let at = c["lastModified"].as_str().and_then(parse_time_ms);
            last_at = at.or(last_at);
            let from = match c["event"].as_str() {
                Some("delete") => at.unwrap_or_else(now_ms),
                _ => now_ms(),
            };
            if deleted_at.insert(key.clone(), from).is_none() {
                keys.push(key);
            }
        }
        let applied = apply_all(&source, &target, &keys, keep_ms.is_none(), &errors).await?;
        // Lag: how old the newest change applied is, once applied.
        let lag_ms = last_at.map_or(0, |at| now_ms().saturating_sub(at));
        for (key, a) in keys.iter().zip(applied) {
            match a {
                Applied::Copied => {
                    counts.copied += 1;
                    state.pending.remove(key);
                }
                Applied::Unchanged => {
                    state.pending.remove(key);
                }
                Applied::Deleted => counts.deleted += 1,
                Applied::Gone => {
                    let from = deleted_at.get(key).copied().unwrap_or_else(now_ms);
                    state.hold_delete(key, from.saturating_add(keep_ms.unwrap_or(0)));
                }
                Applied::Raced => {}
            }
        }
        let next = page["next"]
            .as_str()
            .map(str::to_string)
            .or_else(|| changes.last().map(|c| c["seq"].to_string()));
        if !changes.is_empty() || (next.is_some() && next != state.cursor) {
            state.cursor = next.or(state.cursor.take());
            state.save(&state_path)?;
        }
        let n = changes.len();
        if n > 0 || args.json {
            report(&args, n, &counts, *errors.lock(), lag_ms, &state);
        }
        if args.once && page["more"].as_bool() != Some(true) {
            apply_due(
                &source,
                &target,
                &mut state,
                &state_path,
                &errors,
                &mut counts,
            )
            .await?;
            return Ok(());
        }
    }
}

/// Deletes on the target the held-back deletes that are due (a key back on
/// the source is copied instead), then forgets them, durably.
async fn apply_due(
    source: &Arc<Side>,
    target: &Arc<Side>,
    state: &mut ReplicaState,
    state_path: &std::path::Path,
    errors: &Arc<Mutex<u64>>,
    counts: &mut Counters,
) -> anyhow::Result<()> {
    let due = state.due(now_ms());
    if due.is_empty() {
        return Ok(());
    }
    let applied = apply_all(source, target, &due, true, errors).await?;
    for (key, a) in due.iter().zip(applied) {
        match a {
            Applied::Deleted => counts.deleted += 1,
            Applied::Copied => counts.copied += 1,
            _ => {}
        }
        state.pending.remove(key);
    }
    state.save(state_path)
}

fn report(
    args: &ReplicateArgs,
    n: usize,
    c: &Counters,
    errors: u64,
    lag_ms: u64,
    state: &ReplicaState,
) {
    if args.json {
        println!(
            "{}",
            json!({"cursor": state.cursor, "applied": n, "copied": c.copied, "deleted": c.deleted,
                   "pending_deletes": state.pending.len(), "errors": errors, "lag_ms": lag_ms})
        );
    } else {
        println!(
            "applied={n} copied={} deleted={} pending_deletes={} errors={errors} lag={:.1}s cursor={}",
            c.copied,
            c.deleted,
            state.pending.len(),
            lag_ms as f64 / 1000.0,
            state.cursor.as_deref().unwrap_or("-")
        );
    }
}
