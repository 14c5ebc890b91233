//! `kura-powercut mount MOUNTPOINT --control SOCKET` serves an empty
//! in-memory file system at MOUNTPOINT until told to unmount;
//! `kura-powercut cut|stats|unmount --control SOCKET` talks to it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kura_powercut::control::{format_stats, parse_fault, send};
use kura_powercut::Mounted;

#[derive(Parser)]
#[command(
    name = "kura-powercut",
    about = "A FUSE file system that forgets what was not fsynced when told to"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Mount an empty file system and serve it until `unmount`.
    Mount {
        mountpoint: PathBuf,
        /// Unix socket to listen on for commands (created once mounted).
        #[arg(long)]
        control: PathBuf,
    },
    /// Simulate a power cut: drop everything not yet durable.
    Cut {
        #[arg(long)]
        control: PathBuf,
    },
    /// Arm a fault: `fault --control S fsync EIO /chunks/ [SKIP [COUNT]]`
    /// (see the control socket's `fault` command).
    Fault {
        #[arg(long)]
        control: PathBuf,
        /// OP ERRNO PATH [SKIP [COUNT]]
        #[arg(num_args = 3..=5, required = true)]
        args: Vec<String>,
    },
    /// Disarm every fault.
    ClearFaults {
        #[arg(long)]
        control: PathBuf,
    },
    /// Print counters.
    Stats {
        #[arg(long)]
        control: PathBuf,
    },
    /// Unmount and exit.
    Unmount {
        #[arg(long)]
        control: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Mount {
            mountpoint,
            control,
        } => serve(mountpoint, control),
        Cmd::Cut { control } => command(&control, "cut"),
        Cmd::Fault { control, args } => command(&control, &format!("fault {}", args.join(" "))),
        Cmd::ClearFaults { control } => command(&control, "clear-faults"),
        Cmd::Stats { control } => command(&control, "stats"),
        Cmd::Unmount { control } => command(&control, "unmount"),
    }
}

fn command(control: &std::path::Path, what: &str) -> anyhow::Result<()> {
    println!("{}", send(control, what)?);
    Ok(())
}

fn serve(mountpoint: PathBuf, control: PathBuf) -> anyhow::Result<()> {
    let mounted = Mounted::mount(&mountpoint)
        .with_context(|| format!("mounting FUSE at {}", mountpoint.display()))?;
    let _ = std::fs::remove_file(&control);
    let listener = UnixListener::bind(&control)
        .with_context(|| format!("control socket {}", control.display()))?;
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut line = String::new();
        if BufReader::new(&conn).read_line(&mut line).is_err() {
            continue;
        }
        let answer = match line.trim() {
            "cut" => format!("ok {}", format_stats(&mounted.cut())),
            "stats" => format!("ok {}", format_stats(&mounted.disk().stats())),
            "unmount" => {
                let _ = conn.write_all(b"ok\n");
                break;
            }
            "clear-faults" => {
                mounted.disk().clear_faults();
                "ok".to_string()
            }
            other => match other.strip_prefix("fault ").map(parse_fault) {
                Some(Ok(fault)) => {
                    mounted.disk().inject(fault);
                    "ok".to_string()
                }
                Some(Err(e)) => format!("error {e}"),
                None => format!("error unknown command {other:?}"),
            },
        };
        let _ = conn.write_all(answer.as_bytes());
        let _ = conn.write_all(b"\n");
    }
    let _ = std::fs::remove_file(&control);
    mounted.unmount().context("unmounting")?;
    Ok(())
}
