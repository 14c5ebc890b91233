//! Pieces shared by several bodies: owners and checksum values.

use super::dom::{malformed, Element};
use super::writer::XmlWriter;
use crate::error::S3Result;

/// A bucket or object owner (`<Owner>`, `<Initiator>`): canonical id and
/// display name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Owner {
    /// Canonical user id (`<ID>`).
    pub id: String,
    /// Display name (`<DisplayName>`).
    pub display_name: String,
}

impl Owner {
    /// Writes `<tag><ID>..</ID><DisplayName>..</DisplayName></tag>`.
    pub(crate) fn write(&self, w: &mut XmlWriter, tag: &str) {
        w.open(tag);
        w.text("ID", &self.id);
        w.text("DisplayName", &self.display_name);
        w.close(tag);
    }

    /// Reads an `<Owner>`-shaped element: `ID` required, `DisplayName`
    /// optional (AWS is retiring it, so clients may leave it out).
    pub(crate) fn from_element(el: &Element) -> S3Result<Self> {
        let id = el.required("ID")?.token()?.to_owned();
        if id.is_empty() {
            return Err(malformed());
        }
        let display_name = el.opt_token("DisplayName")?.unwrap_or_default();
        Ok(Owner { id, display_name })
    }
}

/// Additional checksums of an object or upload, base64 values as they
/// appear in the `x-amz-checksum-*` headers. Absent ones are not emitted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checksums {
    /// `<ChecksumCRC32>`.
    pub crc32: Option<String>,
    /// `<ChecksumCRC32C>`.
    pub crc32c: Option<String>,
    /// `<ChecksumCRC64NVME>`.
    pub crc64nvme: Option<String>,
    /// `<ChecksumSHA1>`.
    pub sha1: Option<String>,
    /// `<ChecksumSHA256>`.
    pub sha256: Option<String>,
    /// `<ChecksumType>`: `COMPOSITE` or `FULL_OBJECT`.
    pub checksum_type: Option<String>,
}

impl Checksums {
    /// Writes the present checksum values (not the type), in S3's order.
    pub fn write_values(&self, w: &mut XmlWriter) {
        w.opt_text("ChecksumCRC32", self.crc32.as_deref());
        w.opt_text("ChecksumCRC32C", self.crc32c.as_deref());
        w.opt_text("ChecksumCRC64NVME", self.crc64nvme.as_deref());
        w.opt_text("ChecksumSHA1", self.sha1.as_deref());
        w.opt_text("ChecksumSHA256", self.sha256.as_deref());
    }

    /// Writes `<ChecksumType>` if present.
    pub fn write_type(&self, w: &mut XmlWriter) {
        w.opt_text("ChecksumType", self.checksum_type.as_deref());
    }
}
