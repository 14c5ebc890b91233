//! Object contents: every object is a window into one shared random pool,
//! starting at an offset derived from its key, so bodies cost no copies and
//! no per-object memory, differ from object to object (no server can
//! deduplicate them away), and can be checked byte for byte on GET.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use rand::RngCore;

/// Size of the random pool; objects larger than this repeat it.
const POOL: usize = 4 << 20;
/// Largest frame handed to hyper at once.
const FRAME: usize = 1 << 20;

/// The random pool, stored twice in a row so that any window of up to
/// `POOL` bytes starting inside the first copy is one contiguous slice.
#[derive(Clone)]
pub struct Pool {
    doubled: Bytes,
}

impl Pool {
    /// A fresh random pool.
    pub fn new() -> Pool {
        let mut half = vec![0u8; POOL];
        rand::thread_rng().fill_bytes(&mut half);
        let mut doubled = half.clone();
        doubled.extend_from_slice(&half);
        Pool {
            doubled: doubled.into(),
        }
    }

    /// Where the content of `key` starts in the pool.
    pub fn offset(key: &str) -> usize {
        // FNV-1a: cheap, and only needs to spread keys over the pool.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % POOL as u64) as usize
    }

    /// The body of `key` with `size` bytes.
    pub fn body(&self, key: &str, size: u64) -> PoolBody {
        self.range_body(Pool::offset(key), 0, size)
    }

    /// Bytes `start..start+len` of the content that begins at `offset`.
    pub fn range_body(&self, offset: usize, start: u64, len: u64) -> PoolBody {
        PoolBody {
            pool: self.doubled.clone(),
            pos: (offset as u64 + start) % POOL as u64,
            remaining: len,
        }
    }

    /// Compares `data`, found at `pos` of the content of `key`, with what
    /// was uploaded there.
    pub fn matches(&self, key: &str, pos: u64, data: &[u8]) -> bool {
        let mut at = ((Pool::offset(key) as u64 + pos) % POOL as u64) as usize;
        let mut rest = data;
        while !rest.is_empty() {
            let n = rest.len().min(POOL);
            if self.doubled[at..at + n] != rest[..n] {
                return false;
            }
            rest = &rest[n..];
            at = (at + n) % POOL;
        }
        true
    }
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

/// A request body streamed out of the pool in frames of up to 1 MiB.
pub struct PoolBody {
    pool: Bytes,
    pos: u64,
    remaining: u64,
}

impl Body for PoolBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = (self.remaining as usize).min(FRAME);
        let start = self.pos as usize;
        let frame = self.pool.slice(start..start + n);
        self.pos = (self.pos + n as u64) % POOL as u64;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn bodies_are_windows_of_the_pool_and_verify() {
        let pool = Pool::new();
        let size = (POOL as u64) * 2 + 12345;
        let body = pool.body("a/key", size).collect().await.unwrap().to_bytes();
        assert_eq!(body.len() as u64, size);
        assert!(pool.matches("a/key", 0, &body));
        assert!(pool.matches("a/key", 100, &body[100..200]));
        assert!(!pool.matches("another/key", 0, &body[..4096]));
        let mut bad = body.to_vec();
        bad[POOL + 7] ^= 1;
        assert!(!pool.matches("a/key", 0, &bad));
    }
}
