//! GetObject and HeadObject.

use http::Response;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::Versioning;

use super::kit::serve::{serve_object, ObjectRead};
use super::kit::versioning::current_version_id;
use super::kit::{existing_bucket, Ctx};
use crate::errors::StorageResultExt;
use crate::response::{self, Body};

/// Serves an object (or, for HEAD, its headers). The version is resolved once
/// and streamed by id: the download completes on it even if the key is
/// replaced or deleted meanwhile.
pub async fn get_object(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
    part_number: Option<u32>,
    head: bool,
) -> S3Result<Response<Body>> {
    let read = ObjectRead {
        bucket,
        key,
        version_id,
        part_number,
        head,
        overrides: true,
    };
    let store = &ctx.state.store;
    let unversioned = || -> S3Result<bool> {
        Ok(existing_bucket(store, &read.bucket)?.versioning == Versioning::Unversioned)
    };
    // A bucket whose versioning was never enabled shows no delete markers:
    // its `null` version is then never one, and a deleted key is just gone.
    if read.version_id.as_deref() == Some("null") && unversioned()? {
        let null = store.null_version(&read.bucket, &read.key).s3()?;
        if null.is_some_and(|r| r.delete_marker) {
            return Err(S3Error::new(S3ErrorCode::NoSuchVersion));
        }
    }
    let (mut r, row) = match serve_object(&ctx.state, &ctx.parts, &read).await {
        Ok(served) => served,
        Err(mut e) => {
            if e.code == S3ErrorCode::NoSuchKey && unversioned()? {
                e.headers.retain(|(name, _)| *name != "x-amz-delete-marker");
            }
            return Err(e);
        }
    };
    // A requested version is echoed as asked (`null` or its own id).
    let shown = match &read.version_id {
        Some(v) => Some(v.clone()),
        None => current_version_id(store, &read.bucket, &row)?,
    };
    if let Some(v) = shown {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    super::kit::public_url::add_public_url(
        &ctx.state,
        &ctx.parts,
        &mut r,
        &read.bucket,
        &read.key,
    )?;
    Ok(r)
}
