//! The handler kit: everything handlers share. Handlers import the kit and
//! never each other, so each handler file stays one operation (or a few
//! closely related ones) and can change without touching its neighbours.

pub mod admission;
pub mod checksum;
pub mod complete_checksum;
pub mod completed;
pub mod copy_source;
pub mod copy_stream;
pub mod delete;
pub mod ingest;
pub mod public_url;
pub mod serve;
pub mod tags;
pub mod versioning;
pub mod writes;

use std::sync::Arc;

use http::request::Parts;
use hyper::body::Incoming;
use kura_protocol::sigv4::Verified;
use kura_protocol::xml::Owner;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{BucketRow, Store};
use sha2::{Digest, Sha256};

use crate::access::Principal;
use crate::body::Payload;
use crate::errors::StorageResultExt;
use crate::state::AppState;

pub use crate::clock::{now_ms, system_time, timestamp};

/// Everything a handler gets about its request.
pub struct Ctx {
    /// Server state.
    pub state: Arc<AppState>,
    /// Method, URI and headers.
    pub parts: Parts,
    /// The raw body (taken by [`Ctx::payload`]).
    pub body: Incoming,
    /// The authenticated caller and payload mode.
    pub verified: Verified,
    /// Who the caller is (already authorized for the operation).
    pub principal: Principal,
    /// This request's id.
    pub request_id: String,
}

impl Ctx {
    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The decoded, verified payload stream.
    pub fn payload(self, expected: Option<u64>) -> (Payload, CtxRest) {
        let Ctx {
            state,
            parts,
            body,
            mut verified,
            request_id,
            ..
        } = self;
        let payload = Payload::new(body, &mut verified, expected)
            .with_meter(parts.extensions.get::<crate::metrics::BytesIn>())
            .with_idle_timeout(state.body_idle_timeout)
            .with_min_rate(state.min_upload_rate);
        (
            payload,
            CtxRest {
                state,
                parts,
                request_id,
            },
        )
    }
}

/// What remains of a [`Ctx`] once its body is taken.
pub struct CtxRest {
    /// Server state.
    pub state: Arc<AppState>,
    /// Method, URI and headers.
    pub parts: Parts,
    /// This request's id.
    pub request_id: String,
}

/// The bucket's row, or `NoSuchBucket`.
pub fn existing_bucket(store: &Store, bucket: &str) -> S3Result<BucketRow> {
    store
        .bucket(bucket)
        .s3()?
        .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchBucket))
}

/// The owner shown in listings: derived from the access key, stable across restarts.
pub fn owner_of(access_key_id: &str) -> Owner {
    Owner {
        id: hex::encode(Sha256::digest(access_key_id.as_bytes())),
        display_name: access_key_id.to_string(),
    }
}

/// The bucket's own object size limit (set through the admin API), if any.
pub fn bucket_limit(store: &Store, bucket: &str) -> S3Result<Option<u64>> {
    Ok(store
        .bucket(bucket)
        .s3()?
        .and_then(|row| row.max_object_size))
}
