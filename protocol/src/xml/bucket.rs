//! Bucket-level bodies: ListBuckets, GetBucketLocation, bucket versioning
//! and the CreateBucket configuration.

use super::common::Owner;
use super::dom::{malformed, parse_document};
use super::writer::{empty_document, text_document, XmlWriter};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use time::OffsetDateTime;

/// One bucket in a ListBuckets answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEntry {
    /// Bucket name.
    pub name: String,
    /// When the bucket was created.
    pub creation_date: OffsetDateTime,
}

/// The ListBuckets (`GET /`) response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAllMyBucketsResult {
    /// Owner of the buckets (the requester).
    pub owner: Owner,
    /// The buckets, in the order given (S3 sorts by name).
    pub buckets: Vec<BucketEntry>,
    /// Token for the next page, when the listing was cut by `max-buckets`.
    pub continuation_token: Option<String>,
    /// The `prefix` the listing was filtered by, echoed back.
    pub prefix: Option<String>,
}

impl ListAllMyBucketsResult {
    /// Renders the `<ListAllMyBucketsResult>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ListAllMyBucketsResult");
        self.owner.write(&mut w, "Owner");
        w.open("Buckets");
        for b in &self.buckets {
            w.open("Bucket");
            w.text("Name", &b.name);
            w.timestamp("CreationDate", b.creation_date);
            w.close("Bucket");
        }
        w.close("Buckets");
        w.opt_text("ContinuationToken", self.continuation_token.as_deref());
        w.opt_text("Prefix", self.prefix.as_deref());
        w.finish()
    }
}

/// The GetBucketLocation response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationConstraint {
    /// The bucket's region.
    pub region: String,
}

impl LocationConstraint {
    /// Renders `<LocationConstraint>region</LocationConstraint>`. For
    /// `us-east-1` (or an empty region) S3 answers an empty element, and
    /// clients map that back to `us-east-1`.
    pub fn to_xml(&self) -> String {
        if self.region.is_empty() || self.region == "us-east-1" {
            return empty_document("LocationConstraint");
        }
        text_document("LocationConstraint", &self.region)
    }
}

/// Bucket versioning state: the GetBucketVersioning response and the
/// PutBucketVersioning request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersioningConfiguration {
    /// `Enabled`, `Suspended`, or `None` for a bucket that never had
    /// versioning (S3 then answers an empty element).
    pub status: Option<String>,
}

impl VersioningConfiguration {
    /// Renders `<VersioningConfiguration>`; no status gives an empty root.
    pub fn to_xml(&self) -> String {
        match &self.status {
            None => empty_document("VersioningConfiguration"),
            Some(s) => {
                let mut w = XmlWriter::new("VersioningConfiguration");
                w.text("Status", s);
                w.finish()
            }
        }
    }

    /// Parses a PutBucketVersioning body.
    ///
    /// `Status` must be `Enabled` or `Suspended` if present (anything else is
    /// `MalformedXML`, as S3 answers). `MfaDelete` may be `Disabled`;
    /// `Enabled` is refused with `NotImplemented` because kura has no MFA.
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = parse_document(body, "VersioningConfiguration")?;
        let status = root.opt_token("Status")?;
        if let Some(s) = &status {
            if s != "Enabled" && s != "Suspended" {
                return Err(malformed());
            }
        }
        match root.opt_token("MfaDelete")?.as_deref() {
            None | Some("Disabled") => {}
            Some("Enabled") => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "MFA Delete is not supported.",
                ))
            }
            Some(_) => return Err(malformed()),
        }
        Ok(VersioningConfiguration { status })
    }
}

/// The optional CreateBucket request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateBucketConfiguration {
    /// The requested region; `None` when absent or empty (= `us-east-1`).
    pub location_constraint: Option<String>,
}

impl CreateBucketConfiguration {
    /// Parses a non-empty CreateBucket body (an empty body means "no
    /// configuration" and is the caller's to handle). Directory-bucket
    /// elements (`Location`, `Bucket`) are ignored.
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = parse_document(body, "CreateBucketConfiguration")?;
        let location_constraint = root
            .opt_token("LocationConstraint")?
            .filter(|s| !s.is_empty());
        Ok(CreateBucketConfiguration {
            location_constraint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

    fn owner() -> Owner {
        Owner {
            id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
            display_name: "kura".into(),
        }
    }

    #[test]
    fn list_all_my_buckets_golden() {
        let r = ListAllMyBucketsResult {
            owner: owner(),
            buckets: vec![
                BucketEntry {
                    name: "quotes".into(),
                    creation_date: datetime!(2006-02-03 16:45:09 UTC),
                },
                BucketEntry {
                    name: "samples".into(),
                    creation_date: datetime!(2006-02-03 16:41:58.5 UTC),
                },
            ],
            continuation_token: None,
            prefix: None,
        };
        let expected = format!(
            "{DECL}<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>kura</DisplayName></Owner><Buckets>\
             <Bucket><Name>quotes</Name><CreationDate>2006-02-03T16:45:09.000Z</CreationDate></Bucket>\
             <Bucket><Name>samples</Name><CreationDate>2006-02-03T16:41:58.500Z</CreationDate></Bucket>\
             </Buckets></ListAllMyBucketsResult>"
        );
        assert_eq!(r.to_xml(), expected);
    }

    #[test]
    fn list_all_my_buckets_empty_and_paged() {
        let r = ListAllMyBucketsResult {
            owner: owner(),
            buckets: vec![],
            continuation_token: Some("tok/en=".into()),
            prefix: Some("a&b".into()),
        };
        let xml = r.to_xml();
        assert!(xml.contains("<Buckets></Buckets><ContinuationToken>tok/en=</ContinuationToken><Prefix>a&amp;b</Prefix></ListAllMyBucketsResult>"), "{xml}");
    }

    #[test]
    fn list_all_my_buckets_round_trips_through_serde() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Doc {
            owner: DocOwner,
            buckets: DocBuckets,
        }
        #[derive(serde::Deserialize)]
        struct DocOwner {
            #[serde(rename = "ID")]
            id: String,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct DocBuckets {
            bucket: Vec<DocBucket>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct DocBucket {
            name: String,
            creation_date: String,
        }
        let r = ListAllMyBucketsResult {
            owner: owner(),
            buckets: vec![BucketEntry {
                name: "b<1>".into(),
                creation_date: datetime!(2020-01-01 0:00 UTC),
            }],
            continuation_token: None,
            prefix: None,
        };
        let doc: Doc = quick_xml::de::from_str(&r.to_xml()).unwrap();
        assert_eq!(doc.owner.id, owner().id);
        assert_eq!(doc.buckets.bucket[0].name, "b<1>");
        assert_eq!(
            doc.buckets.bucket[0].creation_date,
            "2020-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn location_constraint_golden() {
        let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
        let eu = LocationConstraint {
            region: "eu-west-1".into(),
        };
        assert_eq!(
            eu.to_xml(),
            format!("{DECL}<LocationConstraint {ns}>eu-west-1</LocationConstraint>")
        );
        let us = LocationConstraint {
            region: "us-east-1".into(),
        };
        assert_eq!(us.to_xml(), format!("{DECL}<LocationConstraint {ns}/>"));
    }

    #[test]
    fn versioning_golden_and_round_trip() {
        let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
        let never = VersioningConfiguration { status: None };
        assert_eq!(
            never.to_xml(),
            format!("{DECL}<VersioningConfiguration {ns}/>")
        );
        let on = VersioningConfiguration {
            status: Some("Enabled".into()),
        };
        assert_eq!(
            on.to_xml(),
            format!("{DECL}<VersioningConfiguration {ns}><Status>Enabled</Status></VersioningConfiguration>")
        );
        for v in [never, on] {
            assert_eq!(
                VersioningConfiguration::parse(v.to_xml().as_bytes()).unwrap(),
                v
            );
        }
    }

    #[test]
    fn versioning_parse() {
        let body = b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>";
        let v = VersioningConfiguration::parse(body).unwrap();
        assert_eq!(v.status.as_deref(), Some("Suspended"));

        let bad = |b: &[u8]| VersioningConfiguration::parse(b).unwrap_err().code;
        assert_eq!(
            bad(b"<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>"),
            S3ErrorCode::MalformedXML
        );
        assert_eq!(
            bad(b"<VersioningConfiguration><Status>Enabled</Status><Status>Enabled</Status></VersioningConfiguration>"),
            S3ErrorCode::MalformedXML
        );
        assert_eq!(bad(b"<Versioning/>"), S3ErrorCode::MalformedXML);
        assert_eq!(bad(b"<VersioningConfiguration>"), S3ErrorCode::MalformedXML);
        assert_eq!(
            bad(b"<VersioningConfiguration><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>"),
            S3ErrorCode::NotImplemented
        );
    }

    #[test]
    fn create_bucket_configuration_parse() {
        let body = b"<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <LocationConstraint>eu-central-1</LocationConstraint></CreateBucketConfiguration>";
        let c = CreateBucketConfiguration::parse(body).unwrap();
        assert_eq!(c.location_constraint.as_deref(), Some("eu-central-1"));
        let c = CreateBucketConfiguration::parse(b"<CreateBucketConfiguration/>").unwrap();
        assert_eq!(c.location_constraint, None);
        let c = CreateBucketConfiguration::parse(
            b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>",
        )
        .unwrap();
        assert_eq!(c.location_constraint, None);
        for bad in [
            &b""[..],
            b"<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint>",
            b"<LocationConstraint>eu</LocationConstraint>",
        ] {
            assert_eq!(
                CreateBucketConfiguration::parse(bad).unwrap_err().code,
                S3ErrorCode::MalformedXML
            );
        }
    }
}
