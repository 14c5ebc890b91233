//! Routing: an HTTP request line (method, path, query, host) becomes one typed
//! [`Operation`] before authentication and handling. Handlers get the bucket,
//! key and parameters from it; only GetObject's `response-*` overrides are
//! read from the query later, by the code that serves the object.
//!
//! Every operation is declared once, in the `operations!` table below.

use crate::error::{S3Error, S3ErrorCode, S3Result};
use http::Method;
use percent_encoding::percent_decode_str;

/// Query parameters, percent-decoded, in the order received.
///
/// `+` is kept literally: SigV4 signs it as `%2B`, and SDKs encode spaces as
/// `%20`, so treating `+` as a space would corrupt keys and prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (without `?`).
    pub fn parse(raw: &str) -> S3Result<Query> {
        let mut out = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((decode(k)?, decode(v)?));
        }
        Ok(Query(out))
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    fn get_owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    /// A non-empty value of `name`.
    fn non_empty(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// An integer parameter, `InvalidArgument` if not a number.
    fn number<T: std::str::FromStr>(&self, name: &str) -> S3Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                S3Error::invalid_argument(format!(
                    "Provided {name} not an integer or within integer range"
                ))
            }),
        }
    }
}

fn decode(s: &str) -> S3Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidURI))
}

/// Parameters shared by the object listings (ListObjects v1/v2, ListObjectVersions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Only keys beginning with this.
    pub prefix: String,
    /// Groups keys sharing a prefix up to this delimiter into CommonPrefixes.
    pub delimiter: Option<String>,
    /// Page size (`max-keys`, or `max-uploads`), capped at 1000 as S3 does.
    pub max_keys: usize,
    /// `encoding-type=url` was requested.
    pub encoding_url: bool,
    /// v2: opaque token from a previous page.
    pub continuation_token: Option<String>,
    /// v2: start listing after this key.
    pub start_after: Option<String>,
    /// v2: include Owner in entries.
    pub fetch_owner: bool,
    /// v1: start after this key (`marker`); versions and uploads: `key-marker`.
    pub marker: Option<String>,
    /// Versions: version-id-marker; multipart uploads: upload-id-marker.
    pub version_id_marker: Option<String>,
}

/// Which listing a query string is for: each names its page size and
/// markers differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    /// ListObjects v1 and v2: `max-keys`, `marker`.
    Objects,
    /// ListObjectVersions: `max-keys`, `key-marker`, `version-id-marker`.
    Versions,
    /// ListMultipartUploads: `max-uploads`, `key-marker`, `upload-id-marker`.
    Uploads,
}

impl ListParams {
    fn from_query(q: &Query, kind: ListKind) -> S3Result<ListParams> {
        let (size_name, marker_name, second_marker) = match kind {
            ListKind::Objects => ("max-keys", "marker", None),
            ListKind::Versions => ("max-keys", "key-marker", Some("version-id-marker")),
            ListKind::Uploads => ("max-uploads", "key-marker", Some("upload-id-marker")),
        };
        let max_keys: i64 = q.number(size_name)?.unwrap_or(1000);
        if max_keys < 0 {
            return Err(S3Error::invalid_argument(format!(
                "{size_name} cannot be negative"
            )));
        }
        let encoding_url = match q.get("encoding-type") {
            None | Some("") => false,
            Some(v) if v.eq_ignore_ascii_case("url") => true,
            Some(_) => {
                return Err(S3Error::invalid_argument(
                    "Invalid Encoding Method specified in Request",
                ))
            }
        };
        Ok(ListParams {
            prefix: q.get_owned("prefix").unwrap_or_default(),
            delimiter: q.non_empty("delimiter"),
            max_keys: max_keys.min(1000) as usize,
            encoding_url,
            // An empty token is no token (some clients send `continuation-token=`).
            continuation_token: q.non_empty("continuation-token"),
            start_after: q.non_empty("start-after"),
            fetch_owner: q.get("fetch-owner") == Some("true"),
            marker: q.non_empty(marker_name),
            version_id_marker: second_marker.and_then(|n| q.non_empty(n)),
        })
    }
}

/// Parameters of the change feed (`GET /{bucket}?changes`, a kura extension).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeParams {
    /// `after=`: resume strictly after this cursor.
    pub after: Option<u64>,
    /// `since=`: an RFC 3339 time, parsed by the handler.
    pub since: Option<String>,
    /// `prefix=`: only keys beginning with this.
    pub prefix: String,
    /// `max-items=`: page size, 1,000 by default, at most 10,000.
    pub max_items: usize,
    /// `wait=`: seconds to hold a request that finds nothing new, at most 60.
    pub wait_secs: u64,
}

/// Largest `max-items` of a change-feed page.
pub const MAX_CHANGE_ITEMS: usize = 10_000;
/// Longest `wait` of a change-feed long poll, in seconds.
pub const MAX_CHANGE_WAIT_SECS: u64 = 60;

impl ChangeParams {
    fn from_query(q: &Query) -> S3Result<ChangeParams> {
        let after = match q.non_empty("after") {
            None => None,
            Some(c) => Some(c.parse().map_err(|_| {
                S3Error::invalid_argument("after= is not a cursor returned by the feed")
            })?),
        };
        let max_items: usize = q.number("max-items")?.unwrap_or(1000);
        if max_items == 0 {
            return Err(S3Error::invalid_argument("max-items must be at least 1"));
        }
        let wait_secs: u64 = q.number("wait")?.unwrap_or(0);
        Ok(ChangeParams {
            after,
            since: q.non_empty("since"),
            prefix: q.get_owned("prefix").unwrap_or_default(),
            max_items: max_items.min(MAX_CHANGE_ITEMS),
            wait_secs: wait_secs.min(MAX_CHANGE_WAIT_SECS),
        })
    }
}

/// Paging for ListParts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartListParams {
    /// Parts after this number.
    pub part_number_marker: u32,
    /// Page size (max 1000).
    pub max_parts: usize,
}

/// What an operation needs from its caller on the bucket it addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No bucket: the answer is filtered to what the caller may see (ListBuckets).
    Service,
    /// Reads the bucket or its objects.
    Read,
    /// Writes objects.
    Write,
    /// Changes the bucket itself, or publishes objects.
    Admin,
}

/// Declares the operations, once: from each line come the [`Operation`]
/// variant (bucket-scoped ones get `bucket`, object-scoped ones `bucket` and
/// `key`), its name, its bucket and key, and the [`Access`] it needs. The
/// server's dispatch matches every variant with no wildcard, so a new line
/// here fails to compile until it has a handler.
macro_rules! operations {
    (
        service { $( $sname:ident { $($sf:ident : $st:ty),* $(,)? } => $sacc:ident, )* }
        bucket { $( $bname:ident { $($bf:ident : $bt:ty),* $(,)? } => $bacc:ident, )* }
        object { $( $oname:ident { $($of:ident : $ot:ty),* $(,)? } => $oacc:ident, )* }
    ) => {
        /// One S3 operation (or kura extension), parsed from the request line.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(missing_docs)] // Variants are named after the S3 API actions.
        pub enum Operation {
            $( $sname { $($sf: $st),* }, )*
            $( $bname { bucket: String, $($bf: $bt),* }, )*
            $( $oname { bucket: String, key: String, $($of: $ot),* }, )*
        }

        impl Operation {
            /// Every operation's name, in table order.
            pub const NAMES: &'static [&'static str] = &[
                $( stringify!($sname), )* $( stringify!($bname), )* $( stringify!($oname), )*
            ];

            /// The S3 action name, for logs and metrics.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Operation::$sname { .. } => stringify!($sname), )*
                    $( Operation::$bname { .. } => stringify!($bname), )*
                    $( Operation::$oname { .. } => stringify!($oname), )*
                }
            }

            /// The bucket the operation addresses, if any.
            pub fn bucket(&self) -> Option<&str> {
                match self {
                    $( Operation::$sname { .. } => None, )*
                    $( Operation::$bname { bucket, .. } => Some(bucket), )*
                    $( Operation::$oname { bucket, .. } => Some(bucket), )*
                }
            }

            /// The object key the operation addresses, if any.
            pub fn key(&self) -> Option<&str> {
                match self {
                    $( Operation::$sname { .. } => None, )*
                    $( Operation::$bname { .. } => None, )*
                    $( Operation::$oname { key, .. } => Some(key), )*
                }
            }

            /// What the caller needs on [`Operation::bucket`].
            pub fn access(&self) -> Access {
                match self {
                    $( Operation::$sname { .. } => Access::$sacc, )*
                    $( Operation::$bname { .. } => Access::$bacc, )*
                    $( Operation::$oname { .. } => Access::$oacc, )*
                }
            }
        }
    };
}

// The operation table. Publishing an object (a public link anyone can use,
// with no expiry) is the operator's decision, not a partner's: ACL changes
// need admin. How a request line becomes one of these is [`route`].
operations! {
    service {
        ListBuckets {
            prefix: Option<String>,
            continuation_token: Option<String>,
            max_buckets: Option<usize>,
        } => Service,
    }
    bucket {
        CreateBucket {} => Admin,
        HeadBucket {} => Read,
        DeleteBucket {} => Admin,
        GetBucketLocation {} => Read,
        GetBucketVersioning {} => Read,
        PutBucketVersioning {} => Admin,
        GetBucketLifecycleConfiguration {} => Read,
        PutBucketLifecycleConfiguration {} => Admin,
        DeleteBucketLifecycleConfiguration {} => Admin,
        GetBucketAcl {} => Read,
        PutBucketAcl {} => Admin,
        GetBucketCors {} => Read,
        PutBucketCors {} => Admin,
        DeleteBucketCors {} => Admin,
        ListObjects { params: ListParams } => Read,
        ListObjectsV2 { params: ListParams } => Read,
        ListObjectVersions { params: ListParams } => Read,
        ListMultipartUploads { params: ListParams } => Read,
        // kura's change feed of a bucket.
        ListChanges { params: ChangeParams } => Read,
        // kura's indexed search of a bucket's objects by tags and metadata.
        SearchObjects { params: crate::search::SearchParams } => Read,
        DeleteObjects {} => Write,
        // Browser form upload: authenticated by the form's signed policy,
        // authorized for the key the form names (see handlers/post_object.rs).
        PostObject {} => Write,
        GetBucketTagging {} => Read,
        PutBucketTagging {} => Admin,
        DeleteBucketTagging {} => Admin,
    }
    object {
        PutObject {} => Write,
        CopyObject {} => Write,
        GetObject { version_id: Option<String>, part_number: Option<u32> } => Read,
        HeadObject { version_id: Option<String>, part_number: Option<u32> } => Read,
        DeleteObject { version_id: Option<String> } => Write,
        GetObjectAcl { version_id: Option<String> } => Read,
        GetObjectAttributes { version_id: Option<String> } => Read,
        PutObjectAcl { version_id: Option<String> } => Admin,
        GetObjectTagging { version_id: Option<String> } => Read,
        PutObjectTagging { version_id: Option<String> } => Write,
        DeleteObjectTagging { version_id: Option<String> } => Write,
        CreateMultipartUpload {} => Write,
        UploadPart { upload_id: String, part_number: u32 } => Write,
        UploadPartCopy { upload_id: String, part_number: u32 } => Write,
        CompleteMultipartUpload { upload_id: String } => Write,
        AbortMultipartUpload { upload_id: String } => Write,
        ListParts { upload_id: String, params: PartListParams } => Read,
    }
}

/// Where a request points: bucket and key, before the method is considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bucket, `None` for the service root.
    pub bucket: Option<String>,
    /// The object key, `None` for a bucket or the root.
    pub key: Option<String>,
}

/// Splits the path (and, with a configured `domain`, the Host header) into
/// bucket and key. Virtual-host style applies when the host is
/// `<bucket>.<domain>`; anything else is path style.
pub fn target(raw_path: &str, host: Option<&str>, domain: Option<&str>) -> S3Result<Target> {
    let path = decode(raw_path)?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let vhost_bucket = match (host, domain) {
        (Some(host), Some(domain)) => {
            let host = crate::headers::host_name(host);
            host.strip_suffix(domain)
                .and_then(|h| h.strip_suffix('.'))
                .filter(|b| !b.is_empty())
                .map(|b| b.to_ascii_lowercase())
        }
        _ => None,
    };
    if let Some(bucket) = vhost_bucket {
        let key = (!path.is_empty()).then(|| path.to_string());
        return Ok(Target {
            bucket: Some(bucket),
            key,
        });
    }
    if path.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
        });
    }
    match path.split_once('/') {
        None => Ok(Target {
            bucket: Some(path.to_string()),
            key: None,
        }),
        Some((bucket, "")) => Ok(Target {
            bucket: Some(bucket.to_string()),
            key: None,
        }),
        Some((bucket, key)) => Ok(Target {
            bucket: Some(bucket.to_string()),
            key: Some(key.to_string()),
        }),
    }
}

/// Whether a sub-resource names a bucket's or an object's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/<bucket>?<sub-resource>`.
    Bucket,
    /// `/<bucket>/<key>?<sub-resource>`.
    Object,
}

/// An S3 API kura deliberately does not implement.
#[derive(Debug, Clone, Copy)]
pub struct NotImplemented {
    /// Where the sub-resource applies.
    pub scope: Scope,
    /// The query parameter naming it.
    pub subresource: &'static str,
    /// Why kura leaves it out.
    pub reason: &'static str,
}

const fn ni(scope: Scope, subresource: &'static str, reason: &'static str) -> NotImplemented {
    NotImplemented {
        scope,
        subresource,
        reason,
    }
}

/// The one list of what kura recognises and refuses with 501
/// `NotImplemented` (rather than mistaking it for a listing or an upload).
pub const NOT_IMPLEMENTED: &[NotImplemented] = &[
    ni(
        Scope::Bucket,
        "accelerate",
        "one site: there is no acceleration endpoint",
    ),
    ni(
        Scope::Bucket,
        "analytics",
        "no storage-class analysis: one storage class",
    ),
    ni(
        Scope::Bucket,
        "encryption",
        "no server-side encryption configuration",
    ),
    ni(
        Scope::Bucket,
        "intelligent-tiering",
        "one storage class, no tiers",
    ),
    ni(Scope::Bucket, "inventory", "no inventory reports"),
    ni(Scope::Bucket, "logging", "access logs go to the server log"),
    ni(
        Scope::Bucket,
        "metrics",
        "no CloudWatch-style metrics configuration",
    ),
    ni(Scope::Bucket, "notification", "no event notifications yet"),
    ni(
        Scope::Bucket,
        "object-lock",
        "no object lock: retention covers recovery",
    ),
    ni(
        Scope::Bucket,
        "ownershipControls",
        "one owner per object: nothing to control",
    ),
    ni(
        Scope::Bucket,
        "policy",
        "permissions are per key (the admin API), not policies",
    ),
    ni(Scope::Bucket, "policyStatus", "no bucket policies"),
    ni(
        Scope::Bucket,
        "publicAccessBlock",
        "publishing is admin-only already",
    ),
    ni(Scope::Bucket, "replication", "no cross-site replication"),
    ni(Scope::Bucket, "requestPayment", "no billing"),
    ni(
        Scope::Bucket,
        "website",
        "no static website hosting; public URLs serve files",
    ),
    ni(Scope::Object, "retention", "no object lock retention"),
    ni(Scope::Object, "legal-hold", "no object lock legal holds"),
    ni(Scope::Object, "torrent", "no BitTorrent"),
    ni(
        Scope::Object,
        "restore",
        "one storage class: nothing is archived",
    ),
    ni(Scope::Object, "select", "no S3 Select queries"),
];

/// Refuses a request naming a sub-resource of [`NOT_IMPLEMENTED`].
fn refuse_not_implemented(scope: Scope, query: &Query) -> S3Result<()> {
    match NOT_IMPLEMENTED
        .iter()
        .find(|n| n.scope == scope && query.has(n.subresource))
    {
        Some(_) => Err(S3Error::new(S3ErrorCode::NotImplemented)),
        None => Ok(()),
    }
}

/// Routes a request to its operation.
pub fn route(method: &Method, target: Target, query: &Query) -> S3Result<Operation> {
    let Some(bucket) = target.bucket else {
        return match *method {
            Method::GET => Ok(Operation::ListBuckets {
                prefix: query.non_empty("prefix"),
                continuation_token: query.non_empty("continuation-token"),
                max_buckets: query.number("max-buckets")?,
            }),
            _ => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        };
    };
    // Every operation, not only CreateBucket: a name no bucket can have is
    // refused before it reaches storage (S3 answers 400 InvalidBucketName).
    crate::names::validate_bucket_name(&bucket)?;
    let Some(key) = target.key else {
        refuse_not_implemented(Scope::Bucket, query)?;
        return match *method {
            Method::GET if query.has("location") => Ok(Operation::GetBucketLocation { bucket }),
            Method::GET if query.has("versioning") => Ok(Operation::GetBucketVersioning { bucket }),
            Method::GET if query.has("acl") => Ok(Operation::GetBucketAcl { bucket }),
            Method::GET if query.has("cors") => Ok(Operation::GetBucketCors { bucket }),
            Method::PUT if query.has("cors") => Ok(Operation::PutBucketCors { bucket }),
            Method::DELETE if query.has("cors") => Ok(Operation::DeleteBucketCors { bucket }),
            Method::GET if query.has("tagging") => Ok(Operation::GetBucketTagging { bucket }),
            Method::PUT if query.has("tagging") => Ok(Operation::PutBucketTagging { bucket }),
            Method::DELETE if query.has("tagging") => Ok(Operation::DeleteBucketTagging { bucket }),
            Method::GET if query.has("lifecycle") => {
                Ok(Operation::GetBucketLifecycleConfiguration { bucket })
            }
            Method::PUT if query.has("lifecycle") => {
                Ok(Operation::PutBucketLifecycleConfiguration { bucket })
            }
            Method::DELETE if query.has("lifecycle") => {
                Ok(Operation::DeleteBucketLifecycleConfiguration { bucket })
            }
            Method::GET if query.has("changes") => Ok(Operation::ListChanges {
                bucket,
                params: ChangeParams::from_query(query)?,
            }),
            Method::GET if query.has("search") => Ok(Operation::SearchObjects {
                bucket,
                params: crate::search::SearchParams::from_query(query)?,
            }),
            Method::GET if query.has("uploads") => Ok(Operation::ListMultipartUploads {
                bucket,
                params: ListParams::from_query(query, ListKind::Uploads)?,
            }),
            Method::GET if query.has("versions") => Ok(Operation::ListObjectVersions {
                bucket,
                params: ListParams::from_query(query, ListKind::Versions)?,
            }),
            Method::GET if query.get("list-type") == Some("2") => Ok(Operation::ListObjectsV2 {
                bucket,
                params: ListParams::from_query(query, ListKind::Objects)?,
            }),
            Method::GET => Ok(Operation::ListObjects {
                bucket,
                params: ListParams::from_query(query, ListKind::Objects)?,
            }),
            Method::PUT if query.has("versioning") => Ok(Operation::PutBucketVersioning { bucket }),
            Method::PUT if query.has("acl") => Ok(Operation::PutBucketAcl { bucket }),
            Method::PUT => Ok(Operation::CreateBucket { bucket }),
            Method::HEAD => Ok(Operation::HeadBucket { bucket }),
            Method::DELETE => Ok(Operation::DeleteBucket { bucket }),
            Method::POST if query.has("delete") => Ok(Operation::DeleteObjects { bucket }),
            Method::POST => Ok(Operation::PostObject { bucket }),
            _ => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        };
    };
    refuse_not_implemented(Scope::Object, query)?;
    let version_id = query.non_empty("versionId");
    let upload_id = query.get_owned("uploadId");
    let part_number: Option<u32> = query.number("partNumber")?;
    if let Some(n) = part_number {
        if !(1..=10_000).contains(&n) {
            return Err(S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
    }
    match (method.clone(), upload_id, part_number) {
        (Method::PUT, Some(upload_id), Some(part_number)) => Ok(Operation::UploadPart {
            bucket,
            key,
            upload_id,
            part_number,
        }),
        (Method::PUT, None, _) if query.has("acl") => Ok(Operation::PutObjectAcl {
            bucket,
            key,
            version_id,
        }),
        (Method::PUT, None, _) if query.has("tagging") => Ok(Operation::PutObjectTagging {
            bucket,
            key,
            version_id,
        }),
        (Method::GET, None, _) if query.has("tagging") => Ok(Operation::GetObjectTagging {
            bucket,
            key,
            version_id,
        }),
        (Method::DELETE, None, _) if query.has("tagging") => Ok(Operation::DeleteObjectTagging {
            bucket,
            key,
            version_id,
        }),
        (Method::PUT, None, None) => Ok(Operation::PutObject { bucket, key }),
        (Method::GET, Some(upload_id), _) => Ok(Operation::ListParts {
            bucket,
            key,
            upload_id,
            params: PartListParams {
                part_number_marker: query.number("part-number-marker")?.unwrap_or(0),
                max_parts: query
                    .number::<usize>("max-parts")?
                    .unwrap_or(1000)
                    .min(1000),
            },
        }),
        (Method::GET, None, _) if query.has("acl") => Ok(Operation::GetObjectAcl {
            bucket,
            key,
            version_id,
        }),
        (Method::GET, None, _) if query.has("attributes") => Ok(Operation::GetObjectAttributes {
            bucket,
            key,
            version_id,
        }),
        (Method::GET, None, part_number) => Ok(Operation::GetObject {
            bucket,
            key,
            version_id,
            part_number,
        }),
        (Method::HEAD, None, part_number) => Ok(Operation::HeadObject {
            bucket,
            key,
            version_id,
            part_number,
        }),
        (Method::DELETE, Some(upload_id), _) => Ok(Operation::AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        }),
        (Method::DELETE, None, _) => Ok(Operation::DeleteObject {
            bucket,
            key,
            version_id,
        }),
        (Method::POST, None, _) if query.has("uploads") => {
            Ok(Operation::CreateMultipartUpload { bucket, key })
        }
        (Method::POST, Some(upload_id), _) => Ok(Operation::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        }),
        (Method::PUT, Some(_), None) => Err(S3Error::invalid_argument(
            "partNumber is required with uploadId",
        )),
        _ => Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    }
}

/// Promotes PutObject/UploadPart to their copy variants when the request has
/// `x-amz-copy-source` (the method and URL alone cannot tell them apart).
pub fn with_copy_source(op: Operation, has_copy_source: bool) -> Operation {
    match (op, has_copy_source) {
        (Operation::PutObject { bucket, key }, true) => Operation::CopyObject { bucket, key },
        (
            Operation::UploadPart {
                bucket,
                key,
                upload_id,
                part_number,
            },
            true,
        ) => Operation::UploadPartCopy {
            bucket,
            key,
            upload_id,
            part_number,
        },
        (op, _) => op,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, path: &str, query: &str) -> S3Result<Operation> {
        let t = target(path, Some("localhost:9000"), None)?;
        route(&method, t, &Query::parse(query)?)
    }

    #[test]
    fn path_style_targets() {
        assert_eq!(
            target("/", None, None).unwrap(),
            Target {
                bucket: None,
                key: None
            }
        );
        assert_eq!(
            target("/b", None, None).unwrap(),
            Target {
                bucket: Some("b".into()),
                key: None
            }
        );
        assert_eq!(
            target("/b/", None, None).unwrap(),
            Target {
                bucket: Some("b".into()),
                key: None
            }
        );
        assert_eq!(
            target("/b/a%20b/c%2Bd+e//", None, None).unwrap(),
            Target {
                bucket: Some("b".into()),
                key: Some("a b/c+d+e//".into())
            }
        );
        assert_eq!(
            target("/b/%E6%97%A5%E6%9C%AC", None, None)
                .unwrap()
                .key
                .unwrap(),
            "日本"
        );
        assert!(target("/b/%FF", None, None).is_err());
    }

    #[test]
    fn virtual_host_targets() {
        let t = target(
            "/k/x",
            Some("bkt.s3.example.com:9000"),
            Some("s3.example.com"),
        )
        .unwrap();
        assert_eq!(
            t,
            Target {
                bucket: Some("bkt".into()),
                key: Some("k/x".into())
            }
        );
        let t = target("/bkt/k", Some("s3.example.com"), Some("s3.example.com")).unwrap();
        assert_eq!(
            t,
            Target {
                bucket: Some("bkt".into()),
                key: Some("k".into())
            }
        );
        let t = target("/", Some("bkt.s3.example.com"), Some("s3.example.com")).unwrap();
        assert_eq!(
            t,
            Target {
                bucket: Some("bkt".into()),
                key: None
            }
        );
        let t = target("/b/k", Some("[::1]:9000"), Some("s3.example.com")).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("b"));
    }

    #[test]
    fn routes_the_change_feed() {
        assert_eq!(
            op(Method::GET, "/bkt", "changes").unwrap(),
            Operation::ListChanges {
                bucket: "bkt".into(),
                params: ChangeParams {
                    max_items: 1000,
                    ..Default::default()
                }
            }
        );
        assert_eq!(
            op(
                Method::GET,
                "/bkt",
                "changes&after=42&prefix=a%2F&max-items=99999&wait=600&since=2026-01-01T00%3A00%3A00Z"
            )
            .unwrap(),
            Operation::ListChanges {
                bucket: "bkt".into(),
                params: ChangeParams {
                    after: Some(42),
                    since: Some("2026-01-01T00:00:00Z".into()),
                    prefix: "a/".into(),
                    max_items: MAX_CHANGE_ITEMS,
                    wait_secs: MAX_CHANGE_WAIT_SECS,
                }
            }
        );
        assert!(op(Method::GET, "/bkt", "changes&after=x").is_err());
        assert!(op(Method::GET, "/bkt", "changes&max-items=0").is_err());
        assert!(op(Method::GET, "/bkt", "changes&wait=-1").is_err());
    }

    #[test]
    fn routes_operations() {
        assert!(matches!(
            op(Method::GET, "/", "").unwrap(),
            Operation::ListBuckets { .. }
        ));
        assert!(matches!(
            op(Method::PUT, "/bkt", "").unwrap(),
            Operation::CreateBucket { .. }
        ));
        assert!(matches!(
            op(Method::GET, "/bkt", "location").unwrap(),
            Operation::GetBucketLocation { .. }
        ));
        assert!(matches!(
            op(Method::GET, "/bkt", "list-type=2&prefix=a").unwrap(),
            Operation::ListObjectsV2 { .. }
        ));
        assert!(matches!(
            op(Method::GET, "/bkt", "").unwrap(),
            Operation::ListObjects { .. }
        ));
        assert!(matches!(
            op(Method::POST, "/bkt", "delete").unwrap(),
            Operation::DeleteObjects { .. }
        ));
        assert!(matches!(
            op(Method::PUT, "/bkt/k", "").unwrap(),
            Operation::PutObject { .. }
        ));
        assert!(matches!(
            op(Method::PUT, "/bkt/k", "partNumber=3&uploadId=u").unwrap(),
            Operation::UploadPart { part_number: 3, .. }
        ));
        assert!(matches!(
            op(Method::POST, "/bkt/k", "uploads").unwrap(),
            Operation::CreateMultipartUpload { .. }
        ));
        assert!(matches!(
            op(Method::POST, "/bkt/k", "uploadId=u").unwrap(),
            Operation::CompleteMultipartUpload { .. }
        ));
        assert!(matches!(
            op(Method::DELETE, "/bkt/k", "uploadId=u").unwrap(),
            Operation::AbortMultipartUpload { .. }
        ));
        assert!(matches!(
            op(Method::GET, "/bkt/k", "uploadId=u").unwrap(),
            Operation::ListParts { .. }
        ));
        assert_eq!(
            op(Method::GET, "/bkt/k", "versionId=v1").unwrap(),
            Operation::GetObject {
                bucket: "bkt".into(),
                key: "k".into(),
                version_id: Some("v1".into()),
                part_number: None
            }
        );
        assert_eq!(
            op(Method::GET, "/bkt", "inventory").unwrap_err().code,
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            op(Method::PATCH, "/bkt/k", "").unwrap_err().code,
            S3ErrorCode::MethodNotAllowed
        );
        assert_eq!(
            op(Method::GET, "/bkt/k", "partNumber=0").unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            op(Method::GET, "/bkt", "list-type=2&max-keys=x")
                .unwrap_err()
                .code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn invalid_bucket_names_are_refused_for_every_operation() {
        let long = format!("/abc{}", "x".repeat(256));
        for (method, path, query) in [
            (Method::GET, format!("{long}/k"), ""),
            (Method::PUT, format!("{long}/k"), ""),
            (Method::DELETE, format!("{long}/k"), "versionId=1"),
            (Method::GET, long.clone(), "list-type=2"),
            (Method::POST, long.clone(), "delete"),
            (Method::HEAD, "/Bad_Name".to_string(), ""),
            (Method::GET, "/ab/k".to_string(), ""),
        ] {
            assert_eq!(
                op(method, &path, query).unwrap_err().code,
                S3ErrorCode::InvalidBucketName,
                "{path}"
            );
        }
        assert!(op(Method::GET, &format!("/{}/k", "a".repeat(63)), "").is_ok());
    }

    #[test]
    fn list_params() {
        let Operation::ListObjectsV2 { params, .. } = op(
            Method::GET,
            "/bkt",
            "list-type=2&prefix=a%2Bb&delimiter=%2F&max-keys=5000&encoding-type=url&start-after=x",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(params.prefix, "a+b");
        assert_eq!(params.delimiter.as_deref(), Some("/"));
        assert_eq!(params.max_keys, 1000);
        assert!(params.encoding_url);
        assert_eq!(params.start_after.as_deref(), Some("x"));
    }

    /// Every entry of the not-implemented list answers 501, whatever the
    /// method, and nothing else routes there.
    #[test]
    fn not_implemented_list_answers_501() {
        for n in NOT_IMPLEMENTED {
            assert!(!n.reason.is_empty());
            let path = match n.scope {
                Scope::Bucket => "/bkt",
                Scope::Object => "/bkt/k",
            };
            for method in [Method::GET, Method::PUT, Method::DELETE] {
                let e = op(method.clone(), path, n.subresource).unwrap_err();
                assert_eq!(
                    e.code,
                    S3ErrorCode::NotImplemented,
                    "{method} {path}?{}",
                    n.subresource
                );
            }
        }
    }

    #[test]
    fn table_names_are_unique() {
        let mut names = Operation::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::NAMES.len());
        let get = op(Method::GET, "/bkt/k", "").unwrap();
        assert_eq!(
            (get.name(), get.bucket(), get.key()),
            ("GetObject", Some("bkt"), Some("k"))
        );
        assert_eq!(get.access(), Access::Read);
    }

    #[test]
    fn copy_source_promotes() {
        let put = Operation::PutObject {
            bucket: "b".into(),
            key: "k".into(),
        };
        assert!(matches!(
            with_copy_source(put, true),
            Operation::CopyObject { .. }
        ));
    }
}
