//! `kura-bench`: a load generator for any S3 endpoint, in the spirit of
//! MinIO's warp. The binary is a thin wrapper around [`run_cli`], which the
//! integration tests call in-process.

pub mod cli;
pub mod client;
pub mod ops;
pub mod payload;
pub mod run;
pub mod stats;

use clap::Parser;

pub use cli::Cli;
pub use stats::Report;

/// Parses `args` (the first is the program name) and runs the workload on
/// a fresh multi-threaded runtime.
pub fn run_cli<I, T>(args: I) -> anyhow::Result<(Cli, Report)>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run::run(cli.workload.clone()))?;
    Ok((cli, report))
}

/// What the binary prints: JSON with `--json`, else text.
pub fn render(cli: &Cli, report: &Report) -> String {
    if cli.workload.common().json {
        serde_json::to_string_pretty(report).expect("report serialises")
    } else {
        report.to_text()
    }
}
