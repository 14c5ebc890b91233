//! The `kura` command: `kura serve` runs the server.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use kura_server::cli::publish::PublishArgs;
use kura_server::config::{LogFormat, ServeArgs};

#[derive(Parser)]
#[command(
    name = "kura",
    version,
    about = "kura (蔵): a self-hosted S3-compatible file storage server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the S3 server.
    Serve(Box<ServeArgs>),
    /// Manage access keys and bucket settings of a running server.
    Admin(kura_server::cli::AdminArgs),
    /// Publish an object on the running server and print its public URL.
    Publish(PublishArgs),
    /// Unpublish an object: its public URL answers 404 from now on.
    Unpublish(PublishArgs),
    /// Make, list or revoke share links: an upload page for a folder
    /// (`--upload BUCKET/PREFIX/`) or an expiring download link (`BUCKET/KEY`).
    Share(kura_server::cli::share::ShareArgs),
    /// Print a bucket's change feed, one line a change (`--follow` keeps waiting).
    Changes(kura_server::cli::changes::ChangesArgs),
    /// Search a bucket's objects by tags and user metadata (all pages).
    Search(kura_server::cli::search::SearchArgs),
    /// Check a stopped server's chunk files against its metadata (`--repair`: remove orphans).
    Fsck(kura_server::cli::fsck::FsckArgs),
    /// Keep a bucket on another S3 server a copy of a kura bucket (follows its change feed).
    Replicate(kura_server::cli::replicate::ReplicateArgs),
    /// Check a config file, or print the reference of every option.
    Config(kura_server::cli::config::ConfigArgs),
}

/// Parses the command line with `serve`'s configuration layers: flag >
/// `KURA_*` environment > `--config` file > default (see `config_layers.rs`).
fn parse() -> Result<Cli, String> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = Cli::command();
    // Only `kura serve` reads the config file (`kura` has no global flags,
    // so the subcommand is the first argument).
    if argv.get(1).is_none_or(|a| a != "serve") {
        return Cli::from_arg_matches(&cmd.get_matches_from(argv)).map_err(|e| e.to_string());
    }
    let serve_args = &argv[2..];
    let mut failed = None;
    cmd = cmd.mut_subcommand("serve", |serve| {
        match kura_server::config_layers::layered(serve.clone(), serve_args) {
            Ok(layered) => layered,
            Err(e) => {
                failed = Some(e.to_string());
                serve
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let matches = cmd.get_matches_from(argv);
    Cli::from_arg_matches(&matches).map_err(|e| e.to_string())
}

fn main() -> std::process::ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("kura: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Before any thread exists: it sets the environment librados reads.
    #[cfg(feature = "rados")]
    {
        let blobs = match &cli.command {
            Command::Serve(a) => a.blobs.as_deref(),
            _ => None,
        };
        if let Err(e) = kura_server::blobs::rados::init_op_timeout(blobs) {
            eprintln!("kura: {e:#}");
            return std::process::ExitCode::from(2);
        }
    }
    let json = matches!(&cli.command, Command::Serve(a) if a.log_format == LogFormat::Json);
    let filter = tracing_subscriber::EnvFilter::try_from_env("KURA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // stdout carries what the user needs (the listening address, generated
    // credentials, `kura publish`'s URL); the log goes to stderr.
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours only for a terminal: not into files, journald or log shippers.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        // One JSON object per line, the event's fields flattened into it.
        log.json().flatten_event(true).init();
    } else {
        log.init();
    }
    let result = match cli.command {
        Command::Serve(args) => kura_server::run(*args),
        Command::Admin(args) => kura_server::cli::run(args),
        Command::Publish(args) => kura_server::cli::publish::run(args, true),
        Command::Unpublish(args) => kura_server::cli::publish::run(args, false),
        Command::Share(args) => kura_server::cli::share::run(args),
        Command::Changes(args) => kura_server::cli::changes::run(args),
        Command::Search(args) => kura_server::cli::search::run(args),
        Command::Replicate(args) => kura_server::cli::replicate::run(args),
        Command::Fsck(args) => kura_server::cli::fsck::run(args),
        Command::Config(args) => kura_server::cli::config::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kura: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
