//! CopyObject and UploadPartCopy response bodies.

use super::common::Checksums;
use super::writer::XmlWriter;
use time::OffsetDateTime;

/// The CopyObject response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyObjectResult {
    /// ETag of the new object, already quoted.
    pub etag: String,
    /// Modification time of the new object.
    pub last_modified: OffsetDateTime,
    /// Additional checksums of the new object, emitted when present.
    pub checksums: Checksums,
}

impl CopyObjectResult {
    /// Renders the `<CopyObjectResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("CopyObjectResult");
        w.timestamp("LastModified", self.last_modified);
        w.text("ETag", &self.etag);
        self.checksums.write_type(&mut w);
        self.checksums.write_values(&mut w);
        w.finish()
    }
}

/// The UploadPartCopy response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyPartResult {
    /// ETag of the new part, already quoted.
    pub etag: String,
    /// Modification time of the new part.
    pub last_modified: OffsetDateTime,
}

impl CopyPartResult {
    /// Renders the `<CopyPartResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("CopyPartResult");
        w.timestamp("LastModified", self.last_modified);
        w.text("ETag", &self.etag);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn copy_object_golden() {
        let mut r = CopyObjectResult {
            etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
            last_modified: datetime!(2009-10-28 22:32:00 UTC),
            checksums: Checksums::default(),
        };
        assert_eq!(
            r.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LastModified>2009-10-28T22:32:00.000Z</LastModified>\
             <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyObjectResult>"
        );
        r.checksums.crc32 = Some("AAAAAA==".into());
        r.checksums.sha256 = Some("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".into());
        r.checksums.checksum_type = Some("FULL_OBJECT".into());
        assert!(r.to_xml().ends_with(
            "&quot;</ETag><ChecksumType>FULL_OBJECT</ChecksumType><ChecksumCRC32>AAAAAA==</ChecksumCRC32>\
             <ChecksumSHA256>n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=</ChecksumSHA256></CopyObjectResult>"
        ));
    }

    #[test]
    fn copy_part_golden() {
        let r = CopyPartResult {
            etag: "\"b\"".into(),
            last_modified: datetime!(2011-04-11 20:34:56.789 UTC),
        };
        assert_eq!(
            r.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <CopyPartResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LastModified>2011-04-11T20:34:56.789Z</LastModified>\
             <ETag>&quot;b&quot;</ETag></CopyPartResult>"
        );
    }
}
