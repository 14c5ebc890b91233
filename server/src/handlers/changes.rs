//! `GET /{bucket}?changes`: the bucket's change log as JSON pages, with
//! cursors and long polling (a kura extension; see the README).

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};
use kura_protocol::router::ChangeParams;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{ChangeEntry, ChangeQuery, ChangeRead, Store};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use tokio::sync::watch;

use super::Ctx;
use crate::access::{KeyFilter, Permission};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Characters escaped in an entry's `url`: all but RFC 3986's unreserved
/// ones and `/`.
const URL_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Makes `store` publish its change horizon after every logged commit; long
/// polls wait on the returned receiver (woken at once, never polling).
pub fn wake_on_commit(store: &Store) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(store.change_horizon());
    store.set_change_listener(move |horizon| {
        tx.send_replace(horizon);
    });
    rx
}

#[derive(Serialize)]
struct Page {
    changes: Vec<Change>,
    next: String,
    more: bool,
}

/// One entry as the feed and webhooks show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    seq: u64,
    event: &'static str,
    key: String,
    version_id: String,
    etag: Option<String>,
    size: u64,
    last_modified: String,
    url: String,
}

#[derive(Serialize)]
struct Expired {
    error: &'static str,
    message: &'static str,
    cursor: String,
}

/// The wire form of entry `seq` of `bucket`'s log.
pub fn change(bucket: &str, seq: u64, e: ChangeEntry) -> Change {
    Change {
        seq,
        event: e.event.as_str(),
        version_id: e.version_id(),
        etag: (!e.etag.is_empty()).then(|| e.etag.clone()),
        size: e.size,
        last_modified: crate::clock::rfc3339(e.modified_ms),
        url: format!("/{bucket}/{}", utf8_percent_encode(&e.key, URL_PATH)),
        key: e.key,
    }
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("feed pages serialize");
    let mut r = Response::new(response::full(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Parses `since=` (RFC 3339) into ms since the epoch.
fn since_ms(since: &str) -> S3Result<u64> {
    let t = time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339)
        .map_err(|_| S3Error::invalid_argument("since= must be an RFC 3339 time"))?;
    Ok(u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

/// Answers one page of the feed; with `wait=` and nothing new, holds the
/// request until a commit (or the wait ends).
pub async fn list_changes(
    ctx: Ctx,
    bucket: String,
    params: ChangeParams,
) -> S3Result<Response<Body>> {
    // A caller with folder grants follows only its folders' entries.
    let within = match ctx.principal.key_filter(&bucket, Permission::Read) {
        KeyFilter::All => Vec::new(),
        KeyFilter::Prefixes(p) if !p.is_empty() => p,
        // Let in by `authorize` only with a readable folder; never "no filter".
        KeyFilter::Prefixes(_) => return Err(S3Error::new(S3ErrorCode::AccessDenied)),
    };
    let mut query = ChangeQuery {
        after: params.after,
        since_ms: params.since.as_deref().map(since_ms).transpose()?,
        prefix: params.prefix,
        within,
        max: params.max_items,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(params.wait_secs);
    let mut commits = ctx.state.changes.clone();
    loop {
        // Marked seen before reading: a commit after this wakes the wait below.
        commits.borrow_and_update();
        let store = ctx.state.store.clone();
        let (b, q) = (bucket.clone(), query.clone());
        let read = blocking(move || store.changes(&b, &q).s3()).await?;
        let page = match read {
            ChangeRead::Expired { restart } => {
                let body = Expired {
                    error: "CursorExpired",
                    message: "The cursor is older than the change log keeps. List the bucket, \
                              then follow the feed with after= set to the cursor given here: it \
                              was taken before your listing, so no change is lost.",
                    cursor: restart.to_string(),
                };
                return Ok(json(StatusCode::GONE, &body));
            }
            ChangeRead::Page(page) => page,
        };
        let waited_out = tokio::time::Instant::now() >= deadline;
        if !page.entries.is_empty() || page.more || waited_out {
            let body = Page {
                changes: page
                    .entries
                    .into_iter()
                    .map(|(seq, e)| change(&bucket, seq, e))
                    .collect(),
                next: page.next.to_string(),
                more: page.more,
            };
            return Ok(json(StatusCode::OK, &body));
        }
        // Nothing yet: everything up to `next` is seen, wait for more.
        query.after = Some(page.next);
        match tokio::time::timeout_at(deadline, commits.changed()).await {
            // A commit (of any bucket): read again.
            Ok(Ok(())) => {}
            // No more commits can come (shutting down): wait out the deadline.
            Ok(Err(_)) => tokio::time::sleep_until(deadline).await,
            // The deadline: the next read answers with the page as it stands.
            Err(_) => {}
        }
    }
}
