//! `kura publish BUCKET/KEY` and `kura unpublish BUCKET/KEY`: set an
//! object's ACL on the running server (`PUT ?acl` with `x-amz-acl`, as any S3
//! client would) and, on publish, print its public URL.

use anyhow::{anyhow, bail};
use clap::Args;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::client::{Answer, Client, Connection};

/// S3 path encoding: everything but unreserved characters and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Arguments of `kura publish` / `kura unpublish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The object, as `BUCKET/KEY`.
    pub target: String,
    /// The server and the credentials (admin on the bucket).
    #[command(flatten)]
    pub connection: Connection,
}

/// Publishes (`public = true`) or unpublishes the object; on publish, prints its URL.
pub fn run(args: PublishArgs, public: bool) -> anyhow::Result<()> {
    super::block_on(run_async(args, public))
}

async fn run_async(args: PublishArgs, public: bool) -> anyhow::Result<()> {
    let (bucket, key) = args
        .target
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| anyhow!("expected BUCKET/KEY, got {:?}", args.target))?;
    let path = format!(
        "/{}/{}?acl",
        utf8_percent_encode(bucket, PATH),
        utf8_percent_encode(key, PATH)
    );
    let acl = if public { "public-read" } else { "private" };
    let client = Client::new(args.connection);
    let Answer {
        status,
        headers,
        body,
    } = client
        .send(
            Method::PUT,
            &path,
            &[("x-amz-acl".parse()?, acl)],
            Vec::new(),
        )
        .await?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let field = |name: &str| {
            text.split_once(&format!("<{name}>"))
                .and_then(|(_, r)| r.split_once(&format!("</{name}>")))
                .map(|(v, _)| v.to_string())
                .unwrap_or_default()
        };
        bail!(
            "{} {}: {}",
            status.as_u16(),
            field("Code"),
            field("Message")
        );
    }
    if public {
        let url = headers
            .get("x-kura-public-url")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("the server did not return a public URL"))?;
        println!("{url}");
    }
    Ok(())
}
