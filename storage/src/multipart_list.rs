//! Listing multipart uploads and their parts.

use crate::error::StorageResult;
use crate::keys::{self, CF_PARTS, CF_UPLOADS};
use crate::multipart::{PartRow, UploadListItem, UploadRow};
use crate::rows;
use crate::store::{now_ms, Store};

impl Store {
    /// Parts of an upload with numbers above `after`, ascending, at most
    /// `max`; plus whether more follow.
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> StorageResult<(Vec<(u32, PartRow)>, bool)> {
        self.upload(bucket, key, upload_id)?;
        let ukey = keys::upload_key(bucket, key, upload_id)?;
        let mut out = Vec::new();
        let start = keys::part_key(&ukey, after.saturating_add(1));
        for item in self.bounded_from(CF_PARTS, &ukey, &start) {
            let (k, v) = item?;
            let Some(number) = k
                .get(ukey.len()..)
                .and_then(|n| <[u8; 4]>::try_from(n).ok())
                .map(u32::from_be_bytes)
            else {
                continue;
            };
            if number <= after {
                continue;
            }
            if out.len() == max {
                return Ok((out, true));
            }
            out.push((number, rows::decode(&v)?));
        }
        Ok((out, false))
    }

    /// Uploads in progress in `bucket` whose keys start with `prefix`, in
    /// key then start order, beginning strictly after (`key_marker`,
    /// `upload_id_marker`) — or after every upload of `key_marker` when no
    /// upload id marker is given. Stops after `max` items (`None` = all).
    pub fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        mut visit: impl FnMut(UploadListItem) -> bool,
    ) -> StorageResult<()> {
        self.require_bucket(bucket)?;
        let bprefix = keys::bucket_prefix(bucket)?;
        let start = match key_marker {
            Some(k) if k.as_bytes() > prefix.as_bytes() => keys::version_key_prefix(bucket, k)?,
            _ => keys::version_key_prefix(bucket, prefix)?[..bprefix.len() + prefix.len()].to_vec(),
        };
        let now = now_ms();
        for item in self.bounded_from(CF_UPLOADS, &bprefix, &start) {
            let (k, v) = item?;
            let Some((key, upload_id)) = keys::parse_upload_key(&k[bprefix.len()..]) else {
                continue;
            };
            if !key.starts_with(prefix) {
                if key.as_str() > prefix {
                    break;
                }
                continue;
            }
            if let Some(marker) = key_marker {
                let after = match upload_id_marker {
                    Some(id) => (key.as_str(), upload_id.as_str()) > (marker, id),
                    None => key.as_str() > marker,
                };
                if !after {
                    continue;
                }
            }
            let row: UploadRow = rows::decode(&v)?;
            if row.expires_ms <= now {
                continue;
            }
            if !visit(UploadListItem {
                key,
                upload_id,
                row,
            }) {
                break;
            }
        }
        Ok(())
    }
}
