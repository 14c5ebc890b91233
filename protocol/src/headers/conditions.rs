//! Conditional requests (RFC 9110 §13): `If-Match`, `If-None-Match`,
//! `If-Modified-Since`, `If-Unmodified-Since`, and their
//! `x-amz-copy-source-if-*` twins that CopyObject and UploadPartCopy apply to
//! the source object.

use super::dates::{format_http_date, parse_http_date, unix_secs};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use http::HeaderMap;
use std::time::SystemTime;

/// One entity tag from a request or of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    /// `W/` prefix: only weak comparison can match it.
    pub weak: bool,
    /// The opaque tag without quotes or `W/`.
    pub tag: String,
}

impl EntityTag {
    /// Parses one entity tag. Accepts `"x"`, `W/"x"` and, because some
    /// clients forget the quotes, bare `x`. `None` for an empty value.
    pub fn parse(s: &str) -> Option<EntityTag> {
        let mut list = parse_etag_list(s);
        if list.len() == 1 {
            list.pop()
        } else {
            // A stored etag never contains a comma outside quotes; if one
            // does, take the whole value as an opaque strong tag.
            let s = s.trim();
            (!s.is_empty()).then(|| EntityTag {
                weak: false,
                tag: s.to_string(),
            })
        }
    }

    /// RFC 9110 §8.8.3.2 strong comparison: both strong, same opaque tag.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// RFC 9110 §8.8.3.2 weak comparison: same opaque tag, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.tag == other.tag
    }
}

/// The value of an `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags; a match with any one of them counts.
    Tags(Vec<EntityTag>),
}

impl EtagCondition {
    /// Parses a header value; `None` if it holds no tag at all (an empty
    /// header is treated as absent rather than as a list matching nothing).
    pub fn parse(value: &str) -> Option<EtagCondition> {
        if value.split(',').any(|item| item.trim() == "*") {
            return Some(EtagCondition::Any);
        }
        let tags = parse_etag_list(value);
        (!tags.is_empty()).then_some(EtagCondition::Tags(tags))
    }

    fn matches(&self, current: &EntityTag, strong: bool) -> bool {
        match self {
            EtagCondition::Any => true,
            EtagCondition::Tags(tags) => tags.iter().any(|t| {
                if strong {
                    t.strong_eq(current)
                } else {
                    t.weak_eq(current)
                }
            }),
        }
    }
}

/// The four preconditions of a request, parsed once.
///
/// Unparsable dates are dropped here (RFC 9110 says to ignore them), so a
/// `Some` date is always a valid one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match`: the current etag must match (strong comparison).
    pub if_match: Option<EtagCondition>,
    /// `If-None-Match`: the current etag must not match (weak comparison).
    pub if_none_match: Option<EtagCondition>,
    /// `If-Modified-Since`: the object must be newer than this.
    pub if_modified_since: Option<SystemTime>,
    /// `If-Unmodified-Since`: the object must be no newer than this.
    pub if_unmodified_since: Option<SystemTime>,
}

/// Why a precondition check failed, before it becomes a status.
enum Failure {
    /// A read whose cached copy is still fresh (→ 304).
    NotModified,
    /// Anything else (→ 412).
    PreconditionFailed,
}

impl Conditions {
    /// Reads `If-Match`, `If-None-Match`, `If-Modified-Since` and
    /// `If-Unmodified-Since`.
    pub fn from_headers(h: &HeaderMap) -> Conditions {
        Self::read(
            h,
            [
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
            ],
        )
    }

    /// Reads the `x-amz-copy-source-if-*` headers of CopyObject and
    /// UploadPartCopy, which apply to the source object. Evaluate them with
    /// [`Conditions::evaluate_copy_source`].
    pub fn from_copy_source_headers(h: &HeaderMap) -> Conditions {
        Self::read(
            h,
            [
                "x-amz-copy-source-if-match",
                "x-amz-copy-source-if-none-match",
                "x-amz-copy-source-if-modified-since",
                "x-amz-copy-source-if-unmodified-since",
            ],
        )
    }

    fn read(h: &HeaderMap, [im, inm, ims, ius]: [&str; 4]) -> Conditions {
        Conditions {
            if_match: etag_header(h, im),
            if_none_match: etag_header(h, inm),
            if_modified_since: date_header(h, ims),
            if_unmodified_since: date_header(h, ius),
        }
    }

    /// True if the request carried no usable precondition.
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }

    /// Evaluates the preconditions against an existing object, in the order
    /// RFC 9110 §13.2.2 prescribes (which S3 follows):
    ///
    /// 1. `If-Match` present and false → 412 `PreconditionFailed`.
    /// 2. Otherwise, if `If-Match` is absent, `If-Unmodified-Since` false →
    ///    412. (So If-Match true wins over If-Unmodified-Since false.)
    /// 3. `If-None-Match` present and false (the etag matches) → 304
    ///    `NotModified` when `read` (GET/HEAD), 412 otherwise.
    /// 4. Otherwise, if `If-None-Match` is absent and `read`,
    ///    `If-Modified-Since` false → 304. (So If-None-Match decides alone
    ///    when present, and If-Modified-Since only applies to reads.)
    ///
    /// `etag` is the object's quoted ETag; `last_modified` is compared at
    /// whole-second granularity, as the client only ever saw whole seconds.
    /// The 304 error already carries the `ETag` and `Last-Modified` headers
    /// RFC 9110 §15.4.5 asks a 304 to repeat.
    pub fn evaluate(&self, etag: &str, last_modified: SystemTime, read: bool) -> S3Result<()> {
        match self.check(etag, last_modified, read, read) {
            Ok(()) => Ok(()),
            Err(Failure::NotModified) => Err(S3Error::new(S3ErrorCode::NotModified)
                .header("ETag", etag)
                .header("Last-Modified", format_http_date(last_modified))),
            Err(Failure::PreconditionFailed) => Err(S3Error::new(S3ErrorCode::PreconditionFailed)),
        }
    }

    /// Evaluates `x-amz-copy-source-if-*` conditions against the copy
    /// source. Same order as [`Conditions::evaluate`] for a read — S3
    /// documents that if-match true + if-unmodified-since false copies, and
    /// if-none-match false + if-modified-since true fails — but every
    /// failure is 412 `PreconditionFailed`: the request is a write, a 304
    /// would mean nothing to the client.
    pub fn evaluate_copy_source(&self, etag: &str, last_modified: SystemTime) -> S3Result<()> {
        self.check(etag, last_modified, true, false)
            .map_err(|_| S3Error::new(S3ErrorCode::PreconditionFailed))
    }

    /// Evaluates the preconditions when the target has no current object
    /// (conditional writes such as PutObject with `If-None-Match: *`).
    /// RFC 9110: `If-Match` is then false (412); `If-None-Match` is true;
    /// the date conditions need a modification date and are ignored.
    pub fn evaluate_missing(&self) -> S3Result<()> {
        if self.if_match.is_some() {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }
        Ok(())
    }

    /// The RFC 9110 §13.2.2 algorithm. `use_modified_since` says whether
    /// If-Modified-Since applies at all; `not_modified` whether an
    /// If-None-Match failure is a 304 (GET/HEAD) or a 412.
    fn check(
        &self,
        etag: &str,
        last_modified: SystemTime,
        use_modified_since: bool,
        not_modified: bool,
    ) -> Result<(), Failure> {
        let current = EntityTag::parse(etag).unwrap_or(EntityTag {
            weak: false,
            tag: String::new(),
        });
        let modified = unix_secs(last_modified);

        if let Some(cond) = &self.if_match {
            if !cond.matches(&current, true) {
                return Err(Failure::PreconditionFailed);
            }
        } else if let Some(since) = self.if_unmodified_since {
            if modified > unix_secs(since) {
                return Err(Failure::PreconditionFailed);
            }
        }

        if let Some(cond) = &self.if_none_match {
            if cond.matches(&current, false) {
                return Err(if not_modified {
                    Failure::NotModified
                } else {
                    Failure::PreconditionFailed
                });
            }
        } else if let Some(since) = self.if_modified_since.filter(|_| use_modified_since) {
            if modified <= unix_secs(since) {
                return Err(if not_modified {
                    Failure::NotModified
                } else {
                    Failure::PreconditionFailed
                });
            }
        }
        Ok(())
    }
}

/// All values of an etag header, as one list (several header lines are
/// one comma-separated list in HTTP). Bytes that are not UTF-8 are replaced
/// rather than dropping the header: an unreadable If-Match must still fail,
/// not be skipped.
fn etag_header(h: &HeaderMap, name: &str) -> Option<EtagCondition> {
    let values: Vec<String> = h
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    if values.is_empty() {
        return None;
    }
    EtagCondition::parse(&values.join(","))
}

/// A date header; `None` when absent or not a valid HTTP date.
fn date_header(h: &HeaderMap, name: &str) -> Option<SystemTime> {
    h.get(name)?.to_str().ok().and_then(parse_http_date)
}

/// Splits `"a", W/"b", c` into entity tags. Quoted tags may contain commas
/// (`etagc` allows them), so this scans rather than splitting on `,`.
fn parse_etag_list(s: &str) -> Vec<EntityTag> {
    let mut tags = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return tags;
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let tag;
        if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => {
                    tag = &quoted[..end];
                    rest = &quoted[end + 1..];
                }
                // Unterminated quote: take the rest of the item.
                None => {
                    let end = quoted.find(',').unwrap_or(quoted.len());
                    tag = quoted[..end].trim_end();
                    rest = &quoted[end..];
                }
            }
        } else {
            // A sloppy client's unquoted tag runs to the next comma.
            let end = rest.find(',').unwrap_or(rest.len());
            tag = rest[..end].trim_end();
            rest = &rest[end..];
        }
        tags.push(EntityTag {
            weak,
            tag: tag.to_string(),
        });
        // Skip anything between a closing quote and the next comma.
        let next = rest.find(',').unwrap_or(rest.len());
        rest = &rest[next..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::{Duration, UNIX_EPOCH};

    const ETAG: &str = "\"abc\"";
    /// Last-Modified of the test object: 2023-11-14T22:13:20Z plus 0.5 s.
    fn modified() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
    }
    fn date(secs_from_modified: i64) -> String {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = if secs_from_modified >= 0 {
            t + Duration::from_secs(secs_from_modified as u64)
        } else {
            t - Duration::from_secs(secs_from_modified.unsigned_abs())
        };
        format_http_date(t)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn eval(pairs: &[(&'static str, &str)], read: bool) -> Option<S3ErrorCode> {
        Conditions::from_headers(&headers(pairs))
            .evaluate(ETAG, modified(), read)
            .err()
            .map(|e| e.code)
    }

    const PF: Option<S3ErrorCode> = Some(S3ErrorCode::PreconditionFailed);
    const NM: Option<S3ErrorCode> = Some(S3ErrorCode::NotModified);

    #[test]
    fn no_conditions_pass() {
        let c = Conditions::from_headers(&HeaderMap::new());
        assert!(c.is_empty());
        assert_eq!(c.evaluate(ETAG, modified(), true), Ok(()));
        assert_eq!(c.evaluate_missing(), Ok(()));
    }

    #[test]
    fn if_match() {
        assert_eq!(eval(&[("if-match", "\"abc\"")], true), None);
        assert_eq!(eval(&[("if-match", "\"xyz\"")], true), PF);
        assert_eq!(eval(&[("if-match", "\"xyz\"")], false), PF);
        assert_eq!(eval(&[("if-match", "*")], true), None);
        assert_eq!(eval(&[("if-match", "\"x\", \"abc\"")], true), None);
        // Strong comparison: a weak tag never matches.
        assert_eq!(eval(&[("if-match", "W/\"abc\"")], true), PF);
        // Sloppy clients send the etag without quotes.
        assert_eq!(eval(&[("if-match", "abc")], true), None);
        assert_eq!(eval(&[("if-match", "xyz, abc")], true), None);
    }

    #[test]
    fn if_none_match() {
        assert_eq!(eval(&[("if-none-match", "\"abc\"")], true), NM);
        assert_eq!(eval(&[("if-none-match", "\"abc\"")], false), PF);
        assert_eq!(eval(&[("if-none-match", "\"xyz\"")], true), None);
        assert_eq!(eval(&[("if-none-match", "*")], true), NM);
        assert_eq!(eval(&[("if-none-match", "*")], false), PF);
        // Weak comparison: W/"abc" matches "abc".
        assert_eq!(eval(&[("if-none-match", "W/\"abc\"")], true), NM);
        assert_eq!(eval(&[("if-none-match", "\"x\", W/\"abc\"")], true), NM);
        assert_eq!(eval(&[("if-none-match", "abc")], true), NM);
    }

    #[test]
    fn if_modified_since_whole_seconds() {
        // The object is 0.5 s past `date(0)`; the client saw `date(0)`.
        assert_eq!(eval(&[("if-modified-since", &date(0))], true), NM);
        assert_eq!(eval(&[("if-modified-since", &date(1))], true), NM);
        assert_eq!(eval(&[("if-modified-since", &date(-1))], true), None);
        // Only for reads.
        assert_eq!(eval(&[("if-modified-since", &date(0))], false), None);
    }

    #[test]
    fn if_unmodified_since_whole_seconds() {
        assert_eq!(eval(&[("if-unmodified-since", &date(0))], true), None);
        assert_eq!(eval(&[("if-unmodified-since", &date(1))], false), None);
        assert_eq!(eval(&[("if-unmodified-since", &date(-1))], true), PF);
        assert_eq!(eval(&[("if-unmodified-since", &date(-1))], false), PF);
    }

    #[test]
    fn not_modified_carries_validators() {
        let c = Conditions::from_headers(&headers(&[("if-none-match", ETAG)]));
        let err = c.evaluate(ETAG, modified(), true).unwrap_err();
        assert_eq!(err.status().as_u16(), 304);
        assert_eq!(
            err.headers,
            vec![
                ("ETag", ETAG.to_string()),
                ("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT".to_string()),
            ]
        );
    }

    #[test]
    fn rfc9110_precedence() {
        // If-Match true overrides If-Unmodified-Since false.
        let h = [("if-match", ETAG), ("if-unmodified-since", &date(-1))];
        assert_eq!(eval(&h, true), None);
        assert_eq!(eval(&h, false), None);
        // If-Match false fails even when If-Unmodified-Since is true.
        assert_eq!(
            eval(
                &[("if-match", "\"x\""), ("if-unmodified-since", &date(5))],
                true
            ),
            PF
        );
        // If-None-Match false (matches) + If-Modified-Since true → 304.
        let h = [("if-none-match", ETAG), ("if-modified-since", &date(-1))];
        assert_eq!(eval(&h, true), NM);
        // If-None-Match true overrides If-Modified-Since false.
        let h = [("if-none-match", "\"x\""), ("if-modified-since", &date(1))];
        assert_eq!(eval(&h, true), None);
        // The If-Match failure (412) is reported before If-None-Match (304).
        let h = [("if-match", "\"x\""), ("if-none-match", ETAG)];
        assert_eq!(eval(&h, true), PF);
    }

    #[test]
    fn invalid_dates_are_ignored() {
        for bad in ["yesterday", "", "Sun, 31 Feb 1994 08:49:37 GMT"] {
            assert_eq!(eval(&[("if-modified-since", bad)], true), None);
            assert_eq!(eval(&[("if-unmodified-since", bad)], true), None);
        }
        let c = Conditions::from_headers(&headers(&[("if-modified-since", "nope")]));
        assert!(c.is_empty());
    }

    #[test]
    fn all_date_formats_are_understood() {
        // 1 second before the object was modified, in each format.
        for d in [
            "Tue, 14 Nov 2023 22:13:19 GMT",
            "Tuesday, 14-Nov-23 22:13:19 GMT",
            "Tue Nov 14 22:13:19 2023",
        ] {
            assert_eq!(eval(&[("if-unmodified-since", d)], true), PF, "{d}");
            assert_eq!(eval(&[("if-modified-since", d)], true), None, "{d}");
        }
    }

    #[test]
    fn etag_lists_and_hostile_values() {
        // Several header lines form one list.
        assert_eq!(
            eval(&[("if-match", "\"x\""), ("if-match", "\"abc\"")], true),
            None
        );
        // A quoted tag may contain a comma.
        assert_eq!(
            EtagCondition::parse("\"a,b\", \"c\""),
            Some(EtagCondition::Tags(vec![
                EntityTag {
                    weak: false,
                    tag: "a,b".into()
                },
                EntityTag {
                    weak: false,
                    tag: "c".into()
                },
            ]))
        );
        assert_eq!(EtagCondition::parse(""), None);
        assert_eq!(EtagCondition::parse(" , ,"), None);
        assert_eq!(EtagCondition::parse("\"x\", *"), Some(EtagCondition::Any));
        // Unterminated quote still yields a tag.
        assert_eq!(
            EtagCondition::parse("\"abc"),
            Some(EtagCondition::Tags(vec![EntityTag {
                weak: false,
                tag: "abc".into()
            }]))
        );
        // Non-UTF-8 bytes: the header is kept and simply does not match.
        let mut h = HeaderMap::new();
        h.insert("if-match", HeaderValue::from_bytes(b"\"\xff\"").unwrap());
        let c = Conditions::from_headers(&h);
        assert_eq!(
            c.evaluate(ETAG, modified(), true).unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );
    }

    #[test]
    fn empty_if_match_is_absent() {
        assert_eq!(eval(&[("if-match", "")], true), None);
    }

    #[test]
    fn stored_etag_forms() {
        let c = Conditions::from_headers(&headers(&[("if-match", "\"abc-3\"")]));
        assert_eq!(c.evaluate("\"abc-3\"", modified(), true), Ok(()));
        // An unquoted stored etag is normalised too.
        assert_eq!(c.evaluate("abc-3", modified(), true), Ok(()));
        assert!(c.evaluate("\"abc\"", modified(), true).is_err());
    }

    #[test]
    fn copy_source_conditions() {
        let h = headers(&[
            ("x-amz-copy-source-if-none-match", ETAG),
            ("x-amz-copy-source-if-modified-since", &date(-1)),
            ("if-match", "\"unrelated\""),
        ]);
        let c = Conditions::from_copy_source_headers(&h);
        assert!(c.if_match.is_none());
        // if-none-match false + if-modified-since true → 412, not 304.
        assert_eq!(
            c.evaluate_copy_source(ETAG, modified()).unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );

        // if-match true + if-unmodified-since false → copy proceeds.
        let h = headers(&[
            ("x-amz-copy-source-if-match", ETAG),
            ("x-amz-copy-source-if-unmodified-since", &date(-1)),
        ]);
        let c = Conditions::from_copy_source_headers(&h);
        assert_eq!(c.evaluate_copy_source(ETAG, modified()), Ok(()));

        // if-modified-since is evaluated for copies (unlike plain writes).
        let h = headers(&[("x-amz-copy-source-if-modified-since", &date(0))]);
        let c = Conditions::from_copy_source_headers(&h);
        assert_eq!(
            c.evaluate_copy_source(ETAG, modified()).unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );
        let h = headers(&[("x-amz-copy-source-if-modified-since", &date(-1))]);
        let c = Conditions::from_copy_source_headers(&h);
        assert_eq!(c.evaluate_copy_source(ETAG, modified()), Ok(()));
    }

    #[test]
    fn missing_object() {
        let c = Conditions::from_headers(&headers(&[("if-none-match", "*")]));
        assert_eq!(c.evaluate_missing(), Ok(()));
        let c = Conditions::from_headers(&headers(&[("if-match", ETAG)]));
        assert_eq!(
            c.evaluate_missing().unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );
        let c = Conditions::from_headers(&headers(&[("if-unmodified-since", &date(-100))]));
        assert_eq!(c.evaluate_missing(), Ok(()));
    }
}
