//! The control socket: one line in, one line out, per connection.
//!
//! - `cut`: simulate a power cut now; answers `ok <stats>` once the file
//!   system serves only what was durable.
//! - `stats`: answers `ok <stats>`.
//! - `unmount`: answers `ok`, then the file system is unmounted and the
//!   process exits.
//!
//! `<stats>` is `cuts=N file_syncs=N dir_syncs=N nodes=N live_bytes=N`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::disk::Stats;

/// Formats counters as the socket reports them.
pub fn format_stats(s: &Stats) -> String {
    format!(
        "cuts={} file_syncs={} dir_syncs={} nodes={} live_bytes={}",
        s.cuts, s.file_syncs, s.dir_syncs, s.nodes, s.live_bytes
    )
}

/// Sends one command to the socket at `path` and returns the answer line.
pub fn send(path: &Path, command: &str) -> std::io::Result<String> {
    let mut s = UnixStream::connect(path)?;
    s.write_all(command.as_bytes())?;
    s.write_all(b"\n")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    let line = line.trim_end().to_string();
    if line.starts_with("ok") {
        Ok(line)
    } else {
        Err(std::io::Error::other(format!("{command}: {line}")))
    }
}
