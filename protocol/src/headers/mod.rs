//! Request and response headers: HTTP dates, ranges, preconditions, stored
//! object metadata, body lengths and digests, copy sources, canned ACLs and
//! the Host header's port.
//!
//! Everything is a pure function of header values, so the server parses each
//! header in one place and handlers receive typed values. Parsers follow
//! RFC 9110 where S3 does, and S3 where it deviates (each deviation is noted
//! on the function).

mod acl;
mod conditions;
mod content;
mod copy_source;
mod dates;
mod host;
mod metadata;
mod range;

pub use acl::{canned_acl, CannedAcl};
pub use conditions::{Conditions, EntityTag, EtagCondition};
pub use content::{content_length, content_md5, decoded_content_length};
pub use copy_source::{parse_copy_source, CopySource};
pub use dates::{format_http_date, parse_http_date};
pub use host::{host_name, split_host};
pub use metadata::{
    metadata_directive, response_overrides, stored_object_headers, MetadataDirective,
    MAX_USER_METADATA_BYTES, USER_METADATA_PREFIX,
};
pub use range::{content_range, parse_copy_source_range, parse_range, ByteRange};
