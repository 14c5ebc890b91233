//! The `kura` command: `kura serve` runs the server.

use clap::{Parser, Subcommand};

use kura_server::config::ServeArgs;

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
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KURA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => kura_server::run(args),
        Command::Admin(args) => kura_server::cli::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kura: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
