//! Uploads through an upload link: `POST /_kura/upload/{token}` with a
//! `multipart/form-data` body, read by POST Object's streaming form reader
//! (`handlers/post_object.rs`): the fields before the file, then the file
//! streamed into storage, never held whole.
//!
//! The link plays the part of POST Object's signed policy: the key is
//! confined to its folder (the form's `key` is a name *inside* the folder,
//! `${filename}` by default, replaced by the file's name as S3 does), the
//! file's size is held to the link's largest file and to what is left of
//! its byte budget while it streams, and the link must be open (not
//! expired, revoked or used up) before the form is read and again at the
//! commit, which counts the file against the link in the object's own
//! write batch. A name already taken in the folder is refused: an
//! anonymous uploader never replaces someone's file.

use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use kura_protocol::headers;
use kura_protocol::names::validate_object_key;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{LinkRow, LinkTarget, NewObject};
use serde::Serialize;

use super::{check_creator, resolve};
use crate::access::Permission;
use crate::access_log::AccessRecord;
use crate::clock::{now_ms, rfc3339};
use crate::errors::{blocking, storage_to_s3, StorageResultExt};
use crate::handlers::kit::admission::admit_write;
use crate::handlers::kit::checksum;
use crate::handlers::kit::ingest::ingest_with;
use crate::handlers::post_object::{read_form, FileSource, Form};
use crate::response::Body;
use crate::state::AppState;

/// What an upload link still accepts, as the upload page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    /// Text from the link's maker.
    pub label: String,
    /// When the link stops working (RFC 3339).
    pub expires: String,
    /// Largest single file the link takes now (the link's own limit, the
    /// server's and bucket's, and what is left of its byte budget).
    pub max_file_size: u64,
    /// Files it still accepts (`null`: no limit).
    pub files_left: Option<u64>,
    /// Bytes it still accepts (`null`: no limit).
    pub bytes_left: Option<u64>,
    /// Files uploaded through it so far.
    pub files: u64,
    /// Bytes uploaded through it so far.
    pub bytes: u64,
}

/// The answer to an upload.
#[derive(Debug, Clone, Serialize)]
struct Uploaded {
    /// The file's name inside the folder.
    name: String,
    /// Its size.
    size: u64,
    /// Its ETag.
    etag: String,
    /// What the link accepts now.
    link: LinkStatus,
}

/// `GET /_kura/upload/{token}/info`.
pub fn info(state: &AppState, token: &str) -> S3Result<Response<Body>> {
    let (_, row) = open_upload_link(state, token)?;
    Ok(super::json_response(StatusCode::OK, &status(state, &row)?))
}

/// The link of `token` if it is an upload link that may take a file now,
/// and its maker may still write into its folder.
fn open_upload_link(state: &AppState, token: &str) -> S3Result<(String, LinkRow)> {
    let (id, row) = resolve(state, token)?;
    let LinkTarget::Upload { prefix, .. } = &row.target else {
        return Err(S3Error::with_message(
            S3ErrorCode::NoSuchLink,
            "This is not an upload link.",
        ));
    };
    row.usable(now_ms())
        .map_err(|r| storage_to_s3(kura_storage::StorageError::Link(r)))?;
    check_creator(state, &row, prefix, Permission::Write)?;
    Ok((id, row))
}

/// The largest file the link takes now.
fn file_limit(state: &AppState, row: &LinkRow) -> S3Result<u64> {
    let bucket = crate::handlers::kit::existing_bucket(&state.store, &row.bucket)?;
    let mut limit = bucket
        .max_object_size
        .map_or(state.max_object_size, |b| b.min(state.max_object_size));
    if let LinkTarget::Upload {
        max_file_size: Some(m),
        ..
    } = &row.target
    {
        limit = limit.min(*m);
    }
    if let Some(left) = row.bytes_left() {
        limit = limit.min(left);
    }
    Ok(limit)
}

fn status(state: &AppState, row: &LinkRow) -> S3Result<LinkStatus> {
    Ok(LinkStatus {
        label: row.label.clone(),
        expires: rfc3339(row.expires_ms),
        max_file_size: file_limit(state, row)?,
        files_left: row.files_left(),
        bytes_left: row.bytes_left(),
        files: row.files,
        bytes: row.bytes,
    })
}

/// Refuses a name inside the folder that is not a plain relative path:
/// empty, absolute, with `.` / `..` / empty segments, backslashes or
/// control characters.
pub(crate) fn check_relative(name: &str) -> S3Result<()> {
    let bad = |why: &str| {
        S3Error::invalid_argument(format!(
            "The file name {name:?} is not allowed: {why}. Use a plain name inside the folder."
        ))
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.starts_with('/') {
        return Err(bad("it is an absolute path"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("it contains control characters"));
    }
    if name.contains('\\') {
        return Err(bad("it contains a backslash"));
    }
    if name
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(bad("it has an empty, `.` or `..` path segment"));
    }
    Ok(())
}

/// The form fields an upload link takes besides the file (S3 would refuse
/// fields its policy does not name; here the link is the policy).
fn check_fields(fields: &[(String, String)]) -> S3Result<()> {
    for (name, _) in fields {
        if !(name == "key" || name == "content-type" || name.starts_with("x-ignore-")) {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                format!(
                    "Invalid according to the link: extra input field {name:?} (an upload link takes key, Content-Type and file)."
                ),
            ));
        }
    }
    Ok(())
}

/// `POST /_kura/upload/{token}`.
pub async fn upload(
    state: &Arc<AppState>,
    parts: Parts,
    body: Incoming,
    token: &str,
    record: &mut Option<Box<AccessRecord>>,
) -> S3Result<Response<Body>> {
    // Refused before a byte of the form is read.
    let (id, row) = open_upload_link(state, token)?;
    let LinkTarget::Upload {
        prefix,
        max_file_size,
        ..
    } = &row.target
    else {
        unreachable!("open_upload_link checked the kind");
    };
    let bucket = row.bucket.clone();
    if let Some(r) = record.as_mut() {
        r.bucket = Some(bucket.clone());
    }
    let limit = file_limit(state, &row)?;

    let Form { fields, mut file } = read_form(state, &parts, body).await?;
    check_fields(&fields)?;
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let filename = file.file_name().unwrap_or_default().to_string();
    let name = get("key")
        .unwrap_or("${filename}")
        .replace("${filename}", &filename);
    check_relative(&name)?;
    let key = format!("{prefix}{name}");
    validate_object_key(&key)?;
    if let Some(r) = record.as_mut() {
        r.key = Some(key.clone());
    }
    let content_type = get("content-type")
        .map(str::to_string)
        .or_else(|| file.content_type().map(|m| m.to_string()));
    let mut object_headers = HeaderMap::new();
    if let Some(ct) = content_type {
        let v = HeaderValue::from_str(&ct)
            .map_err(|_| S3Error::invalid_argument("Invalid Content-Type"))?;
        object_headers.insert(http::header::CONTENT_TYPE, v);
    }
    let stored_headers = headers::stored_object_headers(&object_headers)?;

    let store = state.store.clone();
    let room = admit_write(state, &bucket, Some(&key), None)?;
    let lock = store.lock_key(&bucket, &key).s3()?;
    if store
        .current(&bucket, &key)
        .s3()?
        .is_some_and(|r| !r.delete_marker)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::PreconditionFailed,
            format!(
                "A file named {name:?} is already in this folder; rename yours and send it again."
            ),
        ));
    }
    let too_large = match max_file_size {
        Some(m) if *m == limit => format!("This link takes files of at most {m} bytes."),
        _ => format!("This file is larger than the {limit} bytes this link still takes."),
    };
    let algorithms = checksum::algorithms(None, true);
    let mut source = FileSource {
        field: &mut file,
        received: 0,
        policy_max: limit,
        policy_max_error: S3Error::with_message(S3ErrorCode::EntityTooLarge, too_large),
        size_limit: limit,
        quota_room: room,
    };
    let ingested = ingest_with(
        store.object_writer_in(&bucket).s3()?,
        &mut source,
        &algorithms,
    )
    .await?;
    let etag = format!("\"{}\"", hex::encode(ingested.md5));
    let checksum = checksum::computed(&ingested.checksums, checksum::DEFAULT_ALGORITHM);
    let new = NewObject {
        etag,
        headers: stored_headers,
        checksums: checksum.iter().map(checksum::stored).collect(),
        ..Default::default()
    };
    let (b, k) = (bucket.clone(), key.clone());
    let (object, link) = blocking(move || {
        store
            .commit_link_upload(&lock, &id, &b, &k, ingested.data, new, now_ms())
            .s3()
    })
    .await?;
    if let Some(r) = record.as_mut() {
        r.version_id = Some(object.version_id());
    }
    let answer = Uploaded {
        name,
        size: object.size,
        etag: object.etag.clone(),
        link: status(state, &link)?,
    };
    let mut r = super::json_response(StatusCode::CREATED, &answer);
    crate::response::set_header(&mut r, "etag", &object.etag);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_the_folder() {
        for good in [
            "a.txt",
            "photos/2026/a b.jpg",
            "日本語.pdf",
            "..a",
            "a..",
            ".hidden",
        ] {
            assert!(check_relative(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "..",
            ".",
            "a\\b",
            "a\nb",
            "a\u{7f}",
            "a\0b",
            "C:\\x",
        ] {
            assert!(check_relative(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_link_fields() {
        let f = |n: &str| vec![(n.to_string(), "v".to_string())];
        assert!(check_fields(&f("key")).is_ok());
        assert!(check_fields(&f("content-type")).is_ok());
        assert!(check_fields(&f("x-ignore-anything")).is_ok());
        assert!(check_fields(&f("acl")).is_err());
        assert!(check_fields(&f("x-amz-meta-a")).is_err());
    }
}
