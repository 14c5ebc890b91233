//! Recycled buffers for streaming downloads.
//!
//! A fresh 256 KiB buffer per frame cost a third of the CPU of serving
//! 1 MiB objects (memset, page faults, and `madvise` when glibc returned
//! the memory). Frames here are `Bytes` that give their buffer back to the
//! download's pool when hyper drops them, so a download cycles through the
//! few buffers it has in flight.

use std::sync::mpsc::{channel, Receiver, Sender};

use bytes::Bytes;

/// The buffers of one download.
pub struct FramePool {
    home: Sender<Vec<u8>>,
    returned: Receiver<Vec<u8>>,
    size: usize,
}

impl FramePool {
    /// A pool of buffers of `size` bytes.
    pub fn new(size: usize) -> FramePool {
        let (home, returned) = channel();
        FramePool {
            home,
            returned,
            size,
        }
    }

    /// A buffer of `size` bytes: one given back, else a new one.
    pub fn take(&self) -> Vec<u8> {
        self.returned
            .try_recv()
            .unwrap_or_else(|_| vec![0; self.size])
    }

    /// The first `len` bytes of `buf` as `Bytes` that return `buf` to this
    /// pool when dropped (or free it if the pool is gone).
    pub fn freeze(&self, buf: Vec<u8>, len: usize) -> Bytes {
        assert!(len <= buf.len(), "frame longer than its buffer");
        Bytes::from_owner(Frame {
            buf,
            len,
            home: self.home.clone(),
        })
    }
}

struct Frame {
    buf: Vec<u8>,
    len: usize,
    home: Sender<Vec<u8>>,
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        // Fails only when the download is over; then the buffer is freed.
        let _ = self.home.send(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_frames_drop() {
        let pool = FramePool::new(8);
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
}
