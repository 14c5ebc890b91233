//! A bounded element tree for request bodies.
//!
//! Request bodies are small and shallow, so they are read into a tree first
//! and then checked against S3's schema by each request type. Names are
//! compared by local name, so both `<Delete xmlns="...">` and prefixed
//! `<s3:Delete>` forms are accepted. DOCTYPEs are refused outright (no entity
//! expansion, no XXE); unknown child elements are ignored, as S3 does.

use crate::error::{S3Error, S3ErrorCode, S3Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deepest nesting any S3 request body needs is 5 (AccessControlPolicy).
const MAX_DEPTH: usize = 16;
/// 10,000 parts × (part + number + ETag + 5 checksums) fits with room.
const MAX_ELEMENTS: usize = 100_000;

/// The error every malformed request body gets.
pub(crate) fn malformed() -> S3Error {
    S3Error::new(S3ErrorCode::MalformedXML)
}

/// One element: local name, attributes (local names), text and children.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// All children called `name`, in document order.
    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The child called `name`, if any; more than one is malformed.
    pub(crate) fn child(&self, name: &str) -> S3Result<Option<&Element>> {
        let mut it = self.children.iter().filter(|c| c.name == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(malformed());
        }
        Ok(first)
    }

    /// The single child called `name`; missing is malformed.
    pub(crate) fn required(&self, name: &str) -> S3Result<&Element> {
        self.child(name)?.ok_or_else(malformed)
    }

    /// The text of a leaf element, exactly as sent (whitespace kept: keys
    /// may legitimately start or end with spaces).
    pub(crate) fn leaf_text(&self) -> S3Result<&str> {
        if !self.children.is_empty() {
            return Err(malformed());
        }
        Ok(&self.text)
    }

    /// The text of a leaf element with surrounding whitespace removed, for
    /// tokens such as numbers, enums, ETags and version ids.
    pub(crate) fn token(&self) -> S3Result<&str> {
        Ok(self.leaf_text()?.trim())
    }

    /// The trimmed text of the optional child `name`.
    pub(crate) fn opt_token(&self, name: &str) -> S3Result<Option<String>> {
        self.child(name)?
            .map(|c| c.token().map(str::to_owned))
            .transpose()
    }

    /// A `true`/`false` leaf (case-insensitive, as S3 accepts).
    pub(crate) fn boolean(&self) -> S3Result<bool> {
        let t = self.token()?;
        if t.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if t.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(malformed())
        }
    }

    /// A decimal `u32` leaf.
    pub(crate) fn number_u32(&self) -> S3Result<u32> {
        let t = self.token()?;
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        t.parse().map_err(|_| malformed())
    }

    /// The value of attribute `name` (local name, e.g. `type` for `xsi:type`).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `body` into a tree whose root element must be called `root`.
pub(crate) fn parse_document(body: &[u8], root: &str) -> S3Result<Element> {
    // Some Windows tools prefix a UTF-8 byte-order mark.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = Reader::from_reader(body);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.trim_text(false);

    let mut stack: Vec<Element> = Vec::new();
    let mut done: Option<Element> = None;
    let mut count = 0usize;
    loop {
        match reader.read_event().map_err(|_| malformed())? {
            Event::Start(e) | Event::Empty(e) => {
                count += 1;
                if done.is_some() || stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(malformed());
                }
                stack.push(open_element(&e)?);
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(malformed)?;
                // Text mixed in between child elements is not in any schema.
                if !el.children.is_empty() && !el.text.trim().is_empty() {
                    return Err(malformed());
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => done = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|_| malformed())?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(malformed()),
                }
            }
            Event::CData(c) => {
                let el = stack.last_mut().ok_or_else(malformed)?;
                let s = std::str::from_utf8(&c).map_err(|_| malformed())?;
                el.text.push_str(s);
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(malformed()),
            Event::Eof => break,
        }
    }
    match done {
        Some(el) if stack.is_empty() && el.name == root => Ok(el),
        _ => Err(malformed()),
    }
}

fn open_element(e: &BytesStart<'_>) -> S3Result<Element> {
    let name = utf8(e.local_name().as_ref())?;
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|_| malformed())?;
        // Namespace declarations are not data.
        if a.key.as_namespace_binding().is_some() {
            continue;
        }
        let key = utf8(a.key.local_name().as_ref())?;
        let value = a.unescape_value().map_err(|_| malformed())?.into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

fn utf8(b: &[u8]) -> S3Result<String> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_malformed(r: S3Result<Element>) -> bool {
        matches!(r, Err(e) if e.code == S3ErrorCode::MalformedXML)
    }

    #[test]
    fn builds_tree_with_entities_and_namespaces() {
        let doc = br#"<?xml version="1.0"?>
            <!-- hi -->
            <s3:R xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/" xmlns:xsi="x" xsi:type="T">
              <A> a&amp;b&#xA;&lt; </A><B/><C><![CDATA[<raw>]]></C>
            </s3:R>"#;
        let r = parse_document(doc, "R").unwrap();
        assert_eq!(r.attr("type"), Some("T"));
        assert_eq!(r.attrs.len(), 1);
        assert_eq!(r.required("A").unwrap().leaf_text().unwrap(), " a&b\n< ");
        assert_eq!(r.required("A").unwrap().token().unwrap(), "a&b\n<");
        assert_eq!(r.required("B").unwrap().leaf_text().unwrap(), "");
        assert_eq!(r.required("C").unwrap().leaf_text().unwrap(), "<raw>");
        assert!(r.child("D").unwrap().is_none());
        assert!(r.leaf_text().is_err());

        let bom = parse_document(b"\xEF\xBB\xBF<R><A>x</A></R>", "R").unwrap();
        assert_eq!(bom.required("A").unwrap().leaf_text().unwrap(), "x");
    }

    #[test]
    fn rejects_malformed_documents() {
        for doc in [
            &b""[..],
            b"   ",
            b"<R>",
            b"<R></S>",
            b"<R></R><R></R>",
            b"<R></R>trailing",
            b"junk<R></R>",
            b"<Other/>",
            b"<R>&unknown;</R>",
            b"<!DOCTYPE R [<!ENTITY e \"x\">]><R>&e;</R>",
            b"<R a=\"1\" a=\"2\"/>",
            b"<R>\xff</R>",
            b"<R>text<A/></R>",
        ] {
            assert!(is_malformed(parse_document(doc, "R")), "{doc:?}");
        }
    }

    #[test]
    fn enforces_depth_and_element_limits() {
        let deep = format!("{}{}", "<R>".repeat(17), "</R>".repeat(17));
        assert!(is_malformed(parse_document(deep.as_bytes(), "R")));
        let wide = format!("<R>{}</R>", "<a/>".repeat(MAX_ELEMENTS));
        assert!(is_malformed(parse_document(wide.as_bytes(), "R")));
        let ok = format!("<R>{}</R>", "<a/>".repeat(MAX_ELEMENTS - 1));
        assert!(parse_document(ok.as_bytes(), "R").is_ok());
    }

    #[test]
    fn duplicates_and_bad_leaves_are_malformed() {
        let r = parse_document(b"<R><A>1</A><A>2</A><N>12x</N><T>TRUE</T></R>", "R").unwrap();
        assert!(r.child("A").is_err());
        assert!(r.required("N").unwrap().number_u32().is_err());
        assert!(r.required("T").unwrap().boolean().unwrap());
        let r = parse_document(b"<R><N> 7 </N><N2>+7</N2><N3>99999999999</N3></R>", "R").unwrap();
        assert_eq!(r.required("N").unwrap().number_u32().unwrap(), 7);
        assert!(r.required("N2").unwrap().number_u32().is_err());
        assert!(r.required("N3").unwrap().number_u32().is_err());
    }
}
