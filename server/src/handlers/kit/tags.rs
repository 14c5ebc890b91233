//! Tags sent with a write: `x-amz-tagging` and CopyObject's
//! `x-amz-tagging-directive`.

use http::HeaderMap;
use kura_protocol::xml::{parse_tagging_header, TagTarget};
use kura_protocol::{S3Error, S3Result};

/// The tags of `x-amz-tagging` (none when absent), within the server's
/// limit of tags per object. A value that is not visible ASCII (the header
/// is URL-encoded) is `InvalidArgument`, like one that does not decode.
pub fn request_tags(h: &HeaderMap, max_tags: usize) -> S3Result<Vec<(String, String)>> {
    let Some(v) = h.get("x-amz-tagging") else {
        return Ok(Vec::new());
    };
    let v = v.to_str().map_err(|_| {
        S3Error::invalid_argument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
    })?;
    parse_tagging_header(v, TagTarget::Object(max_tags))
}

/// `x-amz-tagging-directive` of CopyObject: `true` for `REPLACE` (the tags
/// of the request), `false` for `COPY` (the source's, S3's default).
pub fn replace_tags(h: &HeaderMap) -> S3Result<bool> {
    let Some(v) = h.get("x-amz-tagging-directive") else {
        return Ok(false);
    };
    let v = v.to_str().unwrap_or_default().trim();
    if v.eq_ignore_ascii_case("COPY") {
        Ok(false)
    } else if v.eq_ignore_ascii_case("REPLACE") {
        Ok(true)
    } else {
        Err(S3Error::invalid_argument("Unknown tagging directive."))
    }
}
