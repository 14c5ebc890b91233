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
    client: std::sync::Arc<Client>,
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
        Ok(S3Chunks {
            target,
            client: std::sync::Arc::new(client),
        })
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
        self.run(what, async move {
            let headers: Vec<_> = headers
                .iter()
                .map(|(n, v)| (n.clone(), v.as_str()))
                .collect();
            let answer = client
                .send(method, &path, &headers, Vec::new())
                .await
                .map_err(to_io)?;
            Ok((answer.status, answer.headers, answer.body))
        })
    }
}

impl ChunkBackend for S3Chunks {
    fn describe(&self) -> String {
        self.target.url()
    }

    fn put(&self, id: &ChunkId, data: Bytes) -> io::Result<()> {
        let client = std::sync::Arc::clone(&self.client);
        let path = self.target.object_path(id);
        let crc =
            base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(&data).to_be_bytes());
        self.run("storing a chunk", async move {
            let headers = [
                (http::header::CONTENT_LENGTH, data.len().to_string()),
                (http::HeaderName::from_static("x-amz-checksum-crc32c"), crc),
            ];
            let resp = client
                .stream(Method::PUT, &path, &headers, Full::new(data))
                .await
                .map_err(to_io)?;
            let status = resp.status();
            let body = resp.into_body().collect().await.map_err(io::Error::other)?;
            if status != StatusCode::OK {
                return Err(status_error(status, &body.to_bytes()));
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
