//! `kura admin audit`: searches the audit log files (`--audit-log`,
//! rotated ones included) on this machine; it needs no running server.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use crate::access_log::AccessRecord;
use crate::config::parse_duration;

/// `kura admin audit …`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The audit log file (`kura serve --audit-log`); its rotated files `FILE.<time>` are read too.
    #[arg(long, env = "KURA_AUDIT_LOG")]
    pub file: PathBuf,
    /// Only requests on this bucket.
    #[arg(long)]
    pub bucket: Option<String>,
    /// Only requests on this object key.
    #[arg(long)]
    pub key: Option<String>,
    /// Only requests signed with this access key id.
    #[arg(long)]
    pub access_key_id: Option<String>,
    /// Only requests of this operation, e.g. `GetObject`.
    #[arg(long)]
    pub operation: Option<String>,
    /// Only requests through (or managing) this share link, by its id (`kura share --list`).
    #[arg(long)]
    pub link: Option<String>,
    /// Only requests from the last DURATION, e.g. `7d`, `24h`.
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
}

impl AuditArgs {
    fn matches(&self, r: &AccessRecord, after: Option<OffsetDateTime>) -> bool {
        let eq = |want: &Option<String>, got: &Option<String>| {
            want.as_ref().is_none_or(|w| got.as_ref() == Some(w))
        };
        eq(&self.bucket, &r.bucket)
            && eq(&self.key, &r.key)
            && eq(&self.access_key_id, &r.access_key_id)
            && eq(&self.link, &r.link_id)
            && self.operation.as_ref().is_none_or(|o| *o == r.operation)
            && after.is_none_or(|after| {
                OffsetDateTime::parse(&r.time, &time::format_description::well_known::Rfc3339)
                    .is_ok_and(|t| t >= after)
            })
    }
}

/// Prints the matching records, oldest first: as JSON lines with `json`,
/// else one readable line each.
pub fn run(args: AuditArgs, json: bool) -> anyhow::Result<()> {
    let after = args.since.map(|d| OffsetDateTime::now_utc() - d);
    let mut found = 0usize;
    crate::audit::read_all(&args.file, |r| {
        if !args.matches(&r, after) {
            return;
        }
        found += 1;
        if json {
            println!("{}", serde_json::to_string(&r).unwrap_or_default());
        } else {
            println!("{}", human(&r));
        }
    })?;
    if found == 0 && !json {
        eprintln!("no matching requests");
    }
    Ok(())
}

fn human(r: &AccessRecord) -> String {
    let who = match (&r.access_key_id, &r.public_link) {
        (None, None) if r.link_id.is_some() => {
            format!("link {}", r.link_id.as_deref().unwrap_or_default())
        }
        (Some(id), _) => match &r.key_name {
            Some(name) => format!("{id} ({name})"),
            None => id.clone(),
        },
        (None, Some(link)) => format!("public link {link}"),
        (None, None) => "anonymous".to_string(),
    };
    let object = match (&r.bucket, &r.key) {
        (Some(b), Some(k)) => format!("{b}/{k}"),
        (Some(b), None) => b.clone(),
        _ => "-".to_string(),
    };
    let mut line = format!(
        "{} {} {} {} {} {}",
        r.time, r.client, who, r.operation, object, r.status
    );
    if let Some(e) = &r.error {
        line.push_str(&format!(" {e}"));
    }
    if let Some(v) = &r.version_id {
        line.push_str(&format!(" version={v}"));
    }
    line.push_str(&format!(
        " in={} out={} {}ms",
        r.bytes_in, r.bytes_out, r.duration_ms
    ));
    if !r.complete {
        line.push_str(" (incomplete)");
    }
    line
}
