//! ListParts and ListMultipartUploads.

use http::Response;
use kura_protocol::router::{ListParams, PartListParams};
use kura_protocol::xml::{ListMultipartUploadsResult, ListPartsResult, PartEntry, UploadEntry};
use kura_protocol::S3Result;
use kura_storage::UploadListItem;

use super::kit::checksum::checksums_of;
use super::kit::{owner_of, timestamp, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// ListParts: the parts uploaded so far, ascending, paged by part number.
pub async fn list_parts(
    ctx: Ctx,
    bucket: String,
    key: String,
    upload_id: String,
    params: PartListParams,
) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    let (b, k, u) = (bucket.clone(), key.clone(), upload_id.clone());
    let (after, max) = (params.part_number_marker, params.max_parts);
    let (upload, parts, truncated) = blocking(move || {
        let upload = store.upload(&b, &k, &u).s3()?;
        let (parts, truncated) = store.list_parts(&b, &k, &u, after, max).s3()?;
        // A zero-size page has no resume point, so it is not truncated.
        Ok((upload, parts, truncated && max > 0))
    })
    .await?;
    let owner = owner_of(&ctx.verified.access_key_id);
    let doc = ListPartsResult {
        bucket,
        key,
        upload_id,
        part_number_marker: after,
        next_part_number_marker: parts.last().map(|(n, _)| *n).filter(|_| truncated),
        max_parts: max,
        is_truncated: truncated,
        parts: parts
            .into_iter()
            .map(|(n, p)| PartEntry {
                part_number: n,
                last_modified: timestamp(p.modified_ms),
                checksums: p.checksum.as_ref().map(checksums_of).unwrap_or_default(),
                etag: p.etag,
                size: p.size,
            })
            .collect(),
        initiator: owner.clone(),
        owner,
        storage_class: "STANDARD".into(),
        checksum: upload.checksum_algorithm.zip(upload.checksum_type),
    };
    Ok(response::xml(doc.to_xml()))
}

/// ListMultipartUploads: uploads in progress, by key then start time, with
/// prefix, delimiter roll-up and paging by (key-marker, upload-id-marker).
pub async fn list_uploads(
    ctx: Ctx,
    bucket: String,
    params: ListParams,
) -> S3Result<Response<Body>> {
    let max = params.max_keys;
    let key_marker = params.marker.clone();
    // S3 ignores upload-id-marker unless key-marker is given.
    let upload_id_marker = key_marker.as_ref().and(params.version_id_marker.clone());
    let store = ctx.state.store.clone();
    let (b, prefix, delimiter) = (
        bucket.clone(),
        params.prefix.clone(),
        params.delimiter.clone(),
    );
    let (km, um) = (key_marker.clone(), upload_id_marker.clone());
    let page = blocking(move || {
        let mut page = Page::default();
        store
            .list_uploads(&b, &prefix, km.as_deref(), um.as_deref(), |item| {
                page.add(item, &prefix, delimiter.as_deref(), km.as_deref(), max)
            })
            .s3()?;
        Ok(page)
    })
    .await?;
    let owner = owner_of(&ctx.verified.access_key_id);
    let (next_key_marker, next_upload_id_marker) = if page.truncated {
        page.last
            .clone()
            .map_or((None, None), |(k, u)| (Some(k), u))
    } else {
        (None, None)
    };
    let mut doc = ListMultipartUploadsResult {
        bucket,
        key_marker: key_marker.unwrap_or_default(),
        upload_id_marker: upload_id_marker.unwrap_or_default(),
        next_key_marker,
        next_upload_id_marker,
        prefix: params.prefix,
        delimiter: params.delimiter,
        max_uploads: max,
        is_truncated: page.truncated,
        uploads: page
            .uploads
            .into_iter()
            .map(|u| UploadEntry {
                key: u.key,
                upload_id: u.upload_id,
                initiated: timestamp(u.row.created_ms),
                owner: owner.clone(),
                abort_date: Some(timestamp(u.row.expires_ms)),
            })
            .collect(),
        common_prefixes: page.common_prefixes,
        encoding_type: None,
    };
    if params.encoding_url {
        doc.url_encode_fields();
    }
    Ok(response::xml(doc.to_xml()))
}

/// A page being filled from the upload scan.
#[derive(Default)]
struct Page {
    uploads: Vec<UploadListItem>,
    common_prefixes: Vec<String>,
    /// Resume point: key (or common prefix) and upload id of the last entry.
    last: Option<(String, Option<String>)>,
    truncated: bool,
}

impl Page {
    /// Adds one upload; `false` to stop scanning.
    fn add(
        &mut self,
        item: UploadListItem,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        max: usize,
    ) -> bool {
        let rolled_up = delimiter.and_then(|d| {
            let rest = &item.key[prefix.len()..];
            rest.find(d)
                .map(|i| format!("{prefix}{}", &rest[..i + d.len()]))
        });
        if let Some(cp) = &rolled_up {
            // Its uploads were already answered as this prefix.
            if self.common_prefixes.last() == Some(cp) || key_marker == Some(cp.as_str()) {
                return true;
            }
        }
        if self.uploads.len() + self.common_prefixes.len() == max {
            // A zero-size page has no resume point, so it cannot claim to be
            // truncated (the client would loop forever on the same page).
            self.truncated = max > 0;
            return false;
        }
        match rolled_up {
            Some(cp) => {
                self.last = Some((cp.clone(), None));
                self.common_prefixes.push(cp);
            }
            None => {
                self.last = Some((item.key.clone(), Some(item.upload_id.clone())));
                self.uploads.push(item);
            }
        }
        true
    }
}
