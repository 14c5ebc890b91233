//! `GET /{bucket}?search`: the bucket's current objects matching tag,
//! user-metadata, key, size and Last-Modified conditions, through the
//! search index (a kura extension; syntax in `kura_protocol::search` and
//! the README). XML shaped as ListObjectsV2, or JSON with
//! `Accept: application/json`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{header, HeaderValue, Response};
use kura_protocol::search::{Condition, SearchParams, ValueTest};
use kura_protocol::xml::{ObjectEntry, SearchEntry, SearchResult};
use kura_protocol::{S3Error, S3Result};
use kura_storage::{FieldKind, FieldTest, ObjectRow, SearchCond, SearchQuery};
use serde::Serialize;

use super::kit::{timestamp, Ctx};
use crate::access::{Permission, Principal};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Which keys of `bucket` the caller may read: the one predicate every
/// search result passes (the operation itself already needed `read` on
/// the bucket). Per-prefix grants narrow it here.
fn readable_keys(who: &Principal, bucket: &str) -> impl Fn(&str) -> bool + Send + 'static {
    let filter = who.key_filter(bucket, Permission::Read);
    move |key: &str| filter.allows(key)
}

fn field(kind: FieldKind, name: String, test: ValueTest) -> SearchCond {
    let test = match test {
        ValueTest::Eq(v) => FieldTest::Eq(v),
        ValueTest::Prefix(p) => FieldTest::Prefix(p),
        ValueTest::Range { gte, lte } => FieldTest::Range { gte, lte },
    };
    SearchCond::Field { kind, name, test }
}

fn condition(c: Condition) -> SearchCond {
    match c {
        Condition::KeyPrefix(p) => SearchCond::KeyPrefix(p),
        Condition::Size { gte, lte } => SearchCond::Size { gte, lte },
        Condition::Modified { gte, lte } => SearchCond::Modified { gte, lte },
        Condition::Tag { name, test } => field(FieldKind::Tag, name, test),
        Condition::Meta { name, test } => field(FieldKind::Meta, name, test),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonObject {
    key: String,
    last_modified: String,
    etag: String,
    size: u64,
    tags: serde_json::Map<String, serde_json::Value>,
    user_metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonPage {
    objects: Vec<JsonObject>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_continuation_token: Option<String>,
}

fn pairs(items: Vec<(String, String)>) -> serde_json::Map<String, serde_json::Value> {
    items
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

fn user_metadata(row: &ObjectRow) -> Vec<(String, String)> {
    row.headers
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("x-amz-meta-")?.to_string(), v.clone())))
        .collect()
}

/// Whether the client asked for JSON.
fn wants_json(ctx: &Ctx) -> bool {
    ctx.header("accept").is_some_and(|a| {
        a.split(',')
            .any(|t| t.trim().starts_with("application/json"))
    })
}

pub async fn search(ctx: Ctx, bucket: String, params: SearchParams) -> S3Result<Response<Body>> {
    let invalid_token =
        || S3Error::invalid_argument("The continuation token provided is incorrect");
    let after = params
        .continuation_token
        .as_deref()
        .map(|t| URL_SAFE_NO_PAD.decode(t).map_err(|_| invalid_token()))
        .transpose()?;
    let query = SearchQuery {
        conds: params.conditions.into_iter().map(condition).collect(),
        max: params.max_keys,
        after,
    };
    let may_read = readable_keys(&ctx.principal, &bucket);
    let store = ctx.state.store.clone();
    let b = bucket.clone();
    let page = blocking(move || {
        if let Some(t) = &query.after {
            if !store.search_token_fits(&b, &query, t) {
                return Err(invalid_token());
            }
        }
        store.search(&b, &query, &may_read).s3()
    })
    .await?;
    let next = page.next.map(|t| URL_SAFE_NO_PAD.encode(t));
    if wants_json(&ctx) {
        let body = JsonPage {
            is_truncated: next.is_some(),
            next_continuation_token: next,
            objects: page
                .objects
                .into_iter()
                .map(|(key, row)| JsonObject {
                    key,
                    last_modified: crate::clock::rfc3339(row.modified_ms),
                    etag: row.etag.clone(),
                    size: row.size,
                    user_metadata: pairs(user_metadata(&row)),
                    tags: pairs(row.tags),
                })
                .collect(),
        };
        let mut r = Response::new(response::full(
            serde_json::to_vec(&body).expect("search pages serialize"),
        ));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(r);
    }
    let doc = SearchResult {
        name: bucket,
        max_keys: params.max_keys,
        is_truncated: next.is_some(),
        continuation_token: params.continuation_token,
        next_continuation_token: next,
        contents: page
            .objects
            .into_iter()
            .map(|(key, row)| SearchEntry {
                user_metadata: user_metadata(&row),
                object: ObjectEntry {
                    key,
                    last_modified: timestamp(row.modified_ms),
                    etag: row.etag,
                    size: row.size,
                    storage_class: "STANDARD".into(),
                    owner: None,
                    checksum_algorithm: None,
                },
                tags: row.tags,
            })
            .collect(),
    };
    Ok(response::xml(doc.to_xml()))
}
