//! The free-space high-water mark (`--min-free-space`): writes are refused
//! with 507 `InsufficientStorage` before they take a byte while the data
//! directory's file system has less free space than the mark, and accepted
//! again by themselves once space returns. Reads, deletes and listings are
//! never refused.
//!
//! `statvfs` is cheap but not free: its answer is cached for
//! [`REFRESH`], so a burst of small PUTs costs one call per interval.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kura_protocol::{S3Error, S3ErrorCode, S3Result};

/// How long one `statvfs` answer is trusted.
const REFRESH: Duration = Duration::from_millis(250);
/// How long clients are told to wait before retrying.
const RETRY_AFTER_SECS: &str = "30";

/// `--min-free-space`: a size, a share of the file system, or the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinFreeSpace {
    /// 1 GiB or 2% of the file system, whichever is smaller.
    Auto,
    /// A number of bytes (`0` turns the check off).
    Bytes(u64),
    /// Hundredths of a percent of the file system's size.
    Share(u32),
}

/// Parses `auto`, `0`/`off`, a size (`512MiB`) or a percentage (`2%`, `0.5%`).
pub fn parse_min_free_space(s: &str) -> Result<MinFreeSpace, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("auto") {
        return Ok(MinFreeSpace::Auto);
    }
    if s.eq_ignore_ascii_case("off") || s == "0" {
        return Ok(MinFreeSpace::Bytes(0));
    }
    if let Some(p) = s.strip_suffix('%') {
        let pct: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("invalid percentage {s:?}"))?;
        if !(0.0..=100.0).contains(&pct) {
            return Err(format!("percentage out of range: {s:?}"));
        }
        return Ok(MinFreeSpace::Share((pct * 100.0).round() as u32));
    }
    crate::config::parse_size(s).map(MinFreeSpace::Bytes)
}

impl MinFreeSpace {
    /// The mark in bytes on a file system of `total` bytes.
    pub fn bytes(self, total: u64) -> u64 {
        match self {
            MinFreeSpace::Auto => (1u64 << 30).min(total / 50),
            MinFreeSpace::Bytes(b) => b,
            MinFreeSpace::Share(hundredths) => (total as u128 * hundredths as u128 / 10_000) as u64,
        }
    }
}

/// Watches the data directory's free space.
pub struct DiskGuard {
    dir: PathBuf,
    min: MinFreeSpace,
    started: Instant,
    /// When `free` was measured (ms since `started`, +1 so 0 means never).
    checked_ms: AtomicU64,
    free: AtomicU64,
    mark: AtomicU64,
}

impl DiskGuard {
    /// A guard of the file system holding `dir`.
    pub fn new(dir: PathBuf, min: MinFreeSpace) -> DiskGuard {
        DiskGuard {
            dir,
            min,
            started: Instant::now(),
            checked_ms: AtomicU64::new(0),
            free: AtomicU64::new(u64::MAX),
            mark: AtomicU64::new(0),
        }
    }

    /// (free bytes available to kura, the mark), measured at most [`REFRESH`] ago.
    pub fn state(&self) -> (u64, u64) {
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let checked = self.checked_ms.load(Ordering::Relaxed);
        if checked == 0 || now.saturating_sub(checked) >= REFRESH.as_millis() as u64 {
            self.checked_ms.store(now, Ordering::Relaxed);
            match rustix::fs::statvfs(&self.dir) {
                Ok(st) => {
                    let frsize = st.f_frsize.max(1);
                    let free = st.f_bavail.saturating_mul(frsize);
                    let total = st.f_blocks.saturating_mul(frsize);
                    self.free.store(free, Ordering::Relaxed);
                    self.mark.store(self.min.bytes(total), Ordering::Relaxed);
                }
                Err(e) => {
                    // Unknown is not full: a failing statvfs must not stop writes.
                    tracing::warn!(error = %e, dir = %self.dir.display(), "statvfs failed");
                    self.free.store(u64::MAX, Ordering::Relaxed);
                }
            }
        }
        (
            self.free.load(Ordering::Relaxed),
            self.mark.load(Ordering::Relaxed),
        )
    }

    /// Whether free space is below the mark now.
    pub fn is_low(&self) -> bool {
        let (free, mark) = self.state();
        free < mark
    }

    /// Refuses a write of `incoming` bytes (0 when unknown) that would take
    /// the file system below the mark.
    pub fn admit(&self, incoming: u64) -> S3Result<()> {
        let (free, mark) = self.state();
        if mark > 0 && free.saturating_sub(incoming) < mark {
            return Err(S3Error::new(S3ErrorCode::InsufficientStorage)
                .header("retry-after", RETRY_AFTER_SECS));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_computes_marks() {
        assert_eq!(parse_min_free_space("auto"), Ok(MinFreeSpace::Auto));
        assert_eq!(parse_min_free_space("off"), Ok(MinFreeSpace::Bytes(0)));
        assert_eq!(
            parse_min_free_space("1GiB"),
            Ok(MinFreeSpace::Bytes(1 << 30))
        );
        assert_eq!(parse_min_free_space("2%"), Ok(MinFreeSpace::Share(200)));
        assert!(parse_min_free_space("101%").is_err());
        // The default: the smaller of 1 GiB and 2%.
        assert_eq!(MinFreeSpace::Auto.bytes(100 << 30), 1 << 30);
        assert_eq!(MinFreeSpace::Auto.bytes(10 << 30), (10u64 << 30) / 50);
        assert_eq!(MinFreeSpace::Share(50).bytes(1000), 5);
    }

    #[test]
    fn a_guard_off_admits_everything() {
        let g = DiskGuard::new(std::env::temp_dir(), MinFreeSpace::Bytes(0));
        assert!(g.admit(u64::MAX).is_ok());
        let g = DiskGuard::new(std::env::temp_dir(), MinFreeSpace::Bytes(u64::MAX));
        assert!(g.is_low());
        assert_eq!(
            g.admit(0).unwrap_err().code,
            S3ErrorCode::InsufficientStorage
        );
    }
}
