//! Object and bucket tags: the `Tagging` body of Put/GetObjectTagging and
//! Put/GetBucketTagging, the `x-amz-tagging` header of PutObject, CopyObject
//! and CreateMultipartUpload, and S3's rules for a tag set.
//!
//! S3's rules: at most 10 tags on an object (kura raises this per server
//! with `--max-tags`, up to [`MAX_TAGS_LIMIT`]) and 50 on a bucket, keys
//! unique, a key 1 to 128 and a value 0 to 256 UTF-16 code units long, both
//! made of letters, digits, spaces and `_ . : / = + - @`, and no key starting
//! with `aws:` (reserved for AWS's own tags). A set breaking them is refused
//! with S3's codes: `BadRequest` for too many tags, `InvalidTag` for a bad
//! key or value, `InvalidArgument` for a header that does not decode, and
//! `MalformedXML` for a body that does not.

use percent_encoding::percent_decode_str;

use super::dom::{malformed, parse_document};
use super::XmlWriter;
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// S3's limit of tags on one object, kura's default.
pub const DEFAULT_MAX_TAGS: usize = 10;
/// The most tags `--max-tags` may allow on an object (and S3's limit on a bucket).
pub const MAX_TAGS_LIMIT: usize = 50;
/// Tags a bucket may carry, as in S3.
pub const MAX_BUCKET_TAGS: usize = 50;
/// Longest tag key, in UTF-16 code units.
pub const MAX_KEY_LEN: usize = 128;
/// Longest tag value, in UTF-16 code units.
pub const MAX_VALUE_LEN: usize = 256;
/// Largest `Tagging` body read: 50 tags of the longest keys and values,
/// written with character references, fit several times over. The caller
/// stops reading there; [`Tagging::parse`] refuses anything longer as well.
pub const MAX_TAGGING_BODY: usize = 256 * 1024;

/// A tag set, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tagging {
    /// (key, value) pairs.
    pub tags: Vec<(String, String)>,
}

/// What a tag set is attached to: decides the count limit and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagTarget {
    /// An object, with the server's limit of tags per object.
    Object(usize),
    /// A bucket (50 tags).
    Bucket,
}

impl TagTarget {
    fn max(self) -> usize {
        match self {
            TagTarget::Object(max) => max,
            TagTarget::Bucket => MAX_BUCKET_TAGS,
        }
    }

    fn too_many(self) -> S3Error {
        let msg = match self {
            TagTarget::Object(max) => format!("Object tags cannot be greater than {max}"),
            TagTarget::Bucket => format!("Bucket tags cannot be greater than {MAX_BUCKET_TAGS}"),
        };
        S3Error::with_message(S3ErrorCode::BadRequest, msg)
    }
}

impl Tagging {
    /// Parses and checks a `Tagging` request body against S3's rules for `target`.
    pub fn parse(body: &[u8], target: TagTarget) -> S3Result<Tagging> {
        if body.len() > MAX_TAGGING_BODY {
            return Err(malformed());
        }
        let root = parse_document(body, "Tagging")?;
        let set = root.required("TagSet")?;
        let mut tags = Vec::new();
        for tag in set.children_named("Tag") {
            let key = tag.required("Key")?.leaf_text()?.to_string();
            let value = tag.required("Value")?.leaf_text()?.to_string();
            tags.push((key, value));
            // Refuse a huge set before collecting all of it.
            if tags.len() > target.max() {
                return Err(target.too_many());
            }
        }
        if tags
            .iter()
            .enumerate()
            .any(|(i, (k, _))| tags[..i].iter().any(|(o, _)| o == k))
        {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidTag,
                "Cannot provide multiple Tags with the same key",
            ));
        }
        check_tags(&tags, target)?;
        Ok(Tagging { tags })
    }

    /// The `Tagging` document of GetObjectTagging / GetBucketTagging.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("Tagging");
        w.open("TagSet");
        for (k, v) in &self.tags {
            w.open("Tag");
            w.text("Key", k);
            w.text("Value", v);
            w.close("Tag");
        }
        w.close("TagSet");
        w.finish()
    }
}

/// Parses the `x-amz-tagging` header: URL query form (`k1=v1&k2=v2`, `+`
/// or `%20` for a space), checked against S3's rules for `target`.
pub fn parse_tagging_header(value: &str, target: TagTarget) -> S3Result<Vec<(String, String)>> {
    let bad_header = || {
        S3Error::invalid_argument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query \
             parameters without tag name duplicates.",
        )
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    for pair in value.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad_header())
        };
        let (k, v) = (decode(k)?, decode(v)?);
        if tags.iter().any(|(o, _)| *o == k) {
            return Err(bad_header());
        }
        tags.push((k, v));
        if tags.len() > target.max() {
            return Err(target.too_many());
        }
    }
    check_tags(&tags, target)?;
    Ok(tags)
}

/// Checks a tag set against S3's rules (count, lengths, characters,
/// reserved prefix). Keys are assumed unique (both parsers check that).
pub fn check_tags(tags: &[(String, String)], target: TagTarget) -> S3Result<()> {
    if tags.len() > target.max() {
        return Err(target.too_many());
    }
    let invalid = |msg: &str| S3Error::with_message(S3ErrorCode::InvalidTag, msg);
    for (k, v) in tags {
        if k.encode_utf16().count() > MAX_KEY_LEN {
            return Err(invalid("The TagKey you have provided is too long, max 128"));
        }
        if v.encode_utf16().count() > MAX_VALUE_LEN {
            return Err(invalid(
                "The TagValue you have provided is too long, max 256",
            ));
        }
        if k.is_empty() || !k.chars().all(allowed) {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if !v.chars().all(allowed) {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if k.starts_with("aws:") {
            return Err(invalid("Your TagKey cannot be prefixed with aws:"));
        }
    }
    Ok(())
}

/// S3's tag alphabet, `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: letters, separators
/// (spaces, not tabs or newlines: those are control characters), digits.
fn allowed(c: char) -> bool {
    c.is_alphanumeric()
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// The `x-amz-tagging` form of a tag set (used by clients and tests).
pub fn tagging_header(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{}={}", super::url_encode(k), super::url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJ: TagTarget = TagTarget::Object(DEFAULT_MAX_TAGS);

    fn body(tags: &[(&str, &str)]) -> String {
        let mut s = String::from("<Tagging><TagSet>");
        for (k, v) in tags {
            s.push_str(&format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"));
        }
        s.push_str("</TagSet></Tagging>");
        s
    }

    fn code(r: S3Result<impl std::fmt::Debug>) -> S3ErrorCode {
        r.unwrap_err().code
    }

    #[test]
    fn round_trip_keeps_order_and_escapes() {
        let t = Tagging::parse(
            body(&[("dst", "0000000000020"), ("a b", "x&amp;y"), ("e", "")]).as_bytes(),
            OBJ,
        );
        // `&` is not in S3's alphabet.
        assert_eq!(code(t), S3ErrorCode::InvalidTag);
        let t = Tagging::parse(
            body(&[
                ("dst", "0000000000020"),
                ("a b", "é/日本:=+-@_."),
                ("e", ""),
            ])
            .as_bytes(),
            OBJ,
        )
        .unwrap();
        assert_eq!(
            t.tags,
            [
                ("dst".into(), "0000000000020".into()),
                ("a b".into(), "é/日本:=+-@_.".into()),
                ("e".into(), String::new()),
            ]
        );
        assert_eq!(Tagging::parse(t.to_xml().as_bytes(), OBJ).unwrap(), t);
        assert_eq!(
            Tagging { tags: vec![] }.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet></TagSet></Tagging>"
        );
    }

    #[test]
    fn limits_and_codes() {
        let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
        let as_body = |v: &[(String, String)]| {
            body(
                &v.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(Tagging::parse(as_body(&ten).as_bytes(), OBJ).is_ok());
        let mut eleven = ten.clone();
        eleven.push(("k10".into(), "v".into()));
        assert_eq!(
            code(Tagging::parse(as_body(&eleven).as_bytes(), OBJ)),
            S3ErrorCode::BadRequest
        );
        // A raised limit allows them; a bucket takes 50.
        assert!(Tagging::parse(as_body(&eleven).as_bytes(), TagTarget::Object(20)).is_ok());
        assert!(Tagging::parse(as_body(&eleven).as_bytes(), TagTarget::Bucket).is_ok());

        let k128 = "k".repeat(128);
        let v256 = "v".repeat(256);
        assert!(Tagging::parse(body(&[(&k128, &v256)]).as_bytes(), OBJ).is_ok());
        let k129 = "k".repeat(129);
        let v257 = "v".repeat(257);
        assert_eq!(
            code(Tagging::parse(body(&[(&k129, "v")]).as_bytes(), OBJ)),
            S3ErrorCode::InvalidTag
        );
        assert_eq!(
            code(Tagging::parse(body(&[("k", &v257)]).as_bytes(), OBJ)),
            S3ErrorCode::InvalidTag
        );
        // UTF-16 units, not bytes or chars: 64 astral letters are 128
        // units, 65 are too many; 128 two-byte characters are fine.
        assert!(check_tags(&[("𝐀".repeat(64), String::new())], OBJ).is_ok());
        assert_eq!(
            code(check_tags(&[("𝐀".repeat(65), String::new())], OBJ)),
            S3ErrorCode::InvalidTag
        );
        let wide = "é".repeat(128);
        assert!(check_tags(&[(wide, String::new())], OBJ).is_ok());
        // Emoji are not letters: refused as S3's pattern refuses them.
        assert_eq!(
            code(check_tags(&[("ok".into(), "😀".into())], OBJ)),
            S3ErrorCode::InvalidTag
        );

        for bad in [
            body(&[("a", "1"), ("a", "2")]),
            body(&[("", "v")]),
            body(&[("tab\tkey", "v")]),
            body(&[("aws:cloudformation", "v")]),
            body(&[("k", "new\nline")]),
        ] {
            assert_eq!(
                code(Tagging::parse(bad.as_bytes(), OBJ)),
                S3ErrorCode::InvalidTag,
                "{bad}"
            );
        }
    }

    #[test]
    fn hostile_bodies_are_malformed() {
        let huge = format!(
            "<Tagging><TagSet>{}</TagSet></Tagging>",
            "<Tag><Key>k</Key><Value>v</Value></Tag>".repeat(20_000)
        );
        assert_eq!(
            code(Tagging::parse(huge.as_bytes(), OBJ)),
            S3ErrorCode::MalformedXML
        );
        // Many tags but under the size bound: refused on the count, early.
        let many = format!(
            "<Tagging><TagSet>{}</TagSet></Tagging>",
            "<Tag><Key>k</Key><Value>v</Value></Tag>".repeat(1000)
        );
        assert_eq!(
            code(Tagging::parse(many.as_bytes(), OBJ)),
            S3ErrorCode::BadRequest
        );
        for bad in [
            "",
            "not xml",
            "<Tagging>",
            "<Tagging></Tagging>",
            "<Other><TagSet/></Other>",
            "<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
            "<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
            "<Tagging><TagSet><Tag><Key>k</Key><Key>j</Key><Value>v</Value></Tag></TagSet></Tagging>",
            "<Tagging><TagSet><Tag><Key><b/></Key><Value>v</Value></Tag></TagSet></Tagging>",
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><Tagging><TagSet/></Tagging>",
            "<Tagging><TagSet></TagSet></Tagging><Tagging/>",
        ] {
            assert_eq!(
                code(Tagging::parse(bad.as_bytes(), OBJ)),
                S3ErrorCode::MalformedXML,
                "{bad}"
            );
        }
        let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
        assert_eq!(
            code(Tagging::parse(deep.as_bytes(), OBJ)),
            S3ErrorCode::MalformedXML
        );
        // Namespaced, with an XML declaration and an empty set: fine.
        let ns = "<?xml version=\"1.0\"?><Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet/></Tagging>";
        assert_eq!(Tagging::parse(ns.as_bytes(), OBJ).unwrap().tags, []);
    }

    #[test]
    fn header_form() {
        let tags = parse_tagging_header("a=1&b%20c=d+e&empty=&novalue", OBJ).unwrap();
        assert_eq!(
            tags,
            [
                ("a".into(), "1".into()),
                ("b c".into(), "d e".into()),
                ("empty".into(), String::new()),
                ("novalue".into(), String::new()),
            ]
        );
        assert_eq!(parse_tagging_header("", OBJ).unwrap(), []);
        let literal_plus = parse_tagging_header("k=a%2Bb", OBJ).unwrap();
        assert_eq!(literal_plus[0].1, "a+b");
        assert_eq!(
            code(parse_tagging_header("a=1&a=2", OBJ)),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(parse_tagging_header("a=%FF", OBJ)),
            S3ErrorCode::InvalidArgument
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            code(parse_tagging_header(&eleven.join("&"), OBJ)),
            S3ErrorCode::BadRequest
        );
        assert_eq!(
            code(parse_tagging_header(&format!("k={}", "v".repeat(257)), OBJ)),
            S3ErrorCode::InvalidTag
        );
        let round = vec![("a b".to_string(), "x/y+z".to_string())];
        assert_eq!(
            parse_tagging_header(&tagging_header(&round), OBJ).unwrap(),
            round
        );
    }
}
