//! ListObjects (v1) and ListObjectsV2.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::Response;
use kura_protocol::router::ListParams;
use kura_protocol::xml::{ListBucketResultV1, ListBucketResultV2, ObjectEntry};
use kura_protocol::{S3Error, S3Result};
use kura_storage::{ListItem, ListStart};

use super::kit::{owner_of, timestamp, Ctx};
use crate::errors::{blocking, StorageResultExt};
use crate::response::{self, Body};

/// Continuation tokens are opaque to clients: the resume point, base64url'd.
fn encode_token(start: &ListStart) -> String {
    let raw = match start {
        ListStart::Beginning => String::new(),
        ListStart::AfterKey(k) => format!("K{k}"),
        ListStart::AfterPrefix(p) => format!("P{p}"),
    };
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_token(token: &str) -> S3Result<ListStart> {
    let invalid = || S3Error::invalid_argument("The continuation token provided is incorrect");
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    match raw.split_at_checked(1) {
        Some(("K", k)) => Ok(ListStart::AfterKey(k.to_string())),
        Some(("P", p)) => Ok(ListStart::AfterPrefix(p.to_string())),
        _ => Err(invalid()),
    }
}

pub async fn list_objects(
    ctx: Ctx,
    bucket: String,
    params: ListParams,
    v2: bool,
) -> S3Result<Response<Body>> {
    let start = if v2 {
        match (&params.continuation_token, &params.start_after) {
            (Some(t), _) => decode_token(t)?,
            (None, Some(s)) => ListStart::AfterKey(s.clone()),
            (None, None) => ListStart::Beginning,
        }
    } else {
        match (&params.marker, &params.delimiter) {
            // A v1 NextMarker may be a CommonPrefix: resume after all its keys.
            (Some(m), Some(d)) if m.ends_with(d.as_str()) && m.starts_with(&params.prefix) => {
                ListStart::AfterPrefix(m.clone())
            }
            (Some(m), _) => ListStart::AfterKey(m.clone()),
            (None, _) => ListStart::Beginning,
        }
    };
    let store = ctx.state.store.clone();
    let (b, p, d, s, max) = (
        bucket.clone(),
        params.prefix.clone(),
        params.delimiter.clone(),
        start,
        params.max_keys,
    );
    let mut page = blocking(move || store.list_objects(&b, &p, d.as_deref(), &s, max).s3()).await?;
    // A zero-size page has no resume point: it cannot claim to be truncated
    // (the client would ask for the same page forever). S3 answers it so too.
    page.truncated &= max > 0;

    let owner = (params.fetch_owner || !v2).then(|| owner_of(&ctx.verified.access_key_id));
    let mut contents = Vec::new();
    let mut common_prefixes = Vec::new();
    for item in &page.items {
        match item {
            ListItem::Object(key, row) => contents.push(ObjectEntry {
                key: key.clone(),
                last_modified: timestamp(row.modified_ms),
                etag: row.etag.clone(),
                size: row.size,
                storage_class: "STANDARD".into(),
                owner: owner.clone(),
                checksum_algorithm: None,
            }),
            ListItem::CommonPrefix(p) => common_prefixes.push(p.clone()),
        }
    }
    let resume = page
        .truncated
        .then(|| page.items.last().map(ListItem::resume_point))
        .flatten();
    // Under encoding-type=url each result type encodes exactly the fields
    // botocore decodes (`url_encode_fields`).
    let doc = if v2 {
        let mut doc = ListBucketResultV2 {
            name: bucket,
            prefix: params.prefix.clone(),
            delimiter: params.delimiter.clone(),
            max_keys: params.max_keys,
            key_count: contents.len() + common_prefixes.len(),
            is_truncated: page.truncated,
            continuation_token: params.continuation_token.clone(),
            next_continuation_token: resume.as_ref().map(encode_token),
            start_after: params.start_after.clone(),
            encoding_type: None,
            contents,
            common_prefixes,
        };
        if params.encoding_url {
            doc.url_encode_fields();
        }
        doc.to_xml()
    } else {
        // S3 returns NextMarker only when a delimiter was given; clients use the last key otherwise.
        let next_marker = match (&resume, &params.delimiter) {
            (Some(ListStart::AfterKey(k)), Some(_))
            | (Some(ListStart::AfterPrefix(k)), Some(_)) => Some(k.clone()),
            _ => None,
        };
        let mut doc = ListBucketResultV1 {
            name: bucket,
            prefix: params.prefix.clone(),
            marker: params.marker.clone().unwrap_or_default(),
            next_marker,
            delimiter: params.delimiter.clone(),
            max_keys: params.max_keys,
            is_truncated: page.truncated,
            encoding_type: None,
            contents,
            common_prefixes,
        };
        if params.encoding_url {
            doc.url_encode_fields();
        }
        doc.to_xml()
    };
    Ok(response::xml(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_roundtrip() {
        for s in [
            ListStart::AfterKey("a/b c+d".into()),
            ListStart::AfterPrefix("日本/".into()),
        ] {
            assert_eq!(decode_token(&encode_token(&s)).unwrap(), s);
        }
        assert!(decode_token("!!").is_err());
        assert!(decode_token(&URL_SAFE_NO_PAD.encode("Xabc")).is_err());
    }
}
