//! Building responses: bodies, XML, errors, common headers.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use kura_protocol::S3Error;

/// The response body type of every handler.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A response with no body.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    r
}

/// A body of fixed bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A 200 response carrying an S3 XML document.
pub fn xml(doc: String) -> Response<Body> {
    let mut r = Response::new(full(doc));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// Sets a header from a string, skipping values HTTP cannot carry (never panics).
pub fn set_header(r: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        header::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        r.headers_mut().insert(n, v);
    }
}

/// The S3 error response: XML body (none for HEAD), status, and the error's headers.
pub fn error(e: &S3Error, resource: &str, request_id: &str, head: bool) -> Response<Body> {
    let mut r = if head {
        empty(e.status())
    } else {
        let mut r = xml(e.to_xml(resource, request_id));
        *r.status_mut() = e.status();
        r
    };
    for (name, value) in &e.headers {
        set_header(&mut r, name, value);
    }
    if e.code == kura_protocol::S3ErrorCode::RequestTimeout {
        // The rest of a stalled body is never read: close the connection.
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}
