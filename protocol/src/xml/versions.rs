//! ListObjectVersions (`GET /bucket?versions`) response body.

use super::common::Owner;
use super::list::{encode_opt, encode_prefixes};
use super::url_encode;
use super::writer::XmlWriter;
use time::OffsetDateTime;

/// One entry of a version listing: an object version or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionEntry {
    /// An object version (`<Version>`).
    Version {
        /// Object key.
        key: String,
        /// Version id (`null` for the unversioned version).
        version_id: String,
        /// Whether this is the key's current version.
        is_latest: bool,
        /// When this version was written.
        last_modified: OffsetDateTime,
        /// ETag, already quoted.
        etag: String,
        /// Size in bytes.
        size: u64,
        /// Storage class, `STANDARD` in kura.
        storage_class: String,
        /// Owner, emitted when present (S3 always sends it).
        owner: Option<Owner>,
    },
    /// A delete marker (`<DeleteMarker>`).
    DeleteMarker {
        /// Object key.
        key: String,
        /// Version id of the marker.
        version_id: String,
        /// Whether the marker is the key's current version.
        is_latest: bool,
        /// When the marker was created.
        last_modified: OffsetDateTime,
        /// Owner, emitted when present (S3 always sends it).
        owner: Option<Owner>,
    },
}

impl VersionEntry {
    /// The entry's key.
    pub fn key(&self) -> &str {
        match self {
            VersionEntry::Version { key, .. } | VersionEntry::DeleteMarker { key, .. } => key,
        }
    }

    fn key_mut(&mut self) -> &mut String {
        match self {
            VersionEntry::Version { key, .. } | VersionEntry::DeleteMarker { key, .. } => key,
        }
    }

    fn write(&self, w: &mut XmlWriter) {
        match self {
            VersionEntry::Version {
                key,
                version_id,
                is_latest,
                last_modified,
                etag,
                size,
                storage_class,
                owner,
            } => {
                w.open("Version");
                w.text("Key", key);
                w.text("VersionId", version_id);
                w.boolean("IsLatest", *is_latest);
                w.timestamp("LastModified", *last_modified);
                w.text("ETag", etag);
                w.value("Size", size);
                w.text("StorageClass", storage_class);
                if let Some(o) = owner {
                    o.write(w, "Owner");
                }
                w.close("Version");
            }
            VersionEntry::DeleteMarker {
                key,
                version_id,
                is_latest,
                last_modified,
                owner,
            } => {
                w.open("DeleteMarker");
                w.text("Key", key);
                w.text("VersionId", version_id);
                w.boolean("IsLatest", *is_latest);
                w.timestamp("LastModified", *last_modified);
                if let Some(o) = owner {
                    o.write(w, "Owner");
                }
                w.close("DeleteMarker");
            }
        }
    }
}

/// The ListObjectVersions response body (`<ListVersionsResult>`).
///
/// Under `encoding-type=url`, S3 encodes `Prefix`, `Delimiter`,
/// `KeyMarker`, `NextKeyMarker`, each `Key` and each common prefix; see
/// [`ListVersionsResult::url_encode_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListVersionsResult {
    /// Bucket name.
    pub name: String,
    /// The requested prefix (always emitted, empty when none).
    pub prefix: String,
    /// The requested `key-marker` (always emitted, empty when none).
    pub key_marker: String,
    /// The requested `version-id-marker` (always emitted, empty when none).
    pub version_id_marker: String,
    /// Key to continue from; present when truncated.
    pub next_key_marker: Option<String>,
    /// Version id to continue from; present when truncated.
    pub next_version_id_marker: Option<String>,
    /// The effective `max-keys`.
    pub max_keys: usize,
    /// The requested delimiter.
    pub delimiter: Option<String>,
    /// Whether more results follow.
    pub is_truncated: bool,
    /// `url` when the request asked for `encoding-type=url`.
    pub encoding_type: Option<String>,
    /// Versions and delete markers, emitted in the order given (S3 orders
    /// by key, then newest first).
    pub entries: Vec<VersionEntry>,
    /// The rolled-up common prefixes.
    pub common_prefixes: Vec<String>,
}

impl ListVersionsResult {
    /// Renders the `<ListVersionsResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ListVersionsResult");
        w.text("Name", &self.name);
        w.text("Prefix", &self.prefix);
        w.text("KeyMarker", &self.key_marker);
        w.text("VersionIdMarker", &self.version_id_marker);
        w.opt_text("NextKeyMarker", self.next_key_marker.as_deref());
        w.opt_text(
            "NextVersionIdMarker",
            self.next_version_id_marker.as_deref(),
        );
        w.value("MaxKeys", self.max_keys);
        w.opt_text("Delimiter", self.delimiter.as_deref());
        w.opt_text("EncodingType", self.encoding_type.as_deref());
        w.boolean("IsTruncated", self.is_truncated);
        for e in &self.entries {
            e.write(&mut w);
        }
        w.common_prefixes(&self.common_prefixes);
        w.finish()
    }

    /// Applies [`url_encode`] to exactly the fields S3 encodes under
    /// `encoding-type=url`, and sets `encoding_type` to `url`. Call once.
    pub fn url_encode_fields(&mut self) {
        self.encoding_type = Some("url".to_string());
        self.prefix = url_encode(&self.prefix);
        self.key_marker = url_encode(&self.key_marker);
        encode_opt(&mut self.next_key_marker);
        encode_opt(&mut self.delimiter);
        for e in &mut self.entries {
            let k = e.key_mut();
            *k = url_encode(k);
        }
        encode_prefixes(&mut self.common_prefixes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn owner() -> Option<Owner> {
        Some(Owner {
            id: "id1".into(),
            display_name: "me".into(),
        })
    }

    fn result() -> ListVersionsResult {
        ListVersionsResult {
            name: "bucket".into(),
            prefix: "my".into(),
            key_marker: String::new(),
            version_id_marker: String::new(),
            next_key_marker: None,
            next_version_id_marker: None,
            max_keys: 5,
            delimiter: None,
            is_truncated: false,
            encoding_type: None,
            entries: vec![
                VersionEntry::DeleteMarker {
                    key: "my-second-image.jpg".into(),
                    version_id: "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892".into(),
                    is_latest: true,
                    last_modified: datetime!(2009-11-12 17:50:30 UTC),
                    owner: owner(),
                },
                VersionEntry::Version {
                    key: "my-second-image.jpg".into(),
                    version_id: "null".into(),
                    is_latest: false,
                    last_modified: datetime!(2009-10-12 17:50:30 UTC),
                    etag: "\"fba9dede5f27731c9771645a39863328\"".into(),
                    size: 434234,
                    storage_class: "STANDARD".into(),
                    owner: owner(),
                },
            ],
            common_prefixes: vec![],
        }
    }

    #[test]
    fn golden_in_given_order() {
        let expected = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
            <ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <Name>bucket</Name><Prefix>my</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>\
            <MaxKeys>5</MaxKeys><IsTruncated>false</IsTruncated>\
            <DeleteMarker><Key>my-second-image.jpg</Key><VersionId>03jpff543dhffds434rfdsFDN943fdsFkdmqnh892</VersionId>\
            <IsLatest>true</IsLatest><LastModified>2009-11-12T17:50:30.000Z</LastModified>\
            <Owner><ID>id1</ID><DisplayName>me</DisplayName></Owner></DeleteMarker>\
            <Version><Key>my-second-image.jpg</Key><VersionId>null</VersionId><IsLatest>false</IsLatest>\
            <LastModified>2009-10-12T17:50:30.000Z</LastModified>\
            <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>\
            <StorageClass>STANDARD</StorageClass><Owner><ID>id1</ID><DisplayName>me</DisplayName></Owner>\
            </Version></ListVersionsResult>";
        assert_eq!(result().to_xml(), expected);
    }

    #[test]
    fn truncated_with_markers_and_prefixes() {
        let mut r = result();
        r.is_truncated = true;
        r.next_key_marker = Some("k".into());
        r.next_version_id_marker = Some("v".into());
        r.delimiter = Some("/".into());
        r.common_prefixes = vec!["my/dir/".into()];
        let xml = r.to_xml();
        assert!(xml.contains(
            "<VersionIdMarker></VersionIdMarker><NextKeyMarker>k</NextKeyMarker>\
             <NextVersionIdMarker>v</NextVersionIdMarker><MaxKeys>5</MaxKeys>\
             <Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
        ));
        assert!(xml.ends_with(
            "<CommonPrefixes><Prefix>my/dir/</Prefix></CommonPrefixes></ListVersionsResult>"
        ));
    }

    #[test]
    fn url_encoding_touches_only_s3_fields() {
        let mut r = result();
        r.key_marker = "a b".into();
        r.version_id_marker = "v+1".into();
        r.next_key_marker = Some("c+d".into());
        r.url_encode_fields();
        assert_eq!(r.key_marker, "a%20b");
        assert_eq!(r.version_id_marker, "v+1");
        assert_eq!(r.next_key_marker.as_deref(), Some("c%2Bd"));
        assert_eq!(r.entries[0].key(), "my-second-image.jpg");
        assert!(r.to_xml().contains("<EncodingType>url</EncodingType>"));
    }
}
