//! GetObjectAcl, PutObjectAcl, GetBucketAcl and PutBucketAcl. kura's object
//! ACLs are `private` (the owner has FULL_CONTROL) or `public-read` (plus
//! READ for AllUsers), and `public-read` is what publishes the object (see
//! `public.rs`). Buckets are always private: objects are published one by one.

use http::request::Parts;
use http::{Response, StatusCode};
use kura_protocol::names::validate_object_key;
use kura_protocol::xml::AccessControlPolicy;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use kura_protocol::headers::canned_acl;

use super::kit::public_url::add_public_url;
use super::kit::{existing_bucket, owner_of, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Largest AccessControlPolicy body accepted.
const MAX_ACL_BODY: usize = 64 * 1024;

pub async fn get_object_acl(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let store = ctx.state.store.clone();
    let (b, k) = (bucket.clone(), key.clone());
    let public = blocking(move || {
        store.get_object(&b, &k, version_id.as_deref()).s3()?;
        Ok(store.public_token(&b, &k).s3()?.is_some())
    })
    .await?;
    let owner = owner_of(&ctx.verified.access_key_id);
    let acl = if public {
        AccessControlPolicy::public_read(owner)
    } else {
        AccessControlPolicy::private(owner)
    };
    Ok(response::xml(acl.to_xml()))
}

pub async fn put_object_acl(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    if version_id.is_some() {
        // Publishing is a property of the key (its URL follows updates).
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "kura sets ACLs on the key, not on one version",
        ));
    }
    let state = ctx.state.clone();
    let (public, parts_copy) = requested_acl(ctx).await?;
    let store = state.store.clone();
    let (b, k) = (bucket.clone(), key.clone());
    blocking(move || {
        let lock = store.lock_key(&b, &k).s3()?;
        if public {
            store.publish(&lock, &b, &k).s3()?;
        } else {
            store.unpublish(&lock, &b, &k).s3()?;
        }
        Ok(())
    })
    .await?;
    let mut r = response::empty(StatusCode::OK);
    add_public_url(&state, &parts_copy, &mut r, &bucket, &key)?;
    Ok(r)
}

/// The ACL a Put*Acl request asks for, from `x-amz-acl` or an
/// AccessControlPolicy body (never both): `true` for public-read.
async fn requested_acl(ctx: Ctx) -> S3Result<(bool, Parts)> {
    let from_header = canned_acl(&ctx.parts.headers)?.map(|acl| acl.is_public());
    let (mut payload, rest) = ctx.payload(None);
    let body = payload.read_to_end(MAX_ACL_BODY).await?;
    let public = match (from_header, body.iter().all(u8::is_ascii_whitespace)) {
        (Some(p), true) => p,
        (Some(_), false) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "This request does not support content",
            ))
        }
        (None, true) => {
            return Err(S3Error::with_message(
                S3ErrorCode::MissingSecurityHeader,
                "Your request was missing a required header: x-amz-acl",
            ))
        }
        (None, false) => {
            let acl = AccessControlPolicy::parse(&body)?;
            if acl.grants_public_beyond_read() {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "kura supports the private and public-read ACLs only",
                ));
            }
            acl.grants_public_read()
        }
    };
    Ok((public, rest.parts))
}

/// GetBucketAcl: buckets are private to their owner.
pub async fn get_bucket_acl(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let owner = owner_of(&ctx.verified.access_key_id);
    Ok(response::xml(AccessControlPolicy::private(owner).to_xml()))
}

/// PutBucketAcl: `private` (the only bucket ACL there is) is accepted;
/// anything public is refused, since kura publishes objects, not buckets.
pub async fn put_bucket_acl(ctx: Ctx, bucket: String) -> S3Result<Response<Body>> {
    existing_bucket(&ctx.state.store, &bucket)?;
    let (public, _) = requested_acl(ctx).await?;
    if public {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "kura buckets are private; publish objects with the public-read object ACL",
        ));
    }
    Ok(response::empty(StatusCode::OK))
}
