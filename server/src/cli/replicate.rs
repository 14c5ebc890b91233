//! `kura replicate --source http://kura-a/bucket --target s3://bucket@http://other`:
//! continuous backup. Follows the source bucket's change feed and makes each
//! changed key on the target equal to its current state on the source:
//! copies the current version (bytes streamed, never buffered, with its
//! content headers and user metadata; the MD5 of the copied bytes checked
//! against the target's ETag and a single-part source ETag), or deletes the
//! key.
//!
//! Throughput: one copy is two requests, a GET of the key's current version
//! on the source (its headers carry what the PUT needs) and the PUT on the
//! target, over kept-alive connections ([`Pool`]). Objects of 1 MiB and more
//! are first compared with the target (HEAD), so that a replay after a
//! restart does not copy them again; smaller ones are cheaper to copy again.
//! Feed pages are fetched ahead while earlier ones are applied, and changed
//! keys are applied up to `--concurrency` at once across pages.
//!
//! Order and the cursor: an apply converges the key to the source's
//! *current* state, so a key's entries need one apply that starts after the
//! last of them was read: a key is never applied twice at once, and a key
//! seen again while its apply runs is applied once more afterwards (entries
//! arriving while it waits join that one). The cursor only moves past a
//! page once every key of that page and of all earlier pages is applied,
//! and is stored (fsynced) at most every 200 ms and whenever the replicator
//! is idle: a restart replays at most what was applied since, which is
//! harmless for the same reason.
//!
//! `--keep-deleted 7d` holds deletes back: a key gone from the source is
//! recorded in the state file with its due time and removed from the target
//! only then (if it is still gone from the source); a key re-created
//! meanwhile cancels its pending delete.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Args;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use md5::{Digest, Md5};
use parking_lot::Mutex;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::client::Client;
use super::pool::{Pool, Pooled};
use super::replicate_state::ReplicaState;
use crate::config::parse_duration;

/// Objects at least this large are compared with the target before their
/// bytes are copied.
const COMPARE_MIN: u64 = 1 << 20;
/// The cursor is stored at most this often while the replicator is busy
/// (and always when it becomes idle).
const SAVE_EVERY: Duration = Duration::from_millis(200);
/// Progress is reported at most this often while busy.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Feed pages read ahead of the oldest one not yet applied.
const PAGES_AHEAD: usize = 64;

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
    /// Keys copied or deleted at once (each key one at a time, in feed order).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
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

/// Runs `kura replicate` (two worker threads: hashing, signing and the
/// feed's JSON run beside the copies' I/O).
pub fn run(args: ReplicateArgs) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run_async(args))
}

struct Side {
    pool: Arc<Pool>,
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

    /// A request without a body.
    async fn call(&self, method: Method, path: &str) -> anyhow::Result<http::Response<Pooled>> {
        self.pool.call(method, path, &[], Bytes::new()).await
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

/// Reads a (small) answer's body to the end, so its connection is reused.
async fn drain(r: http::Response<Pooled>) -> StatusCode {
    let status = r.status();
    let _ = r.into_body().collect().await;
    status
}

/// A body that hashes what passes through it.
struct Hashing<B> {
    inner: B,
    md5: Arc<Mutex<Md5>>,
}

impl<B: Body<Data = Bytes> + Unpin> Body for Hashing<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.md5.lock().update(data);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What applying one key did.
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
}

/// Makes `key` on the target what it is now on the source; a key gone from
/// the source is deleted on the target only if `delete_now`.
async fn apply(
    source: &Side,
    target: &Side,
    key: &str,
    delete_now: bool,
) -> anyhow::Result<Applied> {
    // The current version: bytes and headers of one version, in one answer.
    let got = source.call(Method::GET, &source.path(key)).await?;
    if got.status() == StatusCode::NOT_FOUND {
        drain(got).await;
        if !delete_now {
            return Ok(Applied::Gone);
        }
        let status = drain(target.call(Method::DELETE, &target.path(key)).await?).await;
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            bail!("target DELETE {key}: {status}");
        }
        return Ok(Applied::Deleted);
    }
    if !got.status().is_success() {
        bail!("source GET {key}: {}", drain(got).await);
    }
    let etag = header(got.headers(), "etag").unwrap_or_default();
    let len = header(got.headers(), "content-length")
        .ok_or_else(|| anyhow!("source GET {key} without Content-Length"))?;
    let wanted = describing(got.headers());
    if len.parse::<u64>().map_or(true, |n| n >= COMPARE_MIN) {
        let theirs = target.call(Method::HEAD, &target.path(key)).await?;
        if theirs.status().is_success()
            && header(theirs.headers(), "etag").as_deref() == Some(etag.as_str())
            && describing(theirs.headers()) == wanted
        {
            // Dropping the unread GET closes its connection: cheaper than
            // reading a large body for nothing.
            return Ok(Applied::Unchanged);
        }
        drain(theirs).await;
    }
    let mut headers = vec![(http::header::CONTENT_LENGTH, len)];
    for (name, value) in wanted {
        headers.push((name.parse()?, value));
    }
    let md5 = Arc::new(Mutex::new(Md5::new()));
    let body = Hashing {
        inner: got.into_body(),
        md5: md5.clone(),
    };
    let put = target
        .pool
        .stream(Method::PUT, &target.path(key), &headers, body)
        .await?;
    let target_etag = header(put.headers(), "etag").unwrap_or_default();
    let status = drain(put).await;
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
    errors: &AtomicU64,
) -> Applied {
    let mut backoff = Duration::from_millis(200);
    loop {
        match apply(source, target, key, delete_now).await {
            Ok(a) => return a,
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("kura replicate: {key}: {e:#}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
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

/// One page of the source's feed (the fields the replicator uses).
#[derive(Deserialize)]
struct FeedPage {
    changes: Vec<FeedChange>,
    next: Option<String>,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedChange {
    seq: u64,
    event: String,
    key: String,
    last_modified: Option<String>,
}

/// Reads the source's feed after `cursor` into `tx`, page after page (long
/// polls unless `once`; with `once` it stops after the last page ready now).
/// Transport errors are retried; an answer that is not a page ends it with
/// the error.
async fn follow_feed(
    source: Arc<Side>,
    mut cursor: Option<String>,
    once: bool,
    tx: mpsc::Sender<anyhow::Result<FeedPage>>,
    errors: Arc<AtomicU64>,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut path = format!(
            "/{}?changes&max-items=1000",
            utf8_percent_encode(&source.bucket, VALUE)
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&after={}", utf8_percent_encode(c, VALUE)));
        }
        if !once {
            path.push_str("&wait=20");
        }
        let answer = match source.call(Method::GET, &path).await {
            Ok(r) => {
                let status = r.status();
                r.into_body()
                    .collect()
                    .await
                    .map(|b| (status, b.to_bytes()))
                    .map_err(anyhow::Error::from)
            }
            Err(e) => Err(e),
        };
        let (status, body) = match answer {
            Ok(a) => a,
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("kura replicate: source feed: {e:#}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        let page = match status {
            s if s.is_success() => {
                serde_json::from_slice::<FeedPage>(&body).context("the source's feed page")
            }
            StatusCode::GONE => Err(anyhow!(
                "the source's change log no longer reaches back to the stored cursor: \
                 copy the bucket in full, then set the cursor in the state file to {}",
                serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default()["cursor"]
            )),
            s => Err(anyhow!(
                "source feed: {s} {}",
                String::from_utf8_lossy(&body)
            )),
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let more = page.more;
        cursor = page
            .next
            .clone()
            .or_else(|| page.changes.last().map(|c| c.seq.to_string()))
            .or(cursor);
        if tx.send(Ok(page)).await.is_err() || (once && !more) {
            return;
        }
    }
}

/// One apply of a key waiting to start: the pages it completes, and when a
/// delete it finds counts from.
struct Job {
    pages: Vec<u64>,
    delete_from: u64,
    delete_now: bool,
}

/// A key with an apply running or waiting.
struct KeySlot {
    running: bool,
    /// The next apply, started after the running one ends (entries seen
    /// meanwhile join it).
    queued: Option<Job>,
}

/// A feed page not yet applied in full.
struct PageSlot {
    id: u64,
    /// The cursor after it.
    next: Option<String>,
    /// Its keys not applied yet.
    outstanding: usize,
    changes: usize,
    /// Last-Modified of its newest change (ms).
    newest_ms: Option<u64>,
}

/// Which keys to apply next, one apply per key at a time, and which
/// pages are done.
#[derive(Default)]
struct Schedule {
    keys: HashMap<String, KeySlot>,
    ready: VecDeque<String>,
    pages: VecDeque<PageSlot>,
    next_page: u64,
}

impl Schedule {
    fn add(&mut self, key: &str, job: Job) {
        match self.keys.get_mut(key) {
            None => {
                self.keys.insert(
                    key.to_string(),
                    KeySlot {
                        running: false,
                        queued: Some(job),
                    },
                );
                self.ready.push_back(key.to_string());
            }
            Some(slot) => match &mut slot.queued {
                Some(q) => {
                    q.pages.extend(job.pages);
                    q.delete_from = job.delete_from;
                    q.delete_now |= job.delete_now;
                }
                None => slot.queued = Some(job),
            },
        }
    }

    /// Queues every key of `page` (each once, its last entry's delete time).
    fn add_page(&mut self, page: &FeedPage, delete_now: bool) {
        let id = self.next_page;
        self.next_page += 1;
        let mut order: Vec<&str> = Vec::new();
        let mut from: HashMap<&str, u64> = HashMap::new();
        let mut newest_ms = None;
        for c in &page.changes {
            let at = c.last_modified.as_deref().and_then(parse_time_ms);
            newest_ms = at.or(newest_ms);
            // A delete counts from its own time; anything else from now
            // (the key may be gone by the time it is applied).
            let t = match c.event.as_str() {
                "delete" => at.unwrap_or_else(now_ms),
                _ => now_ms(),
            };
            if from.insert(&c.key, t).is_none() {
                order.push(&c.key);
            }
        }
        self.pages.push_back(PageSlot {
            id,
            next: page.next.clone(),
            outstanding: order.len(),
            changes: page.changes.len(),
            newest_ms,
        });
        for key in order {
            let job = Job {
                pages: vec![id],
                delete_from: from[key],
                delete_now,
            };
            self.add(key, job);
        }
    }

    /// The next key to apply and its job.
    fn start(&mut self) -> Option<(String, Job)> {
        let key = self.ready.pop_front()?;
        let slot = self.keys.get_mut(&key)?;
        slot.running = true;
        let job = slot.queued.take()?;
        Some((key, job))
    }

    /// Records that `key`'s apply for `pages` ended.
    fn finished(&mut self, key: &str, pages: &[u64]) {
        if let Some(slot) = self.keys.get_mut(key) {
            slot.running = false;
            if slot.queued.is_some() {
                self.ready.push_back(key.to_string());
            } else {
                self.keys.remove(key);
            }
        }
        let first = self.pages.front().map_or(0, |p| p.id);
        for id in pages {
            if let Some(p) = self.pages.get_mut((id - first) as usize) {
                p.outstanding -= 1;
            }
        }
    }

    /// Removes the leading pages that are fully applied.
    fn completed(&mut self) -> Vec<PageSlot> {
        let mut done = Vec::new();
        while self.pages.front().is_some_and(|p| p.outstanding == 0) {
            done.extend(self.pages.pop_front());
        }
        done
    }
}

/// Counters reported on stdout.
#[derive(Default)]
struct Counters {
    applied: usize,
    copied: u64,
    deleted: u64,
    lag_ms: u64,
    max_lag_ms: u64,
}

async fn run_async(args: ReplicateArgs) -> anyhow::Result<()> {
    let (src_endpoint, src_bucket) = parse_source(&args.source)?;
    let (dst_endpoint, dst_bucket) = parse_target(&args.target)?;
    let source = Arc::new(Side {
        pool: Pool::new(client(
            &src_endpoint,
            &args.source_access_key_id,
            &args.source_secret_access_key,
            &args.region,
        )?),
        bucket: src_bucket.clone(),
    });
    let target = Arc::new(Side {
        pool: Pool::new(client(
            &dst_endpoint,
            &args.target_access_key_id,
            &args.target_secret_access_key,
            &args.region,
        )?),
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
    let concurrency = usize::from(args.concurrency);
    let errors = Arc::new(AtomicU64::new(0));
    let (tx, mut feed) = mpsc::channel(2);
    tokio::spawn(follow_feed(
        source.clone(),
        state.cursor.clone(),
        args.once,
        tx,
        errors.clone(),
    ));
    let mut feed_open = true;
    let mut schedule = Schedule::default();
    let mut running = tokio::task::JoinSet::new();
    // Held-back deletes that are due and being applied.
    let mut due_running: HashSet<String> = HashSet::new();
    let mut counts = Counters::default();
    let mut dirty = false;
    let mut pages_seen = false;
    let mut last_save = Instant::now();
    let mut last_report = Instant::now();
    loop {
        if keep_ms.is_some() {
            let now = now_ms();
            for key in state.due(now) {
                if due_running.insert(key.clone()) {
                    let job = Job {
                        pages: Vec::new(),
                        delete_from: now,
                        delete_now: true,
                    };
                    schedule.add(&key, job);
                }
            }
        }
        while running.len() < concurrency {
            let Some((key, job)) = schedule.start() else {
                break;
            };
            let (s, t, e) = (source.clone(), target.clone(), errors.clone());
            running.spawn(async move {
                let applied = apply_retrying(&s, &t, &key, job.delete_now, &e).await;
                (key, job, applied)
            });
        }
        let idle = running.is_empty() && schedule.pages.is_empty();
        if dirty && (idle || last_save.elapsed() >= SAVE_EVERY) {
            state.save(&state_path)?;
            dirty = false;
            last_save = Instant::now();
        }
        let something = counts.applied > 0 || (args.json && pages_seen);
        if something && (idle || last_report.elapsed() >= REPORT_EVERY) {
            report(&args, &counts, errors.load(Ordering::Relaxed), &state);
            counts.applied = 0;
            counts.max_lag_ms = 0;
            pages_seen = false;
            last_report = Instant::now();
        }
        if !feed_open && idle && schedule.keys.is_empty() {
            return Ok(());
        }
        // When the next held-back delete not yet started is due.
        let next_due = state
            .pending
            .iter()
            .filter(|(k, _)| !due_running.contains(*k))
            .map(|(_, due)| *due)
            .min();
        let due_in =
            next_due.map(|due| Duration::from_millis(due.saturating_sub(now_ms()).max(10)));
        let save_in = SAVE_EVERY.saturating_sub(last_save.elapsed());
        // Read further pages while their keys are few enough to hold.
        let take_pages = feed_open
            && schedule.pages.len() < PAGES_AHEAD
            && schedule.keys.len() < 4 * concurrency;
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                let (key, job, applied) = done.context("apply task")?;
                match applied {
                    Applied::Copied => counts.copied += 1,
                    Applied::Deleted => counts.deleted += 1,
                    Applied::Gone | Applied::Unchanged => {}
                }
                // Pending deletes change with the apply, the cursor only
                // once the apply's pages (and all before) are done.
                dirty |= if applied == Applied::Gone {
                    let due = job.delete_from.saturating_add(keep_ms.unwrap_or(0));
                    state.hold_delete(&key, due)
                } else {
                    state.pending.remove(&key).is_some()
                };
                if job.delete_now {
                    due_running.remove(&key);
                }
                schedule.finished(&key, &job.pages);
            }
            page = feed.recv(), if take_pages => match page {
                None => feed_open = false,
                Some(page) => {
                    schedule.add_page(&page?, keep_ms.is_none());
                    pages_seen = true;
                }
            },
            () = tokio::time::sleep(due_in.unwrap_or(Duration::MAX)), if due_in.is_some() => {}
            () = tokio::time::sleep(save_in), if dirty => {}
        }
        for page in schedule.completed() {
            if page.next.is_some() && page.next != state.cursor {
                state.cursor = page.next;
                dirty = true;
            }
            counts.applied += page.changes;
            if let Some(at) = page.newest_ms {
                counts.lag_ms = now_ms().saturating_sub(at);
                counts.max_lag_ms = counts.max_lag_ms.max(counts.lag_ms);
            }
        }
    }
}

fn report(args: &ReplicateArgs, c: &Counters, errors: u64, state: &ReplicaState) {
    if args.json {
        println!(
            "{}",
            json!({"cursor": state.cursor, "applied": c.applied, "copied": c.copied,
                   "deleted": c.deleted, "pending_deletes": state.pending.len(),
                   "errors": errors, "lag_ms": c.lag_ms, "max_lag_ms": c.max_lag_ms})
        );
    } else {
        println!(
            "applied={} copied={} deleted={} pending_deletes={} errors={errors} lag={:.1}s cursor={}",
            c.applied,
            c.copied,
            c.deleted,
            state.pending.len(),
            c.lag_ms as f64 / 1000.0,
            state.cursor.as_deref().unwrap_or("-")
        );
    }
}
