//! The suite's second pass (issue 15): with `KURA_TEST_ENGINES` set, every
//! kura a test starts keeps its metadata in one shared etcd under a fresh
//! prefix and its chunks in one shared Ceph pool under a fresh namespace
//! (or, where Ceph is not installed, in a shared backend kura under a fresh
//! prefix). `scripts/with-engines` starts those engines once, runs the test
//! binary with their addresses in the environment, and stops them:
//!
//! ```text
//! KURA_TEST_ENGINES   etcd+rados | etcd+s3 (unset: the embedded default)
//! KURA_TEST_ETCD      127.0.0.1:PORT of the etcd
//! KURA_TEST_CEPH_CONF the one-node cluster's ceph.conf   (etcd+rados)
//! KURA_TEST_RADOS_POOL its pool                          (etcd+rados)
//! KURA_TEST_S3_BLOBS  s3://BUCKET@http://127.0.0.1:PORT (etcd+s3; the
//!                     test access key opens it)
//! ```
//!
//! Tests that look at what only the embedded engines have (the RocksDB
//! files, the local chunk tree, power cuts under it) skip themselves with
//! [`skip`], saying why.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The engines every spawned kura runs on.
#[derive(Debug, Clone)]
pub enum Engines {
    /// RocksDB and chunk files in the data directory (the default).
    Embedded,
    /// etcd for metadata, a RADOS pool for chunks.
    EtcdRados {
        etcd: String,
        conf: String,
        pool: String,
    },
    /// etcd for metadata, an S3 endpoint (a backend kura) for chunks.
    EtcdS3 { etcd: String, blobs: String },
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("KURA_TEST_ENGINES is set but {name} is not: run the suite through scripts/with-engines")
    })
}

/// What `KURA_TEST_ENGINES` asks for (read once).
pub fn current() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| match std::env::var("KURA_TEST_ENGINES").as_deref() {
        Err(_) | Ok("") | Ok("embedded") => Engines::Embedded,
        Ok("etcd+rados") => Engines::EtcdRados {
            etcd: var("KURA_TEST_ETCD"),
            conf: var("KURA_TEST_CEPH_CONF"),
            pool: var("KURA_TEST_RADOS_POOL"),
        },
        Ok("etcd+s3") => Engines::EtcdS3 {
            etcd: var("KURA_TEST_ETCD"),
            blobs: var("KURA_TEST_S3_BLOBS"),
        },
        Ok(other) => panic!("KURA_TEST_ENGINES={other}: expected etcd+rados or etcd+s3"),
    })
}

/// Whether spawned servers run on the distributed engines.
pub fn distributed() -> bool {
    !matches!(current(), Engines::Embedded)
}

/// `true` (after saying why on stderr) when the suite runs on the
/// distributed engines and the calling test cannot apply there:
/// `if common::engines::skip("inspects the RocksDB files") { return; }`.
pub fn skip(reason: &str) -> bool {
    if !distributed() {
        return false;
    }
    eprintln!(
        "SKIPPED under KURA_TEST_ENGINES={}: {reason}",
        std::env::var("KURA_TEST_ENGINES").unwrap_or_default()
    );
    true
}

/// Where one spawned server's metadata and chunks go: a fresh etcd prefix
/// and a fresh RADOS namespace (or S3 prefix), kept across its restarts.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Extra `kura serve` arguments (`--meta`, `--blobs`), if any.
    pub args: Vec<String>,
    /// Extra environment (the S3 backend's credentials).
    pub env: Vec<(String, String)>,
    /// Its etcd root (every key under `<root>/`), when it got one.
    pub root: Option<String>,
    /// The RADOS namespace holding its chunks, when it got one.
    pub namespace: Option<String>,
    /// The S3 prefix holding its chunks, when it got one.
    pub s3_prefix: Option<String>,
}

/// A name no other server of this run (or of an earlier run on the same
/// engines) uses.
fn fresh_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The placement of a new server whose test passes `args`: a test that
/// names its own `--meta` or `--blobs` keeps it.
pub fn place(args: &[String]) -> Placement {
    let mut p = Placement {
        args: Vec::new(),
        env: Vec::new(),
        root: None,
        namespace: None,
        s3_prefix: None,
    };
    let (etcd, name) = match current() {
        Engines::Embedded => return p,
        Engines::EtcdRados { etcd, .. } | Engines::EtcdS3 { etcd, .. } => (etcd, fresh_name()),
    };
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    if !has("--meta") {
        p.args.push("--meta".into());
        p.args.push(format!("etcd://{etcd}/{name}"));
        p.root = Some(name.clone());
    }
    if !has("--blobs") {
        match current() {
            Engines::EtcdRados { conf, pool, .. } => {
                p.args.push("--blobs".into());
                p.args
                    .push(format!("rados://{pool}?conf={conf}&namespace={name}"));
                p.namespace = Some(name);
            }
            Engines::EtcdS3 { blobs, .. } => {
                let (bucket, endpoint) = blobs
                    .strip_prefix("s3://")
                    .and_then(|r| r.split_once('@'))
                    .expect("KURA_TEST_S3_BLOBS=s3://BUCKET@http://HOST:PORT");
                p.args.push("--blobs".into());
                p.args.push(format!("s3://{bucket}/{name}@{endpoint}"));
                p.env
                    .push(("KURA_BLOBS_ACCESS_KEY_ID".into(), super::ACCESS_KEY.into()));
                p.env.push((
                    "KURA_BLOBS_SECRET_ACCESS_KEY".into(),
                    super::SECRET_KEY.into(),
                ));
                p.s3_prefix = Some(format!("{name}/"));
            }
            Engines::Embedded => unreachable!(),
        }
    }
    p
}

/// How many chunks a server placed by [`place`] holds in the shared
/// backend; `None` when its chunks are local files (embedded, or a test
/// that chose its own `--blobs`).
pub fn chunk_count(p: &Placement) -> Option<usize> {
    match (current(), &p.namespace, &p.s3_prefix) {
        (Engines::EtcdRados { conf, pool, .. }, Some(ns), _) => {
            let out = std::process::Command::new("rados")
                .args(["-c", conf, "-p", pool, "-N", ns, "ls"])
                .output()
                .expect("running rados ls");
            assert!(
                out.status.success(),
                "rados ls: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .count(),
            )
        }
        (Engines::EtcdS3 { blobs, .. }, _, Some(prefix)) => Some(s3_count(blobs, prefix)),
        _ => None,
    }
}

/// Objects under `prefix` in the shared S3 backend (a blocking call from
/// inside a test's runtime: it runs on a thread and runtime of its own).
fn s3_count(blobs: &str, prefix: &str) -> usize {
    let (bucket, endpoint) = blobs
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('@'))
        .expect("KURA_TEST_S3_BLOBS=s3://BUCKET@http://HOST:PORT");
    let (bucket, endpoint, prefix) = (bucket.to_string(), endpoint.to_string(), prefix.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use aws_sdk_s3::config::{Credentials, Region};
            let conf = aws_sdk_s3::config::Builder::new()
                .behavior_version_latest()
                .endpoint_url(endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(
                    super::ACCESS_KEY,
                    super::SECRET_KEY,
                    None,
                    None,
                    "test",
                ))
                .force_path_style(true)
                .build();
            let c = aws_sdk_s3::Client::from_conf(conf);
            let mut n = 0;
            let mut pages = c
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                n += page.expect("listing the S3 backend").contents().len();
            }
            n
        })
    })
    .join()
    .expect("listing thread")
}

/// Removes what a server placed by [`place`] left in the shared engines
/// (its etcd keys, its chunks), so the suite's footprint there stays that
/// of the tests running at the moment: the one-node Ceph keeps its objects
/// in memory.
pub fn clean(p: &Placement) {
    if let (Engines::EtcdRados { etcd, .. } | Engines::EtcdS3 { etcd, .. }, Some(root)) =
        (current(), &p.root)
    {
        let _ = std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &format!("http://{etcd}")])
            .args(["del", "--prefix", &format!("{root}/")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    if let (Engines::EtcdRados { conf, pool, .. }, Some(ns)) = (current(), &p.namespace) {
        let rados = |args: &[&str]| {
            std::process::Command::new("rados")
                .args(["-c", conf, "-p", pool, "-N", ns])
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
        };
        if let Ok(out) = rados(&["ls"]) {
            let names = String::from_utf8_lossy(&out.stdout).into_owned();
            let names: Vec<&str> = names.lines().filter(|l| !l.is_empty()).collect();
            for batch in names.chunks(500) {
                let mut args = vec!["rm"];
                args.extend_from_slice(batch);
                let _ = rados(&args);
            }
        }
    }
}
