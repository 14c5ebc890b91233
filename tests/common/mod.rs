//! Test harness: starts the real `kura` binary on a free loopback port with a
//! temporary data directory, and talks to it with real clients: the AWS SDK
//! for Rust, and a raw HTTP requester (signed by `aws-sigv4`, AWS's own
//! signer, never kura's) for requests an SDK will not produce.

#![allow(dead_code)]

pub mod admin;
pub mod boto_presign;
pub mod engines;
pub mod etcd;
pub mod form;
pub mod multipart;
pub mod on_mount;
pub mod raw;
pub mod slow;
pub mod webhook;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::Client;

pub const ACCESS_KEY: &str = "KURATESTACCESSKEY001";
pub const SECRET_KEY: &str = "kuratestsecretkey0000000000000000000000a";

/// A running kura server; killed on drop.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    tmp: tempfile::TempDir,
    extra_args: Vec<String>,
    /// What the server printed on stdout before its "listening" line
    /// (e.g. `kura metrics on http://…`).
    pub banner: Vec<String>,
    extra_env: Vec<(String, String)>,
    /// Its etcd prefix and chunk namespace under `KURA_TEST_ENGINES`.
    placement: engines::Placement,
}

impl Server {
    /// Starts a server with default settings.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with extra `kura serve` arguments.
    pub fn start_with(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    /// Starts a server with extra `kura serve` arguments and environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_in(tempfile::tempdir().expect("tempdir"), args, env)
    }

    /// Starts a server whose temporary directory (data under `data/`) is `tmp`.
    pub fn start_in(tmp: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Server {
        let extra_args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut s = Server {
            child: None,
            placement: engines::place(&extra_args),
            endpoint: String::new(),
            addr: String::new(),
            tmp,
            extra_args,
            banner: Vec::new(),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.spawn();
        s
    }

    /// Another front end on the same shared engines as `first`: a data
    /// directory of its own holding a copy of `first`'s `access-keys.key`
    /// (every front end seals and opens the keys' rows with the same key).
    pub fn start_beside(first: &Server, args: &[&str], env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let key = "access-keys.key";
        std::fs::copy(first.data_dir().join(key), data.join(key)).unwrap();
        Server::start_in(tmp, args, env)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.tmp.path().join("server.log"))
            .expect("log file");
        // Tests may choose their own address (e.g. `[::1]:0`).
        let listen: &[&str] = if self.extra_args.iter().any(|a| a == "--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_kura"))
            .arg("serve")
            .args(listen)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.extra_args)
            .args(&self.placement.args)
            .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
            .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("KURA_LOG", "info")
            .envs(self.placement.env.iter().map(|(k, v)| (k, v)))
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn kura");
        // Synchronise on the server's own "listening" line, which also tells the port.
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("kura listening on ") {
                        break url.trim().to_string();
                    }
                    self.banner.push(line);
                }
                _ => panic!("kura exited before listening; log:\n{}", self.log()),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        // `addr` is the URL the server printed: http:// or https://.
        let (_, host_port) = addr.split_once("://").expect("listening URL");
        self.endpoint = addr.clone();
        self.addr = host_port.to_string();
        self.child = Some(child);
    }

    /// The server process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Peak resident memory of the server process so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server (SIGKILL: nothing gets a chance to clean up) and starts it again on the same data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Stops the server (SIGKILL) and leaves its data directory in place.
    pub fn stop(&mut self) {
        self.kill();
    }

    /// Starts a stopped server again on the same data.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// An SDK client with the default configuration (checksums, retries on).
    pub async fn client(&self) -> Client {
        self.client_with(ACCESS_KEY, SECRET_KEY, true).await
    }

    /// An SDK client that does not retry (for tests that expect errors).
    pub async fn client_no_retry(&self) -> Client {
        self.client_with(ACCESS_KEY, SECRET_KEY, false).await
    }

    pub async fn client_with(&self, access_key: &str, secret: &str, retry: bool) -> Client {
        let mut b = aws_sdk_s3::config::Builder::new()
            .behavior_version_latest()
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
            .force_path_style(true);
        if !retry {
            b = b.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        }
        Client::from_conf(b.build())
    }

    /// Number of chunk files on disk (under `KURA_TEST_ENGINES`: of
    /// chunks in the server's namespace of the shared backend).
    pub fn chunk_files(&self) -> usize {
        engines::chunk_count(&self.placement)
            .unwrap_or_else(|| count_files(&self.data_dir().join("chunks")))
    }

    /// The `--meta` / `--blobs` arguments the harness added under
    /// `KURA_TEST_ENGINES` (for a test that runs `kura` commands of its own
    /// on this server's data).
    pub fn engine_args(&self) -> &[String] {
        &self.placement.args
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- kura log ----\n{}", self.log());
        }
        engines::clean(&self.placement);
    }
}

fn count_files(p: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.map(|e| {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            count_files(&e.path())
        } else {
            1
        }
    })
    .sum()
}

/// Deterministic pseudo-random bytes (xorshift), so large bodies are not all zeros.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// The base64 MD5 of `data`, as `Content-MD5` carries it.
pub fn b64_md5(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

/// Waits (bounded) for a condition that the server reaches asynchronously.
pub async fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Turns S3 versioning on for `bucket` (new buckets start unversioned).
pub async fn enable_versioning(c: &Client, bucket: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning");
}

/// The bytes of `key` (of version `version` if given) through the SDK.
pub async fn get_version(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Vec<u8> {
    c.get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .unwrap()
        .to_vec()
}
