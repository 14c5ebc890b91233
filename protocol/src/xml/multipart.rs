//! CreateMultipartUpload and CompleteMultipartUpload bodies.

use super::common::Checksums;
use super::dom::{malformed, parse_document, Element};
use super::writer::XmlWriter;
use crate::error::S3Result;

/// Highest part number S3 allows; also the most parts one upload can have.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// The CreateMultipartUpload response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiateMultipartUploadResult {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// The new upload's id.
    pub upload_id: String,
}

impl InitiateMultipartUploadResult {
    /// Renders the `<InitiateMultipartUploadResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("InitiateMultipartUploadResult");
        w.text("Bucket", &self.bucket);
        w.text("Key", &self.key);
        w.text("UploadId", &self.upload_id);
        w.finish()
    }
}

/// One `<Part>` of a CompleteMultipartUpload request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompletedPart {
    /// Part number, 1..=10000.
    pub part_number: u32,
    /// ETag as the client sent it, whitespace-trimmed (clients send it with
    /// or without quotes; comparing is the caller's job).
    pub etag: String,
    /// `<ChecksumCRC32>`, if sent.
    pub checksum_crc32: Option<String>,
    /// `<ChecksumCRC32C>`, if sent.
    pub checksum_crc32c: Option<String>,
    /// `<ChecksumCRC64NVME>`, if sent.
    pub checksum_crc64nvme: Option<String>,
    /// `<ChecksumSHA1>`, if sent.
    pub checksum_sha1: Option<String>,
    /// `<ChecksumSHA256>`, if sent.
    pub checksum_sha256: Option<String>,
}

impl CompletedPart {
    fn from_element(el: &Element) -> S3Result<Self> {
        let part_number = el.required("PartNumber")?.number_u32()?;
        if !(1..=MAX_PART_NUMBER).contains(&part_number) {
            return Err(malformed());
        }
        let etag = el.required("ETag")?.token()?.to_owned();
        if etag.is_empty() {
            return Err(malformed());
        }
        Ok(CompletedPart {
            part_number,
            etag,
            checksum_crc32: el.opt_token("ChecksumCRC32")?,
            checksum_crc32c: el.opt_token("ChecksumCRC32C")?,
            checksum_crc64nvme: el.opt_token("ChecksumCRC64NVME")?,
            checksum_sha1: el.opt_token("ChecksumSHA1")?,
            checksum_sha256: el.opt_token("ChecksumSHA256")?,
        })
    }
}

/// The CompleteMultipartUpload request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompleteMultipartUpload {
    /// The parts, in the order the client listed them.
    pub parts: Vec<CompletedPart>,
}

impl CompleteMultipartUpload {
    /// Parses the body. `MalformedXML` when it is not well-formed, has no
    /// parts or more than 10,000, or a part lacks `ETag` or has a
    /// `PartNumber` outside 1..=10000. Ascending order (`InvalidPartOrder`)
    /// and matching ETags (`InvalidPart`) are for the caller to check.
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = parse_document(body, "CompleteMultipartUpload")?;
        let mut parts = Vec::new();
        for el in root.children_named("Part") {
            if parts.len() == MAX_PART_NUMBER as usize {
                return Err(malformed());
            }
            parts.push(CompletedPart::from_element(el)?);
        }
        if parts.is_empty() {
            return Err(malformed());
        }
        Ok(CompleteMultipartUpload { parts })
    }
}

/// The CompleteMultipartUpload response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteMultipartUploadResult {
    /// URL of the new object.
    pub location: String,
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// ETag of the new object (`"md5-of-md5s-N"`), already quoted.
    pub etag: String,
    /// Checksums of the whole object, emitted when present.
    pub checksums: Checksums,
}

impl CompleteMultipartUploadResult {
    /// Renders the `<CompleteMultipartUploadResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("CompleteMultipartUploadResult");
        w.text("Location", &self.location);
        w.text("Bucket", &self.bucket);
        w.text("Key", &self.key);
        w.text("ETag", &self.etag);
        self.checksums.write_values(&mut w);
        self.checksums.write_type(&mut w);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::S3ErrorCode;

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

    #[test]
    fn initiate_golden() {
        let r = InitiateMultipartUploadResult {
            bucket: "example-bucket".into(),
            key: "a&b/c d".into(),
            upload_id: "VXBsb2FkIElE".into(),
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{DECL}<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <Bucket>example-bucket</Bucket><Key>a&amp;b/c d</Key><UploadId>VXBsb2FkIElE</UploadId>\
                 </InitiateMultipartUploadResult>"
            )
        );
    }

    #[test]
    fn complete_result_golden() {
        let mut r = CompleteMultipartUploadResult {
            location: "http://localhost:9000/example-bucket/Example%20Object".into(),
            bucket: "example-bucket".into(),
            key: "Example Object".into(),
            etag: "\"3858f62230ac3c915f300c664312c11f-9\"".into(),
            checksums: Checksums::default(),
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{DECL}<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <Location>http://localhost:9000/example-bucket/Example%20Object</Location>\
                 <Bucket>example-bucket</Bucket><Key>Example Object</Key>\
                 <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>\
                 </CompleteMultipartUploadResult>"
            )
        );
        r.checksums.crc32c = Some("yZRlqg==-9".into());
        r.checksums.checksum_type = Some("COMPOSITE".into());
        assert!(r.to_xml().ends_with(
            "&quot;</ETag><ChecksumCRC32C>yZRlqg==-9</ChecksumCRC32C>\
             <ChecksumType>COMPOSITE</ChecksumType></CompleteMultipartUploadResult>"
        ));
    }

    #[test]
    fn complete_result_round_trips_through_serde() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Doc {
            key: String,
            #[serde(rename = "ETag")]
            etag: String,
        }
        let r = CompleteMultipartUploadResult {
            location: "l".into(),
            bucket: "b".into(),
            key: "k<'\n'>".into(),
            etag: "\"e-2\"".into(),
            checksums: Checksums::default(),
        };
        let doc: Doc = quick_xml::de::from_str(&r.to_xml()).unwrap();
        assert_eq!(doc.key, "k<'\n'>");
        assert_eq!(doc.etag, "\"e-2\"");
    }

    #[test]
    fn parse_complete() {
        let body = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Part><PartNumber>1</PartNumber><ETag>"a54357aff0632cce46d942af68356b38"</ETag></Part>
              <Part>
                <ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>
                <PartNumber>2</PartNumber>
                <ChecksumCRC32>AAAAAA==</ChecksumCRC32>
                <ChecksumSHA256>47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</ChecksumSHA256>
              </Part>
              <Part><PartNumber>10000</PartNumber><ETag>noquotes</ETag></Part>
            </CompleteMultipartUpload>"#;
        let c = CompleteMultipartUpload::parse(body).unwrap();
        assert_eq!(c.parts.len(), 3);
        assert_eq!(c.parts[0].part_number, 1);
        assert_eq!(c.parts[0].etag, "\"a54357aff0632cce46d942af68356b38\"");
        assert_eq!(c.parts[0].checksum_crc32, None);
        assert_eq!(c.parts[1].part_number, 2);
        assert_eq!(c.parts[1].etag, "\"0c78aef83f66abc1fa1e8477f296d394\"");
        assert_eq!(c.parts[1].checksum_crc32.as_deref(), Some("AAAAAA=="));
        assert_eq!(
            c.parts[1].checksum_sha256.as_deref(),
            Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        );
        assert_eq!(c.parts[2].part_number, 10000);
        assert_eq!(c.parts[2].etag, "noquotes");
    }

    #[test]
    fn parse_complete_rejects_bad_input() {
        let part = |n: &str| format!("<Part><PartNumber>{n}</PartNumber><ETag>\"e\"</ETag></Part>");
        let wrap =
            |inner: String| format!("<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>");
        for body in [
            String::new(),
            wrap(String::new()),
            wrap(part("0")),
            wrap(part("10001")),
            wrap(part("-1")),
            wrap(part("one")),
            wrap(part("")),
            wrap("<Part><PartNumber>1</PartNumber></Part>".into()),
            wrap("<Part><ETag>\"e\"</ETag></Part>".into()),
            wrap("<Part><PartNumber>1</PartNumber><ETag> </ETag></Part>".into()),
            wrap(
                "<Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>e</ETag></Part>"
                    .into(),
            ),
            format!("<CompleteMultipartUpload>{}", part("1")),
            format!("<Complete>{}</Complete>", part("1")),
        ] {
            let err = CompleteMultipartUpload::parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{body}");
        }
    }

    #[test]
    fn parse_complete_part_count_limit() {
        let parts = |n: u32| {
            let inner: String = (1..=n)
                .map(|i| format!("<Part><PartNumber>{i}</PartNumber><ETag>e</ETag></Part>"))
                .collect();
            format!("<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>")
        };
        let ok = CompleteMultipartUpload::parse(parts(10_000).as_bytes()).unwrap();
        assert_eq!(ok.parts.len(), 10_000);
        let mut over = parts(10_000);
        over.insert_str(
            "<CompleteMultipartUpload>".len(),
            "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>",
        );
        let err = CompleteMultipartUpload::parse(over.as_bytes()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
    }
}
