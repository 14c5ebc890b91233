//! `kura share`: upload links ("file requests") and expiring download
//! links on the running server, through the links API
//! (`/_kura/admin/v1/links`, signed with the caller's own key: an upload
//! link needs write permission on its folder, a download link read
//! permission on its key).
//!
//! ```text
//! kura share --upload BUCKET/PREFIX/ --expires 3d [--max-size 2GiB] [--max-files 20] [--max-total 10GiB] [--label TEXT]
//! kura share BUCKET/KEY --expires 7d [--version-id ID]
//! kura share --list
//! kura share --revoke ID
//! ```

use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::Args;
use http::Method;
use serde_json::Value;

use super::client::{Client, Connection};
use crate::config::{parse_duration, parse_size};
use crate::links::api::{LinkInfo, NewLink};

/// Arguments of `kura share`.
#[derive(Debug, Clone, Args)]
pub struct ShareArgs {
    /// `BUCKET/KEY` (a download link), or with `--upload` the folder `BUCKET/PREFIX/`.
    #[arg(required_unless_present_any = ["list", "revoke"])]
    pub target: Option<String>,
    /// Make an upload link: anyone with the URL may drop files into the folder.
    #[arg(long)]
    pub upload: bool,
    /// How long the link works, e.g. `3d`, `12h` (at most a year).
    #[arg(long, value_parser = parse_duration, default_value = "7d")]
    pub expires: Duration,
    /// Upload link: largest single file, e.g. `2GiB`.
    #[arg(long, value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Upload link: most files it accepts.
    #[arg(long)]
    pub max_files: Option<u64>,
    /// Upload link: most bytes it accepts in all, e.g. `10GiB`.
    #[arg(long, value_parser = parse_size)]
    pub max_total: Option<u64>,
    /// Text shown on the upload page (what to send, who asks).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Download link: share this version instead of the current one.
    #[arg(long)]
    pub version_id: Option<String>,
    /// List the links you may manage.
    #[arg(long, conflicts_with_all = ["target", "revoke"])]
    pub list: bool,
    /// Revoke link ID: it stops working at once.
    #[arg(long, value_name = "ID", conflicts_with = "target")]
    pub revoke: Option<String>,
    /// Print the server's JSON answer.
    #[arg(long)]
    pub json: bool,
    /// The server and the credentials.
    #[command(flatten)]
    pub connection: Connection,
}

/// Runs `kura share`.
pub fn run(args: ShareArgs) -> anyhow::Result<()> {
    super::block_on(run_async(args))
}

async fn run_async(args: ShareArgs) -> anyhow::Result<()> {
    let json_out = args.json;
    let client = Client::new(args.connection.clone());
    let answer = if args.list {
        client.call(Method::GET, "links", None).await?
    } else if let Some(id) = &args.revoke {
        client
            .call(Method::DELETE, &format!("links/{id}"), None)
            .await?
    } else {
        let new = new_link(&args)?;
        client
            .call(Method::POST, "links", Some(serde_json::to_value(new)?))
            .await?
    };
    let answer = answer.unwrap_or(Value::Null);
    if json_out {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    if args.list {
        let links: Vec<LinkInfo> = serde_json::from_value(answer)?;
        for l in &links {
            println!("{}", line(l));
        }
        if links.is_empty() {
            eprintln!("no links");
        }
    } else {
        let l: LinkInfo = serde_json::from_value(answer)?;
        match &l.url {
            // The URL alone on stdout (scripts take it from there).
            Some(url) => {
                println!("{url}");
                eprintln!("{}", line(&l));
            }
            None => println!("{}", line(&l)),
        }
    }
    Ok(())
}

fn new_link(args: &ShareArgs) -> anyhow::Result<NewLink> {
    let target = args.target.as_deref().unwrap_or_default();
    let (bucket, rest) = target.split_once('/').unwrap_or((target, ""));
    if bucket.is_empty() {
        bail!("expected BUCKET/KEY or BUCKET/PREFIX/, got {target:?}");
    }
    let mut new = NewLink {
        bucket: bucket.to_string(),
        expires_seconds: args.expires.as_secs(),
        label: args.label.clone(),
        ..NewLink::default()
    };
    if args.upload {
        if args.version_id.is_some() {
            bail!("--version-id is for download links");
        }
        new.prefix = Some(rest.to_string());
        new.max_file_size = args.max_size;
        new.max_files = args.max_files;
        new.max_bytes = args.max_total;
    } else {
        if rest.is_empty() {
            return Err(anyhow!(
                "a download link needs BUCKET/KEY (for a folder upload link, add --upload)"
            ));
        }
        if args.max_size.is_some() || args.max_files.is_some() || args.max_total.is_some() {
            bail!("--max-size, --max-files and --max-total are for upload links (--upload)");
        }
        new.key = Some(rest.to_string());
        new.version_id = args.version_id.clone();
    }
    Ok(new)
}

/// One line about a link.
fn line(l: &LinkInfo) -> String {
    let target = match (&l.prefix, &l.key) {
        (Some(p), _) => format!("{}/{p}", l.bucket),
        (_, Some(k)) => format!(
            "{}/{k} (version {})",
            l.bucket,
            l.version_id.as_deref().unwrap_or("-")
        ),
        _ => l.bucket.clone(),
    };
    let mut s = format!(
        "{}  {:<8}  {:<7}  {target}  until {}",
        l.id, l.kind, l.state, l.expires
    );
    if l.kind == "upload" {
        let of = |used: u64, max: Option<u64>| match max {
            Some(m) => format!("{used}/{m}"),
            None => used.to_string(),
        };
        s.push_str(&format!(
            "  files={}  bytes={}",
            of(l.files, l.max_files),
            of(l.bytes, l.max_bytes)
        ));
        if let Some(m) = l.max_file_size {
            s.push_str(&format!("  max-size={m}"));
        }
    }
    s
}
