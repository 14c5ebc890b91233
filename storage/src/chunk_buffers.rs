//! Buffers for remote chunks, reused across threads.
//!
//! A chunk bound for a remote backend is buffered whole (it is sent in one
//! request) — 8 MiB by default. Allocated per chunk, each buffer was filled
//! on a request's blocking thread, sent from a commit thread and freed on
//! whichever thread dropped it last (a commit thread, an HTTP client's
//! worker). glibc keeps freed memory in the arena of the thread that
//! allocated it, and large frees raise its mmap threshold so later chunk
//! buffers come from those arenas too: peak RSS grew with the data written
//! (a 256 MiB PUT to RADOS peaked at ~175 MiB). A process-wide malloc
//! setting (`MALLOC_ARENA_MAX`) would hide it, but the embedded path
//! measured worse with fixed malloc settings.
//!
//! So chunk buffers come from one small pool shared by every thread: a
//! buffer is allocated once at its final size, returned when its last
//! owner drops it (whatever the thread: [`ChunkBuffer::into_bytes`] hands
//! the backend a [`Bytes`] that gives the buffer back), and reused by the
//! next chunk. At most [`IDLE_MAX`] buffers wait in the pool; beyond that
//! (more chunks in flight than that at once) a returned buffer is freed.

use bytes::Bytes;
use parking_lot::Mutex;

/// Idle buffers kept at most: two per upload in flight (one filling, one
/// sending) for two uploads, 32 MiB at the default chunk size.
const IDLE_MAX: usize = 4;
/// Larger buffers are never kept (a `--chunk-size` far above the default).
const KEEP_MAX_BYTES: usize = 64 << 20;

/// Idle buffers, shared by every thread.
#[derive(Debug)]
struct Pool(Mutex<Vec<Vec<u8>>>);

/// The process's pool.
static POOL: Pool = Pool(Mutex::new(Vec::new()));

/// A buffer holding one remote chunk while it is written and sent; back
/// to its pool when dropped.
#[derive(Debug)]
pub(crate) struct ChunkBuffer(Vec<u8>, &'static Pool);

impl ChunkBuffer {
    /// An empty buffer with room for `capacity` bytes: a pooled one that
    /// is large enough, else a new one of exactly that size.
    pub(crate) fn take(capacity: usize) -> ChunkBuffer {
        Self::take_from(&POOL, capacity)
    }

    fn take_from(pool: &'static Pool, capacity: usize) -> ChunkBuffer {
        let pooled = {
            let mut idle = pool.0.lock();
            idle.iter()
                .position(|b| b.capacity() >= capacity)
                .map(|i| idle.swap_remove(i))
        };
        let mut buf = pooled.unwrap_or_else(|| Vec::with_capacity(capacity));
        buf.clear();
        ChunkBuffer(buf, pool)
    }

    /// Appends bytes (growing the buffer past its capacity if need be).
    pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
    }

    /// The bytes, as a [`Bytes`] that returns the buffer to the pool when
    /// its last clone is dropped, on whatever thread.
    pub(crate) fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for ChunkBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for ChunkBuffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() == 0 || buf.capacity() > KEEP_MAX_BYTES {
            return;
        }
        let mut idle = self.1 .0.lock();
        if idle.len() < IDLE_MAX {
            idle.push(buf);
        } else if let Some(smallest) = idle.iter_mut().min_by_key(|b| b.capacity()) {
            // Keep the larger of the two: a pool of undersized buffers
            // would allocate afresh for every chunk.
            if smallest.capacity() < buf.capacity() {
                *smallest = buf;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_across_threads_and_bounded() {
        // A pool of the test's own: other tests may use the process's.
        let pool: &'static Pool = Box::leak(Box::new(Pool(Mutex::new(Vec::new()))));
        let idle = || pool.0.lock().len();
        let first = ChunkBuffer::take_from(pool, 1 << 20);
        let ptr = first.0.as_ptr();
        let mut b = first;
        b.extend_from_slice(b"chunk");
        let bytes = b.into_bytes();
        assert_eq!(&bytes[..], b"chunk");
        let clone = bytes.clone();
        std::thread::spawn(move || drop(bytes)).join().unwrap();
        assert_eq!(idle(), 0, "still referenced by a clone");
        drop(clone);
        assert_eq!(idle(), 1, "back when the last reference went");
        let again = ChunkBuffer::take_from(pool, 1 << 20);
        assert_eq!(again.0.as_ptr(), ptr, "the freed buffer is reused");
        assert!(again.0.is_empty() && again.0.capacity() >= 1 << 20);

        let many: Vec<_> = (0..IDLE_MAX + 3)
            .map(|_| ChunkBuffer::take_from(pool, 1 << 20))
            .collect();
        drop(again);
        drop(many);
        assert_eq!(idle(), IDLE_MAX, "the pool keeps a bounded number");
        let small = ChunkBuffer::take_from(pool, 1 << 10);
        assert!(
            small.0.capacity() >= 1 << 20,
            "a larger pooled buffer serves a smaller chunk"
        );
        drop(ChunkBuffer::take_from(pool, KEEP_MAX_BYTES + 1));
        assert!(pool.0.lock().iter().all(|b| b.capacity() <= KEEP_MAX_BYTES));
    }
}
