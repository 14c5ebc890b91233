//! The audit file (`--audit-log FILE`): every request's [`AccessRecord`] as
//! one JSON line, appended by a thread of its own and fsync'd in batches
//! (group commit: whatever arrived while the previous fsync ran goes in the
//! next), rotated by size into `FILE.<UTC time>`.
//!
//! Requests never wait for the disk: records go through a bounded channel.
//! When it is full (the disk cannot keep up with [`CHANNEL_CAPACITY`]
//! records in hand), the record is dropped, counted in
//! `kura_audit_dropped_total` and logged; the access log line of the
//! request is still written through `tracing`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use anyhow::Context;

use crate::access_log::AccessRecord;

/// Records waiting for the writer at most.
pub const CHANNEL_CAPACITY: usize = 16 * 1024;
/// Lines written between two fsyncs at most.
const BATCH: usize = 4096;

enum Msg {
    Line(String),
    Flush(mpsc::Sender<()>),
}

/// The request side of the audit file.
pub struct AuditSink {
    tx: SyncSender<Msg>,
    dropped: AtomicU64,
}

impl AuditSink {
    /// Opens (creating) `path` for appending and starts its writer thread.
    pub fn start(path: PathBuf, max_size: u64) -> anyhow::Result<AuditSink> {
        let file = open_append(&path)?;
        let (tx, rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let mut writer = Writer {
            size: file.metadata()?.len(),
            file,
            path,
            max_size,
        };
        std::thread::Builder::new()
            .name("kura-audit".into())
            .spawn(move || writer.run(rx))
            .context("starting the audit writer")?;
        Ok(AuditSink {
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues a record; `false` if it was dropped (writer behind or gone).
    pub fn send(&self, r: &AccessRecord) -> bool {
        let line = match serde_json::to_string(r) {
            Ok(l) => l,
            Err(_) => return false,
        };
        match self.tx.try_send(Msg::Line(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed);
                // One line per thousand drops: the log must not drown too.
                if n.is_multiple_of(1000) {
                    tracing::error!(
                        dropped = n + 1,
                        "audit log writer is behind: records dropped (see kura_audit_dropped_total)"
                    );
                }
                false
            }
        }
    }

    /// Waits (up to `timeout`) until everything queued so far is written and synced.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done_tx, done_rx) = mpsc::channel();
        if self.tx.send(Msg::Flush(done_tx)).is_err() {
            return false;
        }
        done_rx.recv_timeout(timeout).is_ok()
    }
}

fn open_append(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening audit log {}", path.display()))
}

struct Writer {
    file: File,
    path: PathBuf,
    size: u64,
    max_size: u64,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Msg>) {
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut waiting = Vec::new();
        // Blocks for the first message of a batch, then takes what is there.
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            let mut lines = 0;
            while let Some(msg) = next {
                match msg {
                    Msg::Line(l) => {
                        buf.extend_from_slice(l.as_bytes());
                        buf.push(b'\n');
                        lines += 1;
                    }
                    Msg::Flush(done) => waiting.push(done),
                }
                next = if lines < BATCH {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if let Err(e) = self.write_batch(&buf) {
                tracing::error!(error = %e, path = %self.path.display(), "audit log write failed");
            }
            buf.clear();
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
    }

    fn write_batch(&mut self, buf: &[u8]) -> anyhow::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.size > 0 && self.size + buf.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.file.sync_data()?;
        self.size += buf.len() as u64;
        Ok(())
    }

    /// Renames the full file to `FILE.<UTC time>` and starts a new one.
    fn rotate(&mut self) -> anyhow::Result<()> {
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second].[subsecond digits:6]Z"
            ))
            .unwrap_or_default();
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(format!(".{stamp}"));
        std::fs::rename(&self.path, &rotated)
            .with_context(|| format!("rotating audit log {}", self.path.display()))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        // The rename and the new file survive a crash only once the directory is synced.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        tracing::info!(rotated = %Path::new(&rotated).display(), "audit log rotated");
        Ok(())
    }
}

/// The audit files of `path`: its rotated files (oldest first), then `path` itself.
pub fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the audit log path has no file name")?;
    let prefix = format!("{name}.");
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
        .collect();
    // The UTC timestamps sort as text.
    rotated.sort();
    if path.exists() {
        rotated.push(path.to_path_buf());
    }
    Ok(rotated)
}

/// Reads every record of the audit files of `path`, in order, passing
/// each to `f`. Lines that are not records (a torn last line after a
/// crash) are skipped.
pub fn read_all(path: &Path, mut f: impl FnMut(AccessRecord)) -> anyhow::Result<()> {
    for file in files(path)? {
        let reader = BufReader::new(
            File::open(&file).with_context(|| format!("opening {}", file.display()))?,
        );
        for line in reader.lines() {
            let line = line.with_context(|| format!("reading {}", file.display()))?;
            if let Ok(r) = serde_json::from_str::<AccessRecord>(&line) {
                f(r);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u64) -> AccessRecord {
        AccessRecord {
            request_id: format!("R{n}"),
            operation: "PutObject".into(),
            bucket: Some("b".into()),
            key: Some(format!("k{n}")),
            status: 200,
            ..Default::default()
        }
    }

    #[test]
    fn rotates_by_size_and_reads_back_every_record_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let sink = AuditSink::start(path.clone(), 1000).unwrap();
        for n in 0..50 {
            assert!(sink.send(&record(n)));
            // One flush per record: every batch is one line, so rotation is exact.
            assert!(sink.flush(Duration::from_secs(10)));
        }
        let files = files(&path).unwrap();
        assert!(files.len() > 2, "rotated into several files: {files:?}");
        for f in &files {
            assert!(
                std::fs::metadata(f).unwrap().len() <= 1000,
                "{f:?} too large"
            );
        }
        let mut seen = Vec::new();
        read_all(&path, |r| seen.push(r.request_id)).unwrap();
        let want: Vec<String> = (0..50).map(|n| format!("R{n}")).collect();
        assert_eq!(seen, want);
    }
}
