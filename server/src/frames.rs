//! How large a download's frames are.
//!
//! Downloads used to hand hyper chunk-file ranges mapped into memory (see
//! `kura_storage::reader`), so the CPU copies each byte once, into the
//! socket, instead of twice. Each frame costs an `mmap` and a `munmap`, and
//! `munmap` interrupts the other core to flush its TLB: small frames make
//! that the bottleneck (128 KiB frames served 1 MiB GETs slower than reading
//! into buffers did), 1 MiB frames amortise it (GET 1 MiB ×16: +30%,
//! GET 1 GiB: +50%). But mapped pages count in the server's RSS while hyper
//! holds them, so frames shrink as downloads multiply: all downloads
//! together hold about [`BUDGET`] of mapped data at most. Since chunk
//! checksums (issue 14 §3) frames are read into buffers and verified instead
//! (a truncated chunk file made mapped reads die of SIGBUS); buffers count in
//! RSS just as mapped pages did, so the sizing stands.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Mapped bytes all downloads together aim to hold at once.
pub const BUDGET: usize = 48 << 20;
/// The largest frame, for few concurrent downloads.
pub const MAX_FRAME: usize = 1 << 20;
/// The smallest frame, however many downloads run.
pub const MIN_FRAME: usize = 128 << 10;
/// Frames one download holds at most: one being written to the socket,
/// one queued, one being mapped.
pub const FRAMES_PER_DOWNLOAD: usize = 3;

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// One streaming download, counted while it lives.
pub struct Download(());

impl Download {
    /// Counts a new download until the returned value is dropped.
    pub fn start() -> Download {
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        Download(())
    }

    /// The size of this download's next frame, for the downloads running now.
    pub fn frame_size(&self) -> usize {
        frame_size_for(ACTIVE.load(Ordering::Relaxed))
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The frame size that keeps `active` downloads within [`BUDGET`]: a power
/// of two between [`MIN_FRAME`] and [`MAX_FRAME`].
pub fn frame_size_for(active: usize) -> usize {
    let share = BUDGET / (FRAMES_PER_DOWNLOAD * active.max(1));
    // Round down to a power of two (page-aligned frames map whole pages).
    let pow2 = 1usize << (usize::BITS - 1 - share.leading_zeros());
    pow2.clamp(MIN_FRAME, MAX_FRAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_downloads_get_large_frames() {
        assert_eq!(frame_size_for(0), MAX_FRAME);
        assert_eq!(frame_size_for(1), MAX_FRAME);
        assert_eq!(frame_size_for(16), MAX_FRAME);
    }

    #[test]
    fn many_downloads_share_the_budget() {
        for active in [17, 32, 64, 100, 1000, 100_000] {
            let frame = frame_size_for(active);
            assert!(frame.is_power_of_two());
            assert!((MIN_FRAME..=MAX_FRAME).contains(&frame));
            assert!(
                frame == MIN_FRAME || frame * FRAMES_PER_DOWNLOAD * active <= BUDGET,
                "{active} downloads of {frame}-byte frames exceed the budget"
            );
        }
        assert_eq!(frame_size_for(64), 256 << 10);
    }
}
