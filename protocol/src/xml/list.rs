//! ListObjects (V1) and ListObjectsV2 response bodies.

use super::common::Owner;
use super::url_encode;
use super::writer::XmlWriter;
use time::OffsetDateTime;

/// One object in a listing (`<Contents>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Object key (URL-encoded by the caller under `encoding-type=url`).
    pub key: String,
    /// Last modification time.
    pub last_modified: OffsetDateTime,
    /// ETag, already quoted (`"abc..."`).
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Storage class, `STANDARD` in kura.
    pub storage_class: String,
    /// Owner, emitted only when present (V2 needs `fetch-owner=true`; V1
    /// always includes it).
    pub owner: Option<Owner>,
    /// Additional checksum algorithm (`CRC32`, `SHA256`, ...), if any.
    pub checksum_algorithm: Option<String>,
}

impl ObjectEntry {
    fn write(&self, w: &mut XmlWriter) {
        w.open("Contents");
        w.text("Key", &self.key);
        w.timestamp("LastModified", self.last_modified);
        w.text("ETag", &self.etag);
        w.opt_text("ChecksumAlgorithm", self.checksum_algorithm.as_deref());
        w.value("Size", self.size);
        if let Some(o) = &self.owner {
            o.write(w, "Owner");
        }
        w.text("StorageClass", &self.storage_class);
        w.close("Contents");
    }
}

/// The ListObjectsV2 (`GET /bucket?list-type=2`) response body.
///
/// Under `encoding-type=url`, S3 encodes `Prefix`, `Delimiter`,
/// `StartAfter`, each `Key` and each common prefix; see
/// [`ListBucketResultV2::url_encode_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListBucketResultV2 {
    /// Bucket name.
    pub name: String,
    /// The requested prefix (always emitted, empty when none).
    pub prefix: String,
    /// The requested delimiter.
    pub delimiter: Option<String>,
    /// The effective `max-keys`.
    pub max_keys: usize,
    /// Number of keys and common prefixes returned.
    pub key_count: usize,
    /// Whether more results follow.
    pub is_truncated: bool,
    /// The `continuation-token` the request carried, echoed back.
    pub continuation_token: Option<String>,
    /// Token for the next page; present when truncated.
    pub next_continuation_token: Option<String>,
    /// The `start-after` the request carried, echoed back.
    pub start_after: Option<String>,
    /// `url` when the request asked for `encoding-type=url`.
    pub encoding_type: Option<String>,
    /// The objects.
    pub contents: Vec<ObjectEntry>,
    /// The rolled-up common prefixes.
    pub common_prefixes: Vec<String>,
}

impl ListBucketResultV2 {
    /// Renders the `<ListBucketResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ListBucketResult");
        w.text("Name", &self.name);
        w.text("Prefix", &self.prefix);
        w.opt_text("ContinuationToken", self.continuation_token.as_deref());
        w.opt_text(
            "NextContinuationToken",
            self.next_continuation_token.as_deref(),
        );
        w.value("KeyCount", self.key_count);
        w.value("MaxKeys", self.max_keys);
        w.opt_text("StartAfter", self.start_after.as_deref());
        w.opt_text("Delimiter", self.delimiter.as_deref());
        w.opt_text("EncodingType", self.encoding_type.as_deref());
        w.boolean("IsTruncated", self.is_truncated);
        for c in &self.contents {
            c.write(&mut w);
        }
        w.common_prefixes(&self.common_prefixes);
        w.finish()
    }

    /// Applies [`url_encode`] to exactly the fields S3 encodes under
    /// `encoding-type=url`, and sets `encoding_type` to `url`. Call once.
    pub fn url_encode_fields(&mut self) {
        self.encoding_type = Some("url".to_string());
        self.prefix = url_encode(&self.prefix);
        encode_opt(&mut self.delimiter);
        encode_opt(&mut self.start_after);
        encode_entries(&mut self.contents, &mut self.common_prefixes);
    }
}

/// The ListObjects V1 (`GET /bucket`) response body.
///
/// Under `encoding-type=url`, kura encodes `Delimiter`, `Marker`,
/// `NextMarker`, each `Key` and each common prefix, but not `Prefix`:
/// S3's documentation lists `Prefix` too, but botocore (which sets
/// `encoding-type=url` on every v1 listing by itself) does not decode it, so
/// a prefix like `"\n"` would reach the caller as `%0A`. See
/// [`ListBucketResultV1::url_encode_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListBucketResultV1 {
    /// Bucket name.
    pub name: String,
    /// The requested prefix (always emitted, empty when none).
    pub prefix: String,
    /// The requested marker (always emitted, empty when none).
    pub marker: String,
    /// Where the next page starts; S3 sends it only when truncated and a
    /// delimiter was given, but clients accept it whenever present.
    pub next_marker: Option<String>,
    /// The requested delimiter.
    pub delimiter: Option<String>,
    /// The effective `max-keys`.
    pub max_keys: usize,
    /// Whether more results follow.
    pub is_truncated: bool,
    /// `url` when the request asked for `encoding-type=url`.
    pub encoding_type: Option<String>,
    /// The objects.
    pub contents: Vec<ObjectEntry>,
    /// The rolled-up common prefixes.
    pub common_prefixes: Vec<String>,
}

impl ListBucketResultV1 {
    /// Renders the `<ListBucketResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ListBucketResult");
        w.text("Name", &self.name);
        w.text("Prefix", &self.prefix);
        w.text("Marker", &self.marker);
        w.opt_text("NextMarker", self.next_marker.as_deref());
        w.value("MaxKeys", self.max_keys);
        w.opt_text("Delimiter", self.delimiter.as_deref());
        w.opt_text("EncodingType", self.encoding_type.as_deref());
        w.boolean("IsTruncated", self.is_truncated);
        for c in &self.contents {
            c.write(&mut w);
        }
        w.common_prefixes(&self.common_prefixes);
        w.finish()
    }

    /// Applies [`url_encode`] to exactly the fields S3 encodes under
    /// `encoding-type=url`, and sets `encoding_type` to `url`. Call once.
    pub fn url_encode_fields(&mut self) {
        self.encoding_type = Some("url".to_string());
        self.marker = url_encode(&self.marker);
        encode_opt(&mut self.next_marker);
        encode_opt(&mut self.delimiter);
        encode_entries(&mut self.contents, &mut self.common_prefixes);
    }
}

/// URL-encodes an optional field in place.
pub(crate) fn encode_opt(v: &mut Option<String>) {
    if let Some(s) = v {
        *s = url_encode(s);
    }
}

/// URL-encodes common prefixes in place.
pub(crate) fn encode_prefixes(prefixes: &mut [String]) {
    for p in prefixes {
        *p = url_encode(p);
    }
}

fn encode_entries(contents: &mut [ObjectEntry], prefixes: &mut [String]) {
    for c in contents {
        c.key = url_encode(&c.key);
    }
    encode_prefixes(prefixes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";

    fn entry(key: &str) -> ObjectEntry {
        ObjectEntry {
            key: key.into(),
            last_modified: datetime!(2009-10-12 17:50:30 UTC),
            etag: "\"fba9dede5f27731c9771645a39863328\"".into(),
            size: 434234,
            storage_class: "STANDARD".into(),
            owner: None,
            checksum_algorithm: None,
        }
    }

    fn v2() -> ListBucketResultV2 {
        ListBucketResultV2 {
            name: "bucket".into(),
            prefix: "photos/".into(),
            delimiter: Some("/".into()),
            max_keys: 1000,
            key_count: 2,
            is_truncated: false,
            continuation_token: None,
            next_continuation_token: None,
            start_after: None,
            encoding_type: None,
            contents: vec![entry("photos/my-image.jpg")],
            common_prefixes: vec!["photos/2006/".into()],
        }
    }

    #[test]
    fn v2_golden() {
        let expected = format!(
            "{HEAD}<Name>bucket</Name><Prefix>photos/</Prefix><KeyCount>2</KeyCount>\
             <MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>\
             <Contents><Key>photos/my-image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>\
             <StorageClass>STANDARD</StorageClass></Contents>\
             <CommonPrefixes><Prefix>photos/2006/</Prefix></CommonPrefixes></ListBucketResult>"
        );
        assert_eq!(v2().to_xml(), expected);
    }

    #[test]
    fn v2_golden_all_optionals() {
        let mut r = v2();
        r.prefix = String::new();
        r.delimiter = None;
        r.is_truncated = true;
        r.continuation_token = Some("c1".into());
        r.next_continuation_token = Some("c2".into());
        r.start_after = Some("a".into());
        r.encoding_type = Some("url".into());
        r.common_prefixes.clear();
        r.contents[0].owner = Some(Owner {
            id: "id1".into(),
            display_name: "me".into(),
        });
        r.contents[0].checksum_algorithm = Some("CRC32".into());
        let expected = format!(
            "{HEAD}<Name>bucket</Name><Prefix></Prefix><ContinuationToken>c1</ContinuationToken>\
             <NextContinuationToken>c2</NextContinuationToken><KeyCount>2</KeyCount>\
             <MaxKeys>1000</MaxKeys><StartAfter>a</StartAfter><EncodingType>url</EncodingType>\
             <IsTruncated>true</IsTruncated>\
             <Contents><Key>photos/my-image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\
             <Size>434234</Size><Owner><ID>id1</ID><DisplayName>me</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
        );
        assert_eq!(r.to_xml(), expected);
    }

    #[test]
    fn awkward_keys_are_escaped() {
        let mut r = v2();
        r.contents = vec![
            entry("a&b<c>d\"e'f"),
            entry("line\nbreak"),
            entry("日本/ü ñ"),
        ];
        let xml = r.to_xml();
        assert!(
            xml.contains("<Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key>"),
            "{xml}"
        );
        assert!(xml.contains("<Key>line&#xA;break</Key>"), "{xml}");
        assert!(xml.contains("<Key>日本/ü ñ</Key>"), "{xml}");
    }

    #[test]
    fn v2_round_trips_through_serde() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Doc {
            name: String,
            prefix: String,
            key_count: usize,
            is_truncated: bool,
            #[serde(default)]
            contents: Vec<DocEntry>,
            #[serde(default)]
            common_prefixes: Vec<DocPrefix>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct DocEntry {
            key: String,
            #[serde(rename = "ETag")]
            etag: String,
            size: u64,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct DocPrefix {
            prefix: String,
        }
        let mut r = v2();
        r.contents.push(entry("x&y\n\"z\" ü"));
        let doc: Doc = quick_xml::de::from_str(&r.to_xml()).unwrap();
        assert_eq!(doc.name, "bucket");
        assert_eq!(doc.prefix, "photos/");
        assert_eq!(doc.key_count, 2);
        assert!(!doc.is_truncated);
        assert_eq!(doc.contents.len(), 2);
        assert_eq!(doc.contents[1].key, "x&y\n\"z\" ü");
        assert_eq!(doc.contents[1].etag, "\"fba9dede5f27731c9771645a39863328\"");
        assert_eq!(doc.contents[1].size, 434234);
        assert_eq!(doc.common_prefixes[0].prefix, "photos/2006/");
    }

    #[test]
    fn v2_url_encoding_touches_only_s3_fields() {
        let mut r = v2();
        r.prefix = "a b/".into();
        r.start_after = Some("a b/c+d".into());
        r.continuation_token = Some("tok+en=".into());
        r.contents = vec![entry("a b/c+d%")];
        r.common_prefixes = vec!["a b/ü/".into()];
        r.url_encode_fields();
        assert_eq!(r.encoding_type.as_deref(), Some("url"));
        assert_eq!(r.prefix, "a%20b/");
        assert_eq!(r.delimiter.as_deref(), Some("/"));
        assert_eq!(r.start_after.as_deref(), Some("a%20b/c%2Bd"));
        assert_eq!(r.continuation_token.as_deref(), Some("tok+en="));
        assert_eq!(r.contents[0].key, "a%20b/c%2Bd%25");
        assert_eq!(r.common_prefixes, vec!["a%20b/%C3%BC/".to_string()]);
    }

    #[test]
    fn v1_golden_and_url_encoding() {
        let mut r = ListBucketResultV1 {
            name: "bucket".into(),
            prefix: String::new(),
            marker: String::new(),
            next_marker: Some("n".into()),
            delimiter: None,
            max_keys: 2,
            is_truncated: true,
            encoding_type: None,
            contents: vec![entry("k")],
            common_prefixes: vec![],
        };
        r.contents[0].owner = Some(Owner {
            id: "id1".into(),
            display_name: "me".into(),
        });
        let expected = format!(
            "{HEAD}<Name>bucket</Name><Prefix></Prefix><Marker></Marker><NextMarker>n</NextMarker>\
             <MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>\
             <Contents><Key>k</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>\
             <Owner><ID>id1</ID><DisplayName>me</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
        );
        assert_eq!(r.to_xml(), expected);

        r.prefix = "\n".into();
        r.marker = "m +".into();
        r.next_marker = Some("n +".into());
        r.delimiter = Some("+".into());
        r.url_encode_fields();
        assert_eq!(r.prefix, "\n", "botocore does not decode a v1 Prefix");
        assert_eq!(r.marker, "m%20%2B");
        assert_eq!(r.next_marker.as_deref(), Some("n%20%2B"));
        assert_eq!(r.delimiter.as_deref(), Some("%2B"));
        assert!(r
            .to_xml()
            .contains("<EncodingType>url</EncodingType><IsTruncated>"));
    }
}

/// One object of a search answer (`GET /{bucket}?search`, a kura
/// extension): a listing's `<Contents>` plus the object's tags and user
/// metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchEntry {
    /// The object as a listing shows it.
    pub object: ObjectEntry,
    /// Tags, in their stored order.
    pub tags: Vec<(String, String)>,
    /// User metadata: (name without `x-amz-meta-`, value).
    pub user_metadata: Vec<(String, String)>,
}

/// The answer of a search: a `<ListBucketResult>` as ListObjectsV2 shapes
/// it, each `<Contents>` carrying `<Tags>` (`<Tag><Key/><Value/></Tag>`, as
/// GetObjectTagging) and `<UserMetadata>` (`<Entry><Key/><Value/></Entry>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// Bucket name.
    pub name: String,
    /// The effective `max-keys`.
    pub max_keys: usize,
    /// Whether more results may follow.
    pub is_truncated: bool,
    /// The `continuation-token` the request carried.
    pub continuation_token: Option<String>,
    /// Token for the next page.
    pub next_continuation_token: Option<String>,
    /// The matching objects.
    pub contents: Vec<SearchEntry>,
}

impl SearchResult {
    /// Renders the `<ListBucketResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ListBucketResult");
        w.text("Name", &self.name);
        w.opt_text("ContinuationToken", self.continuation_token.as_deref());
        w.opt_text(
            "NextContinuationToken",
            self.next_continuation_token.as_deref(),
        );
        w.value("KeyCount", self.contents.len());
        w.value("MaxKeys", self.max_keys);
        w.boolean("IsTruncated", self.is_truncated);
        for c in &self.contents {
            let o = &c.object;
            w.open("Contents");
            w.text("Key", &o.key);
            w.timestamp("LastModified", o.last_modified);
            w.text("ETag", &o.etag);
            w.value("Size", o.size);
            w.text("StorageClass", &o.storage_class);
            w.open("Tags");
            for (k, v) in &c.tags {
                w.open("Tag");
                w.text("Key", k);
                w.text("Value", v);
                w.close("Tag");
            }
            w.close("Tags");
            w.open("UserMetadata");
            for (k, v) in &c.user_metadata {
                w.open("Entry");
                w.text("Key", k);
                w.text("Value", v);
                w.close("Entry");
            }
            w.close("UserMetadata");
            w.close("Contents");
        }
        w.finish()
    }
}
