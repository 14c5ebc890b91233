//! Chunks as objects in an S3-compatible endpoint.
//!
//! One object per chunk, named `PREFIX` + the chunk id in hex, written with
//! one PUT (the chunk is buffered whole by the writer: `--chunk-size`, 8 MiB
//! by default, per upload in flight) carrying `x-amz-checksum-crc32c`, so
//! the endpoint refuses bytes damaged in transit. Reads are ranged GETs; the
//! bytes are verified against the block checksums in kura's metadata by the
//! storage reader, whatever the endpoint says.
//!
//! Requests are signed by AWS's `aws-sigv4` (the command-line client's
//! signer, `cli::client`) and sent with hyper on a runtime of this module's
//! own: the storage engine is synchronous and calls from blocking threads,
//! which wait for the answer on a channel and never enter an async worker.
//! Connections are kept alive and reused (hyper-util's pooling client,
//! TCP_NODELAY, rustls for https): a request no longer pays a TCP (and TLS)
//! handshake, and answers are read to their end so that their connection
//! goes back to the pool.

use std::io;
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use kura_storage::{ChunkBackend, ChunkId};

use super::BlobCredentials;
use crate::cli::client::Client;

/// How long one request to the endpoint may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Threads of the backend's runtime (requests are I/O-bound).
const THREADS: usize = 2;
/// How long an idle connection stays in the pool (below the idle timeouts
/// S3 servers commonly close keep-alive connections at).
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Idle connections kept at most (one per request in flight at a peak).
const IDLE_MAX: usize = 64;
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The pooling HTTP client of a backend.
type Pool = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// Where the chunks go: `BUCKET[/PREFIX]@http(s)://HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Target {
    /// The endpoint, `http(s)://host:port`.
    pub endpoint: Uri,
    /// The bucket.
    pub bucket: String,
    /// Prepended to every chunk's name (empty, or ends with `/`).
    pub prefix: String,
}

impl S3Target {
    /// Parses what follows `s3://`.
    pub fn parse(rest: &str) -> anyhow::Result<S3Target> {
        let usage = "expected s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]";
        let (path, endpoint) = rest
            .split_once('@')
            .with_context(|| format!("no endpoint in s3://{rest}: {usage}"))?;
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            bail!("invalid bucket name {bucket:?} in s3://{rest}");
        }
        // Kept to characters that need no percent-encoding in a path.
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
        {
            bail!("the prefix {prefix:?} may hold only letters, digits and / _ . -");
        }
        let prefix = match prefix.trim_end_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let endpoint: Uri = endpoint
            .parse()
            .with_context(|| format!("invalid endpoint {endpoint:?}: {usage}"))?;
        if !matches!(endpoint.scheme_str(), Some("http" | "https"))
            || endpoint.authority().is_none()
            || !matches!(endpoint.path(), "" | "/")
            || endpoint.query().is_some()
        {
            bail!("invalid endpoint {endpoint}: {usage}");
        }
        let endpoint = format!(
            "{}://{}",
            endpoint.scheme_str().unwrap_or("http"),
            endpoint.authority().map(|a| a.as_str()).unwrap_or("")
        )
        .parse()?;
        Ok(S3Target {
            endpoint,
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// The URL form, without credentials.
    pub fn url(&self) -> String {
        let prefix = self.prefix.trim_end_matches('/');
        let sep = if prefix.is_empty() { "" } else { "/" };
        format!("s3://{}{sep}{prefix}@{}", self.bucket, self.endpoint)
            .trim_end_matches('/')
            .to_string()
    }

    /// The path of chunk `id`'s object.
    fn object_path(&self, id: &ChunkId) -> String {
        format!("/{}/{}{}", self.bucket, self.prefix, hex::encode(id))
    }
}

/// Chunks in an S3-compatible endpoint.
pub struct S3Chunks {
    target: S3Target,
    /// Signs requests (holds the secret).
    client: std::sync::Arc<Client>,
    /// Sends them on kept-alive connections.
    pool: Pool,
}

impl std::fmt::Debug for S3Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the secret: never printed.
        f.debug_struct("S3Chunks")
            .field("target", &self.target.url())
            .finish_non_exhaustive()
    }
}

impl S3Chunks {
    /// A backend for `target`, signing with `creds`.
    pub fn new(target: S3Target, creds: &BlobCredentials) -> anyhow::Result<S3Chunks> {
        let (Some(id), Some(secret)) = (&creds.access_key_id, &creds.secret_access_key) else {
            bail!(
                "{} needs credentials: --blobs-access-key-id and --blobs-secret-access-key \
                 (or KURA_BLOBS_ACCESS_KEY_ID and KURA_BLOBS_SECRET_ACCESS_KEY)",
                target.url()
            );
        };
        let client = Client {
            endpoint: target.endpoint.clone(),
            access_key_id: id.clone(),
            secret: secret.clone(),
            region: creds.region.clone(),
            ca_bundle: std::env::var_os("KURA_BLOBS_CA_BUNDLE").map(Into::into),
        };
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        // A request's head and body go out at once.
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // (https is the TLS layer's; the HTTP connector sees both schemes)
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(client.tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let pool =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(IDLE_TIMEOUT)
                .pool_max_idle_per_host(IDLE_MAX)
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector);
        Ok(S3Chunks {
            target,
            client: std::sync::Arc::new(client),
            pool,
        })
    }

    /// Signs a request (`UNSIGNED-PAYLOAD`: the bytes carry a CRC32C of
    /// their own, and kura verifies what it reads) and sends it on a pooled
    /// connection; the answer's status, headers and whole body.
    async fn exchange(
        client: &Client,
        pool: &Pool,
        method: Method,
        path: &str,
        headers: &[(http::HeaderName, String)],
        body: Bytes,
    ) -> io::Result<(StatusCode, http::HeaderMap, Bytes)> {
        let url: Uri = format!(
            "{}{path}",
            client.endpoint.to_string().trim_end_matches('/')
        )
        .parse()
        .map_err(io::Error::other)?;
        let mut attempt = 0;
        let resp = loop {
            attempt += 1;
            let mut req = client
                .signed(method.clone(), path, headers, Full::new(body.clone()))
                .map_err(to_io)?;
            // The pooling client wants the absolute form (it sends the path).
            *req.uri_mut() = url.clone();
            match pool.request(req).await {
                Ok(resp) => break resp,
                // A kept-alive connection the endpoint closed as the request
                // went out fails it; every request here is idempotent (a
                // chunk's bytes never change), so it goes once more, on a
                // fresh connection if need be.
                Err(e) if attempt == 1 && !e.is_connect() => {
                    tracing::debug!(error = %e, "retrying a chunk backend request");
                }
                Err(e) => {
                    // The chain says what failed (connecting, TLS, a closed connection).
                    let mut msg = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        msg.push_str(&format!(": {s}"));
                        source = s.source();
                    }
                    return Err(io::Error::other(msg));
                }
            }
        };
        let (parts, body) = resp.into_parts();
        // Read to the end, so that the connection goes back to the pool.
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    /// Runs one request on the backend's runtime and waits for its answer.
    fn run<T, F>(&self, what: &str, request: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = io::Result<T>> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        runtime().spawn(async move {
            let answer = match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
                Ok(answer) => answer,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time")),
            };
            let _ = tx.send(answer);
        });
        rx.recv()
            .map_err(|_| io::Error::other("the chunk backend's runtime is gone"))?
            .map_err(|e| io::Error::new(e.kind(), format!("{what} at {}: {e}", self.target.url())))
    }

    /// Sends a request with an empty body; the status and body of the answer.
    fn call(
        &self,
        what: &str,
        method: Method,
        path: String,
        headers: Vec<(http::HeaderName, String)>,
    ) -> io::Result<(StatusCode, http::HeaderMap, Bytes)> {
        let client = std::sync::Arc::clone(&self.client);
        let pool = self.pool.clone();
        self.run(what, async move {
            Self::exchange(&client, &pool, method, &path, &headers, Bytes::new()).await
        })
    }
}

impl ChunkBackend for S3Chunks {
    fn describe(&self) -> String {
        self.target.url()
    }

    fn put(&self, id: &ChunkId, data: Bytes) -> io::Result<()> {
        let client = std::sync::Arc::clone(&self.client);
        let pool = self.pool.clone();
        let path = self.target.object_path(id);
        let crc =
            base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(&data).to_be_bytes());
        self.run("storing a chunk", async move {
            let headers = [
                (http::header::CONTENT_LENGTH, data.len().to_string()),
                (http::HeaderName::from_static("x-amz-checksum-crc32c"), crc),
            ];
            let (status, _, body) =
                Self::exchange(&client, &pool, Method::PUT, &path, &headers, data).await?;
            if status != StatusCode::OK {
                return Err(status_error(status, &body));
            }
            Ok(())
        })
    }

    fn read(&self, id: &ChunkId, offset: u64, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let range = format!("bytes={offset}-{}", offset + len - 1);
        let (status, _, body) = self.call(
            "reading a chunk",
            Method::GET,
            self.target.object_path(id),
            vec![(http::header::RANGE, range)],
        )?;
        match status {
            // 200 only if the endpoint ignored the range: take the part asked for.
            StatusCode::OK => {
                let from = (offset as usize).min(body.len());
                let to = (from + len as usize).min(body.len());
                buf.extend_from_slice(&body[from..to]);
            }
            StatusCode::PARTIAL_CONTENT => {
                buf.extend_from_slice(&body[..body.len().min(len as usize)]);
            }
            // The chunk is shorter than the range's start: a short read.
            StatusCode::RANGE_NOT_SATISFIABLE => {}
            s => return Err(status_error(s, &body)),
        }
        Ok(())
    }

    fn stored_len(&self, id: &ChunkId) -> io::Result<u64> {
        let (status, headers, body) = self.call(
            "looking up a chunk",
            Method::HEAD,
            self.target.object_path(id),
            Vec::new(),
        )?;
        if status != StatusCode::OK {
            return Err(status_error(status, &body));
        }
        headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other("no Content-Length in the answer"))
    }

    fn delete(&self, id: &ChunkId) -> io::Result<()> {
        let (status, _, body) = self.call(
            "deleting a chunk",
            Method::DELETE,
            self.target.object_path(id),
            Vec::new(),
        )?;
        match status {
            StatusCode::OK | StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            s => Err(status_error(s, &body)),
        }
    }

    fn list(&self, visit: &mut dyn FnMut(ChunkId, Option<SystemTime>)) -> io::Result<()> {
        let mut token: Option<String> = None;
        loop {
            let mut query = format!("list-type=2&prefix={}", encode_query(&self.target.prefix));
            if let Some(t) = &token {
                query.push_str(&format!("&continuation-token={}", encode_query(t)));
            }
            let (status, _, body) = self.call(
                "listing chunks",
                Method::GET,
                format!("/{}?{query}", self.target.bucket),
                Vec::new(),
            )?;
            if status != StatusCode::OK {
                return Err(status_error(status, &body));
            }
            let page =
                parse_list(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            for (key, modified) in page.objects {
                let Some(name) = key.strip_prefix(&self.target.prefix) else {
                    continue;
                };
                let id = hex::decode(name)
                    .ok()
                    .and_then(|v| ChunkId::try_from(v.as_slice()).ok());
                if let Some(id) = id {
                    visit(id, modified);
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }
}

/// The runtime the backend's requests run on (never dropped: it outlives
/// every store, and dropping a runtime from an async context panics).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name("kura-blobs")
            .enable_all()
            .build()
            .expect("starting the chunk backend's runtime")
    })
}

fn to_io(e: anyhow::Error) -> io::Error {
    io::Error::other(format!("{e:#}"))
}

/// An error for an unexpected status (404: the chunk is missing).
fn status_error(status: StatusCode, body: &[u8]) -> io::Error {
    let kind = match status {
        StatusCode::NOT_FOUND => io::ErrorKind::NotFound,
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    let detail = String::from_utf8_lossy(&body[..body.len().min(300)]);
    io::Error::new(kind, format!("the endpoint answered {status}: {detail}"))
}

/// Percent-encodes a query value.
fn encode_query(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One page of ListObjectsV2.
struct ListPage {
    objects: Vec<(String, Option<SystemTime>)>,
    next: Option<String>,
}

/// Reads the keys, modification times and continuation token of a
/// ListObjectsV2 answer.
fn parse_list(body: &[u8]) -> Result<ListPage, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut page = ListPage {
        objects: Vec::new(),
        next: None,
    };
    let mut path: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut key = None;
    let mut modified = None;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => path.push(String::from_utf8_lossy(e.local_name().as_ref()).into()),
            Event::End(_) => {
                if path.last().map(String::as_str) == Some("Contents") {
                    if let Some(k) = key.take() {
                        page.objects.push((k, modified.take()));
                    }
                }
                path.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?.into_owned();
                let here: Vec<&str> = path.iter().map(String::as_str).collect();
                match here.as_slice() {
                    [_, "Contents", "Key"] => key = Some(text),
                    [_, "Contents", "LastModified"] => {
                        modified = time::OffsetDateTime::parse(
                            &text,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                        .map(SystemTime::from);
                    }
                    [_, "NextContinuationToken"] => page.next = Some(text),
                    [_, "IsTruncated"] => truncated = text == "true",
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !truncated {
        page.next = None;
    } else if page.next.is_none() {
        return Err("a truncated listing without a continuation token".into());
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_back() {
        let t = S3Target::parse("chunks/kura/a@http://127.0.0.1:9000").unwrap();
        assert_eq!(t.bucket, "chunks");
        assert_eq!(t.prefix, "kura/a/");
        assert_eq!(t.endpoint, "http://127.0.0.1:9000");
        assert_eq!(t.url(), "s3://chunks/kura/a@http://127.0.0.1:9000");
        assert_eq!(
            t.object_path(&[0xab; 16]),
            format!("/chunks/kura/a/{}", "ab".repeat(16))
        );
        let plain = S3Target::parse("bkt@https://s3.example.com/").unwrap();
        assert_eq!(plain.prefix, "");
        assert_eq!(plain.url(), "s3://bkt@https://s3.example.com");
        for bad in [
            "bkt",
            "Bad_Bucket@http://h:1",
            "bkt@ftp://h:1",
            "bkt@http://h:1/path",
            "bkt/we ird@http://h:1",
            "bkt@h:1",
        ] {
            assert!(S3Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listings_give_keys_times_and_the_next_token() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Contents><Key>p/aa</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><Size>3</Size></Contents>
<Contents><Key>p/bb</Key><Size>3</Size></Contents>
<IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken></ListBucketResult>"#;
        let page = parse_list(body).unwrap();
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.objects[0].0, "p/aa");
        assert!(page.objects[0].1.is_some() && page.objects[1].1.is_none());
        assert_eq!(page.next.as_deref(), Some("t&1"));
        let last = br#"<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken></ListBucketResult>"#;
        assert!(parse_list(last).unwrap().next.is_none());
    }
}
