//! A tiny writer for compact S3 response documents.
//!
//! Written by hand rather than through serde so that element order, empty
//! elements and escaping are exactly what the golden tests pin down. Public,
//! so that a handler can render a small document of its own operation.

use super::{escape, format_timestamp, S3_XMLNS, XML_DECLARATION};
use std::fmt::{Display, Write};
use time::OffsetDateTime;

/// Builds one response document: declaration, namespaced root, children.
pub struct XmlWriter {
    out: String,
    root: &'static str,
}

impl XmlWriter {
    /// Starts a document whose root element is `root`.
    pub fn new(root: &'static str) -> Self {
        let mut out = String::with_capacity(512);
        out.push_str(XML_DECLARATION);
        out.push('<');
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(S3_XMLNS);
        out.push_str("\">");
        XmlWriter { out, root }
    }

    /// `<name>` with no attributes.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name attrs>`; `attrs` is written verbatim (callers pass constants).
    pub fn open_with_attrs(&mut self, name: &str, attrs: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(attrs);
        self.out.push('>');
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>escaped text</name>`; an empty text gives `<name></name>`.
    pub fn text(&mut self, name: &str, value: &str) {
        self.open(name);
        self.out.push_str(&escape(value));
        self.close(name);
    }

    /// [`XmlWriter::text`] when `value` is present, nothing otherwise.
    pub fn opt_text(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.text(name, v);
        }
    }

    /// A number or other value whose `Display` needs no escaping.
    pub fn value(&mut self, name: &str, value: impl Display) {
        self.open(name);
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
        self.close(name);
    }

    /// `true` / `false`, as S3 spells booleans.
    pub fn boolean(&mut self, name: &str, value: bool) {
        self.value(name, value);
    }

    /// A timestamp in S3's ISO 8601 form.
    pub fn timestamp(&mut self, name: &str, value: OffsetDateTime) {
        self.value(name, format_timestamp(value));
    }

    /// One `<CommonPrefixes><Prefix>p</Prefix></CommonPrefixes>` per prefix.
    pub fn common_prefixes(&mut self, prefixes: &[String]) {
        for p in prefixes {
            self.open("CommonPrefixes");
            self.text("Prefix", p);
            self.close("CommonPrefixes");
        }
    }

    /// Closes the root element and returns the document.
    pub fn finish(mut self) -> String {
        let root = self.root;
        self.close(root);
        self.out
    }
}

/// A document whose root element is empty: `<root xmlns="..."/>`.
pub(crate) fn empty_document(root: &str) -> String {
    format!("{XML_DECLARATION}<{root} xmlns=\"{S3_XMLNS}\"/>")
}

/// A document whose root element holds only text: `<root xmlns="...">text</root>`.
pub(crate) fn text_document(root: &str, text: &str) -> String {
    format!(
        "{XML_DECLARATION}<{root} xmlns=\"{S3_XMLNS}\">{}</{root}>",
        escape(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_compact_namespaced_document() {
        let mut w = XmlWriter::new("Root");
        w.text("A", "x&y");
        w.text("Empty", "");
        w.opt_text("Missing", None);
        w.value("N", 42u64);
        w.boolean("B", false);
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Root xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <A>x&amp;y</A><Empty></Empty><N>42</N><B>false</B></Root>"
        );
        assert_eq!(
            empty_document("R"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"
        );
    }
}
