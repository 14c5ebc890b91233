//! `kura search BUCKET [CONDITION…] [--since T] [--prefix P] [--json]`:
//! searches a bucket's objects by tags and user metadata through
//! `GET /{bucket}?search`, following every page, one line an object.

use std::io::Write;

use anyhow::{anyhow, bail};
use clap::Args;
use http::header::ACCEPT;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::client::{Answer, Client, Connection};

/// Query encoding: everything but unreserved characters.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Arguments of `kura search`.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// The bucket.
    pub bucket: String,
    /// Conditions, all of which must hold: `tag.<k>=v`, `meta.<k>=v`,
    /// `tag.<k>.prefix=p`, `tag.<k>.gte=a`, `tag.<k>.lte=b`, `size.gte=n`,
    /// `modified.lte=T`… (see the README, "Files and metadata").
    pub conditions: Vec<String>,
    /// Only objects modified at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Only keys beginning with this.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Print each object as the server's JSON object (one per line).
    #[arg(long)]
    pub json: bool,
    /// The server and the credentials (read on the bucket).
    #[command(flatten)]
    pub connection: Connection,
}

/// Runs `kura search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    super::block_on(run_async(args))
}

fn line(o: &Value) -> String {
    let s = |name: &str| o[name].as_str().unwrap_or("-").to_string();
    let tags: Vec<String> = o["tags"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    format!(
        "{} {:>12} {} {}",
        s("lastModified"),
        o["size"].as_u64().unwrap_or(0),
        s("key"),
        tags.join(",")
    )
}

/// The query string of one page.
fn query(args: &SearchArgs, token: Option<&str>) -> anyhow::Result<String> {
    let mut q = String::from("search");
    let mut param = |name: &str, value: &str| {
        q.push_str(&format!(
            "&{}={}",
            utf8_percent_encode(name, VALUE),
            utf8_percent_encode(value, VALUE)
        ));
    };
    for c in &args.conditions {
        let (name, value) = c
            .split_once('=')
            .ok_or_else(|| anyhow!("{c:?} is not a condition (NAME=VALUE)"))?;
        param(name, value);
    }
    if let Some(t) = &args.since {
        param("since", t);
    }
    if let Some(p) = &args.prefix {
        param("prefix", p);
    }
    if let Some(t) = token {
        param("continuation-token", t);
    }
    Ok(q)
}

async fn run_async(args: SearchArgs) -> anyhow::Result<()> {
    let client = Client::new(args.connection.clone());
    let mut out = std::io::stdout().lock();
    let mut token: Option<String> = None;
    loop {
        let path = format!(
            "/{}?{}",
            utf8_percent_encode(&args.bucket, VALUE),
            query(&args, token.as_deref())?
        );
        let Answer { status, body, .. } = client
            .send(
                Method::GET,
                &path,
                &[(ACCEPT, "application/json")],
                Vec::new(),
            )
            .await?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            bail!("{}: {}", status.as_u16(), text.trim());
        }
        let page: Value =
            serde_json::from_str(&text).map_err(|_| anyhow!("the answer is not JSON: {text}"))?;
        for o in page["objects"].as_array().into_iter().flatten() {
            if args.json {
                writeln!(out, "{o}")?;
            } else {
                writeln!(out, "{}", line(o))?;
            }
        }
        out.flush()?;
        match page["nextContinuationToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(()),
        }
    }
}
