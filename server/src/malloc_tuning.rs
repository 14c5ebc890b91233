//! glibc malloc settings for the server process (issue 13: resident memory
//! under 150 MiB on the 4 KiB workloads).
//!
//! Where the memory went (`/proc/PID/smaps` after `benches/ab.sh`'s
//! `get4k put4k`): RocksDB's memtables and block cache ~70 MiB (their
//! configured bounds), binaries and libraries ~18 MiB, and ~45 MiB more in
//! glibc's per-thread arenas. glibc raises its mmap threshold every time a
//! large mapped block is freed (up to 32 MiB), so after start-up RocksDB's
//! 2 MiB memtable blocks and every other block of 128 KiB–2 MiB come from
//! the arenas, and a block freed inside an arena's heap stays resident
//! (only the top of a heap is ever trimmed): RSS grew with the memtables'
//! turnover, spread over up to 16 arenas. A fixed threshold keeps large
//! blocks mapped, so freeing one returns it at once. It is 2 MiB: RocksDB's
//! memtable blocks (an eighth of `--rocksdb-write-buffer-size`, 2 MiB by
//! default) are at or above it, while download buffers (frames of up to
//! 1 MiB, pooled in `kura_storage::reader`) and upload batches (256 KiB)
//! stay in the heap. Lower thresholds (128 KiB, 512 KiB) cut RSS a little
//! more but mapped and unmapped those buffers per request: GET 1 MiB's CPU
//! doubled (300–400 page faults a request). See the README's Performance
//! section for the measurements, and for `M_ARENA_MAX`, which was not kept.
//!
//! An operator who sets glibc's own knobs (`MALLOC_MMAP_THRESHOLD_`,
//! `MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`...) keeps them: kura then changes
//! nothing.
// The one exception to the workspace's `unsafe_code = "deny"`: glibc's
// `mallopt` has no safe wrapper in a maintained crate.
#![allow(unsafe_code)]

/// Blocks this large or larger are mapped on their own and unmapped when freed.
pub const MMAP_THRESHOLD: i32 = 2 << 20;
/// Free memory at the top of a heap kept for reuse. Fixing the mmap
/// threshold also fixes this one at its 128 KiB default, and a heap trimmed
/// that eagerly gave back each freed download buffer, so the next one
/// faulted its pages in again (GET 1 MiB: 85–330 page faults and up to 1.6×
/// the CPU per request; with 8 MiB: ~1, as with glibc's defaults).
pub const TRIM_THRESHOLD: i32 = 8 << 20;

/// Applies the settings; call at start-up, before other threads exist.
pub fn tune() {
    let set_by_operator = std::env::vars_os().any(|(name, _)| {
        let name = name.to_string_lossy();
        name.starts_with("MALLOC_") || name == "GLIBC_TUNABLES"
    });
    if set_by_operator {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called
        // from the main thread before any other thread exists.
        let ok = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                + libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        };
        if ok != 2 {
            tracing::warn!("could not set malloc's mmap and trim thresholds");
        }
    }
}
