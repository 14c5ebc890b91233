//! `kura admin migrate`: copies a stopped server's embedded data directory
//! (RocksDB rows and chunk files) into other engines — metadata on etcd,
//! chunks in RADOS or an S3 endpoint — and verifies the copy.
//!
//! Offline, in three steps, each safe to run again:
//! 1. every chunk into the target chunk store (one already there with the
//!    recorded length is skipped, so an interrupted run resumes cheaply);
//! 2. every row of every column family through the engine seam, in commits
//!    of at most [`MAX_BATCH_OPS`] operations and [`MAX_BATCH_BYTES`] bytes
//!    (inside etcd's 128-operation / 1.5 MiB transaction limits). Chunks go
//!    first so that no committed row ever names a chunk the target lacks;
//! 3. verification: every column family read back from both sides in key
//!    order and compared row by row, then every chunk every current
//!    version, noncurrent version and upload part lists read from the
//!    target and checked against its length and block checksums.
//!
//! The sealing key of access keys and webhooks (`access-keys.key`) and
//! generated root credentials are copied into the target data directory,
//! which the new front end is started on.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::chunk_store::{ChunkBackend, ChunkId, ChunkStore};
use crate::engine::{Batch, Cf, Durability, Engine, MetaUrl, ReadBounds};
use crate::error::{StorageError, StorageResult};
use crate::keys::{ALL_CFS, CF_OBJECTS, CF_PARTS, CF_VERSIONS};
use crate::scrub::{check_chunk_in, owner_of};
use crate::store::StoreTuning;

/// Operations per target commit at most (etcd refuses more than 128 per `Txn`).
pub const MAX_BATCH_OPS: usize = 100;
/// Key and value bytes per target commit at most (etcd refuses requests over 1.5 MiB).
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// Where a migration copies to.
#[derive(Debug)]
pub struct MigrateTarget {
    /// The metadata engine (`etcd://…`, or `embedded` into `data_dir/meta`).
    pub meta: MetaUrl,
    /// The chunk backend (`None`: local chunk files under `data_dir/chunks`).
    pub blobs: Option<Arc<dyn ChunkBackend>>,
    /// The data directory the new front end starts on (gets the sealing key).
    pub data_dir: PathBuf,
    /// Copy into a target that already holds rows or chunks (resuming an
    /// interrupted migration).
    pub force: bool,
}

/// What a migration copied and verified.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MigrateReport {
    /// Rows copied per column family.
    pub rows: BTreeMap<String, u64>,
    /// Commits made on the target.
    pub commits: u64,
    /// Chunks copied to the target chunk store.
    pub chunks_copied: u64,
    /// Chunks already in the target with their length (an earlier run's).
    pub chunks_present: u64,
    /// Bytes of the chunks copied.
    pub chunk_bytes: u64,
    /// Rows found equal on both sides.
    pub rows_verified: u64,
    /// Current versions verified (row equal, every chunk readable and checksummed).
    pub objects_verified: u64,
    /// Noncurrent versions and delete markers verified the same way.
    pub versions_verified: u64,
    /// Parts of multipart uploads in progress verified the same way.
    pub parts_verified: u64,
    /// Chunks read back from the target and verified.
    pub chunks_verified: u64,
    /// Bytes read back and verified.
    pub bytes_verified: u64,
    /// Chunks in buckets' own backends (`chunk_backends.rs`): they stay
    /// where they are, and the rows that name them, their backends' numbers
    /// and the registry are copied as stored.
    pub chunks_in_bucket_backends: u64,
    /// What did not verify (empty on success).
    pub problems: Vec<String>,
}

/// Problems listed one by one at most (then only counted).
const MAX_PROBLEMS: usize = 100;

impl MigrateReport {
    fn problem(&mut self, what: String) {
        if self.problems.len() < MAX_PROBLEMS {
            tracing::error!(%what, "migrate: verification failed");
            self.problems.push(what);
        } else if self.problems.len() == MAX_PROBLEMS {
            self.problems.push("… (more problems not listed)".into());
        }
    }
}

/// Copies the embedded data directory `source` (of a stopped server; its
/// chunks in `source_blobs` when it was started with `--blobs`) into
/// `target`, then verifies it (see the module docs). A report with
/// problems means the copy is not to be trusted; run it again.
pub fn migrate(
    source: &Path,
    source_blobs: Option<Arc<dyn ChunkBackend>>,
    target: &MigrateTarget,
) -> StorageResult<MigrateReport> {
    let invalid = |msg: String| StorageError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg));
    if !source.join("meta").is_dir() {
        return Err(invalid(format!(
            "{} is not a kura data directory (no meta/)",
            source.display()
        )));
    }
    let same_dir = std::fs::canonicalize(source).ok()
        == std::fs::canonicalize(&target.data_dir).ok()
        && target.data_dir.exists();
    if same_dir {
        return Err(invalid(
            "the target data directory must not be the source".into(),
        ));
    }
    let tuning = StoreTuning::default();
    // RocksDB's lock makes this fail while a server runs on `source`.
    let from_db = Engine::open(&MetaUrl::Embedded, &source.join("meta"), &tuning)?;
    let from_chunks = match source_blobs {
        Some(b) => ChunkStore::remote(b),
        None => ChunkStore::local(source.join("chunks"))?,
    };
    std::fs::create_dir_all(&target.data_dir)?;
    let to_db = Engine::open(&target.meta, &target.data_dir.join("meta"), &tuning)?;
    let to_chunks = match &target.blobs {
        Some(b) => ChunkStore::remote(Arc::clone(b)),
        None => ChunkStore::local(target.data_dir.join("chunks"))?,
    };
    if !target.force {
        refuse_non_empty(&to_db, &to_chunks)?;
    }
    copy_secrets(source, &target.data_dir)?;

    let mut report = MigrateReport::default();
    copy_chunks(&from_chunks, &to_chunks, &mut report)?;
    copy_rows(&from_db, &to_db, &mut report)?;
    verify_rows(&from_db, &to_db, &mut report)?;
    verify_chunks(&from_db, &to_chunks, &mut report)?;
    Ok(report)
}

/// Fails if the target engine holds any row or the chunk store any chunk.
fn refuse_non_empty(db: &Engine, chunks: &ChunkStore) -> StorageResult<()> {
    for name in ALL_CFS {
        if let Some(first) = db.entries(Cf(name), ReadBounds::all(), None).next() {
            first?;
            return Err(StorageError::Io(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "the target metadata already holds rows (in `{name}`); \
                     use a fresh prefix, or --force to resume an interrupted migration"
                ),
            )));
        }
    }
    let mut any = false;
    chunks.list(|found| any |= found.id.is_some())?;
    if any {
        return Err(StorageError::Io(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "the target chunk store {} already holds chunks; \
                 use a fresh prefix, or --force to resume an interrupted migration",
                chunks.describe()
            ),
        )));
    }
    Ok(())
}

/// Copies the sealing key and generated root credentials (mode 0600) into
/// the target data directory; an existing, different key there is refused
/// (the copied rows could not be opened with it).
fn copy_secrets(source: &Path, target: &Path) -> StorageResult<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o700))?;
    for name in [crate::secrets::KEY_FILE, "root-credentials.json"] {
        let from = source.join(name);
        let content = match std::fs::read(&from) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let to = target.join(name);
        match std::fs::read(&to) {
            Ok(existing) if existing == content => continue,
            Ok(_) => {
                return Err(StorageError::Io(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and differs from {}",
                        to.display(),
                        from.display()
                    ),
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&to)?;
        io::Write::write_all(&mut f, &content)?;
        f.sync_all()?;
    }
    crate::chunks::sync_dir(target)?;
    Ok(())
}

/// Chunks copied at once: a remote backend's PUT is a round trip, so a
/// few in flight keep the link busy (each holds one chunk in memory).
const COPY_THREADS: usize = 8;

/// Copies every chunk `from` holds into `to`, whole (a chunk is at most
/// `--chunk-size`), skipping those already there with the same length.
fn copy_chunks(
    from: &ChunkStore,
    to: &ChunkStore,
    report: &mut MigrateReport,
) -> StorageResult<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let mut ids = Vec::new();
    from.list(|found| ids.extend(found.id))?;
    let queue = parking_lot::Mutex::new(ids.into_iter());
    let copied = parking_lot::Mutex::new(Vec::new());
    let (present, bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    let copy_one = |id: ChunkId, buf: &mut Vec<u8>| -> io::Result<()> {
        let mut source = match from.open(0, &id) {
            Ok(c) => c,
            // Gone since it was listed (cannot happen offline; harmless).
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let len = source.stored_len()?;
        if to.open(0, &id).and_then(|c| c.stored_len()).ok() == Some(len) {
            present.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        buf.clear();
        let got = source.read_into(0, len as usize, buf)?;
        if got as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("chunk {}: read {got} of {len} bytes", hex::encode(id)),
            ));
        }
        let mut sink = to.create(0, &id, len)?;
        sink.write_all(buf)?;
        sink.commit()?;
        copied.lock().push(id);
        bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    };
    let failed = parking_lot::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..COPY_THREADS {
            scope.spawn(|| {
                let mut buf = Vec::new();
                loop {
                    if failed.lock().is_some() {
                        return;
                    }
                    let Some(id) = queue.lock().next() else {
                        return;
                    };
                    if let Err(e) = copy_one(id, &mut buf) {
                        failed.lock().get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner() {
        return Err(e.into());
    }
    let copied = copied.into_inner();
    to.sync_dirs_of(0, &copied)?;
    report.chunks_copied += copied.len() as u64;
    report.chunks_present += present.into_inner();
    report.chunk_bytes += bytes.into_inner();
    Ok(())
}

/// Copies every row of every column family, in commits within etcd's limits.
fn copy_rows(from: &Engine, to: &Engine, report: &mut MigrateReport) -> StorageResult<()> {
    for name in ALL_CFS {
        let cf = Cf(name);
        let mut batch = Batch::default();
        let mut bytes = 0usize;
        let mut rows = 0u64;
        for item in from.entries(cf, ReadBounds::all(), None) {
            let (k, v) = item?;
            if !batch.is_empty()
                && (batch.ops.len() >= MAX_BATCH_OPS || bytes + k.len() + v.len() > MAX_BATCH_BYTES)
            {
                to.commit(std::mem::take(&mut batch), Durability::Synced)?;
                report.commits += 1;
                bytes = 0;
            }
            bytes += k.len() + v.len();
            batch.put_cf(cf, &k, &v);
            rows += 1;
        }
        if !batch.is_empty() {
            to.commit(batch, Durability::Synced)?;
            report.commits += 1;
        }
        report.rows.insert(name.to_string(), rows);
    }
    Ok(())
}

/// Reads every column family from both engines in key order and reports
/// every row missing, extra or different on the target.
fn verify_rows(from: &Engine, to: &Engine, report: &mut MigrateReport) -> StorageResult<()> {
    for name in ALL_CFS {
        let cf = Cf(name);
        let mut a = from.entries(cf, ReadBounds::all(), None).peekable();
        let mut b = to.entries(cf, ReadBounds::all(), None).peekable();
        loop {
            let next_a = a.peek().map(|r| r.as_ref().map_err(|_| ()));
            let next_b = b.peek().map(|r| r.as_ref().map_err(|_| ()));
            let order = match (next_a, next_b) {
                (None, None) => break,
                (Some(Err(())), _) => return Err(a.next().expect("peeked").expect_err("error")),
                (_, Some(Err(()))) => return Err(b.next().expect("peeked").expect_err("error")),
                (Some(Ok((ka, _))), Some(Ok((kb, _)))) => ka.cmp(kb),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    let (k, _) = a.next().expect("peeked")?;
                    report.problem(format!(
                        "{name}: row {} missing on the target",
                        hex::encode(k)
                    ));
                }
                std::cmp::Ordering::Greater => {
                    let (k, _) = b.next().expect("peeked")?;
                    report.problem(format!("{name}: row {} only on the target", hex::encode(k)));
                }
                std::cmp::Ordering::Equal => {
                    let (k, va) = a.next().expect("peeked")?;
                    let (_, vb) = b.next().expect("peeked")?;
                    if va == vb {
                        report.rows_verified += 1;
                    } else {
                        report.problem(format!("{name}: row {} differs", hex::encode(k)));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads back, from the target chunk store, every chunk that a version or
/// an upload part lists, and checks its length and block checksums.
fn verify_chunks(
    db: &Engine,
    chunks: &ChunkStore,
    report: &mut MigrateReport,
) -> StorageResult<()> {
    let started = Instant::now();
    for cf in [CF_OBJECTS, CF_VERSIONS, CF_PARTS] {
        for item in db.entries(Cf(cf), ReadBounds::all(), None) {
            let (k, v) = item?;
            if let Some(owner) = owner_of(cf, &k, &v)? {
                for chunk in &owner.chunks {
                    if chunk.backend != crate::rows::SERVER_BACKEND {
                        report.chunks_in_bucket_backends += 1;
                        continue;
                    }
                    let (bytes, problem) = check_chunk_in(chunks, chunk, None, started, 0);
                    report.chunks_verified += 1;
                    report.bytes_verified += bytes;
                    if let Some((_, problem)) = problem {
                        report.problem(format!(
                            "{}: chunk {}: {problem}",
                            owner.name,
                            hex::encode(chunk.id)
                        ));
                    }
                }
            }
            match cf {
                CF_OBJECTS => report.objects_verified += 1,
                CF_VERSIONS => report.versions_verified += 1,
                _ => report.parts_verified += 1,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Store, StoreConfig};

    use crate::test_support::put;

    /// Into an embedded target (the same code path as etcd, minus the
    /// network): everything verifies; a second run is refused, and with
    /// `force` skips every chunk; a chunk damaged in the target is reported.
    #[test]
    fn a_copy_verifies_and_a_damaged_target_chunk_is_reported() {
        let src = tempfile::tempdir().unwrap();
        {
            let s = Store::open(StoreConfig {
                data_dir: src.path().to_path_buf(),
                chunk_size: 1000,
                inline_threshold: 4,
                retention: Duration::from_secs(3600),
            })
            .unwrap();
            s.create_bucket("b").unwrap();
            put(&s, "inline", b"abc");
            put(&s, "chunked", &[7u8; 2500]);
            put(&s, "chunked", &[8u8; 1500]);
        }
        let dst = tempfile::tempdir().unwrap();
        let mut target = MigrateTarget {
            meta: MetaUrl::Embedded,
            blobs: None,
            data_dir: dst.path().join("data"),
            force: false,
        };
        let report = migrate(src.path(), None, &target).unwrap();
        assert_eq!(report.problems, Vec::<String>::new());
        assert_eq!(report.chunks_copied, 5);
        assert_eq!((report.objects_verified, report.versions_verified), (2, 1));
        assert_eq!(report.chunks_verified, 5);
        assert!(dst
            .path()
            .join("data")
            .join(crate::secrets::KEY_FILE)
            .exists());

        let refused = migrate(src.path(), None, &target).unwrap_err();
        assert!(refused.to_string().contains("--force"), "{refused}");

        // Damage one chunk in the target, same length: a forced run skips
        // it (length matches) and the verification catches it.
        let local = crate::chunks::LocalChunks::open(dst.path().join("data/chunks")).unwrap();
        let mut victim = None;
        local
            .walk(|id, path| {
                if victim.is_none() {
                    victim = id.map(|_| path.to_path_buf());
                }
            })
            .unwrap();
        let victim = victim.unwrap();
        let mut bytes = std::fs::read(&victim).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&victim, bytes).unwrap();
        target.force = true;
        let report = migrate(src.path(), None, &target).unwrap();
        assert_eq!((report.chunks_copied, report.chunks_present), (0, 5));
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            report.problems[0].contains("checksum mismatch"),
            "{:?}",
            report.problems
        );
    }
}
