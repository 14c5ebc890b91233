//! POST Object: browser form uploads (`multipart/form-data` with a signed
//! policy), what `generate_presigned_post` produces.
//!
//! The form is read field by field as it streams: the fields before `file`
//! are collected (bounded), then the signature and the policy are checked
//! and the caller authorized for the key — all before a byte of the file is
//! stored. The file then streams into storage like a PutObject body, held to
//! the policy's `content-length-range` and the size limits as it arrives.
//! Fields after the file are ignored, as S3 ignores them.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::headers;
use kura_protocol::names::validate_object_key;
use kura_protocol::router::Operation;
use kura_protocol::sigv4::post_policy::{Policy, PostSignature};
use kura_protocol::xml::XmlWriter;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::NewObject;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::kit::admission::admit_write;
use super::kit::checksum;
use super::kit::existing_bucket;
use super::kit::ingest::{ingest_with, ByteSource};
use super::kit::public_url::add_public_url;
use super::kit::versioning::written_version_id;
use crate::access::policy;
use crate::auth::authenticate_form;
use crate::body::Payload;
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};
use crate::state::AppState;

/// Largest single form field before the file (S3 bounds the policy to 20 KB).
const MAX_FIELD: usize = 20 * 1024;
/// Largest sum of the fields before the file.
const MAX_FIELDS: usize = 64 * 1024;
/// Most fields before the file.
const MAX_FIELD_COUNT: usize = 100;

/// Handles `POST /bucket` with a form. Authentication is the form's own.
pub async fn post_object(
    state: Arc<AppState>,
    parts: Parts,
    body: Incoming,
    bucket: String,
) -> S3Result<Response<Body>> {
    let Form { fields, mut file } = read_form(&state, &parts, body).await?;
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());

    // Who signed, and whether the policy allows this form.
    let signature = PostSignature::from_fields(&fields)?;
    let policy_b64 = get("policy").unwrap_or_default().to_string();
    let principal = authenticate_form(&state, &parts, &signature, &policy_b64)?;
    let policy = Policy::parse(&policy_b64)?;
    policy.check(&fields, &bucket, time::OffsetDateTime::now_utc())?;

    let raw_key = get("key").ok_or_else(|| {
        S3Error::invalid_argument("Bucket POST must contain a field named 'key'.")
    })?;
    let filename = file.file_name().unwrap_or_default().to_string();
    let key = raw_key.replace("${filename}", &filename);
    validate_object_key(&key)?;

    // The form's object headers, as a PutObject would send them.
    let object_headers = object_headers(&fields)?;
    policy::authorize(
        &principal,
        &Operation::PutObject {
            bucket: bucket.clone(),
            key: key.clone(),
        },
        &object_headers,
    )?;
    let stored_headers = headers::stored_object_headers(&object_headers)?;
    let requested = checksum::requested(&object_headers, false)?;
    let public = headers::canned_acl(&object_headers)?
        .filter(|acl| acl.is_public())
        .map(|_| true);

    let store = state.store.clone();
    let bucket_row = existing_bucket(&store, &bucket)?;
    let limit = bucket_row
        .max_object_size
        .map_or(state.max_object_size, |b| b.min(state.max_object_size));
    let (min, max) = policy.length_range().unwrap_or((0, u64::MAX));
    // Disk space and the bucket's quota, before a byte of the file is stored.
    let room = admit_write(&state, &bucket, Some(&key), None)?;
    let lock = store.lock_key(&bucket, &key).s3()?;
    let algorithms = checksum::algorithms(requested.as_ref(), requested.is_none());
    let mut source = FileSource {
        field: &mut file,
        received: 0,
        policy_max: max,
        policy_max_error: S3Error::with_message(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        ),
        size_limit: limit,
        quota_room: room,
    };
    let ingested = ingest_with(
        store.object_writer_in(&bucket).s3()?,
        &mut source,
        &algorithms,
    )
    .await?;
    if source.received < min {
        return Err(S3Error::with_message(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        ));
    }
    let checksum = match checksum::verify(requested.as_ref(), &ingested.checksums, &[])? {
        Some(c) => Some(c),
        None => checksum::computed(&ingested.checksums, checksum::DEFAULT_ALGORITHM),
    };
    let etag = format!("\"{}\"", hex::encode(ingested.md5));
    let new = NewObject {
        etag,
        headers: stored_headers,
        checksums: checksum.iter().map(checksum::stored).collect(),
        public,
        ..Default::default()
    };
    let (b, k) = (bucket.clone(), key.clone());
    let row = blocking(move || store.commit_object(&lock, &b, &k, ingested.data, new).s3()).await?;

    let location = format!(
        "{}://{}/{}/{}",
        state.scheme,
        parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost"),
        encode(&bucket),
        key.split('/').map(encode).collect::<Vec<_>>().join("/")
    );
    let redirect_to = get("success_action_redirect").or_else(|| get("redirect"));
    let mut r = if let Some(url) = redirect_to {
        redirect(url, &bucket, &key, &row.etag)?
    } else {
        match get("success_action_status") {
            Some("200") => response::empty(StatusCode::OK),
            Some("201") => {
                let mut w = XmlWriter::new("PostResponse");
                w.text("Location", &location);
                w.text("Bucket", &bucket);
                w.text("Key", &key);
                w.text("ETag", &row.etag);
                let mut r = response::xml(w.finish());
                *r.status_mut() = StatusCode::CREATED;
                r
            }
            // S3's default, and its answer to any other value.
            _ => response::empty(StatusCode::NO_CONTENT),
        }
    };
    response::set_header(&mut r, "etag", &row.etag);
    if redirect_to.is_none() {
        response::set_header(&mut r, "location", &location);
    }
    if let Some(v) = written_version_id(&row) {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    add_public_url(&state, &parts, &mut r, &bucket, &key)?;
    Ok(r)
}

/// A form read up to its file: the fields before it (names lowercase), and
/// the file, not read yet.
pub(crate) struct Form {
    /// The fields before the file, in order.
    pub fields: Vec<(String, String)>,
    /// The file part, to stream.
    pub file: multer::Field<'static>,
}

/// Reads a `multipart/form-data` body up to its `file` field, holding the
/// fields before it to S3's bounds. Shared by POST Object and upload links.
pub(crate) async fn read_form(state: &AppState, parts: &Parts, body: Incoming) -> S3Result<Form> {
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::PreconditionFailed,
            "Bucket POST must be of the enclosure-type multipart/form-data",
        )
    })?;
    let length = headers::content_length(&parts.headers)?;
    let payload = Payload::unsigned(body, length)
        .with_idle_timeout(state.body_idle_timeout)
        .with_min_rate(state.min_upload_rate)
        // The file plus its form: the file itself is held to the object
        // size limits as it streams, below.
        .with_limit(
            state
                .max_object_size
                .saturating_add(MAX_FIELDS as u64 + 64 * 1024),
        );
    let stream = futures_util::stream::unfold(payload, |mut p| async move {
        match p.next().await {
            Ok(Some(b)) => Some((Ok(b), p)),
            Ok(None) => None,
            Err(e) => Some((Err(e), p)),
        }
    });
    let mut form = multer::Multipart::new(stream, boundary);

    // The fields before the file.
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut total = 0usize;
    let file = loop {
        let Some(mut field) = form.next_field().await.map_err(form_error)? else {
            return Err(S3Error::invalid_argument(
                "POST requires exactly one file upload per request.",
            ));
        };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            break field;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(form_error)? {
            value.extend_from_slice(&chunk);
            total += chunk.len();
            if value.len() > MAX_FIELD || total > MAX_FIELDS {
                return Err(S3Error::with_message(
                    S3ErrorCode::MaxPostPreDataLengthExceededError,
                    "Your POST request fields preceeding the upload file was too large.",
                ));
            }
        }
        if fields.len() >= MAX_FIELD_COUNT {
            return Err(S3Error::with_message(
                S3ErrorCode::MaxPostPreDataLengthExceededError,
                "Your POST request has too many fields before the upload file.",
            ));
        }
        let value = String::from_utf8(value)
            .map_err(|_| S3Error::invalid_argument(format!("Form field {name} is not UTF-8")))?;
        fields.push((name, value));
    };
    Ok(Form { fields, file })
}

/// The file part of the form as upload bytes, held to the size limits.
pub(crate) struct FileSource<'f, 'a> {
    pub field: &'f mut multer::Field<'a>,
    /// Bytes of the file received so far.
    pub received: u64,
    /// The policy's `content-length-range` maximum (or an upload link's).
    pub policy_max: u64,
    /// What crossing `policy_max` answers.
    pub policy_max_error: S3Error,
    /// The server's and the bucket's object size limit.
    pub size_limit: u64,
    /// What the bucket's quota leaves (`None`: no quota).
    pub quota_room: Option<u64>,
}

impl ByteSource for FileSource<'_, '_> {
    async fn next(&mut self) -> S3Result<Option<Bytes>> {
        let Some(chunk) = self.field.chunk().await.map_err(form_error)? else {
            return Ok(None);
        };
        self.received += chunk.len() as u64;
        // Each limit crossed answers its own error, refused as the file
        // streams: nothing of it is kept.
        if self.received > self.policy_max {
            return Err(self.policy_max_error.clone());
        }
        if self.received > self.size_limit {
            return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
        }
        if self.quota_room.is_some_and(|room| self.received > room) {
            return Err(S3Error::with_message(
                S3ErrorCode::QuotaExceeded,
                "The bucket's quota would be exceeded by this upload.",
            ));
        }
        Ok(Some(chunk))
    }

    fn expected(&self) -> Option<u64> {
        None
    }
}

/// The form fields that become object headers (`Content-Type`,
/// `x-amz-meta-*`, checksums, `acl` as `x-amz-acl`, …).
pub(crate) fn object_headers(fields: &[(String, String)]) -> S3Result<HeaderMap> {
    const STANDARD: [&str; 6] = [
        "content-type",
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "expires",
    ];
    let mut h = HeaderMap::new();
    for (name, value) in fields {
        let header = if name == "acl" {
            "x-amz-acl".to_string()
        } else if STANDARD.contains(&name.as_str())
            || name.starts_with("x-amz-meta-")
            || name.starts_with("x-amz-checksum-")
        {
            name.clone()
        } else {
            continue;
        };
        let name = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| S3Error::invalid_argument(format!("Invalid form field name {header}")))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            S3Error::invalid_argument(format!("Invalid value of form field {header}"))
        })?;
        h.append(name, value);
    }
    Ok(h)
}

/// `303 See Other` to the form's redirect, with the object's coordinates.
fn redirect(url: &str, bucket: &str, key: &str, etag: &str) -> S3Result<Response<Body>> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let target = format!(
        "{url}{sep}bucket={}&key={}&etag={}",
        encode(bucket),
        encode(key),
        encode(etag)
    );
    let mut r = response::empty(StatusCode::SEE_OTHER);
    let value = HeaderValue::from_str(&target)
        .map_err(|_| S3Error::invalid_argument("Invalid success_action_redirect"))?;
    r.headers_mut().insert(http::header::LOCATION, value);
    Ok(r)
}

/// Everything but RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// A form that cannot be read: the payload's own error (timeout, size) if
/// that is what stopped it, else `MalformedPOSTRequest`.
fn form_error(e: multer::Error) -> S3Error {
    if let multer::Error::StreamReadFailed(inner) = &e {
        if let Some(s3) = inner.downcast_ref::<S3Error>() {
            return s3.clone();
        }
    }
    S3Error::with_message(
        S3ErrorCode::MalformedPOSTRequest,
        format!("The body of your POST request is not well-formed multipart/form-data: {e}"),
    )
}
