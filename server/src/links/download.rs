//! Download links: `GET|HEAD /_kura/d/{token}/{name}` serves the object
//! version the link was made for — with `Range` and conditional requests,
//! exactly as public links are served — until the link expires or is
//! revoked. The version stays what was shared even if the key is written
//! again (until that version leaves the trash); once the key is deleted,
//! the link answers `NoSuchKey`.

use http::request::Parts;
use http::{Method, Response};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::LinkTarget;

use super::{check_creator, resolve};
use crate::access::Permission;
use crate::access_log::AccessRecord;
use crate::clock::now_ms;
use crate::errors::{storage_to_s3, StorageResultExt};
use crate::handlers::kit::serve::{serve_object, ObjectRead};
use crate::response::{self, Body};
use crate::state::AppState;

/// Serves a download link.
pub async fn download(
    state: &AppState,
    parts: &Parts,
    token: &str,
    record: &mut Option<Box<AccessRecord>>,
) -> S3Result<Response<Body>> {
    let (_, row) = resolve(state, token)?;
    let LinkTarget::Download { key, version_id } = &row.target else {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchLink,
            "This is not a download link.",
        ));
    };
    if let Some(r) = record.as_mut() {
        r.bucket = Some(row.bucket.clone());
        r.key = Some(key.clone());
        r.version_id = Some(version_id.clone());
    }
    row.usable(now_ms())
        .map_err(|r| storage_to_s3(kura_storage::StorageError::Link(r)))?;
    check_creator(state, &row, key, Permission::Read)?;
    // A deleted key is no longer shared, even while its versions are kept.
    let live = state
        .store
        .current(&row.bucket, key)
        .s3()?
        .is_some_and(|r| !r.delete_marker);
    if !live {
        return Err(S3Error::new(S3ErrorCode::NoSuchKey));
    }
    let read = ObjectRead {
        bucket: row.bucket.clone(),
        key: key.clone(),
        version_id: Some(version_id.clone()),
        part_number: None,
        head: parts.method == Method::HEAD,
        overrides: false,
    };
    let (mut r, object) = match serve_object(state, parts, &read).await {
        Err(e) if e.code == S3ErrorCode::NoSuchVersion => {
            // The shared version left the trash: the file is gone.
            return Err(S3Error::new(S3ErrorCode::NoSuchKey));
        }
        other => other?,
    };
    if object.header("content-disposition").is_none() {
        response::set_header(
            &mut r,
            "content-disposition",
            &crate::handlers::public::disposition(key),
        );
    }
    // As public links: an uploaded HTML file must not run script on kura's
    // origin; the URL holds the token, so it is never sent on as a referrer.
    response::set_header(&mut r, "content-security-policy", "sandbox");
    response::set_header(&mut r, "referrer-policy", "no-referrer");
    if object.header("cache-control").is_none() {
        response::set_header(&mut r, "cache-control", "private");
    }
    Ok(r)
}
