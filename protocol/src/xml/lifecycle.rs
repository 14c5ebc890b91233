//! The bucket lifecycle configuration (Put/GetBucketLifecycleConfiguration).
//!
//! Parsing checks S3's schema and S3's rules, with S3's error codes and
//! messages: at most 1,000 rules with unique IDs of at most 255 characters,
//! at least one action per rule, positive day counts, dates at midnight UTC,
//! one filter form per rule. kura has one storage class, so transitions are
//! refused (`NotImplemented`) rather than silently ignored.

use super::dom::{malformed, parse_document, Element};
use super::format_timestamp;
use super::writer::XmlWriter;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};

/// Most rules one configuration may hold (S3's limit).
pub const MAX_LIFECYCLE_RULES: usize = 1000;
/// Longest rule ID (S3's limit).
const MAX_RULE_ID: usize = 255;

/// Which objects a rule applies to, in the form it was given (GET answers
/// the same form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleFilter {
    /// The legacy rule-level `<Prefix>` (no `<Filter>`).
    RulePrefix(String),
    /// An empty `<Filter/>` (or none at all): every object.
    All,
    /// `<Filter><Prefix>`.
    Prefix(String),
    /// `<Filter><Tag>`.
    Tag(String, String),
    /// `<Filter><ObjectSizeGreaterThan>`.
    SizeGreaterThan(u64),
    /// `<Filter><ObjectSizeLessThan>`.
    SizeLessThan(u64),
    /// `<Filter><And>`: every condition given must hold.
    And {
        /// Key prefix.
        prefix: Option<String>,
        /// Tags the object must carry.
        tags: Vec<(String, String)>,
        /// Only objects larger than this.
        size_greater_than: Option<u64>,
        /// Only objects smaller than this.
        size_less_than: Option<u64>,
    },
}

impl LifecycleFilter {
    /// The key prefix (empty: every key).
    pub fn prefix(&self) -> &str {
        match self {
            LifecycleFilter::RulePrefix(p) | LifecycleFilter::Prefix(p) => p,
            LifecycleFilter::And { prefix, .. } => prefix.as_deref().unwrap_or(""),
            _ => "",
        }
    }

    /// Tags the object must carry.
    pub fn tags(&self) -> Vec<(String, String)> {
        match self {
            LifecycleFilter::Tag(k, v) => vec![(k.clone(), v.clone())],
            LifecycleFilter::And { tags, .. } => tags.clone(),
            _ => Vec::new(),
        }
    }

    /// `(ObjectSizeGreaterThan, ObjectSizeLessThan)`.
    pub fn sizes(&self) -> (Option<u64>, Option<u64>) {
        match self {
            LifecycleFilter::SizeGreaterThan(n) => (Some(*n), None),
            LifecycleFilter::SizeLessThan(n) => (None, Some(*n)),
            LifecycleFilter::And {
                size_greater_than,
                size_less_than,
                ..
            } => (*size_greater_than, *size_less_than),
            _ => (None, None),
        }
    }
}

/// The `Expiration` action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleExpiration {
    /// Days after an object was written.
    pub days: Option<u32>,
    /// A date (midnight UTC) after which matching objects expire.
    pub date: Option<OffsetDateTime>,
    /// `ExpiredObjectDeleteMarker`.
    pub expired_object_delete_marker: Option<bool>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRuleXml {
    /// `ID` (optional in the request).
    pub id: Option<String>,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// What it applies to.
    pub filter: LifecycleFilter,
    /// `Expiration`.
    pub expiration: Option<LifecycleExpiration>,
    /// `NoncurrentVersionExpiration/NoncurrentDays`.
    pub noncurrent_days: Option<u32>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    pub abort_days: Option<u32>,
}

/// The `LifecycleConfiguration` document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleConfiguration {
    /// The rules, in document order.
    pub rules: Vec<LifecycleRuleXml>,
}

fn positive_days(el: &Element, message: &str) -> S3Result<u32> {
    let t = el.token()?;
    let n: i64 = t.parse().map_err(|_| malformed())?;
    if n <= 0 {
        return Err(S3Error::invalid_argument(message));
    }
    u32::try_from(n).map_err(|_| S3Error::invalid_argument(message))
}

fn size(el: &Element) -> S3Result<u64> {
    el.token()?.parse().map_err(|_| malformed())
}

/// An ISO 8601 date-time (or a bare date) that must be midnight UTC.
fn midnight(el: &Element) -> S3Result<OffsetDateTime> {
    let t = el.token()?;
    let parsed = OffsetDateTime::parse(t, &Rfc3339).or_else(|_| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(t, &fmt).map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
    });
    let at = parsed.map_err(|_| S3Error::invalid_argument("Invalid date specified."))?;
    let utc = at.to_offset(time::UtcOffset::UTC);
    if utc.time() != Time::MIDNIGHT {
        return Err(S3Error::invalid_argument("'Date' must be at midnight GMT"));
    }
    Ok(utc)
}

fn tag(el: &Element) -> S3Result<(String, String)> {
    let key = el.required("Key")?.leaf_text()?.to_string();
    let value = el
        .child("Value")?
        .map(|v| v.leaf_text().map(str::to_string))
        .transpose()?
        .unwrap_or_default();
    if key.is_empty() || key.encode_utf16().count() > 128 || value.encode_utf16().count() > 256 {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The TagKey or TagValue you have provided is invalid",
        ));
    }
    Ok((key, value))
}

fn filter(rule: &Element) -> S3Result<LifecycleFilter> {
    let rule_prefix = rule.child("Prefix")?;
    let Some(f) = rule.child("Filter")? else {
        return Ok(match rule_prefix {
            Some(p) => LifecycleFilter::RulePrefix(p.leaf_text()?.to_string()),
            None => LifecycleFilter::All,
        });
    };
    if rule_prefix.is_some() {
        return Err(malformed());
    }
    let known = [
        "Prefix",
        "Tag",
        "And",
        "ObjectSizeGreaterThan",
        "ObjectSizeLessThan",
    ];
    let given: Vec<&Element> = f
        .children
        .iter()
        .filter(|c| known.contains(&c.name.as_str()))
        .collect();
    let Some(only) = given.first() else {
        return Ok(LifecycleFilter::All);
    };
    if given.len() > 1 {
        return Err(malformed());
    }
    Ok(match only.name.as_str() {
        "Prefix" => LifecycleFilter::Prefix(only.leaf_text()?.to_string()),
        "Tag" => {
            let (k, v) = tag(only)?;
            LifecycleFilter::Tag(k, v)
        }
        "ObjectSizeGreaterThan" => LifecycleFilter::SizeGreaterThan(size(only)?),
        "ObjectSizeLessThan" => LifecycleFilter::SizeLessThan(size(only)?),
        _ => {
            let prefix = only
                .child("Prefix")?
                .map(|p| p.leaf_text().map(str::to_string))
                .transpose()?;
            let mut tags: Vec<(String, String)> = Vec::new();
            for t in only.children_named("Tag") {
                let t = tag(t)?;
                if tags.iter().any(|(k, _)| *k == t.0) {
                    return Err(S3Error::invalid_argument(
                        "Duplicate Tag Keys are not allowed.",
                    ));
                }
                tags.push(t);
            }
            let size_greater_than = only.child("ObjectSizeGreaterThan")?.map(size).transpose()?;
            let size_less_than = only.child("ObjectSizeLessThan")?.map(size).transpose()?;
            LifecycleFilter::And {
                prefix,
                tags,
                size_greater_than,
                size_less_than,
            }
        }
    })
}

fn expiration(el: &Element) -> S3Result<LifecycleExpiration> {
    let days = el
        .child("Days")?
        .map(|d| positive_days(d, "'Days' for Expiration action must be a positive integer"))
        .transpose()?;
    let date = el.child("Date")?.map(midnight).transpose()?;
    let expired_object_delete_marker = el
        .child("ExpiredObjectDeleteMarker")?
        .map(Element::boolean)
        .transpose()?;
    if days.is_some() && date.is_some() {
        return Err(malformed());
    }
    if expired_object_delete_marker.is_some() && (days.is_some() || date.is_some()) {
        return Err(S3Error::invalid_argument(
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy.",
        ));
    }
    if days.is_none() && date.is_none() && expired_object_delete_marker.is_none() {
        return Err(malformed());
    }
    Ok(LifecycleExpiration {
        days,
        date,
        expired_object_delete_marker,
    })
}

fn rule(el: &Element) -> S3Result<LifecycleRuleXml> {
    let id = el
        .child("ID")?
        .map(|i| i.leaf_text().map(str::to_string))
        .transpose()?;
    if id.as_ref().is_some_and(|i| i.chars().count() > MAX_RULE_ID) {
        return Err(S3Error::invalid_argument(
            "ID length should not exceed allowed limit of 255",
        ));
    }
    let enabled = match el.required("Status")?.token()? {
        "Enabled" => true,
        "Disabled" => false,
        _ => return Err(malformed()),
    };
    let filter = filter(el)?;
    for unsupported in ["Transition", "NoncurrentVersionTransition"] {
        if el.child(unsupported)?.is_some() {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "kura has one storage class: transitions are not supported.",
            ));
        }
    }
    let expiration = el.child("Expiration")?.map(expiration).transpose()?;
    let noncurrent_days = match el.child("NoncurrentVersionExpiration")? {
        Some(n) => {
            if n.child("NewerNoncurrentVersions")?.is_some() {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "NewerNoncurrentVersions is not supported: the trash keeps every version for its period.",
                ));
            }
            Some(positive_days(
                n.required("NoncurrentDays")?,
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            )?)
        }
        None => None,
    };
    let abort_days = match el.child("AbortIncompleteMultipartUpload")? {
        Some(a) => Some(positive_days(
            a.required("DaysAfterInitiation")?,
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
        )?),
        None => None,
    };
    if expiration.is_none() && noncurrent_days.is_none() && abort_days.is_none() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "At least one action needs to be specified in a rule",
        ));
    }
    if abort_days.is_some() && !filter.tags().is_empty() {
        return Err(S3Error::invalid_argument(
            "AbortIncompleteMultipartUpload cannot be specified with Tags.",
        ));
    }
    if let (Some(gt), Some(lt)) = filter.sizes() {
        if gt >= lt {
            return Err(S3Error::invalid_argument(
                "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
            ));
        }
    }
    Ok(LifecycleRuleXml {
        id,
        enabled,
        filter,
        expiration,
        noncurrent_days,
        abort_days,
    })
}

impl LifecycleConfiguration {
    /// Parses a PutBucketLifecycleConfiguration body (the caller caps its size).
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = parse_document(body, "LifecycleConfiguration")?;
        let rule_elements: Vec<&Element> = root.children_named("Rule").collect();
        if rule_elements.is_empty() || rule_elements.len() > MAX_LIFECYCLE_RULES {
            return Err(malformed());
        }
        let mut rules: Vec<LifecycleRuleXml> = Vec::with_capacity(rule_elements.len());
        for el in rule_elements {
            let r = rule(el)?;
            if r.id.is_some() && rules.iter().any(|o| o.id == r.id) {
                return Err(S3Error::invalid_argument(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
            rules.push(r);
        }
        Ok(LifecycleConfiguration { rules })
    }

    /// Renders the GetBucketLifecycleConfiguration answer.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("LifecycleConfiguration");
        for r in &self.rules {
            w.open("Rule");
            w.opt_text("ID", r.id.as_deref());
            write_filter(&mut w, &r.filter);
            w.text("Status", if r.enabled { "Enabled" } else { "Disabled" });
            if let Some(e) = &r.expiration {
                w.open("Expiration");
                if let Some(d) = e.date {
                    w.text("Date", &format_timestamp(d));
                }
                if let Some(d) = e.days {
                    w.value("Days", d);
                }
                if let Some(b) = e.expired_object_delete_marker {
                    w.boolean("ExpiredObjectDeleteMarker", b);
                }
                w.close("Expiration");
            }
            if let Some(d) = r.noncurrent_days {
                w.open("NoncurrentVersionExpiration");
                w.value("NoncurrentDays", d);
                w.close("NoncurrentVersionExpiration");
            }
            if let Some(d) = r.abort_days {
                w.open("AbortIncompleteMultipartUpload");
                w.value("DaysAfterInitiation", d);
                w.close("AbortIncompleteMultipartUpload");
            }
            w.close("Rule");
        }
        w.finish()
    }
}

fn write_tag(w: &mut XmlWriter, (k, v): &(String, String)) {
    w.open("Tag");
    w.text("Key", k);
    w.text("Value", v);
    w.close("Tag");
}

fn write_filter(w: &mut XmlWriter, f: &LifecycleFilter) {
    if let LifecycleFilter::RulePrefix(p) = f {
        w.text("Prefix", p);
        return;
    }
    w.open("Filter");
    match f {
        LifecycleFilter::RulePrefix(_) | LifecycleFilter::All => {}
        LifecycleFilter::Prefix(p) => w.text("Prefix", p),
        LifecycleFilter::Tag(k, v) => write_tag(w, &(k.clone(), v.clone())),
        LifecycleFilter::SizeGreaterThan(n) => w.value("ObjectSizeGreaterThan", n),
        LifecycleFilter::SizeLessThan(n) => w.value("ObjectSizeLessThan", n),
        LifecycleFilter::And {
            prefix,
            tags,
            size_greater_than,
            size_less_than,
        } => {
            w.open("And");
            w.opt_text("Prefix", prefix.as_deref());
            for t in tags {
                write_tag(w, t);
            }
            if let Some(n) = size_greater_than {
                w.value("ObjectSizeGreaterThan", n);
            }
            if let Some(n) = size_less_than {
                w.value("ObjectSizeLessThan", n);
            }
            w.close("And");
        }
    }
    w.close("Filter");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> Vec<u8> {
        format!("<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{rules}</LifecycleConfiguration>").into_bytes()
    }

    fn err(rules: &str) -> S3Error {
        LifecycleConfiguration::parse(&doc(rules)).unwrap_err()
    }

    #[test]
    fn every_filter_form_round_trips() {
        let rules = "<Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
            <Rule><ID>b</ID><Filter></Filter><Status>Disabled</Status><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
            <Rule><ID>c</ID><Filter><Tag><Key>dst</Key><Value>20</Value></Tag></Filter><Status>Enabled</Status><Expiration><Date>2026-01-01T00:00:00.000Z</Date></Expiration></Rule>\
            <Rule><ID>d</ID><Filter><And><Prefix>in/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k2</Key><Value></Value></Tag><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule>\
            <Rule><ID>e</ID><Filter><Prefix>up/</Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>\
            <Rule><ID>f</ID><Filter><ObjectSizeLessThan>100</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>4</Days></Expiration></Rule>";
        let c = LifecycleConfiguration::parse(&doc(rules)).unwrap();
        assert_eq!(c.rules.len(), 6);
        assert_eq!(
            c.rules[0].filter,
            LifecycleFilter::RulePrefix("logs/".into())
        );
        assert_eq!(c.rules[1].filter, LifecycleFilter::All);
        assert!(!c.rules[1].enabled);
        assert_eq!(
            c.rules[2].filter.tags(),
            vec![("dst".to_string(), "20".to_string())]
        );
        assert_eq!(c.rules[3].filter.prefix(), "in/");
        assert_eq!(c.rules[3].filter.sizes(), (Some(5), Some(9)));
        assert_eq!(c.rules[4].abort_days, Some(2));
        let xml = c.to_xml();
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration xmlns="
        ));
        assert!(xml.contains("<Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"), "{xml}");
        assert_eq!(LifecycleConfiguration::parse(xml.as_bytes()).unwrap(), c);
    }

    #[test]
    fn dates_are_midnight_utc() {
        let at = |d: &str| {
            LifecycleConfiguration::parse(&doc(&format!(
                "<Rule><Status>Enabled</Status><Filter/><Expiration><Date>{d}</Date></Expiration></Rule>"
            )))
        };
        let c = at("2020-01-01T00:00:00Z").unwrap();
        assert_eq!(
            c.rules[0]
                .expiration
                .as_ref()
                .unwrap()
                .date
                .unwrap()
                .unix_timestamp(),
            1_577_836_800
        );
        assert!(at("2020-01-01").is_ok());
        let e = at("2020-01-01T10:00:00Z").unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        assert_eq!(e.message, "'Date' must be at midnight GMT");
        assert_eq!(
            at("yesterday").unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn s3_validation_errors() {
        let cases: &[(&str, S3ErrorCode, &str)] = &[
            ("", S3ErrorCode::MalformedXML, ""),
            ("<Rule><Filter/><Expiration><Days>1</Days></Expiration></Rule>", S3ErrorCode::MalformedXML, ""),
            ("<Rule><Status>On</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>", S3ErrorCode::MalformedXML, ""),
            ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration></Rule>", S3ErrorCode::InvalidArgument, "'Days' for Expiration action must be a positive integer"),
            ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>-3</Days></Expiration></Rule>", S3ErrorCode::InvalidArgument, "'Days' for Expiration action must be a positive integer"),
            ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>x</Days></Expiration></Rule>", S3ErrorCode::MalformedXML, ""),
            ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days><Date>2020-01-01T00:00:00Z</Date></Expiration></Rule>", S3ErrorCode::MalformedXML, ""),
            ("<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>", S3ErrorCode::InvalidArgument, "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy."),
            ("<Rule><Status>Enabled</Status><Filter/></Rule>", S3ErrorCode::InvalidRequest, "At least one action needs to be specified in a rule"),
            ("<Rule><Status>Enabled</Status><Prefix>a</Prefix><Filter/><Expiration><Days>1</Days></Expiration></Rule>", S3ErrorCode::MalformedXML, ""),
            ("<Rule><Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>", S3ErrorCode::MalformedXML, ""),
            ("<Rule><ID>x</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>x</ID><Status>Enabled</Status><Filter/><Expiration><Days>2</Days></Expiration></Rule>", S3ErrorCode::InvalidArgument, "Rule ID must be unique. Found same ID for more than one rule"),
            ("<Rule><Status>Enabled</Status><Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter><Expiration><Days>1</Days></Expiration></Rule>", S3ErrorCode::InvalidArgument, "Duplicate Tag Keys are not allowed."),
            ("<Rule><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>1</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>", S3ErrorCode::InvalidArgument, "AbortIncompleteMultipartUpload cannot be specified with Tags."),
            ("<Rule><Status>Enabled</Status><Filter/><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>", S3ErrorCode::InvalidArgument, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"),
            ("<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration></Rule>", S3ErrorCode::InvalidArgument, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
            ("<Rule><Status>Enabled</Status><Filter/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>", S3ErrorCode::NotImplemented, "kura has one storage class: transitions are not supported."),
            ("<Rule><Status>Enabled</Status><Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter><Expiration><Days>1</Days></Expiration></Rule>", S3ErrorCode::InvalidArgument, "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"),
        ];
        for (rules, code, message) in cases {
            let e = err(rules);
            assert_eq!(e.code, *code, "{rules}");
            if !message.is_empty() {
                assert_eq!(e.message, *message, "{rules}");
            }
        }
        let long_id = format!(
            "<Rule><ID>{}</ID><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>",
            "i".repeat(256)
        );
        assert_eq!(
            err(&long_id).message,
            "ID length should not exceed allowed limit of 255"
        );
        let too_many =
            "<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"
                .repeat(1001);
        assert_eq!(err(&too_many).code, S3ErrorCode::MalformedXML);
    }

    #[test]
    fn hostile_input_is_malformed_not_a_crash() {
        for body in [
            &b"<!DOCTYPE x [<!ENTITY a \"b\">]><LifecycleConfiguration/>"[..],
            b"<LifecycleConfiguration><Rule>",
            b"<Other/>",
            b"\xff\xfe",
            b"",
        ] {
            assert_eq!(
                LifecycleConfiguration::parse(body).unwrap_err().code,
                S3ErrorCode::MalformedXML
            );
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(LifecycleConfiguration::parse(&doc(&deep)).is_err());
    }
}
