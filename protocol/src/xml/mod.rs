//! XML request and response bodies.
//!
//! Every body kura speaks is a plain struct here. Responses have a
//! `to_xml(&self) -> String` that emits the exact bytes S3 sends: the XML
//! declaration, a newline, then one compact root element carrying the S3
//! namespace. Request bodies have a `parse(body: &[u8]) -> S3Result<Self>`
//! that answers `MalformedXML` for anything that is not well-formed, does not
//! match S3's schema, or exceeds S3's count limits. The caller caps the body
//! size before reading it.
//!
//! `to_xml` never URL-encodes anything: with `encoding-type=url` the caller
//! applies [`url_encode`] (or the listing's `url_encode_fields`) first.

mod acl;
mod bucket;
mod common;
mod copy;
mod cors;
mod delete;
mod dom;
mod lifecycle;
mod list;
mod multipart;
mod tagging;
mod uploads;
mod versions;
mod writer;

pub use acl::{
    AccessControlPolicy, Grant, Grantee, Permission, ALL_USERS_URI, AUTHENTICATED_USERS_URI,
};
pub use bucket::{
    BucketEntry, CreateBucketConfiguration, ListAllMyBucketsResult, LocationConstraint,
    VersioningConfiguration,
};
pub use common::{Checksums, Owner};
pub use copy::{CopyObjectResult, CopyPartResult};
pub use cors::{CorsConfiguration, CorsRule, MAX_CORS_RULES};
pub use delete::{
    DeleteError, DeleteRequest, DeleteResult, DeletedEntry, ObjectIdentifier, MAX_DELETE_OBJECTS,
};
pub use lifecycle::{
    LifecycleConfiguration, LifecycleExpiration, LifecycleFilter, LifecycleRuleXml,
    MAX_LIFECYCLE_RULES,
};
pub use list::{ListBucketResultV1, ListBucketResultV2, ObjectEntry, SearchEntry, SearchResult};
pub use multipart::{
    CompleteMultipartUpload, CompleteMultipartUploadResult, CompletedPart,
    InitiateMultipartUploadResult, MAX_PART_NUMBER,
};
pub use tagging::{
    check_tags, parse_tagging_header, tagging_header, TagTarget, Tagging, DEFAULT_MAX_TAGS,
    MAX_BUCKET_TAGS, MAX_TAGGING_BODY, MAX_TAGS_LIMIT,
};
pub use uploads::{ListMultipartUploadsResult, ListPartsResult, PartEntry, UploadEntry};
pub use versions::{ListVersionsResult, VersionEntry};
pub use writer::XmlWriter;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::{OffsetDateTime, UtcOffset};

/// The namespace S3 puts on the root element of every response body.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The XML declaration (and newline) that starts every response body.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Escapes text for use in XML element content or attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline/CR are not allowed
            // in XML 1.0 even as entities; S3 escapes them numerically.
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Renders a timestamp as S3 does in XML bodies: ISO 8601 in UTC with
/// milliseconds, e.g. `2009-10-12T17:50:30.000Z`.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Everything but the unreserved characters `A-Za-z0-9-._~` and `/`.
const URL_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a key-like value for `encoding-type=url` listings.
///
/// Everything except `A-Za-z0-9-._~` and `/` is encoded as `%XX` of its UTF-8
/// bytes (upper-case hex); a space becomes `%20` and `+` becomes `%2B`.
/// botocore decodes these fields with `unquote_plus`, so a raw `+` would come
/// back as a space.
///
/// kura encodes these response fields, and only these (S3's, less what
/// botocore does not decode):
/// - ListObjectsV2: `Prefix`, `Delimiter`, `StartAfter`, `Contents/Key`,
///   `CommonPrefixes/Prefix` (not the continuation tokens);
/// - ListObjects (V1): `Delimiter`, `Marker`, `NextMarker`,
///   `Contents/Key`, `CommonPrefixes/Prefix` (S3 documents `Prefix` too, but
///   botocore does not decode it there);
/// - ListObjectVersions: `Prefix`, `Delimiter`, `KeyMarker`, `NextKeyMarker`,
///   `Version/Key`, `DeleteMarker/Key`, `CommonPrefixes/Prefix`;
/// - ListMultipartUploads: `Prefix`, `Delimiter`, `KeyMarker`,
///   `NextKeyMarker`, `Upload/Key`, `CommonPrefixes/Prefix`.
///
/// Each of those result types has a `url_encode_fields` method that applies
/// exactly that list.
pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_ENCODE_SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn escape_markup_and_controls() {
        assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
        assert_eq!(
            escape("line\nbreak\r\x01\t"),
            "line&#xA;break&#xD;&#x1;&#x9;"
        );
        assert_eq!(escape("ünï/日本"), "ünï/日本");
    }

    #[test]
    fn timestamps_are_utc_with_millis() {
        assert_eq!(
            format_timestamp(datetime!(2009-10-12 17:50:30 UTC)),
            "2009-10-12T17:50:30.000Z"
        );
        assert_eq!(
            format_timestamp(datetime!(2024-02-29 23:59:59.123_456 UTC)),
            "2024-02-29T23:59:59.123Z"
        );
        // Offsets are converted to UTC, not dropped.
        assert_eq!(
            format_timestamp(datetime!(2024-01-01 01:30:00 +02:00)),
            "2023-12-31T23:30:00.000Z"
        );
        assert_eq!(
            format_timestamp(OffsetDateTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn url_encode_reserved_and_unicode() {
        assert_eq!(url_encode("a b"), "a%20b");
        assert_eq!(url_encode("a+b"), "a%2Bb");
        assert_eq!(url_encode("100%"), "100%25");
        assert_eq!(url_encode("dir/sub/file.txt"), "dir/sub/file.txt");
        assert_eq!(url_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(url_encode("é"), "%C3%A9");
        assert_eq!(url_encode("日"), "%E6%97%A5");
        assert_eq!(url_encode("a\nb"), "a%0Ab");
        assert_eq!(
            url_encode("&<>\"'*=?#,;:@$!()"),
            "%26%3C%3E%22%27%2A%3D%3F%23%2C%3B%3A%40%24%21%28%29"
        );
        assert_eq!(url_encode(""), "");
    }
}
