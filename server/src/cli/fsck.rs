//! `kura fsck DATA_DIR`: the offline check of a stopped server's data
//! directory, and the report printer it shares with `kura admin scrub`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use kura_storage::{ScrubReport, Store, StoreConfig};

/// `kura fsck`: check a stopped server's chunk files against its metadata.
#[derive(Debug, Args)]
pub struct FsckArgs {
    /// The data directory of a stopped server.
    pub data_dir: PathBuf,
    /// Remove orphaned chunk files (never a chunk any version, upload part
    /// or pending purge lists). Missing and corrupted chunks are only reported.
    #[arg(long)]
    pub repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `kura fsck`. Fails (exit status 1) if anything is damaged, or
/// orphans are left.
pub fn run(args: FsckArgs) -> anyhow::Result<()> {
    if !args.data_dir.join("meta").is_dir() {
        bail!(
            "{} is not a kura data directory (no meta/)",
            args.data_dir.display()
        );
    }
    // Sizes and retention do not matter to a check; opening fails while a
    // server holds the directory (RocksDB's lock).
    // Chunks in a remote backend: the one the data directory records, with
    // credentials from the same environment variables as `kura serve`.
    let blobs = match crate::blobs::recorded(&args.data_dir)? {
        Some(url) => Some(crate::blobs::parse(
            &url,
            &crate::blobs::BlobCredentials {
                access_key_id: std::env::var("KURA_BLOBS_ACCESS_KEY_ID").ok(),
                secret_access_key: std::env::var("KURA_BLOBS_SECRET_ACCESS_KEY").ok(),
                region: std::env::var("KURA_BLOBS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            },
        )?),
        None => None,
    };
    let store = Store::open_unswept_on(
        StoreConfig {
            data_dir: args.data_dir.clone(),
            chunk_size: 8 << 20,
            inline_threshold: 4096,
            retention: Duration::from_secs(86_400),
        },
        kura_storage::StoreTuning::default(),
        // fsck checks an embedded data directory; a store on etcd is
        // checked online (`kura admin scrub`).
        &kura_storage::MetaUrl::Embedded,
        blobs,
        Some(crate::blobs::opener()),
    )
    .with_context(|| {
        format!(
            "opening {} (is kura still running on it?)",
            args.data_dir.display()
        )
    })?;
    let report = store.fsck(args.repair)?;
    print_report(&report, args.json, args.repair)
}

/// Prints a scrub or fsck report; an error if it found damage, or orphans
/// that were not removed.
pub fn print_report(report: &ScrubReport, json: bool, repaired: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!(
            "checked {} chunks ({} bytes verified){}",
            report.chunks_checked,
            report.bytes_checked,
            if report.complete {
                ""
            } else {
                "; stopped early, the next scrub resumes"
            }
        );
        for p in &report.missing {
            println!("missing    {} {} ({})", p.chunk, p.owner, p.problem);
        }
        for p in &report.corrupted {
            println!("corrupted  {} {} ({})", p.chunk, p.owner, p.problem);
        }
        let verb = if repaired { "removed   " } else { "orphan    " };
        for o in &report.orphans {
            println!("{verb} {o}");
        }
        println!(
            "{} missing, {} corrupted, {} orphaned{}",
            report.missing.len(),
            report.corrupted.len(),
            report.orphans.len(),
            if repaired { " (removed)" } else { "" }
        );
    }
    let damaged = report.missing.len() + report.corrupted.len();
    if damaged > 0 || (!repaired && !report.orphans.is_empty()) {
        bail!(
            "{damaged} damaged chunks, {} orphans{}",
            report.orphans.len(),
            if repaired { " removed" } else { "" }
        );
    }
    Ok(())
}
