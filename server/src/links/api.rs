//! The links API (`kura share` is its client): JSON under
//! `/_kura/admin/v1/links`, signed like the admin API (SigV4 in the
//! `Authorization` header with the body's real SHA-256), but open to any
//! key: what a key may do with links follows its grants.
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | POST | `links` | [`NewLink`] → [`LinkInfo`] with its `url` (shown only here) |
//! | GET | `links` | → `[LinkInfo]`: the links the caller may manage |
//! | GET | `links/{id}` | → [`LinkInfo`] |
//! | DELETE | `links/{id}` | → [`LinkInfo`], revoked |
//!
//! An upload link needs write permission on its whole folder, a download
//! link read permission on its key; the same permission (or being the
//! link's maker, or `*:admin`) lets a key see and revoke a link.

use std::sync::Arc;

use http::request::Parts;
use http::{Method, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::names::validate_object_key;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{LinkRow, LinkTarget};
use serde::{Deserialize, Serialize};

use super::{json_response, new_token, origin, API_PATH, DOWNLOAD_PREFIX, UPLOAD_PREFIX};
use crate::access::{Permission, Principal};
use crate::access_log::AccessRecord;
use crate::auth::{authenticate, require_signed_body};
use crate::body::Payload;
use crate::clock::{now_ms, rfc3339};
use crate::errors::{blocking, StorageResultExt};
use crate::handlers::kit::public_url::file_name;
use crate::response::Body;
use crate::state::AppState;

/// Longest a link may live.
pub const MAX_EXPIRY_SECONDS: u64 = 365 * 24 * 3600;
/// Longest label.
const MAX_LABEL: usize = 500;
/// Largest request body.
const MAX_BODY: usize = 16 * 1024;

/// A link to make: an upload link (`prefix`) or a download link (`key`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewLink {
    /// The bucket.
    pub bucket: String,
    /// Upload link: the folder files go into (`""`: the whole bucket; a
    /// `/` is added if missing).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Download link: the object.
    #[serde(default)]
    pub key: Option<String>,
    /// Download link: the version to serve (default: the current one).
    #[serde(default)]
    pub version_id: Option<String>,
    /// Seconds from now until the link stops working (1 … one year).
    pub expires_seconds: u64,
    /// Upload link: largest single file.
    #[serde(default)]
    pub max_file_size: Option<u64>,
    /// Upload link: most files.
    #[serde(default)]
    pub max_files: Option<u64>,
    /// Upload link: most bytes in all.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Text shown on the upload page.
    #[serde(default)]
    pub label: String,
}

/// A link as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkInfo {
    /// The link's id.
    pub id: String,
    /// `upload` or `download`.
    pub kind: String,
    /// The bucket.
    pub bucket: String,
    /// Upload link: its folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Download link: its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Download link: the version served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Text shown on the upload page.
    pub label: String,
    /// The access key that made it.
    pub created_by: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// When it stops working.
    pub expires: String,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    /// `active`, `expired`, `revoked` or `used-up`.
    pub state: String,
    /// Files uploaded through it.
    pub files: u64,
    /// Bytes uploaded through it.
    pub bytes: u64,
    /// Upload link: largest single file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    /// Upload link: most files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u64>,
    /// Upload link: most bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// The link's URL: only in the answer that made it (kura keeps only a
    /// hash of its token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl LinkInfo {
    /// The view of a stored link at `now`.
    pub fn of(id: &str, row: &LinkRow, now: u64) -> LinkInfo {
        let state = match row.usable(now) {
            Ok(()) => "active",
            Err(kura_storage::LinkRefusal::Expired) => "expired",
            Err(kura_storage::LinkRefusal::Revoked) => "revoked",
            Err(_) => "used-up",
        };
        let mut info = LinkInfo {
            id: id.to_string(),
            kind: String::new(),
            bucket: row.bucket.clone(),
            prefix: None,
            key: None,
            version_id: None,
            label: row.label.clone(),
            created_by: row.created_by.clone(),
            created: rfc3339(row.created_ms),
            expires: rfc3339(row.expires_ms),
            revoked: row.revoked_ms.map(rfc3339),
            state: state.to_string(),
            files: row.files,
            bytes: row.bytes,
            max_file_size: None,
            max_files: None,
            max_bytes: None,
            url: None,
        };
        match &row.target {
            LinkTarget::Upload {
                prefix,
                max_file_size,
                max_files,
                max_bytes,
            } => {
                info.kind = "upload".into();
                info.prefix = Some(prefix.clone());
                info.max_file_size = *max_file_size;
                info.max_files = *max_files;
                info.max_bytes = *max_bytes;
            }
            LinkTarget::Download { key, version_id } => {
                info.kind = "download".into();
                info.key = Some(key.clone());
                info.version_id = Some(version_id.clone());
            }
        }
        info
    }
}

/// The operation a links API request is.
pub fn op_name(method: &Method, path: &str) -> &'static str {
    op_name_of(method, path.len() > API_PATH.len() + 1)
}

/// The operation a links request is recorded under: `one` when it names a
/// single link (`…/links/{id}`). The console's gateway shares it.
pub fn op_name_of(method: &Method, one: bool) -> &'static str {
    match (method, one) {
        (&Method::POST, false) => "CreateLink",
        (&Method::DELETE, true) => "RevokeLink",
        (_, true) => "GetLink",
        _ => "ListLinks",
    }
}

/// Handles one links API request.
pub async fn handle(
    state: &Arc<AppState>,
    parts: Parts,
    body: Incoming,
    record: &mut Option<Box<AccessRecord>>,
) -> S3Result<Response<Body>> {
    let (mut verified, principal) = authenticate(state, &parts)?;
    if let Some(r) = record.as_mut() {
        r.access_key_id = Some(principal.access_key_id().to_string());
        r.key_name = Some(match &principal {
            Principal::Root { .. } => "root".to_string(),
            Principal::Key(k) => k.name.clone(),
        });
    }
    require_signed_body(&verified)?;
    let length = kura_protocol::headers::content_length(&parts.headers)?;
    let mut payload = Payload::new(body, &mut verified, length)
        .with_idle_timeout(state.body_idle_timeout)
        .with_min_rate(state.min_upload_rate);
    let body = payload.read_to_end(MAX_BODY).await?;
    let id = parts
        .uri
        .path()
        .strip_prefix(API_PATH)
        .unwrap_or_default()
        .trim_matches('/')
        .to_string();
    if let Some(r) = record.as_mut() {
        if !id.is_empty() {
            r.link_id = Some(id.clone());
        }
    }
    match (&parts.method, id.is_empty()) {
        (&Method::POST, true) => {
            let new: NewLink = serde_json::from_slice(&body)
                .map_err(|e| S3Error::invalid_argument(format!("Invalid JSON body: {e}")))?;
            let info = create(state, &origin(state, &parts), &principal, new, record).await?;
            Ok(json_response(StatusCode::CREATED, &info))
        }
        (&Method::GET, true) => Ok(json_response(
            StatusCode::OK,
            &list(state, &principal).await?,
        )),
        (&Method::GET, false) => {
            let row = manageable(state, &principal, &id)?;
            Ok(json_response(
                StatusCode::OK,
                &LinkInfo::of(&id, &row, now_ms()),
            ))
        }
        (&Method::DELETE, false) => Ok(json_response(
            StatusCode::OK,
            &revoke(state, &principal, &id).await?,
        )),
        _ => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    }
}

/// Revokes link `id` if `who` may manage it (for the API and the console).
pub async fn revoke(state: &Arc<AppState>, who: &Principal, id: &str) -> S3Result<LinkInfo> {
    manageable(state, who, id)?;
    let store = state.store.clone();
    let key = id.to_string();
    let row = blocking(move || store.revoke_link(&key, now_ms()).s3())
        .await?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchLink))?;
    Ok(LinkInfo::of(id, &row, now_ms()))
}

/// What a key needs on a link's target to make it, see it and revoke it.
fn may_manage(who: &Principal, row: &LinkRow) -> bool {
    if who.is_global_admin() || who.access_key_id() == row.created_by {
        return true;
    }
    match &row.target {
        LinkTarget::Upload { prefix, .. } => may_write_folder(who, &row.bucket, prefix),
        LinkTarget::Download { key, .. } => who.may(&row.bucket, key, Permission::Read),
    }
}

/// Write permission on every key of the folder: a grant on the bucket, or
/// on a folder that contains this one.
fn may_write_folder(who: &Principal, bucket: &str, prefix: &str) -> bool {
    who.may(bucket, prefix, Permission::Write)
}

/// The link `id` if the caller may manage it (`NoSuchLink` otherwise: a
/// key learns nothing of links it has no business with).
fn manageable(state: &AppState, who: &Principal, id: &str) -> S3Result<LinkRow> {
    match state.store.link(id).s3()? {
        Some(row) if may_manage(who, &row) => Ok(row),
        _ => Err(S3Error::new(S3ErrorCode::NoSuchLink)),
    }
}

/// The links `who` may manage, oldest first (for the API and the console).
pub async fn list(state: &Arc<AppState>, who: &Principal) -> S3Result<Vec<LinkInfo>> {
    let store = state.store.clone();
    let all = blocking(move || store.links().s3()).await?;
    let now = now_ms();
    let mut out: Vec<(u64, LinkInfo)> = all
        .iter()
        .filter(|(_, row)| may_manage(who, row))
        .map(|(id, row)| (row.created_ms, LinkInfo::of(id, row, now)))
        .collect();
    out.sort_by_key(|(created, _)| *created);
    Ok(out.into_iter().map(|(_, i)| i).collect())
}

/// Makes a link for `who` (for the API and the console); its `url` starts
/// with `origin` (`scheme://host`). Fills in the request's record.
pub async fn create(
    state: &Arc<AppState>,
    origin: &str,
    who: &Principal,
    new: NewLink,
    record: &mut Option<Box<AccessRecord>>,
) -> S3Result<LinkInfo> {
    if new.expires_seconds == 0 || new.expires_seconds > MAX_EXPIRY_SECONDS {
        return Err(S3Error::invalid_argument(
            "expires_seconds must be from 1 to 31536000 (one year).",
        ));
    }
    if new.label.len() > MAX_LABEL || new.label.chars().any(|c| c.is_control()) {
        return Err(S3Error::invalid_argument(
            "The label must be at most 500 bytes of text without control characters.",
        ));
    }
    kura_protocol::names::validate_bucket_name(&new.bucket)?;
    let bucket = crate::handlers::kit::existing_bucket(&state.store, &new.bucket)?;
    if let Some(r) = record.as_mut() {
        r.bucket = Some(new.bucket.clone());
    }
    let denied = |what: &str| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            format!("Your key may not {what}, so it cannot make this link."),
        )
    };
    let target = match (&new.prefix, &new.key) {
        (Some(prefix), None) => {
            let mut prefix = prefix.trim_start_matches('/').to_string();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            if !prefix.is_empty() {
                validate_object_key(&prefix)?;
                super::upload::check_relative(prefix.trim_end_matches('/'))?;
            }
            if !may_write_folder(who, &new.bucket, &prefix) {
                return Err(denied("write into that whole folder"));
            }
            if let Some(r) = record.as_mut() {
                r.key = Some(prefix.clone());
            }
            if new.max_files == Some(0) || new.max_bytes == Some(0) || new.max_file_size == Some(0)
            {
                return Err(S3Error::invalid_argument(
                    "max_files, max_bytes and max_file_size must be at least 1.",
                ));
            }
            LinkTarget::Upload {
                prefix,
                max_file_size: new.max_file_size,
                max_files: new.max_files,
                max_bytes: new.max_bytes,
            }
        }
        (None, Some(key)) => {
            validate_object_key(key)?;
            if new.max_file_size.is_some() || new.max_files.is_some() || new.max_bytes.is_some() {
                return Err(S3Error::invalid_argument(
                    "Size and file limits apply to upload links only.",
                ));
            }
            if !who.may(&new.bucket, key, Permission::Read) {
                return Err(denied("read that key"));
            }
            if let Some(r) = record.as_mut() {
                r.key = Some(key.clone());
            }
            let row = state
                .store
                .get_object(&new.bucket, key, new.version_id.as_deref())
                .s3()?;
            if row.delete_marker {
                return Err(S3Error::with_message(
                    S3ErrorCode::MethodNotAllowed,
                    "That version is a delete marker: there is nothing to share.",
                ));
            }
            LinkTarget::Download {
                key: key.clone(),
                version_id: row.version_id(),
            }
        }
        _ => {
            return Err(S3Error::invalid_argument(
                "Give either prefix (an upload link) or key (a download link).",
            ))
        }
    };
    let now = now_ms();
    let store = state.store.clone();
    let mut row = LinkRow {
        token_sha256: [0; 32],
        bucket: new.bucket.clone(),
        bucket_created_ms: bucket.created_ms,
        target,
        label: new.label.clone(),
        created_by: who.access_key_id().to_string(),
        created_ms: now,
        expires_ms: now + new.expires_seconds * 1000,
        revoked_ms: None,
        files: 0,
        bytes: 0,
    };
    // 64-bit ids: a clash is next to impossible, but never overwrite a link.
    let mut made = None;
    for _ in 0..4 {
        let (id, token, hash) = new_token();
        row.token_sha256 = hash;
        let (s, r, i) = (store.clone(), row.clone(), id.clone());
        if blocking(move || s.create_link(&i, &r).s3()).await? {
            made = Some((id, token));
            break;
        }
    }
    let (id, token) = made.ok_or_else(|| crate::errors::internal("no free link id"))?;
    if let Some(r) = record.as_mut() {
        r.link_id = Some(id.clone());
    }
    let mut info = LinkInfo::of(&id, &row, now);
    info.url = Some(match &row.target {
        LinkTarget::Upload { .. } => format!("{origin}{UPLOAD_PREFIX}{token}"),
        LinkTarget::Download { key, .. } => format!(
            "{origin}{DOWNLOAD_PREFIX}{token}/{}",
            kura_protocol::xml::url_encode(file_name(key))
        ),
    });
    Ok(info)
}
