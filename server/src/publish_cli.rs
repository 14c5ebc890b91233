//! `kura publish BUCKET/KEY` and `kura unpublish BUCKET/KEY`: set an
//! object's ACL on the running server (RocksDB admits one process, so the
//! command talks to the server over HTTP, like any S3 client would) and
//! print its public URL.
//!
//! Requests are signed with AWS's own SigV4 signer (`aws-sigv4`), using the
//! credentials from `KURA_ACCESS_KEY_ID` / `KURA_SECRET_ACCESS_KEY`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use clap::Args;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// SHA-256 of the empty body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
    /// The running server.
    #[arg(long, env = "KURA_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Region the server expects in signatures.
    #[arg(long, env = "KURA_REGION", default_value = "us-east-1")]
    pub region: String,
}

/// Publishes (`public = true`) or unpublishes the object; on publish, prints its URL.
pub fn run(args: PublishArgs, public: bool) -> anyhow::Result<()> {
    let (bucket, key) = args
        .target
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| anyhow!("expected BUCKET/KEY, got {:?}", args.target))?;
    let access_key = std::env::var("KURA_ACCESS_KEY_ID")
        .context("KURA_ACCESS_KEY_ID must be set (the server's credentials)")?;
    let secret = std::env::var("KURA_SECRET_ACCESS_KEY")
        .context("KURA_SECRET_ACCESS_KEY must be set (the server's credentials)")?;
    let host = args
        .endpoint
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--endpoint must be an http:// URL"))?
        .trim_end_matches('/');
    let path = format!(
        "/{}/{}?acl",
        utf8_percent_encode(bucket, PATH),
        utf8_percent_encode(key, PATH)
    );
    let acl = if public { "public-read" } else { "private" };
    let mut headers = vec![
        ("host".to_string(), host.to_string()),
        ("x-amz-acl".to_string(), acl.to_string()),
        ("content-length".to_string(), "0".to_string()),
    ];
    sign_request(
        &mut headers,
        host,
        &path,
        &access_key,
        &secret,
        &args.region,
    )?;
    let (status, resp_headers, body) = send(host, "PUT", &path, &headers)?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body);
        let field = |name: &str| {
            text.split_once(&format!("<{name}>"))
                .and_then(|(_, r)| r.split_once(&format!("</{name}>")))
                .map(|(v, _)| v.to_string())
                .unwrap_or_default()
        };
        bail!("{} {}: {}", status, field("Code"), field("Message"));
    }
    if public {
        let url = resp_headers
            .iter()
            .find(|(k, _)| k == "x-kura-public-url")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| anyhow!("the server did not return a public URL"))?;
        println!("{url}");
    }
    Ok(())
}

fn sign_request(
    headers: &mut Vec<(String, String)>,
    host: &str,
    path: &str,
    access_key: &str,
    secret: &str,
    region: &str,
) -> anyhow::Result<()> {
    let identity = Credentials::new(access_key, secret, None, None, "kura").into();
    let mut settings = SigningSettings::default();
    // Adds the x-amz-content-sha256 header S3 requires.
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    // S3 style: no path normalisation, single percent-encoding.
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()?
        .into();
    let uri = format!("http://{host}{path}");
    let signable = SignableRequest::new(
        "PUT",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Precomputed(EMPTY_SHA256.to_string()),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let (signed, _) = instructions.into_parts();
    for h in signed {
        headers.push((h.name().to_string(), h.value().to_string()));
    }
    Ok(())
}

type RawResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request with no body, `Connection: close`, read to the end.
fn send(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
) -> anyhow::Result<RawResponse> {
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed response from {host}"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("malformed status line from {host}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, headers, raw[split + 4..].to_vec()))
}
