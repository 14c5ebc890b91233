//! The commands that manage a running server: `kura admin …` (the admin
//! API's client) and `kura publish|unpublish`.
//!
//! They talk to the running server over HTTP(S) (RocksDB admits one
//! process, so the CLI never opens the data directory), signed with the same
//! `KURA_ACCESS_KEY_ID` / `KURA_SECRET_ACCESS_KEY` the server reads.

pub mod audit;
pub mod changes;
pub(crate) mod client;
pub mod config;
pub mod fsck;
pub mod migrate;
mod pool;
mod print;
pub mod publish;
pub mod replicate;
mod replicate_state;
pub mod search;
pub mod share;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::json;

use crate::admin::types::{BucketUpdate, KeyUpdate, NewBackend, NewKey, NewWebhook};
use crate::config::{parse_duration, parse_size};
use client::Client;
pub use client::Connection;

/// `kura admin`: manage access keys and bucket settings of a running server.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server and the credentials (the root key, or a key with `*:admin`).
    #[command(flatten)]
    pub connection: Connection,
    /// Print the server's JSON answer instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// What to manage.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Access keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Bucket settings.
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// Search the audit log (`--audit-log`) on this machine: who did what, from where.
    Audit(audit::AuditArgs),
    /// Rebuild a bucket's search index from its current objects; prints
    /// what was missing or stray (both 0 when the index was right).
    Reindex {
        /// Bucket name.
        bucket: String,
    },
    /// Check every chunk file against its metadata (missing, corrupted,
    /// orphaned), online and rate-limited; resumes where a stopped scrub stopped.
    Scrub {
        /// Chunk bytes read per second at most, e.g. `50MiB`; `0`: unlimited.
        #[arg(long, value_parser = parse_size, default_value = "64MiB")]
        rate: u64,
        /// Stop after this many chunks (the next scrub resumes there).
        #[arg(long)]
        max_chunks: Option<u64>,
        /// Start from the beginning, not where the last scrub stopped.
        #[arg(long)]
        restart: bool,
    },
    /// Usage counters.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Write a consistent backup of the running server's data directory into
    /// DIR, a new directory on the server's machine (absolute path). Restore:
    /// start `kura serve --data-dir DIR`.
    Backup {
        /// The new directory.
        dir: String,
    },
    /// Copy a stopped server's embedded data directory into etcd and a
    /// chunk backend (RADOS, S3), then verify it row by row and chunk by
    /// chunk (offline: the server stopped; no admin credentials needed).
    Migrate(migrate::MigrateArgs),
}

/// `kura admin usage …`
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Recount every bucket's objects and bytes from its rows, correct the
    /// counters, and show whether they were right.
    Recompute,
}

/// `kura admin key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; prints its id and secret (shown only now).
    Create {
        /// Name or description, e.g. the partner's company.
        #[arg(long)]
        name: String,
        /// Permission `BUCKET:r`, `BUCKET:rw` or `BUCKET:admin` (`*` for every bucket), or on one
        /// folder only, `BUCKET/PREFIX:r` or `BUCKET/PREFIX:rw` (e.g. `inbox/acme/:rw`); repeatable.
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// Source address range (CIDR, IPv4 or IPv6) the key may be used from; repeatable. None: anywhere.
        #[arg(long = "allow-ip")]
        allow_ip: Vec<String>,
    },
    /// List keys (without secrets).
    List,
    /// Show one key.
    Show {
        /// Access key id.
        id: String,
    },
    /// Refuse requests signed with the key, from now on.
    Disable {
        /// Access key id.
        id: String,
    },
    /// Accept the key again.
    Enable {
        /// Access key id.
        id: String,
    },
    /// Give the key a new secret; the old one stops working at once.
    Rotate {
        /// Access key id.
        id: String,
    },
    /// Delete the key.
    Delete {
        /// Access key id.
        id: String,
    },
    /// Change a key's name, permissions or allowed addresses (given lists replace the old ones).
    Set {
        /// Access key id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// Replaces all permissions (repeatable; `BUCKET:rw`, `BUCKET/PREFIX:r`, … as for create).
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// Removes every permission.
        #[arg(long, conflicts_with = "allow")]
        no_permissions: bool,
        /// Replaces the allowed address ranges (repeatable).
        #[arg(long = "allow-ip")]
        allow_ip: Vec<String>,
        /// Allows every address again.
        #[arg(long, conflicts_with = "allow_ip")]
        any_ip: bool,
    },
}

/// `kura admin bucket …`
#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// List buckets with their settings.
    List,
    /// Show a bucket's settings.
    Show {
        /// Bucket name.
        name: String,
    },
    /// Change a bucket's settings.
    Set {
        /// Bucket name.
        name: String,
        /// Largest object one upload may store, e.g. `100MiB`; `none` for the server's limit.
        #[arg(long)]
        max_object_size: Option<String>,
        /// How long replaced and deleted versions stay recoverable, e.g. `7d`; `none` for the server's.
        #[arg(long)]
        retention: Option<String>,
        /// How long the change feed (`?changes`) is kept, when longer than the retention, e.g. `30d`; `none`: as long as the retention.
        #[arg(long)]
        change_log_retention: Option<String>,
        /// How long a multipart upload (an upload ticket) may stay unfinished, e.g. `2h`; `none` for the server's.
        #[arg(long)]
        multipart_expiry: Option<String>,
        /// Byte quota on the current objects, e.g. `500GiB`; `none` removes it.
        #[arg(long)]
        quota: Option<String>,
        /// Object-count quota, e.g. `1000000`; `none` removes it.
        #[arg(long)]
        max_objects: Option<String>,
        /// Where the bucket's new objects' bytes go: `s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]`
        /// (checked with a test chunk first), or `default` for the server's own. Objects already
        /// stored stay readable where they are.
        #[arg(long)]
        backend: Option<String>,
        /// Access key id for `--backend`.
        #[arg(long, env = "KURA_BACKEND_ACCESS_KEY_ID")]
        backend_access_key_id: Option<String>,
        /// Secret access key for `--backend` (stored encrypted, never shown back).
        #[arg(long, env = "KURA_BACKEND_SECRET_ACCESS_KEY", hide_env_values = true)]
        backend_secret_access_key: Option<String>,
        /// Region the `--backend` endpoint expects in signatures (default `us-east-1`).
        #[arg(long)]
        backend_region: Option<String>,
    },
    /// Objects, bytes and trash (noncurrent versions) per bucket.
    Usage,
    /// Register a webhook: every matching change is POSTed to URL as JSON,
    /// signed (HMAC-SHA256, secret shown only now), in order, with retries.
    Notify {
        /// Bucket name.
        name: String,
        /// Receiver, `http://…` or `https://…`.
        #[arg(long)]
        url: String,
        /// Only keys beginning with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Only these events, comma-separated (put,delete,restore,metadata,publish,unpublish,purge).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
    },
    /// Remove a webhook.
    Unnotify {
        /// Bucket name.
        name: String,
        /// Webhook id.
        id: String,
    },
}

/// Runs one command's future on a single-threaded runtime: the command-line
/// clients make a few requests at a time and need no worker threads.
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// Runs `kura admin …`.
pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        // Offline, and blocking (the etcd engine and chunk backends run
        // runtimes of their own): outside this command's runtime.
        AdminCommand::Migrate(m) => migrate::run(m, args.json),
        command => block_on(run_async(AdminArgs { command, ..args })),
    }
}

fn none_or<T>(
    v: Option<String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<Option<Option<T>>> {
    Ok(match v.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(s) => Some(Some(parse(s).map_err(anyhow::Error::msg)?)),
    })
}

async fn run_async(args: AdminArgs) -> anyhow::Result<()> {
    let client = Client::new(args.connection);
    let json_out = args.json;
    let (answer, shape) = match args.command {
        // Local files only: no server, no credentials.
        AdminCommand::Audit(audit) => return audit::run(audit, json_out),
        AdminCommand::Migrate(_) => unreachable!("run outside the runtime"),
        AdminCommand::Scrub {
            rate,
            max_chunks,
            restart,
        } => {
            let body = crate::admin::scrub::ScrubRequest {
                rate_bytes_per_sec: (rate > 0).then_some(rate),
                max_chunks,
                restart,
            };
            let v = client
                .call(Method::POST, "scrub", Some(serde_json::to_value(body)?))
                .await?
                .unwrap_or_default();
            let report: kura_storage::ScrubReport = serde_json::from_value(v)?;
            return fsck::print_report(&report, json_out, false);
        }
        AdminCommand::Key(cmd) => match cmd {
            KeyCommand::Create {
                name,
                allow,
                allow_ip,
            } => {
                let body = NewKey {
                    name,
                    permissions: allow,
                    allow_ips: allow_ip,
                };
                let v = client
                    .call(Method::POST, "keys", Some(serde_json::to_value(body)?))
                    .await?;
                (v, print::Shape::Secret)
            }
            KeyCommand::List => (
                client.call(Method::GET, "keys", None).await?,
                print::Shape::Keys,
            ),
            KeyCommand::Show { id } => (
                client
                    .call(Method::GET, &format!("keys/{id}"), None)
                    .await?,
                print::Shape::Key,
            ),
            KeyCommand::Disable { id } => (
                patch_key(&client, &id, json!({"enabled": false})).await?,
                print::Shape::Key,
            ),
            KeyCommand::Enable { id } => (
                patch_key(&client, &id, json!({"enabled": true})).await?,
                print::Shape::Key,
            ),
            KeyCommand::Rotate { id } => (
                client
                    .call(Method::POST, &format!("keys/{id}/rotate"), None)
                    .await?,
                print::Shape::Secret,
            ),
            KeyCommand::Delete { id } => {
                client
                    .call(Method::DELETE, &format!("keys/{id}"), None)
                    .await?;
                (Some(json!({"deleted": id})), print::Shape::Deleted)
            }
            KeyCommand::Set {
                id,
                name,
                allow,
                no_permissions,
                allow_ip,
                any_ip,
            } => {
                let update = KeyUpdate {
                    name,
                    enabled: None,
                    permissions: (!allow.is_empty() || no_permissions).then_some(allow),
                    allow_ips: (!allow_ip.is_empty() || any_ip).then_some(allow_ip),
                };
                (
                    patch_key(&client, &id, serde_json::to_value(update)?).await?,
                    print::Shape::Key,
                )
            }
        },
        AdminCommand::Bucket(cmd) => match cmd {
            BucketCommand::List => (
                client.call(Method::GET, "buckets", None).await?,
                print::Shape::Buckets,
            ),
            BucketCommand::Show { name } => (
                client
                    .call(Method::GET, &format!("buckets/{name}"), None)
                    .await?,
                print::Shape::Bucket,
            ),
            BucketCommand::Usage => (
                client.call(Method::GET, "usage", None).await?,
                print::Shape::Usage,
            ),
            BucketCommand::Set {
                name,
                max_object_size,
                retention,
                change_log_retention,
                multipart_expiry,
                quota,
                max_objects,
                backend,
                backend_access_key_id,
                backend_secret_access_key,
                backend_region,
            } => {
                let update = BucketUpdate {
                    max_object_size: none_or(max_object_size, parse_size)?,
                    retention: none_or(retention, |s| parse_duration(s).map(|_| s.to_string()))?,
                    change_log_retention: none_or(change_log_retention, |s| {
                        parse_duration(s).map(|_| s.to_string())
                    })?,
                    multipart_expiry: none_or(multipart_expiry, |s| {
                        parse_duration(s).map(|_| s.to_string())
                    })?,
                    quota_bytes: none_or(quota, parse_size)?,
                    max_objects: none_or(max_objects, |s| {
                        s.parse::<u64>()
                            .map_err(|_| format!("invalid object count {s:?}"))
                    })?,
                    backend: backend.map(|url| match url.as_str() {
                        "default" | "none" => None,
                        _ => Some(NewBackend {
                            url,
                            access_key_id: backend_access_key_id,
                            secret_access_key: backend_secret_access_key,
                            region: backend_region,
                        }),
                    }),
                };
                (
                    client
                        .call(
                            Method::PATCH,
                            &format!("buckets/{name}"),
                            Some(serde_json::to_value(update)?),
                        )
                        .await?,
                    print::Shape::Bucket,
                )
            }
            BucketCommand::Notify {
                name,
                url,
                prefix,
                events,
            } => {
                let body = NewWebhook {
                    url,
                    prefix,
                    events,
                };
                (
                    client
                        .call(
                            Method::POST,
                            &format!("buckets/{name}/notify"),
                            Some(serde_json::to_value(body)?),
                        )
                        .await?,
                    print::Shape::Webhook,
                )
            }
            BucketCommand::Unnotify { name, id } => {
                client
                    .call(Method::DELETE, &format!("buckets/{name}/notify/{id}"), None)
                    .await?;
                (Some(json!({"deleted": id})), print::Shape::Deleted)
            }
        },
        AdminCommand::Reindex { bucket } => (
            client
                .call(Method::POST, &format!("buckets/{bucket}/reindex"), None)
                .await?,
            print::Shape::Reindex,
        ),
        AdminCommand::Usage(UsageCommand::Recompute) => (
            client.call(Method::POST, "usage/recompute", None).await?,
            print::Shape::Recomputed,
        ),
        AdminCommand::Backup { dir } => (
            client
                .call(Method::POST, "backup", Some(json!({ "dir": dir })))
                .await?,
            print::Shape::Backup,
        ),
    };
    let answer = answer.unwrap_or(serde_json::Value::Null);
    if json_out {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print::text(shape, &answer);
    }
    Ok(())
}

async fn patch_key(
    client: &Client,
    id: &str,
    body: serde_json::Value,
) -> anyhow::Result<Option<serde_json::Value>> {
    client
        .call(Method::PATCH, &format!("keys/{id}"), Some(body))
        .await
}
