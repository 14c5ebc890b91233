//! Recycled buffers for streaming downloads.
//!
//! A fresh buffer per frame cost a third of the CPU of serving 1 MiB
//! objects (memset, page faults, and `madvise` when glibc returned the
//! memory). Frames here are `Bytes` that give their buffer back to a pool
//! shared by all downloads when hyper drops them. A per-download pool still
//! zeroed the first few buffers of every download (8% of the CPU of 1 MiB
//! GETs); the shared pool keeps a bounded number of idle buffers, so memory
//! left over after a burst of downloads stays small.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use parking_lot::Mutex;

/// Size of one download frame.
pub const FRAME: usize = 128 * 1024;
/// Idle frames kept for reuse (8 MiB); more are freed when returned.
const KEEP: usize = 64;

static DOWNLOADS: LazyLock<Arc<FramePool>> = LazyLock::new(|| FramePool::new(FRAME, KEEP));

/// The pool every download takes its frames from.
pub fn download_frames() -> &'static Arc<FramePool> {
    &DOWNLOADS
}

/// Buffers of one size, handed out and taken back.
pub struct FramePool {
    idle: Mutex<Vec<Vec<u8>>>,
    size: usize,
    keep: usize,
}

impl FramePool {
    /// A pool of buffers of `size` bytes that keeps at most `keep` idle ones.
    pub fn new(size: usize, keep: usize) -> Arc<FramePool> {
        Arc::new(FramePool {
            idle: Mutex::new(Vec::with_capacity(keep)),
            size,
            keep,
        })
    }

    /// A buffer of `size` bytes: an idle one, else a new one.
    pub fn take(&self) -> Vec<u8> {
        let reused = self.idle.lock().pop();
        reused.unwrap_or_else(|| vec![0; self.size])
    }

    /// The first `len` bytes of `buf` as `Bytes` that give `buf` back to
    /// this pool when dropped.
    pub fn freeze(self: &Arc<Self>, buf: Vec<u8>, len: usize) -> Bytes {
        assert!(len <= buf.len(), "frame longer than its buffer");
        Bytes::from_owner(Frame {
            buf,
            len,
            pool: Arc::clone(self),
        })
    }

    fn give_back(&self, buf: Vec<u8>) {
        let mut idle = self.idle.lock();
        if idle.len() < self.keep {
            idle.push(buf);
        }
    }
}

struct Frame {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<FramePool>,
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_frames_drop() {
        let pool = FramePool::new(8, 4);
        let mut buf = pool.take();
        buf[..3].copy_from_slice(b"abc");
        let ptr = buf.as_ptr();
        let frame = pool.freeze(buf, 3);
        assert_eq!(&frame[..], b"abc");
        let clone = frame.slice(1..);
        drop(frame);
        // Still referenced by the slice: not back yet, a new buffer is made.
        let other = pool.take();
        assert_ne!(other.as_ptr(), ptr);
        drop(clone);
        let again = pool.take();
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again.len(), 8);
    }

    #[test]
    fn at_most_keep_idle_buffers_are_kept() {
        let pool = FramePool::new(8, 2);
        let frames: Vec<Bytes> = (0..5).map(|_| pool.freeze(pool.take(), 8)).collect();
        drop(frames);
        assert_eq!(pool.idle.lock().len(), 2);
    }
}
