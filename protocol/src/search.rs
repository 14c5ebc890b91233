//! The query syntax of `GET /{bucket}?search` (a kura extension): every
//! parameter besides `search`, `max-keys` and `continuation-token` is one
//! condition, and all of them must hold.
//!
//! | parameter | matches objects whose |
//! |---|---|
//! | `tag.<k>=v` (or `tag.<k>.eq=v`) | tag `k` is `v` |
//! | `tag.<k>.prefix=p` | tag `k` starts with `p` |
//! | `tag.<k>.gte=a`, `tag.<k>.lte=b` | tag `k` lies in `[a, b]`: as numbers when the bounds are numbers, as dates when they are RFC 3339 dates (or `YYYY-MM-DD`), else as strings |
//! | `meta.<k>…` | the same for user metadata `x-amz-meta-<k>` (`k` case-insensitive) |
//! | `prefix=p` | key starts with `p` |
//! | `size.gte=`, `size.lte=` | size in bytes lies in the range |
//! | `modified.gte=`, `modified.lte=` (`since=` is `modified.gte`) | Last-Modified (RFC 3339 or `YYYY-MM-DD`) lies in the range |
//!
//! A name ending in `.eq`, `.prefix`, `.gte` or `.lte` is read as that
//! operator: a tag literally called `a.gte` is searched as `tag.a.gte.eq=`.

use crate::error::{S3Error, S3Result};
use crate::router::Query;
use time::format_description::well_known::Rfc3339;

/// A test on a tag or user-metadata value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueTest {
    /// Equal to.
    Eq(String),
    /// Starts with.
    Prefix(String),
    /// Within inclusive bounds (at least one given).
    Range {
        /// `.gte=`
        gte: Option<String>,
        /// `.lte=`
        lte: Option<String>,
    },
}

/// One condition of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `prefix=`: the key starts with this.
    KeyPrefix(String),
    /// `size.gte=` / `size.lte=`, bytes.
    Size {
        /// Lower bound.
        gte: Option<u64>,
        /// Upper bound.
        lte: Option<u64>,
    },
    /// `modified.gte=` / `modified.lte=` / `since=`, ms since the epoch.
    Modified {
        /// Lower bound.
        gte: Option<u64>,
        /// Upper bound.
        lte: Option<u64>,
    },
    /// `tag.<name>…`
    Tag {
        /// Tag key (case-sensitive, as S3 tags are).
        name: String,
        /// The test.
        test: ValueTest,
    },
    /// `meta.<name>…`
    Meta {
        /// Metadata name, lowercase, without `x-amz-meta-`.
        name: String,
        /// The test.
        test: ValueTest,
    },
}

/// Parameters of `GET /{bucket}?search`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchParams {
    /// The conditions, all of which must hold, in the order given (ranges
    /// on one field merged into one condition).
    pub conditions: Vec<Condition>,
    /// `max-keys`: page size, 1,000 by default and at most.
    pub max_keys: usize,
    /// `continuation-token`: the `NextContinuationToken` of the page before.
    pub continuation_token: Option<String>,
}

/// Parses a time bound: RFC 3339, or `YYYY-MM-DD` meaning midnight UTC.
pub fn parse_time_ms(s: &str) -> Option<u64> {
    let t = match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let f = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(s, &f).ok()?.midnight().assume_utc()
        }
    };
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Whether a query parameter belongs to request signing, not to the search.
fn is_auth(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("x-amz-")
        || matches!(lower.as_str(), "awsaccesskeyid" | "signature" | "expires")
}

/// Sets a bound of a range condition, merging with an earlier one on the same field.
fn set_bound<T>(slot: &mut Option<T>, value: T, param: &str) -> S3Result<()> {
    if slot.is_some() {
        return Err(S3Error::invalid_argument(format!(
            "search parameter {param} is given twice"
        )));
    }
    *slot = Some(value);
    Ok(())
}

impl SearchParams {
    /// Parses the query of a `?search` request.
    pub fn from_query(q: &Query) -> S3Result<SearchParams> {
        let mut out = SearchParams {
            max_keys: 1000,
            ..Default::default()
        };
        for (name, value) in &q.0 {
            match name.as_str() {
                "search" => {}
                "max-keys" => {
                    out.max_keys = value.parse::<usize>().map_err(|_| {
                        S3Error::invalid_argument("max-keys must be a whole number")
                    })?;
                    out.max_keys = out.max_keys.min(1000);
                }
                "continuation-token" => {
                    out.continuation_token = Some(value.clone()).filter(|v| !v.is_empty())
                }
                "prefix" => out.conditions.push(Condition::KeyPrefix(value.clone())),
                "size.gte" | "size.lte" => {
                    let n = value.parse::<u64>().map_err(|_| {
                        S3Error::invalid_argument(format!("{name} must be a size in bytes"))
                    })?;
                    out.range_of(
                        name,
                        |c| matches!(c, Condition::Size { .. }),
                        || Condition::Size {
                            gte: None,
                            lte: None,
                        },
                        |c| match c {
                            Condition::Size { gte, lte } => {
                                set_bound(if name.ends_with("gte") { gte } else { lte }, n, name)
                            }
                            _ => unreachable!(),
                        },
                    )?;
                }
                "modified.gte" | "modified.lte" | "since" => {
                    let ms = parse_time_ms(value).ok_or_else(|| {
                        S3Error::invalid_argument(format!(
                            "{name} must be an RFC 3339 time or a YYYY-MM-DD date"
                        ))
                    })?;
                    let upper = name == "modified.lte";
                    out.range_of(
                        name,
                        |c| matches!(c, Condition::Modified { .. }),
                        || Condition::Modified {
                            gte: None,
                            lte: None,
                        },
                        |c| match c {
                            Condition::Modified { gte, lte } => {
                                set_bound(if upper { lte } else { gte }, ms, name)
                            }
                            _ => unreachable!(),
                        },
                    )?;
                }
                other if other.starts_with("tag.") || other.starts_with("meta.") => {
                    out.field(other, value)?;
                }
                other if is_auth(other) => {}
                other => {
                    return Err(S3Error::invalid_argument(format!(
                        "unknown search parameter {other:?}: use tag.<key>, meta.<name>, prefix, \
                         size.gte/lte, modified.gte/lte or since"
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Applies `set` to the range condition `is` selects, adding `new()` first if there is none.
    fn range_of(
        &mut self,
        _param: &str,
        is: impl Fn(&Condition) -> bool,
        new: impl FnOnce() -> Condition,
        set: impl FnOnce(&mut Condition) -> S3Result<()>,
    ) -> S3Result<()> {
        let i = match self.conditions.iter().position(is) {
            Some(i) => i,
            None => {
                self.conditions.push(new());
                self.conditions.len() - 1
            }
        };
        set(&mut self.conditions[i])
    }

    /// Adds the `tag.…` / `meta.…` condition `param=value`.
    fn field(&mut self, param: &str, value: &str) -> S3Result<()> {
        let (meta, rest) = match param.split_once('.') {
            Some(("meta", rest)) => (true, rest),
            Some((_, rest)) => (false, rest),
            None => unreachable!("caller checked the dot"),
        };
        let (name, op) = match rest.rsplit_once('.') {
            Some((n, op @ ("eq" | "prefix" | "gte" | "lte"))) => (n, op),
            _ => (rest, "eq"),
        };
        if name.is_empty() {
            return Err(S3Error::invalid_argument(format!(
                "search parameter {param} names no {}",
                if meta { "metadata entry" } else { "tag" }
            )));
        }
        let name = if meta {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        let test = match op {
            "eq" => ValueTest::Eq(value.to_string()),
            "prefix" => ValueTest::Prefix(value.to_string()),
            _ => {
                let same = |c: &Condition| match c {
                    Condition::Meta { name: n, test } if meta => {
                        *n == name && matches!(test, ValueTest::Range { .. })
                    }
                    Condition::Tag { name: n, test } if !meta => {
                        *n == name && matches!(test, ValueTest::Range { .. })
                    }
                    _ => false,
                };
                if let Some(c) = self.conditions.iter_mut().find(|c| same(c)) {
                    let (Condition::Tag { test, .. } | Condition::Meta { test, .. }) = c else {
                        unreachable!()
                    };
                    let ValueTest::Range { gte, lte } = test else {
                        unreachable!()
                    };
                    let slot = if op == "gte" { gte } else { lte };
                    return set_bound(slot, value.to_string(), param);
                }
                let v = Some(value.to_string());
                if op == "gte" {
                    ValueTest::Range { gte: v, lte: None }
                } else {
                    ValueTest::Range { gte: None, lte: v }
                }
            }
        };
        self.conditions.push(if meta {
            Condition::Meta { name, test }
        } else {
            Condition::Tag { name, test }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> S3Result<SearchParams> {
        SearchParams::from_query(&Query::parse(raw).unwrap())
    }

    #[test]
    fn conditions_parse_and_merge() {
        let p = parse(
            "search&tag.dst=0020&tag.n.gte=5&meta.Color.prefix=re&tag.n.lte=9&prefix=a%2F\
             &size.lte=10&since=2026-11-01&modified.lte=2026-11-02T00:00:00Z&max-keys=5000\
             &tag.a.gte.eq=x&X-Amz-Date=1",
        )
        .unwrap();
        assert_eq!(p.max_keys, 1000);
        assert_eq!(
            p.conditions,
            vec![
                Condition::Tag {
                    name: "dst".into(),
                    test: ValueTest::Eq("0020".into())
                },
                Condition::Tag {
                    name: "n".into(),
                    test: ValueTest::Range {
                        gte: Some("5".into()),
                        lte: Some("9".into())
                    }
                },
                Condition::Meta {
                    name: "color".into(),
                    test: ValueTest::Prefix("re".into())
                },
                Condition::KeyPrefix("a/".into()),
                Condition::Size {
                    gte: None,
                    lte: Some(10)
                },
                Condition::Modified {
                    gte: Some(1_793_491_200_000),
                    lte: Some(1_793_577_600_000)
                },
                Condition::Tag {
                    name: "a.gte".into(),
                    test: ValueTest::Eq("x".into())
                },
            ]
        );
        assert_eq!(parse("search").unwrap().max_keys, 1000);
        assert_eq!(
            parse("search&continuation-token=abc")
                .unwrap()
                .continuation_token
                .as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn search_routes_to_its_operation() {
        use crate::router::{route, target, Access, Operation};
        let t = target("/bkt", None, None).unwrap();
        let op = route(
            &http::Method::GET,
            t,
            &Query::parse("search&tag.a=1").unwrap(),
        )
        .unwrap();
        assert_eq!(op.access(), Access::Read);
        assert!(
            matches!(op, Operation::SearchObjects { ref params, .. } if params.conditions.len() == 1)
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_a_reason() {
        for (raw, says) in [
            ("search&size.gte=big", "size in bytes"),
            ("search&size.gte=-1", "size in bytes"),
            ("search&since=yesterday", "RFC 3339"),
            ("search&modified.lte=2026-13-01", "RFC 3339"),
            ("search&max-keys=x", "max-keys"),
            ("search&colour=red", "unknown search parameter"),
            ("search&tag.=x", "names no tag"),
            ("search&meta..gte=1", "names no metadata"),
            ("search&tag.n.gte=1&tag.n.gte=2", "twice"),
            ("search&size.lte=1&size.lte=2", "twice"),
        ] {
            let err = parse(raw).unwrap_err();
            assert!(err.message.contains(says), "{raw}: {err:?}");
        }
    }
}
