//! The `kura` command: `kura serve` runs the server.

use clap::{Parser, Subcommand};

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
    Serve(ServeArgs),
    /// Manage access keys and bucket settings of a running server.
    Admin(kura_server::cli::AdminArgs),
    /// Publish an object on the running server and print its public URL.
    Publish(PublishArgs),
    /// Unpublish an object: its public URL answers 404 from now on.
    Unpublish(PublishArgs),
    /// Print a bucket's change feed, one line a change (`--follow` keeps waiting).
    Changes(kura_server::cli::changes::ChangesArgs),
    /// Search a bucket's objects by tags and user metadata (all pages).
    Search(kura_server::cli::search::SearchArgs),
    /// Check a stopped server's chunk files against its metadata (`--repair`: remove orphans).
    Fsck(kura_server::cli::fsck::FsckArgs),
    /// Keep a bucket on another S3 server a copy of a kura bucket (follows its change feed).
    Replicate(kura_server::cli::replicate::ReplicateArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
        Command::Serve(args) => kura_server::run(args),
        Command::Admin(args) => kura_server::cli::run(args),
        Command::Publish(args) => kura_server::cli::publish::run(args, true),
        Command::Unpublish(args) => kura_server::cli::publish::run(args, false),
        Command::Changes(args) => kura_server::cli::changes::run(args),
        Command::Search(args) => kura_server::cli::search::run(args),
        Command::Replicate(args) => kura_server::cli::replicate::run(args),
        Command::Fsck(args) => kura_server::cli::fsck::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kura: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
