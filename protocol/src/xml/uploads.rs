//! ListParts and ListMultipartUploads response bodies.

use super::common::{Checksums, Owner};
use super::list::{encode_opt, encode_prefixes};
use super::url_encode;
use super::writer::XmlWriter;
use time::OffsetDateTime;

/// One uploaded part in a ListParts answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartEntry {
    /// Part number.
    pub part_number: u32,
    /// When the part was uploaded.
    pub last_modified: OffsetDateTime,
    /// ETag of the part, already quoted.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// The part's additional checksum, if it has one (type not emitted).
    pub checksums: Checksums,
}

/// The ListParts (`GET /bucket/key?uploadId=`) response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPartsResult {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// The upload's id.
    pub upload_id: String,
    /// The requested `part-number-marker` (0 when none; always emitted).
    pub part_number_marker: u32,
    /// Last part number listed; present when truncated.
    pub next_part_number_marker: Option<u32>,
    /// The effective `max-parts`.
    pub max_parts: usize,
    /// Whether more parts follow.
    pub is_truncated: bool,
    /// The parts, ascending by number.
    pub parts: Vec<PartEntry>,
    /// Who started the upload.
    pub initiator: Owner,
    /// Owner of the object-to-be.
    pub owner: Owner,
    /// Storage class, `STANDARD` in kura.
    pub storage_class: String,
    /// The upload's checksum algorithm and type (`ChecksumAlgorithm`,
    /// `ChecksumType`), when it was created with one.
    pub checksum: Option<(String, String)>,
}

impl ListPartsResult {
    /// Renders the `<ListPartsResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ListPartsResult");
        w.text("Bucket", &self.bucket);
        w.text("Key", &self.key);
        w.text("UploadId", &self.upload_id);
        self.initiator.write(&mut w, "Initiator");
        self.owner.write(&mut w, "Owner");
        w.text("StorageClass", &self.storage_class);
        if let Some((algorithm, kind)) = &self.checksum {
            w.text("ChecksumAlgorithm", algorithm);
            w.text("ChecksumType", kind);
        }
        w.value("PartNumberMarker", self.part_number_marker);
        if let Some(n) = self.next_part_number_marker {
            w.value("NextPartNumberMarker", n);
        }
        w.value("MaxParts", self.max_parts);
        w.boolean("IsTruncated", self.is_truncated);
        for p in &self.parts {
            w.open("Part");
            w.value("PartNumber", p.part_number);
            w.timestamp("LastModified", p.last_modified);
            w.text("ETag", &p.etag);
            w.value("Size", p.size);
            p.checksums.write_values(&mut w);
            w.close("Part");
        }
        w.finish()
    }
}

/// One in-progress upload in a ListMultipartUploads answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadEntry {
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// When the upload was started.
    pub initiated: OffsetDateTime,
    /// Who started it; emitted as both `<Initiator>` and `<Owner>`.
    pub owner: Owner,
    /// kura's extension `<KuraAbortDate>`: when the upload is discarded if
    /// not completed (S3 has no element for it; SDKs ignore unknown ones).
    pub abort_date: Option<OffsetDateTime>,
}

/// The ListMultipartUploads (`GET /bucket?uploads`) response body.
///
/// Under `encoding-type=url`, S3 encodes `Prefix`, `Delimiter`,
/// `KeyMarker`, `NextKeyMarker`, each `Key` and each common prefix; see
/// [`ListMultipartUploadsResult::url_encode_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMultipartUploadsResult {
    /// Bucket name.
    pub bucket: String,
    /// The requested `key-marker` (always emitted, empty when none).
    pub key_marker: String,
    /// The requested `upload-id-marker` (always emitted, empty when none).
    pub upload_id_marker: String,
    /// Key to continue from; present when truncated.
    pub next_key_marker: Option<String>,
    /// Upload id to continue from; present when truncated.
    pub next_upload_id_marker: Option<String>,
    /// The requested prefix (always emitted, empty when none).
    pub prefix: String,
    /// The requested delimiter.
    pub delimiter: Option<String>,
    /// The effective `max-uploads`.
    pub max_uploads: usize,
    /// Whether more uploads follow.
    pub is_truncated: bool,
    /// The uploads, by key then initiation time.
    pub uploads: Vec<UploadEntry>,
    /// The rolled-up common prefixes.
    pub common_prefixes: Vec<String>,
    /// `url` when the request asked for `encoding-type=url`.
    pub encoding_type: Option<String>,
}

impl ListMultipartUploadsResult {
    /// Renders the `<ListMultipartUploadsResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ListMultipartUploadsResult");
        w.text("Bucket", &self.bucket);
        w.text("KeyMarker", &self.key_marker);
        w.text("UploadIdMarker", &self.upload_id_marker);
        w.opt_text("NextKeyMarker", self.next_key_marker.as_deref());
        w.opt_text("NextUploadIdMarker", self.next_upload_id_marker.as_deref());
        w.opt_text("Delimiter", self.delimiter.as_deref());
        w.text("Prefix", &self.prefix);
        w.opt_text("EncodingType", self.encoding_type.as_deref());
        w.value("MaxUploads", self.max_uploads);
        w.boolean("IsTruncated", self.is_truncated);
        for u in &self.uploads {
            w.open("Upload");
            w.text("Key", &u.key);
            w.text("UploadId", &u.upload_id);
            u.owner.write(&mut w, "Initiator");
            u.owner.write(&mut w, "Owner");
            w.text("StorageClass", "STANDARD");
            w.timestamp("Initiated", u.initiated);
            if let Some(at) = u.abort_date {
                w.timestamp("KuraAbortDate", at);
            }
            w.close("Upload");
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
        for u in &mut self.uploads {
            u.key = url_encode(&u.key);
        }
        encode_prefixes(&mut self.common_prefixes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn owner() -> Owner {
        Owner {
            id: "id1".into(),
            display_name: "me".into(),
        }
    }

    #[test]
    fn list_parts_golden() {
        let mut r = ListPartsResult {
            bucket: "example-bucket".into(),
            key: "example-object".into(),
            upload_id: "XXBsb2FkIElE".into(),
            part_number_marker: 1,
            next_part_number_marker: Some(3),
            max_parts: 2,
            is_truncated: true,
            parts: vec![PartEntry {
                part_number: 2,
                last_modified: datetime!(2010-11-10 20:48:34 UTC),
                etag: "\"7778aef83f66abc1fa1e8477f296d394\"".into(),
                size: 10485760,
                checksums: Checksums::default(),
            }],
            initiator: owner(),
            owner: owner(),
            storage_class: "STANDARD".into(),
            checksum: None,
        };
        assert_eq!(
            r.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Bucket>example-bucket</Bucket><Key>example-object</Key><UploadId>XXBsb2FkIElE</UploadId>\
             <Initiator><ID>id1</ID><DisplayName>me</DisplayName></Initiator>\
             <Owner><ID>id1</ID><DisplayName>me</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass><PartNumberMarker>1</PartNumberMarker>\
             <NextPartNumberMarker>3</NextPartNumberMarker><MaxParts>2</MaxParts>\
             <IsTruncated>true</IsTruncated><Part><PartNumber>2</PartNumber>\
             <LastModified>2010-11-10T20:48:34.000Z</LastModified>\
             <ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag><Size>10485760</Size></Part>\
             </ListPartsResult>"
        );
        r.checksum = Some(("CRC32".into(), "COMPOSITE".into()));
        r.parts[0].checksums.crc32 = Some("yZRlqg==".into());
        let xml = r.to_xml();
        assert!(xml.contains(
            "<StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\
             <ChecksumType>COMPOSITE</ChecksumType><PartNumberMarker>"
        ));
        assert!(xml.contains("<Size>10485760</Size><ChecksumCRC32>yZRlqg==</ChecksumCRC32></Part>"));
    }

    fn uploads() -> ListMultipartUploadsResult {
        ListMultipartUploadsResult {
            bucket: "bucket".into(),
            key_marker: String::new(),
            upload_id_marker: String::new(),
            next_key_marker: None,
            next_upload_id_marker: None,
            prefix: String::new(),
            delimiter: Some("/".into()),
            max_uploads: 1000,
            is_truncated: false,
            uploads: vec![UploadEntry {
                key: "my divisor".into(),
                upload_id: "XMgbGlrZQ".into(),
                initiated: datetime!(2010-11-10 20:48:33 UTC),
                owner: owner(),
                abort_date: Some(datetime!(2010-11-11 20:48:33 UTC)),
            }],
            common_prefixes: vec!["photos/".into()],
            encoding_type: None,
        }
    }

    #[test]
    fn list_uploads_golden() {
        assert_eq!(
            uploads().to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
             <Delimiter>/</Delimiter><Prefix></Prefix><MaxUploads>1000</MaxUploads>\
             <IsTruncated>false</IsTruncated><Upload><Key>my divisor</Key><UploadId>XMgbGlrZQ</UploadId>\
             <Initiator><ID>id1</ID><DisplayName>me</DisplayName></Initiator>\
             <Owner><ID>id1</ID><DisplayName>me</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass><Initiated>2010-11-10T20:48:33.000Z</Initiated>\
             <KuraAbortDate>2010-11-11T20:48:33.000Z</KuraAbortDate></Upload>\
             <CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes></ListMultipartUploadsResult>"
        );
    }

    #[test]
    fn list_uploads_url_encoding() {
        let mut r = uploads();
        r.next_key_marker = Some("a b".into());
        r.next_upload_id_marker = Some("x+y".into());
        r.url_encode_fields();
        assert_eq!(r.uploads[0].key, "my%20divisor");
        assert_eq!(r.next_key_marker.as_deref(), Some("a%20b"));
        assert_eq!(r.next_upload_id_marker.as_deref(), Some("x+y"));
        assert!(r.to_xml().contains(
            "<NextKeyMarker>a%20b</NextKeyMarker><NextUploadIdMarker>x+y</NextUploadIdMarker>\
             <Delimiter>/</Delimiter><Prefix></Prefix><EncodingType>url</EncodingType>"
        ));
    }
}
