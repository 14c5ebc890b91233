//! Text output of `kura admin` (the `--json` output is the server's answer as is).

use serde_json::Value;

/// What kind of answer is being printed.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Secret,
    Key,
    Keys,
    Deleted,
    Bucket,
    Buckets,
    Webhook,
    Reindex,
    Usage,
    Recomputed,
    Backup,
}

fn n(v: &Value, field: &str) -> i64 {
    v.get(field).and_then(Value::as_i64).unwrap_or(0)
}

fn usage_line(u: &Value) -> String {
    format!(
        "{}  objects={}  bytes={}  trash_objects={}  trash_bytes={}",
        s(u, "bucket"),
        n(u, "objects"),
        n(u, "bytes"),
        n(u, "trash_objects"),
        n(u, "trash_bytes"),
    )
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("-")
}

fn list(v: &Value, field: &str) -> String {
    let items: Vec<&str> = v
        .get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

fn key_line(k: &Value) -> String {
    let enabled = if k.get("enabled").and_then(Value::as_bool) == Some(true) {
        "enabled"
    } else {
        "disabled"
    };
    format!(
        "{}  {:<8}  name={}  permissions={}  allow_ips={}  created={}  last_used={}",
        s(k, "access_key_id"),
        enabled,
        s(k, "name"),
        list(k, "permissions"),
        list(k, "allow_ips"),
        s(k, "created"),
        s(k, "last_used"),
    )
}

fn bucket_line(b: &Value) -> String {
    let max = b
        .get("max_object_size")
        .and_then(Value::as_u64)
        .map(|m| m.to_string())
        .unwrap_or_else(|| "server default".into());
    let retention = b
        .get("retention_seconds")
        .and_then(Value::as_u64)
        .map(|r| format!("{r}s"))
        .unwrap_or_else(|| "server default".into());
    let change_log = b
        .get("change_log_retention_seconds")
        .and_then(Value::as_u64)
        .map(|r| format!("{r}s"))
        .unwrap_or_else(|| "as retention".into());
    let multipart_expiry = b
        .get("multipart_expiry_seconds")
        .and_then(Value::as_u64)
        .map(|r| format!("{r}s"))
        .unwrap_or_else(|| "server default".into());
    let limit = |field: &str| {
        b.get(field)
            .and_then(Value::as_u64)
            .map_or_else(|| "none".to_string(), |v| v.to_string())
    };
    format!(
        "{}  created={}  max_object_size={}  retention={}  change_log_retention={}  multipart_expiry={}  quota={}  max_objects={}",
        s(b, "name"),
        s(b, "created"),
        max,
        retention,
        change_log,
        multipart_expiry,
        limit("quota_bytes"),
        limit("max_objects"),
    )
}

fn webhook_line(w: &Value) -> String {
    format!(
        "webhook {}  url={}  prefix={}  events={}  cursor={}  lag={}s",
        s(w, "id"),
        s(w, "url"),
        s(w, "prefix"),
        list(w, "events"),
        s(w, "cursor"),
        w.get("lag_seconds").and_then(Value::as_u64).unwrap_or(0),
    )
}

/// Prints an answer for people.
pub fn text(shape: Shape, v: &Value) {
    match shape {
        Shape::Secret => {
            println!("Access key created; the secret is shown only now:");
            println!("  AWS_ACCESS_KEY_ID={}", s(v, "access_key_id"));
            println!("  AWS_SECRET_ACCESS_KEY={}", s(v, "secret_access_key"));
        }
        Shape::Key => println!("{}", key_line(v)),
        Shape::Keys => {
            for k in v.as_array().into_iter().flatten() {
                println!("{}", key_line(k));
            }
        }
        Shape::Deleted => println!("deleted {}", s(v, "deleted")),
        Shape::Reindex => {
            let n = |f: &str| v.get(f).and_then(Value::as_u64).unwrap_or(0);
            println!(
                "reindexed {}: {} objects, {} entries ({} missing added, {} stray removed)",
                s(v, "bucket"),
                n("objects"),
                n("entries"),
                n("added"),
                n("removed")
            );
        }
        Shape::Bucket => {
            println!("{}", bucket_line(v));
            if let Some(b) = v.get("backend").filter(|b| !b.is_null()) {
                let key = b
                    .get("access_key_id")
                    .and_then(Value::as_str)
                    .map(|k| format!("  access_key_id={k}"))
                    .unwrap_or_default();
                println!(
                    "  backend={}  (number {}){key}",
                    s(b, "url"),
                    n(b, "number")
                );
            } else {
                println!("  backend=default");
            }
            for w in v
                .get("webhooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                println!("  {}", webhook_line(w));
            }
        }
        Shape::Webhook => {
            println!("Webhook registered; its secret is shown only now:");
            println!("  id={}  secret={}", s(v, "id"), s(v, "secret"));
            println!("  {}", webhook_line(v));
        }
        Shape::Usage => {
            for u in v.as_array().into_iter().flatten() {
                println!("{}", usage_line(u));
            }
        }
        Shape::Recomputed => {
            for r in v.as_array().into_iter().flatten() {
                let equal = r.get("equal").and_then(Value::as_bool) == Some(true);
                let scanned = r.get("scanned").cloned().unwrap_or_default();
                if equal {
                    println!("{}  counters equal the scan", usage_line(&scanned));
                } else {
                    let counters = r.get("counters").cloned().unwrap_or_default();
                    println!(
                        "{}  CORRECTED (counters said: {})",
                        usage_line(&scanned),
                        usage_line(&counters)
                    );
                }
            }
        }
        Shape::Backup => println!(
            "backup written to {}  ({} chunk files, {} bytes)",
            s(v, "dir"),
            n(v, "chunk_files"),
            n(v, "chunk_bytes"),
        ),
        Shape::Buckets => {
            for b in v.as_array().into_iter().flatten() {
                println!("{}", bucket_line(b));
            }
        }
    }
}
