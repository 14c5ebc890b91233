//! Access keys through the admin API.

use http::{Response, StatusCode};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::AccessKeyRow;

use super::json;
use super::types::{KeyInfo, KeySecret, KeyUpdate, NewKey};
use crate::access::{grants, ip};
use crate::clock::now_ms;
use crate::clock::rfc3339;
use crate::credentials::{generate_access_key_id, generate_secret};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};
use crate::state::AppState;
use std::sync::Arc;

const MAX_NAME: usize = 256;

fn no_such_key() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidAccessKeyId,
        "No access key with this id.",
    )
    .header("x-kura-not-found", "1")
}

fn info(state: &AppState, id: &str, row: &AccessKeyRow, stored_use: Option<u64>) -> KeyInfo {
    let last_used = state.keys.pending_usage(id).or(stored_use);
    KeyInfo {
        access_key_id: id.to_string(),
        name: row.name.clone(),
        enabled: row.enabled,
        created: rfc3339(row.created_ms),
        last_used: last_used.map(rfc3339),
        permissions: row.grants.iter().map(grants::format).collect(),
        allow_ips: row.allow_ips.clone(),
    }
}

fn check_name(name: &str) -> S3Result<()> {
    if name.trim().is_empty() || name.len() > MAX_NAME {
        return Err(S3Error::invalid_argument(format!(
            "A key needs a name of 1 to {MAX_NAME} bytes."
        )));
    }
    Ok(())
}

fn parse_grants(specs: &[String]) -> S3Result<Vec<kura_storage::Grant>> {
    specs
        .iter()
        .map(|s| grants::parse(s).map_err(S3Error::invalid_argument))
        .collect()
}

/// Validated and normalised (`10.1.2.3/8` → `10.0.0.0/8`).
fn parse_ips(specs: &[String]) -> S3Result<Vec<String>> {
    specs
        .iter()
        .map(|s| {
            ip::parse_net(s)
                .map(|n| n.to_string())
                .map_err(S3Error::invalid_argument)
        })
        .collect()
}

pub async fn list(state: &Arc<AppState>) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let out = blocking(move || {
        let usage = st.store.key_usage().s3()?;
        let keys = st.store.access_keys().s3()?;
        Ok(keys
            .iter()
            .map(|(id, row)| info(&st, id, row, usage.get(id).copied()))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(json(&out))
}

pub async fn show(state: &Arc<AppState>, id: &str) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let id = id.to_string();
    let out = blocking(move || {
        let row = st.store.access_key(&id).s3()?.ok_or_else(no_such_key)?;
        let usage = st.store.key_usage().s3()?;
        Ok(info(&st, &id, &row, usage.get(&id).copied()))
    })
    .await?;
    Ok(json(&out))
}

pub async fn create(state: &Arc<AppState>, new: NewKey) -> S3Result<Response<Body>> {
    check_name(&new.name)?;
    let row = AccessKeyRow {
        name: new.name,
        secret: generate_secret(),
        created_ms: now_ms(),
        enabled: true,
        grants: parse_grants(&new.permissions)?,
        allow_ips: parse_ips(&new.allow_ips)?,
    };
    let st = Arc::clone(state);
    let out = blocking(move || {
        let _admin = st.keys.admin_lock();
        let id = loop {
            let id = generate_access_key_id();
            if id != st.root.access_key_id && st.store.access_key(&id).s3()?.is_none() {
                break id;
            }
        };
        st.store.put_access_key(&id, &row).s3()?;
        st.keys.apply(&id, Some(&row));
        tracing::info!(access_key_id = %id, name = %row.name, "access key created");
        Ok(KeySecret {
            access_key_id: id,
            secret_access_key: row.secret,
        })
    })
    .await?;
    Ok(json(&out))
}

/// Read-modify-write of one key under the admin lock.
/// (The store re-reads and retries when another front end changed the key
/// meanwhile, so `change` may run more than once.)
async fn modify(
    state: &Arc<AppState>,
    id: &str,
    change: impl Fn(&mut AccessKeyRow) + Send + 'static,
) -> S3Result<AccessKeyRow> {
    let st = Arc::clone(state);
    let id = id.to_string();
    blocking(move || {
        let _admin = st.keys.admin_lock();
        let row = st
            .store
            .update_access_key(&id, change)
            .s3()?
            .ok_or_else(no_such_key)?;
        st.keys.apply(&id, Some(&row));
        Ok(row)
    })
    .await
}

pub async fn update(state: &Arc<AppState>, id: &str, u: KeyUpdate) -> S3Result<Response<Body>> {
    if let Some(name) = &u.name {
        check_name(name)?;
    }
    let grants = u.permissions.as_deref().map(parse_grants).transpose()?;
    let ips = u.allow_ips.as_deref().map(parse_ips).transpose()?;
    let row = modify(state, id, move |row| {
        if let Some(name) = &u.name {
            row.name = name.clone();
        }
        if let Some(enabled) = u.enabled {
            row.enabled = enabled;
        }
        if let Some(grants) = &grants {
            row.grants = grants.clone();
        }
        if let Some(ips) = &ips {
            row.allow_ips = ips.clone();
        }
    })
    .await?;
    tracing::info!(access_key_id = %id, enabled = row.enabled, "access key updated");
    let usage = state.store.key_usage().s3()?.get(id).copied();
    Ok(json(&info(state, id, &row, usage)))
}

pub async fn rotate(state: &Arc<AppState>, id: &str) -> S3Result<Response<Body>> {
    let secret = generate_secret();
    let new = secret.clone();
    modify(state, id, move |row| row.secret = new.clone()).await?;
    tracing::info!(access_key_id = %id, "access key secret rotated");
    Ok(json(&KeySecret {
        access_key_id: id.to_string(),
        secret_access_key: secret,
    }))
}

pub async fn delete(state: &Arc<AppState>, id: &str) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let key = id.to_string();
    blocking(move || {
        let _admin = st.keys.admin_lock();
        st.store.access_key(&key).s3()?.ok_or_else(no_such_key)?;
        st.store.delete_access_key(&key).s3()?;
        st.keys.apply(&key, None);
        Ok(())
    })
    .await?;
    tracing::info!(access_key_id = %id, "access key deleted");
    Ok(response::empty(StatusCode::NO_CONTENT))
}
