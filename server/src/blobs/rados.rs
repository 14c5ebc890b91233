//! Chunks as objects in a Ceph RADOS pool: one RADOS object per chunk,
//! named by the chunk id in hex, in the pool and namespace of the URL
//! `rados://POOL?conf=/etc/ceph/ceph.conf&namespace=NS&user=admin&op_timeout=60s`.
//!
//! `op_timeout` (default [`DEFAULT_OP_TIMEOUT`], `0`: wait for ever) is
//! librados's `rados_osd_op_timeout` and `rados_mon_op_timeout`: an
//! operation a placement group cannot serve (below `min_size`, its OSDs
//! hung) fails after that long, and the request with it (503), instead of
//! holding the request, its lock and its thread until the cluster recovers.
//!
//! Through the official `ceph` crate (blocking librados calls, made on the
//! storage's blocking threads). librados acknowledges a `write_full` once
//! every replica of the object's placement group has it, which is what a
//! `200` rests on. The cluster handle is created once and never shut down:
//! the crate's explicit disconnect followed by its drop frees twice, and an
//! I/O context must not outlive its cluster handle.

use std::io;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use bytes::Bytes;
use ceph::ceph::{connect_to_ceph, IoCtx, Pool, Rados};
use ceph::error::RadosError;
use kura_storage::{ChunkBackend, ChunkId};

/// How long a RADOS operation may wait when the URL does not say: longer
/// than Ceph takes to notice a dead OSD and move its placement groups
/// (~20–30 s with the default heartbeat grace), so a failover is waited
/// out and only a placement group that stays stuck fails requests.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(60);

/// The most bytes one RADOS write carries (see [`RadosChunks::put`]).
const PIECE: usize = 1 << 20;

/// Where the chunks go: `POOL?conf=…&namespace=…&user=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadosTarget {
    /// The pool.
    pub pool: String,
    /// The cluster's configuration file.
    pub conf: String,
    /// The namespace within the pool (empty: the default one).
    pub namespace: String,
    /// The client's id (`admin` is `client.admin`).
    pub user: String,
    /// librados's operation timeouts (zero: none). Not part of the
    /// backend's identity ([`RadosTarget::url`]): changing it is no move.
    pub op_timeout: Duration,
}

impl RadosTarget {
    /// Parses what follows `rados://`.
    pub fn parse(rest: &str) -> anyhow::Result<RadosTarget> {
        let (pool, query) = rest.split_once('?').unwrap_or((rest, ""));
        if pool.is_empty() || pool.contains('/') {
            bail!(
                "expected rados://POOL?conf=/etc/ceph/ceph.conf[&namespace=NS][&user=ID][&op_timeout=60s]"
            );
        }
        let mut target = RadosTarget {
            pool: pool.to_string(),
            conf: "/etc/ceph/ceph.conf".into(),
            namespace: String::new(),
            user: "admin".into(),
            op_timeout: DEFAULT_OP_TIMEOUT,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .context("a rados:// parameter is not UTF-8")?
                .into_owned();
            match k {
                "conf" => target.conf = v,
                "namespace" => target.namespace = v,
                "user" => target.user = v,
                "op_timeout" => {
                    target.op_timeout = crate::config::parse_duration(&v).map_err(|e| {
                        anyhow::anyhow!(
                            "rados:// op_timeout={v:?}: {e} (e.g. op_timeout=30s, 2m; 0 waits for ever)"
                        )
                    })?;
                }
                _ => bail!("unknown rados:// parameter {k:?} (conf, namespace, user, op_timeout)"),
            }
        }
        Ok(target)
    }

    /// The URL form.
    pub fn url(&self) -> String {
        let mut url = format!("rados://{}?conf={}", self.pool, self.conf);
        if !self.namespace.is_empty() {
            url.push_str(&format!("&namespace={}", self.namespace));
        }
        if self.user != "admin" {
            url.push_str(&format!("&user={}", self.user));
        }
        url
    }
}

/// Chunks in a RADOS pool.
pub struct RadosChunks {
    target: RadosTarget,
    ioctx: IoCtx,
    /// Kept for the life of the process (see the module docs).
    _cluster: &'static Rados,
}

impl std::fmt::Debug for RadosChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadosChunks")
            .field("target", &self.target.url())
            .finish_non_exhaustive()
    }
}

impl RadosChunks {
    /// Connects to the cluster and opens the pool.
    pub fn connect(target: RadosTarget) -> anyhow::Result<RadosChunks> {
        check_op_timeout(target.op_timeout)?;
        let cluster = connect_to_ceph(&target.user, &target.conf)
            .map_err(|e| anyhow::anyhow!("connecting to Ceph with {}: {e}", target.conf))?;
        let cluster: &'static Rados = Box::leak(Box::new(cluster));
        let ioctx = cluster
            .get_rados_ioctx(&target.pool)
            .map_err(|e| anyhow::anyhow!("opening the pool {:?}: {e}", target.pool))?;
        if !target.namespace.is_empty() {
            ioctx
                .rados_set_namespace(&target.namespace)
                .map_err(|e| anyhow::anyhow!("setting the namespace: {e}"))?;
        }
        Ok(RadosChunks {
            target,
            ioctx,
            _cluster: cluster,
        })
    }

    fn fail(&self, what: &str, e: RadosError) -> io::Error {
        let kind = match &e {
            RadosError::ApiError(nix::errno::Errno::ENOENT) => io::ErrorKind::NotFound,
            // `op_timeout` ran out (the S3 error is 503, retry later).
            RadosError::ApiError(nix::errno::Errno::ETIMEDOUT) => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        let mut msg = format!("{what} in {}: {e}", self.target.url());
        if kind == io::ErrorKind::TimedOut {
            msg.push_str(&format!(
                " (no answer within op_timeout={}s)",
                self.target.op_timeout.as_secs()
            ));
        }
        io::Error::new(kind, msg)
    }
}

impl ChunkBackend for RadosChunks {
    fn describe(&self) -> String {
        self.target.url()
    }

    fn put(&self, id: &ChunkId, data: Bytes) -> io::Result<()> {
        // In pieces: librados copies what it is given into a buffer of its
        // own, allocated on this thread and freed on one of its messenger
        // threads; whole 8 MiB copies left glibc's per-thread arenas
        // holding freed chunks, so peak RSS grew with the data written.
        let name = hex::encode(id);
        let mut offset = 0;
        for piece in data.chunks(PIECE) {
            let written = if offset == 0 {
                // Replaces whatever a failed earlier attempt left.
                self.ioctx.rados_object_write_full(&name, piece)
            } else {
                self.ioctx.rados_object_write(&name, piece, offset as u64)
            };
            written.map_err(|e| self.fail("storing a chunk", e))?;
            offset += piece.len();
        }
        if data.is_empty() {
            self.ioctx
                .rados_object_write_full(&name, &[])
                .map_err(|e| self.fail("storing a chunk", e))?;
        }
        Ok(())
    }

    fn read(&self, id: &ChunkId, offset: u64, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
        if len == 0 {
            // (the crate would read 64 KiB into an empty buffer)
            return Ok(());
        }
        let mut got = ReadBuffer::take(len as usize);
        self.ioctx
            .rados_object_read(&hex::encode(id), &mut got.0, offset)
            .map_err(|e| self.fail("reading a chunk", e))?;
        got.0.truncate(len as usize);
        buf.extend_from_slice(&got.0);
        Ok(())
    }

    fn stored_len(&self, id: &ChunkId) -> io::Result<u64> {
        self.ioctx
            .rados_object_stat(&hex::encode(id))
            .map(|(size, _)| size)
            .map_err(|e| self.fail("looking up a chunk", e))
    }

    fn delete(&self, id: &ChunkId) -> io::Result<()> {
        match self.ioctx.rados_object_remove(&hex::encode(id)) {
            Err(RadosError::ApiError(nix::errno::Errno::ENOENT)) => Ok(()),
            other => other.map_err(|e| self.fail("deleting a chunk", e)),
        }
    }

    fn list(&self, visit: &mut dyn FnMut(ChunkId, Option<SystemTime>)) -> io::Result<()> {
        let ctx = self
            .ioctx
            .rados_list_pool_objects()
            .map_err(|e| self.fail("listing chunks", e))?;
        for object in (Pool { ctx }) {
            let id = hex::decode(&object.name)
                .ok()
                .and_then(|v| ChunkId::try_from(v.as_slice()).ok());
            if let Some(id) = id {
                let modified = self
                    .ioctx
                    .rados_object_stat(&object.name)
                    .ok()
                    .map(|(_, t)| t);
                visit(id, modified);
            }
        }
        Ok(())
    }
}

/// The operation timeout (seconds) librados was given for this process.
static PROCESS_OP_TIMEOUT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Gives librados its operation timeouts for the whole process: those of
/// `blobs_url` when it is a `rados://` URL (the server's `--blobs`), else
/// [`DEFAULT_OP_TIMEOUT`]. `main` calls it before anything else, while the
/// process has one thread.
///
/// librados takes options before it connects, and the `ceph` crate
/// connects in the same call that creates the handle (its `config_set`
/// refuses a handle that exists); kura has no `unsafe` code to call
/// `rados_conf_set` itself. So the options go where librados reads them
/// when it creates a handle: `CEPH_ARGS`, after whatever the environment
/// already has there (they override `ceph.conf`). The environment is
/// written this once: changing it while other threads may read it (libc's
/// `getenv`, librados's own threads, a bucket backend opened while the
/// server serves) is a data race. Every later connection must therefore
/// ask for the same timeout ([`RadosChunks::connect`] refuses another).
pub fn init_op_timeout(blobs_url: Option<&str>) -> anyhow::Result<()> {
    let timeout = match blobs_url.and_then(|u| u.strip_prefix("rados://")) {
        Some(rest) => RadosTarget::parse(rest)?.op_timeout,
        None => DEFAULT_OP_TIMEOUT,
    };
    let secs = timeout.as_secs();
    if PROCESS_OP_TIMEOUT.set(secs).is_err() {
        return Ok(());
    }
    let mut args = std::env::var_os("CEPH_ARGS").unwrap_or_default();
    if !args.is_empty() {
        args.push(" ");
    }
    args.push(format!(
        "--rados_osd_op_timeout={secs} --rados_mon_op_timeout={secs}"
    ));
    std::env::set_var("CEPH_ARGS", &args);
    Ok(())
}

/// Checks that `timeout` is the one librados has in this process.
fn check_op_timeout(timeout: Duration) -> anyhow::Result<()> {
    let secs = timeout.as_secs();
    match PROCESS_OP_TIMEOUT.get() {
        Some(&set) if set != secs => bail!(
            "op_timeout={secs}s: librados takes its operation timeout once per \
             process, and this one has op_timeout={set}s (from the server's --blobs \
             URL, or the default {}s): give every rados:// URL of one kura the same",
            DEFAULT_OP_TIMEOUT.as_secs()
        ),
        Some(_) => Ok(()),
        None => {
            tracing::warn!("librados's operation timeouts were not set for this process: operations wait without limit");
            Ok(())
        }
    }
}

/// A buffer for one RADOS read, reused: the crate reads up to a buffer's
/// capacity, so each read needs one of exactly its length, and a fresh
/// allocation per frame, made and freed on whichever blocking thread ran
/// the read, left memory in glibc's per-thread arenas (peak RSS grew with
/// the bytes downloaded). Reads are mostly whole frames of one length, so
/// a few kept buffers of the lengths last used serve nearly all of them.
struct ReadBuffer(Vec<u8>);

/// Read buffers kept at most (each a frame, about 1 MiB): a download reads
/// one frame at a time, and every buffer kept is resident.
const READ_BUFFERS_KEPT: usize = 2;
static READ_BUFFERS: parking_lot::Mutex<Vec<Vec<u8>>> = parking_lot::Mutex::new(Vec::new());

impl ReadBuffer {
    /// An empty buffer of capacity exactly `len`.
    fn take(len: usize) -> ReadBuffer {
        let kept = {
            let mut kept = READ_BUFFERS.lock();
            kept.iter()
                .position(|b| b.capacity() == len)
                .map(|i| kept.swap_remove(i))
        };
        let mut buf = kept.unwrap_or_else(|| {
            let mut b = Vec::new();
            b.reserve_exact(len);
            b
        });
        buf.clear();
        ReadBuffer(buf)
    }
}

impl Drop for ReadBuffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() == 0 || buf.capacity() > 2 * PIECE {
            return;
        }
        let mut kept = READ_BUFFERS.lock();
        if kept.len() >= READ_BUFFERS_KEPT {
            // The oldest length goes: frames shrink and grow with load.
            kept.remove(0);
        }
        kept.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_back() {
        let t = RadosTarget::parse("kura?conf=/tmp/c/ceph.conf&namespace=site-a").unwrap();
        assert_eq!(t.pool, "kura");
        assert_eq!(t.conf, "/tmp/c/ceph.conf");
        assert_eq!(t.namespace, "site-a");
        assert_eq!(t.user, "admin");
        assert_eq!(
            t.url(),
            "rados://kura?conf=/tmp/c/ceph.conf&namespace=site-a"
        );
        assert_eq!(
            RadosTarget::parse("p").unwrap().url(),
            "rados://p?conf=/etc/ceph/ceph.conf"
        );
        assert!(RadosTarget::parse("").is_err());
        assert!(RadosTarget::parse("p?color=red").is_err());
        assert_eq!(t.op_timeout, DEFAULT_OP_TIMEOUT);
    }

    #[test]
    fn op_timeouts_parse_and_stay_out_of_the_identity() {
        let t = RadosTarget::parse("kura?conf=/c&op_timeout=30s").unwrap();
        assert_eq!(t.op_timeout, Duration::from_secs(30));
        // The data directory records the URL: a new timeout is the same backend.
        assert_eq!(t.url(), "rados://kura?conf=/c");
        assert_eq!(
            RadosTarget::parse("kura?op_timeout=2m").unwrap().op_timeout,
            Duration::from_secs(120)
        );
        assert_eq!(
            RadosTarget::parse("kura?op_timeout=0").unwrap().op_timeout,
            Duration::ZERO
        );
        for bad in [
            "kura?op_timeout=",
            "kura?op_timeout=30ms",
            "kura?op_timeout=soon",
        ] {
            let e = RadosTarget::parse(bad).unwrap_err().to_string();
            assert!(e.contains("op_timeout"), "{bad}: {e}");
        }
    }
}
