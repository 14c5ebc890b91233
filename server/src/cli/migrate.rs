//! `kura admin migrate DATA_DIR --to-meta etcd://… --to-blobs s3://…|rados://…
//! --to-data-dir DIR`: copies a stopped server's embedded data directory
//! into the distributed engines, offline, and verifies the copy object by
//! object (`kura_storage::migrate`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use kura_storage::{MetaUrl, MigrateReport, MigrateTarget};

use crate::blobs::BlobCredentials;

/// `kura admin migrate`: copy a stopped server's data into etcd and RADOS/S3.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data directory of a stopped server (embedded metadata).
    pub data_dir: PathBuf,
    /// Metadata engine to copy the rows into, as `kura serve --meta`
    /// (`etcd://host:2379[,host:2379...]/prefix`).
    #[arg(long, value_name = "URL")]
    pub to_meta: MetaUrl,
    /// Chunk backend to copy the chunks into, as `kura serve --blobs`
    /// (`s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]` or
    /// `rados://POOL?conf=FILE[&namespace=NS]`); omitted: local chunk files
    /// under `--to-data-dir`. Credentials from `KURA_BLOBS_ACCESS_KEY_ID`,
    /// `KURA_BLOBS_SECRET_ACCESS_KEY`, `KURA_BLOBS_REGION`.
    #[arg(long, value_name = "URL")]
    pub to_blobs: Option<String>,
    /// The new front end's data directory: receives the key that seals
    /// access keys (and generated root credentials); start
    /// `kura serve --data-dir DIR --meta … --blobs …` on it.
    #[arg(long, value_name = "DIR")]
    pub to_data_dir: PathBuf,
    /// Copy into a target that already holds rows or chunks (resume an
    /// interrupted migration: rows are rewritten, chunks already there are skipped).
    #[arg(long)]
    pub force: bool,
}

/// Credentials of a chunk backend, from the same variables as `kura serve`.
fn env_credentials() -> BlobCredentials {
    BlobCredentials {
        access_key_id: std::env::var("KURA_BLOBS_ACCESS_KEY_ID").ok(),
        secret_access_key: std::env::var("KURA_BLOBS_SECRET_ACCESS_KEY").ok(),
        region: std::env::var("KURA_BLOBS_REGION").unwrap_or_else(|_| "us-east-1".into()),
    }
}

/// Runs `kura admin migrate`; fails (exit status 1) unless every row and
/// chunk verified.
pub fn run(args: MigrateArgs, json: bool) -> anyhow::Result<()> {
    let creds = env_credentials();
    // The source's own chunks may be in a backend already (`--blobs`).
    let source_blobs = match crate::blobs::recorded(&args.data_dir)? {
        Some(url) => Some(crate::blobs::parse(&url, &creds)?),
        None => None,
    };
    let target_blobs = match &args.to_blobs {
        Some(url) => Some(crate::blobs::parse(url, &creds)?),
        None => None,
    };
    let target = MigrateTarget {
        meta: args.to_meta,
        blobs: target_blobs,
        data_dir: args.to_data_dir,
        force: args.force,
    };
    let report =
        kura_storage::migrate(&args.data_dir, source_blobs, &target).with_context(|| {
            format!(
                "migrating {} (is kura still running on it?)",
                args.data_dir.display()
            )
        })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if !report.problems.is_empty() {
        bail!(
            "{} problems: the copy does not match; run the migration again (with --force)",
            report.problems.len()
        );
    }
    Ok(())
}

fn print_report(r: &MigrateReport) {
    let rows: u64 = r.rows.values().sum();
    println!("copied {rows} rows in {} commits", r.commits);
    for (cf, n) in r.rows.iter().filter(|(_, n)| **n > 0) {
        println!("  {cf:<20} {n}");
    }
    println!(
        "copied {} chunks ({} bytes), {} already there",
        r.chunks_copied, r.chunk_bytes, r.chunks_present
    );
    println!(
        "verified {} rows; {} current versions, {} noncurrent versions, {} upload parts; \
         {} chunks ({} bytes) read back and checksummed",
        r.rows_verified,
        r.objects_verified,
        r.versions_verified,
        r.parts_verified,
        r.chunks_verified,
        r.bytes_verified
    );
    if r.chunks_in_bucket_backends > 0 {
        println!(
            "{} chunks stay in their buckets' own backends (the registry is copied)",
            r.chunks_in_bucket_backends
        );
    }
    for p in &r.problems {
        println!("PROBLEM {p}");
    }
}
