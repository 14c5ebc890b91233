//! Object tagging: GetObjectTagging, PutObjectTagging, DeleteObjectTagging.
//! Tags change in place on the version (no new version, as in S3), under
//! the key's write lock like any other write.

use http::{Response, StatusCode};
use kura_protocol::headers;
use kura_protocol::xml::{TagTarget, Tagging, MAX_TAGGING_BODY};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{ObjectRow, Store};
use md5::{Digest, Md5};

use super::kit::versioning::{current_version_id, resolve_version};
use super::kit::{existing_bucket, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// GetObjectTagging: the tag set of a version (the current one by default).
pub async fn get_object_tagging(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    let (row, shown) = blocking(move || {
        let row = store
            .get_object(&bucket, &key, version_id.as_deref())
            .s3()?;
        if row.delete_marker {
            return Err(
                S3Error::new(S3ErrorCode::MethodNotAllowed).header("x-amz-delete-marker", "true")
            );
        }
        let shown = shown_version(&store, &bucket, &row, version_id)?;
        Ok((row, shown))
    })
    .await?;
    let mut r = response::xml(Tagging { tags: row.tags }.to_xml());
    if let Some(v) = shown {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    Ok(r)
}

/// PutObjectTagging: replaces the tag set of a version.
pub async fn put_object_tagging(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    let max_tags = ctx.state.max_tags;
    let content_md5 = headers::content_md5(&ctx.parts.headers)?;
    super::kit::existing_bucket(&store, &bucket)?;
    let (mut payload, _rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_TAGGING_BODY).await?;
    if let Some(want) = content_md5 {
        if <[u8; 16]>::from(Md5::digest(&body)) != want {
            return Err(S3Error::new(S3ErrorCode::BadDigest));
        }
    }
    let tagging = Tagging::parse(&body, TagTarget::Object(max_tags))?;
    write_tags(store, bucket, key, version_id, tagging.tags, StatusCode::OK).await
}

/// DeleteObjectTagging: removes every tag of a version (204).
pub async fn delete_object_tagging(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    let store = ctx.state.store.clone();
    write_tags(
        store,
        bucket,
        key,
        version_id,
        Vec::new(),
        StatusCode::NO_CONTENT,
    )
    .await
}

async fn write_tags(
    store: Store,
    bucket: String,
    key: String,
    version_id: Option<String>,
    tags: Vec<(String, String)>,
    status: StatusCode,
) -> S3Result<Response<Body>> {
    let shown = blocking(move || {
        let versioning = existing_bucket(&store, &bucket)?.versioning;
        let lock = store.lock_key(&bucket, &key).s3()?;
        let seq = match &version_id {
            None => None,
            Some(v) => Some(
                resolve_version(&store, versioning, &bucket, &key, v)?
                    .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchVersion))?,
            ),
        };
        let row = store.set_tags(&lock, &bucket, &key, seq, tags).s3()?;
        shown_version(&store, &bucket, &row, version_id)
    })
    .await?;
    let mut r = response::empty(status);
    if let Some(v) = shown {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    Ok(r)
}

/// The version id a tagging answer carries: the one asked for, else the
/// current version's as GET shows it.
fn shown_version(
    store: &Store,
    bucket: &str,
    row: &ObjectRow,
    asked: Option<String>,
) -> S3Result<Option<String>> {
    match asked {
        Some(v) => Ok(Some(v)),
        None => current_version_id(store, bucket, row),
    }
}
