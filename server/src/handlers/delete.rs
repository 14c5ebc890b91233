//! DeleteObject.

use http::{Response, StatusCode};
use kura_protocol::S3Result;

use super::kit::delete::delete_one;
use super::kit::versioning::parse_version;
use super::kit::{existing_bucket, Ctx};
use crate::errors::blocking;
use crate::response::{self, Body};

/// Deletes the key or one version of it (see [`delete_one`]); a 204 either way.
pub async fn delete_object(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    if let Some(v) = version_id.as_deref().filter(|v| *v != "null") {
        parse_version(v)?;
    }
    let store = ctx.state.store.clone();
    let versioning = existing_bucket(&store, &bucket)?.versioning;
    let who = ctx.principal.clone();
    let deleted = blocking(move || {
        delete_one(
            &store,
            &who,
            versioning,
            &bucket,
            &key,
            version_id.as_deref(),
        )
    })
    .await?;
    let mut r = response::empty(StatusCode::NO_CONTENT);
    if let Some(v) = &deleted.version_id {
        response::set_header(&mut r, "x-amz-version-id", v);
    }
    if deleted.delete_marker {
        response::set_header(&mut r, "x-amz-delete-marker", "true");
    }
    Ok(r)
}
