//! `kura config check FILE` and `kura config reference`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::config_layers::ConfigFile;
use crate::config_reference::{reference, splice};

/// `kura config …`
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// What to do with configuration.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a config file: every key known, every value valid. Prints the
    /// settings it makes; exits non-zero naming the first wrong key and its line.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print the reference of every option (file key, environment variable,
    /// default) as Markdown.
    Reference {
        /// Rewrite the generated part of this Markdown file instead of printing.
        #[arg(long, value_name = "FILE")]
        update: Option<PathBuf>,
    },
}

/// Runs `kura config …`.
pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    match args.command {
        ConfigCommand::Check { file } => {
            // Only the file: the environment and defaults are not its business.
            let cmd = crate::config::ServeArgs::augment_args(clap::Command::new("serve"));
            let parsed = ConfigFile::load(&file, &cmd)?;
            let cmd = parsed.apply(cmd);
            cmd.try_get_matches_from(["serve"])
                .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.render()))?;
            for s in &parsed.settings {
                println!("{} = {}", s.key, s.values.join(","));
            }
            println!("{}: OK", file.display());
            Ok(())
        }
        ConfigCommand::Reference { update: None } => {
            print!("{}", reference());
            Ok(())
        }
        ConfigCommand::Reference { update: Some(path) } => {
            let doc = std::fs::read_to_string(&path)?;
            let new = splice(&doc).ok_or_else(|| {
                anyhow::anyhow!(
                    "{} lacks the markers {} … {}",
                    path.display(),
                    crate::config_reference::BEGIN,
                    crate::config_reference::END
                )
            })?;
            std::fs::write(&path, new)?;
            Ok(())
        }
    }
}
