//! The config reference of `docs/operations.md`, generated from the clap
//! definition of `kura serve` so it cannot drift from the code: a test
//! compares the committed file with [`reference`], and
//! `kura config reference --update docs/operations.md` rewrites it.

use clap::{Args, Command};

use crate::config::ServeArgs;
use crate::config_layers::{env_name, with_env};

/// Marks the generated part of `docs/operations.md`.
pub const BEGIN: &str = "<!-- config-reference:begin (generated: kura config reference --update docs/operations.md) -->";
/// Ends the generated part.
pub const END: &str = "<!-- config-reference:end -->";

/// `kura serve`'s command, every layer's names attached.
pub fn serve_command() -> Command {
    with_env(ServeArgs::augment_args(Command::new("serve")))
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The reference: one row per option, with its file key, environment
/// variable, default and help.
pub fn reference() -> String {
    let cmd = serve_command();
    let mut out = String::new();
    out.push_str("| File key / flag | Environment | Default | Meaning |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") {
            continue;
        }
        let Some(long) = arg.get_long() else { continue };
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if defaults.is_empty() {
            "—".to_string()
        } else {
            format!("`{}`", defaults.join(","))
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let mut help = cell(help.trim_end_matches('.'));
        help.push('.');
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect();
        if !values.is_empty() {
            help.push_str(&format!(" One of: `{}`.", values.join("`, `")));
        }
        if id == crate::config_layers::CONFIG_FLAG {
            help.push_str(" Command line or environment only.");
        }
        out.push_str(&format!(
            "| `{long}` | `{}` | {default} | {help} |\n",
            env_name(arg)
        ));
    }
    out
}

/// `doc` with its generated part replaced by [`reference`]; `None` if it
/// lacks the markers.
pub fn splice(doc: &str) -> Option<String> {
    let start = doc.find(BEGIN)? + BEGIN.len();
    let end = doc[start..].find(END)? + start;
    Some(format!(
        "{}\n\n{}\n{}",
        &doc[..start],
        reference(),
        &doc[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed docs/operations.md holds the reference generated from
    /// the code. On failure: `cargo run -p kura-server -- config reference
    /// --update docs/operations.md`.
    #[test]
    fn operations_md_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
        let doc = std::fs::read_to_string(&path).expect("docs/operations.md");
        let want = splice(&doc).expect("docs/operations.md has the config-reference markers");
        assert!(
            doc == want,
            "docs/operations.md's config reference is stale: run \
             `cargo run -p kura-server -- config reference --update docs/operations.md`"
        );
    }

    #[test]
    fn every_option_is_listed() {
        let r = reference();
        for flag in [
            "`data-dir`",
            "`min-free-space`",
            "`KURA_MIN_FREE_SPACE`",
            "`rocksdb-block-cache`",
        ] {
            assert!(r.contains(flag), "{flag} missing from\n{r}");
        }
    }
}
