//! The bucket CORS configuration (Put/GetBucketCors), as S3 defines it.
//!
//! Only the document lives here; which rule answers a browser's request is
//! [`crate::cors`].

use super::dom::{malformed, parse_document};
use super::writer::XmlWriter;
use crate::error::{S3Error, S3Result};

/// Most rules S3 accepts in one configuration.
pub const MAX_CORS_RULES: usize = 100;

/// The methods a CORS rule may allow, as S3 lists them.
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// One `<CORSRule>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsRule {
    /// Optional rule id (at most 255 characters).
    pub id: Option<String>,
    /// Origins allowed, each with at most one `*` wildcard.
    pub allowed_origins: Vec<String>,
    /// Methods allowed: `GET`, `PUT`, `POST`, `DELETE`, `HEAD`.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*`.
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may let scripts read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    pub max_age_seconds: Option<u32>,
}

/// A bucket's `<CORSConfiguration>`: its rules, tried in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsConfiguration {
    /// The rules; the first one that matches a request answers it.
    pub rules: Vec<CorsRule>,
}

impl CorsConfiguration {
    /// Parses a PutBucketCors body: 1 to 100 rules, each with at least one
    /// origin and one method. An unknown method or an origin with two
    /// wildcards is `InvalidRequest` with S3's message; anything else that
    /// breaks the schema is `MalformedXML`.
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = parse_document(body, "CORSConfiguration")?;
        let mut rules = Vec::new();
        for r in root.children_named("CORSRule") {
            let texts = |name: &str| -> S3Result<Vec<String>> {
                r.children_named(name)
                    .map(|e| e.token().map(str::to_string))
                    .collect()
            };
            let id = r.opt_token("ID")?;
            if id.as_ref().is_some_and(|i| i.chars().count() > 255) {
                return Err(S3Error::invalid_argument(
                    "The ID of a CORS rule is limited to 255 characters",
                ));
            }
            let rule = CorsRule {
                id,
                allowed_origins: texts("AllowedOrigin")?,
                allowed_methods: texts("AllowedMethod")?,
                allowed_headers: texts("AllowedHeader")?,
                expose_headers: texts("ExposeHeader")?,
                max_age_seconds: r
                    .child("MaxAgeSeconds")?
                    .map(|e| e.number_u32())
                    .transpose()?,
            };
            if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
                return Err(malformed());
            }
            for m in &rule.allowed_methods {
                if !METHODS.contains(&m.as_str()) {
                    return Err(S3Error::invalid_request(format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                    )));
                }
            }
            for o in &rule.allowed_origins {
                if o.matches('*').count() > 1 {
                    return Err(S3Error::invalid_request(format!(
                        "AllowedOrigin \"{o}\" can not have more than one wildcard."
                    )));
                }
            }
            for h in &rule.allowed_headers {
                if h.matches('*').count() > 1 {
                    return Err(S3Error::invalid_request(format!(
                        "AllowedHeader \"{h}\" can not have more than one wildcard."
                    )));
                }
            }
            rules.push(rule);
        }
        if rules.is_empty() || rules.len() > MAX_CORS_RULES {
            return Err(malformed());
        }
        Ok(CorsConfiguration { rules })
    }

    /// Renders the GetBucketCors answer.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("CORSConfiguration");
        for r in &self.rules {
            w.open("CORSRule");
            w.opt_text("ID", r.id.as_deref());
            for h in &r.allowed_headers {
                w.text("AllowedHeader", h);
            }
            for m in &r.allowed_methods {
                w.text("AllowedMethod", m);
            }
            for o in &r.allowed_origins {
                w.text("AllowedOrigin", o);
            }
            for h in &r.expose_headers {
                w.text("ExposeHeader", h);
            }
            if let Some(age) = r.max_age_seconds {
                w.value("MaxAgeSeconds", age);
            }
            w.close("CORSRule");
        }
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::S3ErrorCode;

    const DOC: &str = r#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <CORSRule><ID>web</ID><AllowedOrigin>https://*.example.com</AllowedOrigin>
        <AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>
        <AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>
        <MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>
      <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
    </CORSConfiguration>"#;

    #[test]
    fn parses_and_renders_round_trip() {
        let c = CorsConfiguration::parse(DOC.as_bytes()).unwrap();
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.rules[0].id.as_deref(), Some("web"));
        assert_eq!(c.rules[0].allowed_methods, ["PUT", "GET"]);
        assert_eq!(c.rules[0].max_age_seconds, Some(3000));
        assert_eq!(c.rules[1].allowed_headers, Vec::<String>::new());
        let again = CorsConfiguration::parse(c.to_xml().as_bytes()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn refuses_what_s3_refuses() {
        let code = |doc: &str| CorsConfiguration::parse(doc.as_bytes()).unwrap_err().code;
        assert_eq!(code("<CORSConfiguration/>"), S3ErrorCode::MalformedXML);
        assert_eq!(
            code("<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"),
            S3ErrorCode::MalformedXML
        );
        assert_eq!(
            code("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>"),
            S3ErrorCode::InvalidRequest
        );
        assert_eq!(
            code("<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"),
            S3ErrorCode::InvalidRequest
        );
        assert_eq!(
            code("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>x</MaxAgeSeconds></CORSRule></CORSConfiguration>"),
            S3ErrorCode::MalformedXML
        );
        let many = format!(
            "<CORSConfiguration>{}</CORSConfiguration>",
            "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
                .repeat(101)
        );
        assert_eq!(code(&many), S3ErrorCode::MalformedXML);
    }
}
