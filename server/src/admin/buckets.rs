//! Bucket settings through the admin API.

use std::sync::Arc;

use http::Response;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{BackendSpec, BucketRow, WebhookRow};

use rand::RngCore;

use super::json;
use super::types::{
    BackendInfo, BucketSettings, BucketUpdate, NewBackend, NewWebhook, WebhookInfo,
};
use crate::clock::rfc3339;
use crate::errors::{blocking, StorageResultExt};
use crate::response::Body;
use crate::state::AppState;

fn settings(state: &AppState, name: &str, row: &BucketRow) -> BucketSettings {
    let quota = state.store.quota(name).ok().flatten();
    BucketSettings {
        name: name.to_string(),
        created: rfc3339(row.created_ms),
        max_object_size: row.max_object_size,
        server_max_object_size: state.max_object_size,
        retention_seconds: row.retention_secs,
        server_retention_seconds: state.store.config().retention.as_secs(),
        change_log_retention_seconds: state
            .store
            .change_log_retention(name)
            .ok()
            .flatten()
            .map(|d| d.as_secs()),
        multipart_expiry_seconds: state
            .store
            .bucket_multipart_expiry(name)
            .ok()
            .flatten()
            .map(|d| d.as_secs()),
        server_multipart_expiry_seconds: state.multipart_expiry.as_secs(),
        webhooks: webhooks(state, name),
        quota_bytes: quota.and_then(|q| q.max_bytes),
        max_objects: quota.and_then(|q| q.max_objects),
        usage: state
            .store
            .usage(name)
            .ok()
            .map(|u| super::types::BucketUsage::of(name, u)),
        backend: state
            .store
            .bucket_backend(name)
            .ok()
            .flatten()
            .map(|b| BackendInfo {
                number: b.number,
                url: b.url,
                access_key_id: b.access_key_id.as_deref().map(mask),
                region: b.region,
            }),
    }
}

/// An access key id as shown: its first 4 characters.
fn mask(id: &str) -> String {
    let shown: String = id.chars().take(4).collect();
    format!("{shown}…")
}

/// Checks a new backend before the bucket depends on it: the URL parses,
/// an S3 endpoint has credentials, and a probe chunk can be written, read
/// back and deleted there. Blocking.
fn check_backend(state: &AppState, b: &NewBackend) -> S3Result<BackendSpec> {
    let url = b.url.trim();
    if !url.starts_with("s3://") && !url.starts_with("rados://") {
        return Err(S3Error::invalid_argument(
            "backend must be s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT], rados://POOL?conf=FILE, \
             or null for the server's own",
        ));
    }
    if url.starts_with("s3://")
        && (b.access_key_id.as_deref().unwrap_or("").is_empty()
            || b.secret_access_key.as_deref().unwrap_or("").is_empty())
    {
        return Err(S3Error::invalid_argument(
            "an s3:// backend needs access_key_id and secret_access_key",
        ));
    }
    let spec = BackendSpec {
        url: url.to_string(),
        access_key_id: b.access_key_id.clone(),
        secret_access_key: b.secret_access_key.clone(),
        region: b.region.clone().filter(|r| !r.is_empty()),
    };
    state.store.probe_backend(&spec).map_err(|e| {
        S3Error::invalid_argument(format!(
            "cannot use {url} as a chunk backend (a test chunk could not be written, read \
             back and deleted there): {e}"
        ))
    })?;
    Ok(spec)
}

fn webhooks(state: &AppState, bucket: &str) -> Vec<WebhookInfo> {
    let all = state.store.webhooks().unwrap_or_default();
    all.into_iter()
        .filter(|(b, _, _)| b == bucket)
        .map(|(_, id, row)| webhook_info(state, bucket, &id, &row))
        .collect()
}

fn webhook_info(state: &AppState, bucket: &str, id: &str, row: &WebhookRow) -> WebhookInfo {
    WebhookInfo {
        id: id.to_string(),
        url: row.url.clone(),
        prefix: row.prefix.clone(),
        events: row.events.clone(),
        cursor: state
            .store
            .webhook_cursor(bucket, id)
            .unwrap_or(0)
            .to_string(),
        lag_seconds: crate::webhooks::lag_seconds(&state.store, bucket, id, &row.prefix),
        secret: None,
    }
}

/// Event names a webhook may filter on.
const EVENTS: &[&str] = &[
    "put",
    "delete",
    "restore",
    "metadata",
    "publish",
    "unpublish",
    "purge",
];

/// Registers a webhook; the answer carries its secret, shown only now.
pub async fn notify(state: &Arc<AppState>, name: &str, w: NewWebhook) -> S3Result<Response<Body>> {
    let uri: http::Uri = w
        .url
        .parse()
        .map_err(|_| S3Error::invalid_argument("url is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(S3Error::invalid_argument(
            "url must be http:// or https://HOST/…",
        ));
    }
    if let Some(bad) = w.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(S3Error::invalid_argument(format!(
            "unknown event {bad:?}; use {}",
            EVENTS.join(", ")
        )));
    }
    // 64-bit id, 256-bit secret, from the operating system's generator.
    let mut raw = [0u8; 40];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let id = hex::encode(&raw[..8]);
    let row = WebhookRow {
        url: w.url,
        prefix: w.prefix,
        events: w.events,
        secret: hex::encode(&raw[8..]),
        created_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    };
    let st = Arc::clone(state);
    let (bucket, wid, r) = (name.to_string(), id.clone(), row.clone());
    let info = blocking(move || {
        // Delivery starts with the changes committed from now on.
        let cursor = st.store.change_horizon();
        st.store.put_webhook(&bucket, &wid, &r, cursor).s3()?;
        let mut info = webhook_info(&st, &bucket, &wid, &r);
        info.secret = Some(r.secret.clone());
        Ok(info)
    })
    .await?;
    crate::webhooks::spawn(Arc::clone(state), name.to_string(), id);
    tracing::info!(bucket = %name, webhook = %info.id, url = %info.url, "webhook registered");
    Ok(json(&info))
}

/// Removes a webhook; its delivery stops.
pub async fn unnotify(state: &Arc<AppState>, name: &str, id: &str) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let (bucket, wid) = (name.to_string(), id.to_string());
    let removed = blocking(move || st.store.delete_webhook(&bucket, &wid).s3()).await?;
    if !removed {
        return Err(super::not_found("No such webhook"));
    }
    Ok(crate::response::empty(http::StatusCode::NO_CONTENT))
}

pub async fn list(state: &Arc<AppState>) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let out = blocking(move || {
        Ok(st
            .store
            .list_buckets()
            .s3()?
            .iter()
            .map(|(name, row)| settings(&st, name, row))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(json(&out))
}

pub async fn show(state: &Arc<AppState>, name: &str) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let name = name.to_string();
    let out = blocking(move || {
        let row = st
            .store
            .bucket(&name)
            .s3()?
            .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchBucket))?;
        Ok(settings(&st, &name, &row))
    })
    .await?;
    Ok(json(&out))
}

pub async fn update(
    state: &Arc<AppState>,
    name: &str,
    u: BucketUpdate,
) -> S3Result<Response<Body>> {
    let retention = match u.retention {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(
            crate::config::parse_duration(&text).map_err(S3Error::invalid_argument)?,
        )),
    };
    let multipart_expiry = match u.multipart_expiry {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(
            crate::config::parse_duration(&text).map_err(S3Error::invalid_argument)?,
        )),
    };
    let change_log_retention = match u.change_log_retention {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(
            crate::config::parse_duration(&text).map_err(S3Error::invalid_argument)?,
        )),
    };
    if let Some(Some(0)) = u.max_object_size {
        return Err(S3Error::invalid_argument(
            "max_object_size must be at least 1",
        ));
    }
    let st = Arc::clone(state);
    let bucket = name.to_string();
    let switched = u.backend.is_some();
    blocking(move || {
        // Checked before any setting changes: a backend that cannot work
        // leaves the bucket as it was.
        let backend = match &u.backend {
            None => None,
            Some(None) => Some(None),
            Some(Some(b)) => {
                st.store
                    .bucket(&bucket)
                    .s3()?
                    .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchBucket))?;
                Some(Some(check_backend(&st, b)?))
            }
        };
        if let Some(backend) = &backend {
            st.store
                .set_bucket_backend(&bucket, backend.as_ref())
                .s3()?;
        }
        if let Some(max) = u.max_object_size {
            st.store.set_bucket_max_object_size(&bucket, max).s3()?;
        }
        if let Some(retention) = retention {
            st.store.set_bucket_retention(&bucket, retention).s3()?;
        }
        if let Some(keep) = change_log_retention {
            st.store.set_change_log_retention(&bucket, keep).s3()?;
        }
        if let Some(expiry) = multipart_expiry {
            st.store.set_bucket_multipart_expiry(&bucket, expiry).s3()?;
        }
        if u.quota_bytes.is_some() || u.max_objects.is_some() {
            st.store
                .update_quota(&bucket, u.quota_bytes, u.max_objects)
                .s3()?;
        }
        Ok(())
    })
    .await?;
    tracing::info!(bucket = %name, backend_changed = switched, "bucket settings updated");
    show(state, name).await
}

/// Rebuilds a bucket's search index from its current objects.
pub async fn reindex(state: &Arc<AppState>, name: &str) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let bucket = name.to_string();
    let b = bucket.clone();
    let r = blocking(move || st.store.reindex(&b).s3()).await?;
    Ok(json(&serde_json::json!({
        "bucket": bucket,
        "objects": r.objects,
        "entries": r.entries,
        "added": r.added,
        "removed": r.removed,
    })))
}
