//! GetObjectAttributes (`GET /bucket/key?attributes`): what HeadObject and
//! ListParts would say about one object version, in one document holding
//! only the attributes `x-amz-object-attributes` asks for.

use http::Response;
use kura_protocol::headers::format_http_date;
use kura_protocol::names::validate_object_key;
use kura_protocol::xml::XmlWriter;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::ObjectRow;

use super::kit::checksum::checksums_of;
use super::kit::versioning::current_version_id;
use super::kit::{system_time, Ctx};
use crate::errors::StorageResultExt;
use crate::response::{self, Body};

/// The attributes a client may ask for, in the response's element order.
const ATTRIBUTES: [&str; 5] = [
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

/// Most parts listed per response (as ListParts).
const MAX_PARTS: u32 = 1000;

pub async fn get_object_attributes(
    ctx: Ctx,
    bucket: String,
    key: String,
    version_id: Option<String>,
) -> S3Result<Response<Body>> {
    validate_object_key(&key)?;
    let wanted = requested(&ctx.parts.headers)?;
    let max_parts = number(&ctx, "x-amz-max-parts")?.map_or(MAX_PARTS, |m| m.min(MAX_PARTS));
    let marker = number(&ctx, "x-amz-part-number-marker")?.unwrap_or(0);
    // Point lookups only: fine on the async thread (see kura_storage's docs).
    let row = ctx
        .state
        .store
        .get_object(&bucket, &key, version_id.as_deref())
        .s3()?;
    if row.delete_marker {
        // As GET and HEAD: a delete marker has no attributes.
        return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)
            .header("x-amz-delete-marker", "true")
            .header("x-amz-version-id", row.version_id()));
    }
    let mut w = XmlWriter::new("GetObjectAttributesResponse");
    for attribute in ATTRIBUTES.iter().filter(|a| wanted.contains(a)) {
        match *attribute {
            "ETag" => w.text("ETag", row.etag.trim_matches('"')),
            "Checksum" => write_checksum(&mut w, &row),
            "ObjectParts" => write_parts(&mut w, &row, marker, max_parts),
            "StorageClass" => w.text("StorageClass", "STANDARD"),
            _ => w.value("ObjectSize", row.size),
        }
    }
    let mut r = response::xml(w.finish());
    let modified = format_http_date(system_time(row.modified_ms));
    response::set_header(&mut r, "last-modified", &modified);
    // As GET: a requested version is echoed as asked, the current one as
    // the bucket's versioning shows it.
    let shown = match version_id {
        Some(v) => Some(v),
        None => current_version_id(&ctx.state.store, &bucket, &row)?,
    };
    if let Some(v) = shown {
        response::set_header(&mut r, "x-amz-version-id", &v);
    }
    Ok(r)
}

/// The attribute names of `x-amz-object-attributes` (comma-separated, one
/// or more headers); none or an unknown one is `InvalidArgument`.
fn requested(h: &http::HeaderMap) -> S3Result<Vec<&'static str>> {
    let mut wanted = Vec::new();
    for value in h.get_all("x-amz-object-attributes") {
        let value = value.to_str().unwrap_or_default();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let known = ATTRIBUTES
                .iter()
                .find(|a| a.eq_ignore_ascii_case(name))
                .ok_or_else(|| S3Error::invalid_argument("Invalid attribute name specified."))?;
            wanted.push(*known);
        }
    }
    if wanted.is_empty() {
        return Err(S3Error::invalid_argument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
        ));
    }
    Ok(wanted)
}

/// A numeric request header, `InvalidArgument` if it is not a number.
fn number(ctx: &Ctx, name: &str) -> S3Result<Option<u32>> {
    ctx.header(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| S3Error::invalid_argument(format!("Invalid {name} header")))
        })
        .transpose()
}

/// `<Checksum>`: the object's additional checksum, if it has one.
fn write_checksum(w: &mut XmlWriter, row: &ObjectRow) {
    let Some(stored) = row.checksums.first() else {
        return;
    };
    let mut checksums = checksums_of(stored);
    // Composite values carry their part count (`base64-N`).
    let kind = if stored.1.contains('-') {
        "COMPOSITE"
    } else {
        "FULL_OBJECT"
    };
    checksums.checksum_type = Some(kind.into());
    w.open("Checksum");
    checksums.write_values(w);
    checksums.write_type(w);
    w.close("Checksum");
}

/// `<ObjectParts>` of a multipart object (a single-part object has none):
/// the part count and one page of part numbers and sizes.
fn write_parts(w: &mut XmlWriter, row: &ObjectRow, marker: u32, max_parts: u32) {
    if row.part_sizes.is_empty() {
        return;
    }
    let total = row.part_sizes.len() as u32;
    // Each part's checksum, named as the object's (`ChecksumSHA256`, …).
    let checksum_element = row
        .checksums
        .first()
        .map(|(alg, _)| format!("Checksum{}", alg.to_ascii_uppercase()));
    let page: Vec<(u32, u64)> = (1..=total)
        .zip(row.part_sizes.iter().copied())
        .skip_while(|(n, _)| *n <= marker)
        .take(max_parts as usize)
        .collect();
    let truncated = page.last().is_some_and(|(n, _)| *n < total);
    w.open("ObjectParts");
    w.value("PartsCount", total);
    w.value("PartNumberMarker", marker);
    if let Some((n, _)) = page.last().filter(|_| truncated) {
        w.value("NextPartNumberMarker", n);
    }
    w.value("MaxParts", max_parts);
    w.boolean("IsTruncated", truncated);
    for (n, size) in page {
        w.open("Part");
        let sum = row.part_checksums.get(n as usize - 1);
        if let (Some(element), Some(sum)) = (&checksum_element, sum) {
            w.text(element, sum);
        }
        w.value("PartNumber", n);
        w.value("Size", size);
        w.close("Part");
    }
    w.close("ObjectParts");
}
