//! GetObject and HeadObject.

use http::Response;
use kura_protocol::S3Result;

use super::kit::serve::{serve_object, ObjectRead};
use super::kit::Ctx;
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
    let (mut r, row) = serve_object(&ctx.state, &ctx.parts, &read)?;
    response::set_header(&mut r, "x-amz-version-id", &row.version_id());
    super::kit::public_url::add_public_url(
        &ctx.state,
        &ctx.parts,
        &mut r,
        &read.bucket,
        &read.key,
    )?;
    Ok(r)
}
