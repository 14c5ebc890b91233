//! The chunk store: where an object's bytes live, behind one seam.
//!
//! Every byte of a chunked object goes through [`ChunkStore`]: the writer
//! creates and commits chunks, the reader and the scrub read ranges, the
//! purger and the clean-up guards delete, the start-up sweep and `fsck`
//! enumerate. Local chunk files (`chunks.rs`) are the embedded default and
//! keep their fast path: the store is an enum, so a local read is a direct
//! call (and `pread` into a pooled buffer) as before the seam existed. Any
//! other backend (an S3-compatible endpoint, Ceph RADOS) implements
//! [`ChunkBackend`]; a network round trip dwarfs the virtual call there.
//!
//! Each call names the backend by number: 0 is the server's own (the
//! enum above), any other a bucket's own backend (`chunk_backends.rs`),
//! reached through the same trait.
//!
//! Whatever the backend, a chunk's block CRC32Cs live in its metadata row
//! (`ChunkRef::crcs`) and the reader verifies them (`integrity.rs`): a
//! backend is trusted to keep bytes, never to vouch for them.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::RwLock;

use bytes::Bytes;
use rand::RngCore;

use crate::backup::DeferredRemovals;
use crate::chunk_buffers::ChunkBuffer;
use crate::chunks::LocalChunks;

/// A chunk id: 128 random bits.
pub type ChunkId = [u8; 16];

/// A place other than the local data directory that holds chunks, one
/// object per chunk, named by the chunk's id.
///
/// Every call is blocking and is made from a blocking thread (never from an
/// async worker): an implementation over an async client runs its own
/// runtime and waits for the answer on a channel.
pub trait ChunkBackend: Send + Sync + fmt::Debug {
    /// Where the chunks go, for logs and reports (never credentials).
    fn describe(&self) -> String;

    /// Stores the whole chunk `id` and returns once the backend has
    /// acknowledged it durably (what a `200` on a write promises rests on
    /// it). Ids are random and never reused.
    fn put(&self, id: &ChunkId, data: Bytes) -> io::Result<()>;

    /// Appends the bytes `[offset, offset + len)` of chunk `id` to `buf`
    /// (fewer if the chunk is shorter). A missing chunk is
    /// [`io::ErrorKind::NotFound`].
    fn read(&self, id: &ChunkId, offset: u64, len: u64, buf: &mut Vec<u8>) -> io::Result<()>;

    /// The length of chunk `id` as stored; [`io::ErrorKind::NotFound`] if missing.
    fn stored_len(&self, id: &ChunkId) -> io::Result<u64>;

    /// Deletes chunk `id`; a missing chunk is fine (purges are idempotent).
    fn delete(&self, id: &ChunkId) -> io::Result<()>;

    /// Visits every chunk the backend holds, with its last-modified time
    /// when the backend knows it. Objects whose names are not chunk ids
    /// are not visited: they are not kura's to judge or remove.
    fn list(&self, visit: &mut dyn FnMut(ChunkId, Option<SystemTime>)) -> io::Result<()>;
}

/// Opens the backend registered under a number (the server's
/// `blobs::parse` over the registry row, see `chunk_backends.rs`).
pub(crate) type Resolve = Box<dyn Fn(u16) -> io::Result<Arc<dyn ChunkBackend>> + Send + Sync>;

/// The chunks of one store (see the module docs). Cheap to clone.
///
/// Every call names the backend by its number ([`crate::rows::ChunkRef::backend`]):
/// 0 is the server's own (`--blobs`, or local files) and stays a direct
/// call; any other number is a bucket's backend (`chunk_backends.rs`),
/// opened at its first use and kept open (on a shared engine its registry
/// row is read again every few seconds, for new credentials).
#[derive(Clone)]
pub(crate) struct ChunkStore {
    backend: Backend,
    /// What every clone shares (one `Arc`, so a clone costs what it did
    /// before bucket backends existed).
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Removals held back while a backup copies files (see `backup.rs`).
    deferred: DeferredRemovals,
    /// Bucket backends (numbers above 0).
    others: Others,
}

impl fmt::Debug for ChunkStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// The bucket backends opened so far, and how to open another.
#[derive(Default)]
struct Others {
    resolve: OnceLock<(Resolve, Option<Duration>)>,
    /// Each opened backend, and when its registry row was last read.
    open: RwLock<HashMap<u16, Opened>>,
}

/// An opened bucket backend, and when its registry row was last read.
type Opened = (Arc<dyn ChunkBackend>, Instant);

/// Static dispatch: the local default is a direct call.
#[derive(Debug, Clone)]
enum Backend {
    Local(LocalChunks),
    Remote(Arc<dyn ChunkBackend>),
}

/// One backend, as a call reaches it.
enum At<'a> {
    Local(&'a LocalChunks),
    Remote(Arc<dyn ChunkBackend>),
}

impl ChunkStore {
    /// Chunk files under `root` (created with its shard directories).
    pub(crate) fn local(root: PathBuf) -> io::Result<ChunkStore> {
        Ok(ChunkStore {
            backend: Backend::Local(LocalChunks::open(root)?),
            shared: Default::default(),
        })
    }

    /// Chunks in `backend`.
    pub(crate) fn remote(backend: Arc<dyn ChunkBackend>) -> ChunkStore {
        ChunkStore {
            backend: Backend::Remote(backend),
            shared: Default::default(),
        }
    }

    /// Sets how backend numbers above 0 are opened (once, at start-up),
    /// and how long an opened one is used before it is resolved again
    /// (`None`: until [`ChunkStore::forget`]; on a shared engine another
    /// front end may replace its credentials).
    pub(crate) fn set_resolver(&self, resolve: Resolve, refresh: Option<Duration>) {
        let _ = self.shared.others.resolve.set((resolve, refresh));
    }

    /// Removals held back while a backup copies files (see `backup.rs`).
    pub(crate) fn deferred(&self) -> &DeferredRemovals {
        &self.shared.deferred
    }

    /// The backend numbered `n`: the server's own for 0 (no lookup, no
    /// lock), else a bucket backend, opened at its first use.
    #[inline]
    fn at(&self, n: u16) -> io::Result<At<'_>> {
        if n == crate::rows::SERVER_BACKEND {
            return Ok(match &self.backend {
                Backend::Local(l) => At::Local(l),
                Backend::Remote(r) => At::Remote(Arc::clone(r)),
            });
        }
        self.other(n).map(At::Remote)
    }

    /// Bucket backend `n` (see [`ChunkStore::at`]).
    fn other(&self, n: u16) -> io::Result<Arc<dyn ChunkBackend>> {
        let others = &self.shared.others;
        let (resolve, refresh) = others.resolve.get().ok_or_else(|| {
            io::Error::other(format!("chunk backend {n} is not known to this process"))
        })?;
        let cached = others.open.read().get(&n).cloned();
        if let Some((b, at)) = &cached {
            if refresh.is_none_or(|r| at.elapsed() < r) {
                return Ok(Arc::clone(b));
            }
        }
        // Resolved outside the lock (it may connect); two first uses at
        // once resolve it twice and keep the later.
        match resolve(n) {
            Ok(opened) => {
                others
                    .open
                    .write()
                    .insert(n, (Arc::clone(&opened), Instant::now()));
                Ok(opened)
            }
            // The metadata engine did not answer: the backend opened
            // before still serves (its row is read again next time).
            Err(e) => match cached {
                Some((b, _)) => {
                    tracing::warn!(backend = n, error = %e, "could not read a chunk backend's registry row again");
                    Ok(b)
                }
                None => Err(e),
            },
        }
    }

    /// Forgets an opened bucket backend, so its next use opens it again
    /// (its credentials were replaced).
    pub(crate) fn forget(&self, n: u16) {
        self.shared.others.open.write().remove(&n);
    }

    /// A fresh random id.
    pub(crate) fn new_id() -> ChunkId {
        let mut id = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut id);
        id
    }

    /// The local chunk tree, if the server's chunks are local files.
    pub(crate) fn local_files(&self) -> Option<&LocalChunks> {
        match &self.backend {
            Backend::Local(l) => Some(l),
            Backend::Remote(_) => None,
        }
    }

    /// Where the server's chunks go, for logs and reports.
    pub(crate) fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(l) => l.root().display().to_string(),
            Backend::Remote(r) => r.describe(),
        }
    }

    /// Starts a new chunk in backend `n`; `expected` bytes at most will be
    /// written to it (a remote chunk is buffered whole: it is sent in one request).
    pub(crate) fn create(&self, n: u16, id: &ChunkId, expected: u64) -> io::Result<ChunkSink> {
        match self.at(n)? {
            At::Local(l) => Ok(ChunkSink::File(l.create(id)?)),
            At::Remote(r) => Ok(ChunkSink::Buffer {
                backend: r,
                id: *id,
                buf: ChunkBuffer::take(expected.min(64 << 20) as usize),
            }),
        }
    }

    /// Makes the directory entries of `ids` durable (local files; a remote
    /// chunk is durable once `put` returned).
    pub(crate) fn sync_dirs_of(&self, n: u16, ids: &[ChunkId]) -> io::Result<()> {
        match self.at(n)? {
            At::Local(l) => l.sync_dirs_of(ids),
            At::Remote(_) => Ok(()),
        }
    }

    /// Opens chunk `id` of backend `n` for reading (a remote chunk is
    /// reached at the first read).
    pub(crate) fn open(&self, n: u16, id: &ChunkId) -> io::Result<OpenChunk> {
        match self.at(n)? {
            At::Local(l) => Ok(OpenChunk::File(l.open_read(id)?)),
            At::Remote(r) => Ok(OpenChunk::Remote(r, *id)),
        }
    }

    /// Removes a chunk; a missing one is fine (purges are idempotent).
    /// Held back while a backup runs.
    pub(crate) fn remove(&self, n: u16, id: &ChunkId) -> io::Result<()> {
        if self.shared.deferred.defer(n, id) {
            return Ok(());
        }
        self.remove_now(n, id)
    }

    /// Removes a chunk even while a backup runs.
    pub(crate) fn remove_now(&self, n: u16, id: &ChunkId) -> io::Result<()> {
        match self.at(n)? {
            At::Local(l) => l.remove(id),
            At::Remote(r) => r.delete(id),
        }
    }

    /// Removes the chunks of an upload that will never commit. Local files
    /// go at once. Remote chunks go on a thread of their own, after the
    /// upload's last `put` (`pending`) is over — otherwise the put could
    /// land after the delete — and without holding up the caller, which
    /// may be an async thread dropping a cut-off request.
    pub(crate) fn remove_abandoned(
        &self,
        n: u16,
        ids: Vec<ChunkId>,
        pending: Option<std::thread::JoinHandle<io::Result<()>>>,
    ) {
        let remove = move |store: &ChunkStore, ids: &[ChunkId]| {
            for id in ids {
                if let Err(e) = store.remove(n, id) {
                    tracing::warn!(chunk = %hex::encode(id), error = %e, "could not remove chunk of aborted upload");
                }
            }
        };
        if n == crate::rows::SERVER_BACKEND && !self.is_remote() {
            return remove(self, &ids);
        }
        let store = self.clone();
        let spawned = std::thread::Builder::new()
            .name("kura-chunk-cleanup".into())
            .spawn(move || {
                if let Some(p) = pending {
                    let _ = p.join();
                }
                remove(&store, &ids);
            });
        if let Err(e) = spawned {
            // Left as orphans: the sweep or `fsck --repair` removes them.
            tracing::warn!(error = %e, "could not start the clean-up of an aborted upload");
        }
    }

    /// Visits every chunk the server's backend holds (and, locally, every
    /// other file in the chunk tree, with no id).
    pub(crate) fn list(&self, visit: impl FnMut(Listed)) -> io::Result<()> {
        self.list_in(crate::rows::SERVER_BACKEND, visit)
    }

    /// [`ChunkStore::list`] of backend `n`.
    pub(crate) fn list_in(&self, n: u16, mut visit: impl FnMut(Listed)) -> io::Result<()> {
        match self.at(n)? {
            At::Local(l) => l.walk(|id, path| {
                visit(Listed {
                    id,
                    backend: n,
                    name: path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into(),
                    place: Place::File(path.to_path_buf()),
                })
            }),
            At::Remote(r) => r.list(&mut |id, modified| {
                visit(Listed {
                    id: Some(id),
                    backend: n,
                    name: hex::encode(id),
                    place: Place::Remote(modified),
                })
            }),
        }
    }

    /// Removes what [`ChunkStore::list`] visited (at once: no backup can run
    /// where this is called, at start-up or offline).
    pub(crate) fn remove_listed(&self, listed: &Listed) -> io::Result<()> {
        match (&listed.place, listed.id) {
            (Place::File(path), _) => match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            (Place::Remote(_), Some(id)) => self.remove_now(listed.backend, &id),
            (Place::Remote(_), None) => Ok(()),
        }
    }

    /// Whether the server's chunks are in a backend other than local files
    /// (shared, maybe, by several front ends: see the start-up sweep).
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self.backend, Backend::Remote(_))
    }
}

/// A chunk (or a stray file) found by [`ChunkStore::list`].
#[derive(Debug)]
pub(crate) struct Listed {
    /// Its id, if its name is one.
    pub(crate) id: Option<ChunkId>,
    /// The backend it is in.
    pub(crate) backend: u16,
    /// Its name (a file name, or the id in hex).
    pub(crate) name: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    File(PathBuf),
    Remote(Option<SystemTime>),
}

impl Listed {
    /// When it was last modified, if known (a local file is asked now:
    /// only the callers that need it pay the `stat`).
    pub(crate) fn modified(&self) -> Option<SystemTime> {
        match &self.place {
            Place::File(path) => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            Place::Remote(t) => *t,
        }
    }
}

/// A chunk being written.
#[derive(Debug)]
pub(crate) enum ChunkSink {
    /// A new local file.
    File(File),
    /// A remote chunk, sent whole by [`ChunkSink::commit`].
    Buffer {
        backend: Arc<dyn ChunkBackend>,
        id: ChunkId,
        /// From the pool shared across threads (`chunk_buffers.rs`).
        buf: ChunkBuffer,
    },
}

impl ChunkSink {
    /// Appends bytes.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            ChunkSink::File(f) => f.write_all(data),
            ChunkSink::Buffer { buf, .. } => {
                buf.extend_from_slice(data);
                Ok(())
            }
        }
    }

    /// Makes the chunk durable: fsyncs the file (skippable only by the
    /// test-only fault switch), or sends the chunk and waits for the
    /// backend's acknowledgement. Blocking.
    pub(crate) fn commit(self) -> io::Result<()> {
        match self {
            ChunkSink::File(f) => {
                if crate::test_faults::skip_fsync("chunk-data") {
                    return Ok(());
                }
                f.sync_data()
            }
            ChunkSink::Buffer { backend, id, buf } => backend.put(&id, buf.into_bytes()),
        }
    }
}

/// A chunk open for reading.
#[derive(Debug)]
pub(crate) enum OpenChunk {
    /// A local file.
    File(File),
    /// A remote chunk.
    Remote(Arc<dyn ChunkBackend>, ChunkId),
}

impl OpenChunk {
    /// Appends the bytes `[start, start + len)` to `buf` (fewer at the
    /// chunk's end); returns how many.
    pub(crate) fn read_into(
        &mut self,
        start: u64,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> io::Result<usize> {
        match self {
            // `read_to_end` fills the spare capacity without zeroing it
            // first (a `vec![0; len]` cost a whole extra pass over every byte served).
            OpenChunk::File(file) => {
                file.seek(SeekFrom::Start(start))?;
                Read::by_ref(file).take(len as u64).read_to_end(buf)
            }
            OpenChunk::Remote(backend, id) => {
                let before = buf.len();
                backend.read(id, start, len as u64, buf)?;
                Ok(buf.len() - before)
            }
        }
    }

    /// The chunk's stored length.
    pub(crate) fn stored_len(&self) -> io::Result<u64> {
        match self {
            OpenChunk::File(file) => Ok(file.metadata()?.len()),
            OpenChunk::Remote(backend, id) => backend.stored_len(id),
        }
    }
}
