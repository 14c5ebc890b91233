//! `kura changes BUCKET [--follow] [--since T] [--json]`: prints a bucket's
//! change feed (`GET /{bucket}?changes`), one line a change; with `--follow`
//! it keeps long-polling for new ones.

use std::io::Write;

use anyhow::{anyhow, bail};
use clap::Args;
use http::{Method, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::client::{Answer, Client, Connection};

/// Query-value encoding: everything but unreserved characters.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Arguments of `kura changes`.
#[derive(Debug, Clone, Args)]
pub struct ChangesArgs {
    /// The bucket.
    pub bucket: String,
    /// Keep waiting for new changes (long polls of 60 s).
    #[arg(long)]
    pub follow: bool,
    /// Start at the first change at or after this RFC 3339 time.
    #[arg(long, conflicts_with = "after")]
    pub since: Option<String>,
    /// Resume after this cursor (printed on stderr when the command ends).
    #[arg(long)]
    pub after: Option<String>,
    /// Only keys beginning with this.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Print each change as the server's JSON object (one per line).
    #[arg(long)]
    pub json: bool,
    /// The server and the credentials (read on the bucket).
    #[command(flatten)]
    pub connection: Connection,
}

/// Runs `kura changes`.
pub fn run(args: ChangesArgs) -> anyhow::Result<()> {
    super::block_on(run_async(args))
}

fn line(c: &Value) -> String {
    let s = |name: &str| c[name].as_str().unwrap_or("-").to_string();
    format!(
        "{} {:<9} {} {} {} {}",
        s("lastModified"),
        s("event"),
        s("key"),
        s("versionId"),
        c["size"].as_u64().unwrap_or(0),
        s("etag").trim_matches('"'),
    )
}

async fn run_async(args: ChangesArgs) -> anyhow::Result<()> {
    let client = Client::new(args.connection.clone());
    let mut cursor = args.after.clone();
    let mut since = args.since.clone();
    let mut out = std::io::stdout().lock();
    loop {
        let mut path = format!("/{}?changes", utf8_percent_encode(&args.bucket, VALUE));
        let mut param = |name: &str, value: &str| {
            path.push_str(&format!("&{name}={}", utf8_percent_encode(value, VALUE)));
        };
        match (&cursor, &since) {
            (Some(c), _) => param("after", c),
            (None, Some(t)) => param("since", t),
            (None, None) => {}
        }
        if let Some(p) = &args.prefix {
            param("prefix", p);
        }
        if args.follow {
            param("wait", "60");
        }
        let Answer { status, body, .. } = client.send(Method::GET, &path, &[], Vec::new()).await?;
        let text = String::from_utf8_lossy(&body);
        if status == StatusCode::GONE {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            bail!(
                "{} List the bucket, then run again with --after {}",
                v["message"].as_str().unwrap_or("cursor expired."),
                v["cursor"].as_str().unwrap_or("?")
            );
        }
        if !status.is_success() {
            bail!("{}: {}", status.as_u16(), text.trim());
        }
        let page: Value =
            serde_json::from_str(&text).map_err(|_| anyhow!("the answer is not JSON: {text}"))?;
        for c in page["changes"].as_array().into_iter().flatten() {
            if args.json {
                writeln!(out, "{c}")?;
            } else {
                writeln!(out, "{}", line(c))?;
            }
        }
        out.flush()?;
        cursor = page["next"].as_str().map(str::to_string);
        since = None;
        if !args.follow && page["more"].as_bool() != Some(true) {
            eprintln!("cursor: {}", cursor.as_deref().unwrap_or("-"));
            return Ok(());
        }
    }
}
