//! DeleteObjects (`POST /bucket?delete`) request and response bodies.

use super::dom::{malformed, parse_document};
use super::writer::XmlWriter;
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Most keys one DeleteObjects request may name.
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// One `<Object>` of a DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectIdentifier {
    /// The key, exactly as sent (surrounding whitespace is part of the key;
    /// an empty key is passed through for the caller to refuse per key).
    pub key: String,
    /// The version to delete, whitespace-trimmed; `None` for the current one.
    pub version_id: Option<String>,
}

/// The DeleteObjects request body (S3 calls the element `Delete`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// `<Quiet>true</Quiet>`: report only errors.
    pub quiet: bool,
    /// The objects to delete, in request order.
    pub objects: Vec<ObjectIdentifier>,
}

impl DeleteRequest {
    /// Parses the body. `MalformedXML` when it is not well-formed, names no
    /// object or more than [`MAX_DELETE_OBJECTS`], an object lacks `Key`, or
    /// `Quiet` is not a boolean. Conditional fields (`ETag`,
    /// `LastModifiedTime`, `Size`) are ignored.
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = parse_document(body, "Delete")?;
        let quiet = match root.child("Quiet")? {
            Some(q) => q.boolean()?,
            None => false,
        };
        let mut objects = Vec::new();
        for el in root.children_named("Object") {
            if objects.len() == MAX_DELETE_OBJECTS {
                return Err(malformed());
            }
            objects.push(ObjectIdentifier {
                key: el.required("Key")?.leaf_text()?.to_owned(),
                version_id: el.opt_token("VersionId")?,
            });
        }
        if objects.is_empty() {
            return Err(malformed());
        }
        Ok(DeleteRequest { quiet, objects })
    }
}

/// A successfully deleted object (`<Deleted>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedEntry {
    /// The key, as requested.
    pub key: String,
    /// The version id the request named, echoed back.
    pub version_id: Option<String>,
    /// Whether a delete marker was created or deleted; `false` is omitted.
    pub delete_marker: bool,
    /// Version id of the delete marker created or deleted.
    pub delete_marker_version_id: Option<String>,
}

/// An object that could not be deleted (`<Error>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteError {
    /// The key, as requested.
    pub key: String,
    /// The version id the request named.
    pub version_id: Option<String>,
    /// Why it failed.
    pub code: S3ErrorCode,
    /// Human-readable message.
    pub message: String,
}

impl DeleteError {
    /// The entry for `key` (and `version_id`) failing with `err`.
    pub fn new(key: impl Into<String>, version_id: Option<String>, err: &S3Error) -> Self {
        DeleteError {
            key: key.into(),
            version_id,
            code: err.code,
            message: err.message.clone(),
        }
    }
}

/// The DeleteObjects response body. In quiet mode the caller leaves
/// `deleted` empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteResult {
    /// Objects deleted (emitted first, in the order given).
    pub deleted: Vec<DeletedEntry>,
    /// Objects that failed (emitted after, in the order given).
    pub errors: Vec<DeleteError>,
}

impl DeleteResult {
    /// Renders the `<DeleteResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("DeleteResult");
        for d in &self.deleted {
            w.open("Deleted");
            w.text("Key", &d.key);
            w.opt_text("VersionId", d.version_id.as_deref());
            if d.delete_marker {
                w.boolean("DeleteMarker", true);
            }
            w.opt_text(
                "DeleteMarkerVersionId",
                d.delete_marker_version_id.as_deref(),
            );
            w.close("Deleted");
        }
        for e in &self.errors {
            w.open("Error");
            w.text("Key", &e.key);
            w.opt_text("VersionId", e.version_id.as_deref());
            w.text("Code", e.code.as_str());
            w.text("Message", &e.message);
            w.close("Error");
        }
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_delete() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
            <Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
              <Object><Key>sample1.txt</Key></Object>\
              <Object><Key> spaced &amp; &lt;odd&gt; &quot;k&quot; &apos;\xc3\xbc&#xA;</Key>\
                <VersionId> OYcLXagmS.WaD..oyH4KRguB95_YhLs7 </VersionId><ETag>\"x\"</ETag></Object>\
              <Quiet>true</Quiet>\
            </Delete>";
        let d = DeleteRequest::parse(body).unwrap();
        assert!(d.quiet);
        assert_eq!(d.objects.len(), 2);
        assert_eq!(
            d.objects[0],
            ObjectIdentifier {
                key: "sample1.txt".into(),
                version_id: None
            }
        );
        assert_eq!(d.objects[1].key, " spaced & <odd> \"k\" 'ü\n");
        assert_eq!(
            d.objects[1].version_id.as_deref(),
            Some("OYcLXagmS.WaD..oyH4KRguB95_YhLs7")
        );
        let d = DeleteRequest::parse(b"<Delete><Object><Key>k</Key></Object></Delete>").unwrap();
        assert!(!d.quiet);
    }

    #[test]
    fn parse_delete_rejects_bad_input() {
        for body in [
            &b""[..],
            b"<Delete></Delete>",
            b"<Delete><Quiet>true</Quiet></Delete>",
            b"<Delete><Object></Object></Delete>",
            b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",
            b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            b"<Delete><Object><Key><b/></Key></Object></Delete>",
            b"<Delete><Object><Key>a</Key></Object><Quiet>yes</Quiet></Delete>",
            b"<Delete><Object><Key>a</Key></Object>",
            b"<Delete><Object><Key>a&b</Key></Object></Delete>",
            b"<DeleteObjects><Object><Key>a</Key></Object></DeleteObjects>",
        ] {
            let err = DeleteRequest::parse(body).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::MalformedXML,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn parse_delete_count_limit() {
        let body = |n: usize| {
            let objs: String = (0..n)
                .map(|i| format!("<Object><Key>k{i}</Key></Object>"))
                .collect();
            format!("<Delete>{objs}</Delete>")
        };
        assert_eq!(
            DeleteRequest::parse(body(1000).as_bytes())
                .unwrap()
                .objects
                .len(),
            1000
        );
        let err = DeleteRequest::parse(body(1001).as_bytes()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
    }

    fn result() -> DeleteResult {
        DeleteResult {
            deleted: vec![
                DeletedEntry {
                    key: "sample1.txt".into(),
                    version_id: None,
                    delete_marker: false,
                    delete_marker_version_id: None,
                },
                DeletedEntry {
                    key: "a&b\n".into(),
                    version_id: None,
                    delete_marker: true,
                    delete_marker_version_id: Some("NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s".into()),
                },
            ],
            errors: vec![DeleteError::new(
                "sample2.txt",
                Some("v1".into()),
                &S3Error::new(S3ErrorCode::AccessDenied),
            )],
        }
    }

    #[test]
    fn delete_result_golden() {
        assert_eq!(
            result().to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Deleted><Key>sample1.txt</Key></Deleted>\
             <Deleted><Key>a&amp;b&#xA;</Key><DeleteMarker>true</DeleteMarker>\
             <DeleteMarkerVersionId>NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s</DeleteMarkerVersionId></Deleted>\
             <Error><Key>sample2.txt</Key><VersionId>v1</VersionId><Code>AccessDenied</Code>\
             <Message>Access Denied</Message></Error></DeleteResult>"
        );
        assert_eq!(
            DeleteResult::default().to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></DeleteResult>"
        );
    }

    #[test]
    fn delete_result_round_trips_through_serde() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Doc {
            #[serde(default)]
            deleted: Vec<DocDeleted>,
            #[serde(default, rename = "Error")]
            errors: Vec<DocError>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct DocDeleted {
            key: String,
            #[serde(default)]
            delete_marker: bool,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct DocError {
            key: String,
            code: String,
        }
        let doc: Doc = quick_xml::de::from_str(&result().to_xml()).unwrap();
        assert_eq!(doc.deleted.len(), 2);
        assert_eq!(doc.deleted[1].key, "a&b\n");
        assert!(doc.deleted[1].delete_marker);
        assert!(!doc.deleted[0].delete_marker);
        assert_eq!(doc.errors[0].key, "sample2.txt");
        assert_eq!(doc.errors[0].code, "AccessDenied");
    }
}
