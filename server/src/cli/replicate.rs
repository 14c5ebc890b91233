//! `kura replicate --source http://kura-a/bucket --target s3://bucket@http://other`:
//! continuous backup. Follows the source bucket's change feed and makes each
//! changed key on the target equal to its current state on the source:
//! copies the current version (bytes streamed, never buffered, with its
//! content headers and user metadata; the MD5 of the copied bytes checked
//! against the target's ETag and a single-part source ETag), or deletes the
//! key. The cursor is stored (fsynced) in a local state file after each
//! entry, so a restart resumes without gaps; re-applying an entry is
//! harmless because each one converges the key to the source's state.

use std::path::{Path, PathBuf};
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
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

fn read_state(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(raw) => {
            let v: Value = serde_json::from_slice(&raw).context("state file")?;
            Ok(v["cursor"].as_str().map(str::to_string))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context("reading the state file"),
    }
}

/// Replaces the state file atomically and durably (write, fsync, rename, fsync dir).
fn write_state(path: &Path, cursor: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(json!({ "cursor": cursor }).to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
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
enum Applied {
    Copied,
    Deleted,
    Unchanged,
}

/// Makes `key` on the target what it is now on the source.
async fn apply(source: &Side, target: &Side, key: &str) -> anyhow::Result<Applied> {
    let head = source.call(Method::HEAD, &source.path(key), &[]).await?;
    if head.status() == StatusCode::NOT_FOUND {
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
        return Ok(Applied::Unchanged);
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

async fn run_async(args: ReplicateArgs) -> anyhow::Result<()> {
    let (src_endpoint, src_bucket) = parse_source(&args.source)?;
    let (dst_endpoint, dst_bucket) = parse_target(&args.target)?;
    let source = Side {
        client: client(
            &src_endpoint,
            &args.source_access_key_id,
            &args.source_secret_access_key,
            &args.region,
        )?,
        bucket: src_bucket.clone(),
    };
    let target = Side {
        client: client(
            &dst_endpoint,
            &args.target_access_key_id,
            &args.target_secret_access_key,
            &args.region,
        )?,
        bucket: dst_bucket,
    };
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("kura-replicate-{src_bucket}.state")));
    let mut cursor = read_state(&state)?;
    let (mut copied, mut deleted, mut errors) = (0u64, 0u64, 0u64);
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut path = format!(
            "/{}?changes&max-items=100",
            utf8_percent_encode(&src_bucket, VALUE)
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&after={}", utf8_percent_encode(c, VALUE)));
        }
        if !args.once {
            path.push_str("&wait=20");
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
                    state.display(),
                    serde_json::from_slice::<Value>(&a.body).unwrap_or_default()["cursor"]
                )
            }
            Ok(a) => bail!(
                "source feed: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            ),
            Err(e) => {
                errors += 1;
                eprintln!("kura replicate: source feed: {e:#}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let mut lag_ms = 0u64;
        for c in page["changes"].as_array().into_iter().flatten() {
            let key = c["key"].as_str().unwrap_or_default();
            loop {
                match apply(&source, &target, key).await {
                    Ok(Applied::Copied) => copied += 1,
                    Ok(Applied::Deleted) => deleted += 1,
                    Ok(Applied::Unchanged) => {}
                    Err(e) => {
                        errors += 1;
                        eprintln!("kura replicate: {key}: {e:#}; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                }
                break;
            }
            backoff = Duration::from_millis(200);
            let seq = c["seq"].as_u64().unwrap_or(0).to_string();
            write_state(&state, &seq)?;
            cursor = Some(seq);
            if let Some(t) = c["lastModified"].as_str().and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            }) {
                let now = time::OffsetDateTime::now_utc();
                lag_ms = (now - t).whole_milliseconds().max(0) as u64;
            }
        }
        if let Some(next) = page["next"].as_str() {
            if cursor.as_deref() != Some(next) {
                write_state(&state, next)?;
                cursor = Some(next.to_string());
            }
        }
        let n = page["changes"].as_array().map_or(0, Vec::len);
        if n > 0 || args.json {
            if args.json {
                println!(
                    "{}",
                    json!({"cursor": cursor, "applied": n, "copied": copied, "deleted": deleted,
                           "errors": errors, "lag_ms": lag_ms})
                );
            } else {
                println!(
                    "applied={n} copied={copied} deleted={deleted} errors={errors} lag={:.1}s cursor={}",
                    lag_ms as f64 / 1000.0,
                    cursor.as_deref().unwrap_or("-")
                );
            }
        }
        if args.once && page["more"].as_bool() != Some(true) {
            return Ok(());
        }
    }
}
