//! The layers of `kura serve`'s configuration: flag > `KURA_*` environment
//! > TOML config file (`--config`) > built-in default.
//!
//! Both layers work on the clap command itself, never on a field of
//! [`ServeArgs`](crate::config::ServeArgs), so a flag added to that struct is
//! at once settable from the environment and from the file:
//! - every flag without an `env` of its own gets `KURA_<ID>` (its field
//!   name in upper case, e.g. `--min-free-space` → `KURA_MIN_FREE_SPACE`);
//! - every key of the file becomes the default value of the flag of that
//!   name, so clap's own precedence (command line, then environment, then
//!   default) does the rest and clap's value parsers check file values too.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};

/// The flag that names the config file (and its environment variable).
pub const CONFIG_FLAG: &str = "config";
/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "KURA_CONFIG";

/// Flags that make no sense in a file (or the environment).
fn is_builtin(arg: &Arg) -> bool {
    matches!(arg.get_id().as_str(), "help" | "version" | CONFIG_FLAG) || arg.is_positional()
}

/// The environment variable of `arg`: its own, else `KURA_<ID>`.
pub fn env_name(arg: &Arg) -> String {
    match arg.get_env() {
        Some(env) => env.to_string_lossy().into_owned(),
        None => format!("KURA_{}", arg.get_id().as_str().to_ascii_uppercase()),
    }
}

/// Gives every flag of `cmd` without an environment variable its `KURA_<ID>`.
pub fn with_env(cmd: Command) -> Command {
    cmd.mut_args(|arg| {
        if arg.get_env().is_some() || matches!(arg.get_id().as_str(), "help" | "version") {
            return arg;
        }
        let name = env_name(&arg);
        arg.env(name)
    })
}

/// A config file key that is wrong, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One setting read from the file: the flag's id and its value(s) as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The clap id of the flag.
    pub id: String,
    /// Its long name, as the file should spell it.
    pub key: String,
    /// The value(s), as they would be written on the command line.
    pub values: Vec<String>,
}

/// A parsed config file, checked against the flags of a command.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// The settings in file order.
    pub settings: Vec<Setting>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Finds the flag a file key names: its long name (`data-dir`) or its
/// field name (`data_dir`).
fn find_arg<'a>(cmd: &'a Command, key: &str) -> Option<&'a Arg> {
    cmd.get_arguments()
        .filter(|a| !is_builtin(a))
        .find(|a| a.get_long() == Some(key) || a.get_id().as_str() == key)
}

impl ConfigFile {
    /// Reads and checks `path` against the flags of `cmd`.
    pub fn load(path: &Path, cmd: &Command) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text, cmd)
    }

    /// Checks `text` (the contents of `path`) against the flags of `cmd`:
    /// every key must name a flag, every value be a string, number, boolean
    /// or (for flags that take several values) an array of those.
    pub fn parse(path: &Path, text: &str, cmd: &Command) -> Result<ConfigFile, ConfigError> {
        let err = |offset: Option<usize>, message: String| ConfigError {
            path: path.to_path_buf(),
            line: offset.map(|o| line_of(text, o)),
            message,
        };
        let doc = toml_edit::Document::parse(text).map_err(|e| {
            err(
                e.span().map(|s| s.start),
                format!("not valid TOML: {}", e.message()),
            )
        })?;
        let mut settings = Vec::new();
        for (key, item) in doc.iter() {
            let key_span = doc
                .as_table()
                .key(key)
                .and_then(|k| k.span())
                .map(|s| s.start);
            let Some(arg) = find_arg(cmd, key) else {
                return Err(err(key_span, format!("unknown key `{key}`")));
            };
            let scalar = |v: &toml_edit::Value| -> Option<String> {
                match v {
                    toml_edit::Value::String(s) => Some(s.value().clone()),
                    toml_edit::Value::Integer(i) => Some(i.value().to_string()),
                    toml_edit::Value::Float(f) => Some(f.value().to_string()),
                    toml_edit::Value::Boolean(b) => Some(b.value().to_string()),
                    _ => None,
                }
            };
            let bad = || {
                err(
                    key_span,
                    format!("`{key}` wants a string, number or boolean (or an array of them)"),
                )
            };
            let value = item.as_value().ok_or_else(bad)?;
            let values = match value {
                toml_edit::Value::Array(a) => {
                    if !takes_many(arg) {
                        return Err(err(key_span, format!("`{key}` takes one value")));
                    }
                    a.iter()
                        .map(scalar)
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(bad)?
                }
                v => vec![scalar(v).ok_or_else(bad)?],
            };
            if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
                && !matches!(values.as_slice(), [v] if v == "true" || v == "false")
            {
                return Err(err(key_span, format!("`{key}` wants true or false")));
            }
            settings.push(Setting {
                id: arg.get_id().to_string(),
                key: arg.get_long().unwrap_or(key).to_string(),
                values,
            });
        }
        Ok(ConfigFile { settings })
    }

    /// Makes the file's values the defaults of their flags in `cmd`.
    pub fn apply(&self, mut cmd: Command) -> Command {
        for s in &self.settings {
            let values = s.values.clone();
            cmd = cmd.mut_arg(&s.id, |arg| arg.default_values(values));
        }
        cmd
    }
}

fn takes_many(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
        || arg.get_value_delimiter().is_some()
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1)
}

/// The config file named on `serve`'s command line (`--config FILE` or
/// `--config=FILE`, before a `--`), else by `KURA_CONFIG`.
pub fn config_path(serve_args: &[OsString]) -> Option<PathBuf> {
    let mut it = serve_args.iter();
    while let Some(a) = it.next() {
        let Some(s) = a.to_str() else { continue };
        if s == "--" {
            break;
        }
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Builds `serve`'s command with every layer: environment variables for
/// every flag and, if one is named, the config file's values as defaults.
pub fn layered(serve: Command, serve_args: &[OsString]) -> Result<Command, ConfigError> {
    let serve = with_env(serve);
    match config_path(serve_args) {
        Some(path) => Ok(ConfigFile::load(&path, &serve)?.apply(serve)),
        None => Ok(serve),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    fn serve() -> Command {
        crate::config::ServeArgs::augment_args(Command::new("serve").no_binary_name(true))
    }

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("kura.toml"), text, &serve())
    }

    #[test]
    fn unknown_keys_name_their_line() {
        let e =
            parse("listen = \"127.0.0.1:1\"\n\n# a comment\nchunk-sise = \"1MiB\"\n").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert_eq!(e.to_string(), "kura.toml:4: unknown key `chunk-sise`");
        let e = parse("[server]\nlisten = \"x\"\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        let e = parse("listen = \n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn file_values_are_defaults_below_flags() {
        let file = parse(
            "data-dir = \"/srv/kura\"\nchunk_size = \"1MiB\"\nmax-connections = 7\ntrusted-proxy = [\"10.0.0.0/8\", \"::1\"]\n",
        )
        .unwrap();
        let cmd = file.apply(serve());
        let m = cmd
            .try_get_matches_from(["--max-connections", "9"])
            .unwrap();
        let args = crate::config::ServeArgs::from_arg_matches(&m).unwrap();
        assert_eq!(args.data_dir, PathBuf::from("/srv/kura"));
        assert_eq!(args.chunk_size, 1 << 20);
        assert_eq!(args.max_connections, 9, "a flag beats the file");
        assert_eq!(args.trusted_proxies.len(), 2);
    }

    #[test]
    fn bad_values_are_refused() {
        let cmd = parse("chunk-size = \"12XB\"\n").unwrap().apply(serve());
        let e = cmd.try_get_matches_from(Vec::<String>::new()).unwrap_err();
        assert!(e.to_string().contains("chunk-size"), "{e}");
        assert!(parse("listen = [\"a\", \"b\"]\n").is_err());
        assert!(parse("listen = { a = 1 }\n").is_err());
    }

    #[test]
    fn config_path_from_args() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_path(&a(&["--listen", "x", "--config", "/etc/kura.toml"])),
            Some(PathBuf::from("/etc/kura.toml"))
        );
        assert_eq!(
            config_path(&a(&["--config=k.toml"])),
            Some(PathBuf::from("k.toml"))
        );
    }

    #[test]
    fn every_flag_has_an_environment_variable() {
        let cmd = with_env(serve());
        for arg in cmd.get_arguments().filter(|a| !is_builtin(a)) {
            let env = arg.get_env().expect("env set");
            assert!(env.to_string_lossy().starts_with("KURA_"), "{env:?}");
        }
    }
}
