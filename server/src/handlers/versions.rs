//! The S3 versioning API over kura's retention: ListObjectVersions, the
//! bucket versioning state, and how version ids are shown.
//!
//! Every bucket keeps replaced and deleted versions for its retention period
//! (its trash) and serves them by version id. The bucket's versioning state
//! decides what S3 clients see on top: never enabled — S3's unversioned
//! behaviour (no version ids on writes, no delete markers, the current
//! object is `null`); `Enabled` / `Suspended` — as S3 documents. A version
//! flagged `null_version` is shown as `null` while it is its key's `null`
//! version (the newest flagged one), under its own id once replaced.

use http::{Response, StatusCode};
use kura_protocol::router::ListParams;
use kura_protocol::xml::{ListVersionsResult, VersionEntry, VersioningConfiguration};
use kura_protocol::{S3Error, S3Result};
use kura_storage::{VersionItem, VersionStart, Versioning};

use super::kit::versioning::parse_version;
use super::kit::{existing_bucket, owner_of, timestamp, Ctx};
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
    if let Some(v) = params.version_id_marker.as_deref().filter(|v| *v != "null") {
        parse_version(v)?;
    }
    let store = ctx.state.store.clone();
    let versioning = existing_bucket(&store, &bucket)?.versioning;
    let (b, p, d, max) = (
        bucket.clone(),
        params.prefix.clone(),
        params.delimiter.clone(),
        params.max_keys,
    );
    let (key_marker, version_marker) = (params.marker.clone(), params.version_id_marker.clone());
    let (mut page, null_shown) = blocking(move || {
        // `null` as a marker names the key marker's null version.
        let marker_seq = match (key_marker.as_deref(), version_marker.as_deref()) {
            (Some(k), Some("null")) => store.null_version(&b, k).s3()?.map(|r| r.seq),
            (_, Some(v)) => Some(parse_version(v)?),
            _ => None,
        };
        let start = VersionStart {
            key: key_marker.clone(),
            version_id: marker_seq.map(kura_storage::rows::version_id),
        };
        let page = store
            .list_versions(&b, &p, d.as_deref(), &start, max)
            .s3()?;
        // Whether the marker key's null version was listed on an earlier
        // page (then its rows on this one show their own ids).
        let null_shown = match (key_marker, marker_seq) {
            (Some(k), Some(m)) => store
                .null_version(&b, &k)
                .s3()?
                .is_some_and(|n| n.seq >= m)
                .then_some(k),
            _ => None,
        };
        Ok((page, null_shown))
    })
    .await?;
    // A zero-size page has no resume point, so it is not truncated.
    page.truncated &= max > 0;
    let owner = Some(owner_of(&ctx.verified.access_key_id));
    let mut entries = Vec::new();
    let mut common_prefixes = Vec::new();
    // The key whose `null` version has been shown: its first flagged row.
    let mut null_taken = null_shown;
    let mut shown_ids = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let VersionItem::Version { key, row, .. } = item else {
            shown_ids.push(String::new());
            continue;
        };
        if row.null_version && null_taken.as_ref() != Some(key) {
            null_taken = Some(key.clone());
            shown_ids.push("null".to_string());
        } else {
            shown_ids.push(row.version_id());
        }
    }
    for (item, shown_id) in page.items.iter().zip(&shown_ids) {
        match item {
            // Delete markers do not exist for clients of a bucket whose
            // versioning was never enabled.
            VersionItem::Version { row, .. }
                if row.delete_marker && versioning == Versioning::Unversioned => {}
            VersionItem::Version {
                key,
                row,
                is_latest,
            } if row.delete_marker => entries.push(VersionEntry::DeleteMarker {
                key: key.clone(),
                version_id: shown_id.clone(),
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
                version_id: shown_id.clone(),
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
        Some(VersionItem::Version { key, .. }) if page.truncated => {
            (Some(key.clone()), shown_ids.last().cloned())
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
    let row = existing_bucket(&ctx.state.store, &bucket)?;
    let status = match row.versioning {
        // S3 answers an empty configuration for a never-versioned bucket.
        Versioning::Unversioned => None,
        Versioning::Enabled => Some("Enabled".to_string()),
        Versioning::Suspended => Some("Suspended".to_string()),
    };
    Ok(response::xml(VersioningConfiguration { status }.to_xml()))
}

/// `Enabled` or `Suspended`; the trash keeps replaced and deleted versions
/// for the retention period in every state. A configuration without a
/// `Status` changes nothing.
pub async fn put_versioning(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let store = ctx.state.store.clone();
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_CONFIG_BODY).await?;
    let config = VersioningConfiguration::parse(&body)?;
    if let Some(status) = config.status {
        let enabled = status == "Enabled";
        blocking(move || store.set_bucket_versioning(&bucket, enabled).s3()).await?;
    }
    Ok(response::empty(StatusCode::OK))
}
