//! The control socket: one line in, one line out, per connection.
//!
//! - `cut`: simulate a power cut now; answers `ok <stats>` once the file
//!   system serves only what was durable.
//! - `stats`: answers `ok <stats>`.
//! - `unmount`: answers `ok`, then the file system is unmounted and the
//!   process exits.
//! - `fault OP ERRNO PATH [SKIP [COUNT]]`: arms a fault (see
//!   [`crate::disk::Fault`]): OP is `read`, `write` or `fsync`, ERRNO `EIO`
//!   or `ENOSPC`, PATH a substring of the paths it hits (e.g. `/chunks/`);
//!   it skips SKIP matching operations (default 0), then fails COUNT
//!   (default 1). Answers `ok`.
//! - `clear-faults`: disarms every fault. Answers `ok`.
//!
//! `<stats>` is `cuts=N file_syncs=N dir_syncs=N nodes=N live_bytes=N`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::disk::{Fault, FaultOp, Stats};

/// Parses the arguments of a `fault` command.
pub fn parse_fault(args: &str) -> Result<Fault, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let [op, errno, path, rest @ ..] = words.as_slice() else {
        return Err("usage: fault read|write|fsync EIO|ENOSPC PATH [SKIP [COUNT]]".into());
    };
    let op = match *op {
        "read" => FaultOp::Read,
        "write" => FaultOp::Write,
        "fsync" => FaultOp::Fsync,
        other => return Err(format!("unknown operation {other:?}")),
    };
    let errno = match *errno {
        "EIO" => libc::EIO,
        "ENOSPC" => libc::ENOSPC,
        other => return Err(format!("unknown errno {other:?}")),
    };
    let number = |i: usize, default: u32| -> Result<u32, String> {
        rest.get(i).map_or(Ok(default), |n| {
            n.parse().map_err(|_| format!("bad number {n:?}"))
        })
    };
    let count = number(1, 1)?;
    if count == 0 || rest.len() > 2 {
        return Err("COUNT must be at least 1, and nothing may follow it".into());
    }
    Ok(Fault {
        op,
        errno,
        path: path.to_string(),
        skip: number(0, 0)?,
        count,
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_commands_parse() {
        let f = parse_fault("fsync EIO /chunks/ 2 3").unwrap();
        assert_eq!(
            (f.op, f.errno, f.skip, f.count),
            (FaultOp::Fsync, libc::EIO, 2, 3)
        );
        assert_eq!(f.path, "/chunks/");
        let f = parse_fault("write ENOSPC x").unwrap();
        assert_eq!((f.skip, f.count), (0, 1));
        assert!(parse_fault("write EPERM x").is_err());
        assert!(parse_fault("write EIO").is_err());
        assert!(parse_fault("write EIO x 0 0").is_err());
    }
}
