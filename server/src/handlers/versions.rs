//! The S3 versioning API over kura's retention: ListObjectVersions and the
//! bucket versioning state.
//!
//! Every bucket keeps replaced and deleted versions for its retention period
//! and serves them by version id, so it reports versioning `Enabled`; clients
//! that check the state before using version ids then do.

use http::{Response, StatusCode};
use kura_protocol::router::ListParams;
use kura_protocol::xml::{ListVersionsResult, VersionEntry, VersioningConfiguration};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{VersionItem, VersionStart};

use super::bucket::owner_of;
use super::list::timestamp;
use super::Ctx;
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Largest PutBucketVersioning body accepted.
const MAX_CONFIG_BODY: usize = 64 * 1024;

pub async fn list_object_versions(
    ctx: Ctx,
    bucket: String,
    params: ListParams,
) -> S3Result<Response<Body>> {
    if params.version_id_marker.is_some() && params.marker.is_none() {
        return Err(S3Error::invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    if let Some(v) = &params.version_id_marker {
        if kura_storage::rows::parse_version_id(v).is_none() {
            return Err(S3Error::invalid_argument("Invalid version id specified"));
        }
    }
    let start = VersionStart {
        key: params.marker.clone(),
        version_id: params.version_id_marker.clone(),
    };
    let store = ctx.state.store.clone();
    let (b, p, d, max) = (
        bucket.clone(),
        params.prefix.clone(),
        params.delimiter.clone(),
        params.max_keys,
    );
    let mut page =
        blocking(move || store.list_versions(&b, &p, d.as_deref(), &start, max).s3()).await?;
    // A zero-size page has no resume point, so it is not truncated.
    page.truncated &= max > 0;
    let owner = Some(owner_of(&ctx.verified.access_key_id));
    let mut entries = Vec::new();
    let mut common_prefixes = Vec::new();
    for item in &page.items {
        match item {
            VersionItem::Version {
                key,
                row,
                is_latest,
            } if row.delete_marker => entries.push(VersionEntry::DeleteMarker {
                key: key.clone(),
                version_id: row.version_id(),
                is_latest: *is_latest,
                last_modified: timestamp(row.modified_ms),
                owner: owner.clone(),
            }),
            VersionItem::Version {
                key,
                row,
                is_latest,
            } => entries.push(VersionEntry::Version {
                key: key.clone(),
                version_id: row.version_id(),
                is_latest: *is_latest,
                last_modified: timestamp(row.modified_ms),
                etag: row.etag.clone(),
                size: row.size,
                storage_class: "STANDARD".into(),
                owner: owner.clone(),
            }),
            VersionItem::CommonPrefix(p) => common_prefixes.push(p.clone()),
        }
    }
    let (next_key_marker, next_version_id_marker) = match page.items.last() {
        Some(VersionItem::Version { key, row, .. }) if page.truncated => {
            (Some(key.clone()), Some(row.version_id()))
        }
        Some(VersionItem::CommonPrefix(p)) if page.truncated => (Some(p.clone()), None),
        _ => (None, None),
    };
    let mut doc = ListVersionsResult {
        name: bucket,
        prefix: params.prefix.clone(),
        key_marker: params.marker.clone().unwrap_or_default(),
        version_id_marker: params.version_id_marker.clone().unwrap_or_default(),
        next_key_marker,
        next_version_id_marker,
        max_keys: params.max_keys,
        delimiter: params.delimiter.clone(),
        is_truncated: page.truncated,
        encoding_type: None,
        entries,
        common_prefixes,
    };
    if params.encoding_url {
        doc.url_encode_fields();
    }
    Ok(response::xml(doc.to_xml()))
}

pub async fn get_versioning(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    super::existing_bucket(&ctx.state.store, &bucket)?;
    Ok(response::xml(
        VersioningConfiguration {
            status: Some("Enabled".into()),
        }
        .to_xml(),
    ))
}

/// Versioning is always on (for the retention period): `Enabled` is
/// accepted as a no-op; `Suspended` cannot be honoured.
pub async fn put_versioning(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    super::existing_bucket(&ctx.state.store, &bucket)?;
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_CONFIG_BODY).await?;
    let config = VersioningConfiguration::parse(&body)?;
    if config.status.as_deref() == Some("Suspended") {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "kura keeps every replaced or deleted version for the retention period; versioning cannot be suspended (set a short retention instead)",
        ));
    }
    Ok(response::empty(StatusCode::OK))
}
