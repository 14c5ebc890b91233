//! The console's static files, built into the binary (no CDN, works
//! offline): plain ES modules and one style sheet, from `server/assets/console/`.

use http::request::Parts;
use http::{header, HeaderValue, Method, Response, StatusCode};

use crate::response::{self, Body};

macro_rules! asset {
    ($name:literal, $type:literal) => {
        (
            $name,
            $type,
            include_str!(concat!("../../assets/console/", $name)),
        )
    };
}

/// Name, content type, contents.
const FILES: &[(&str, &str, &str)] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "text/javascript; charset=utf-8"),
    asset!("browse.js", "text/javascript; charset=utf-8"),
    asset!("upload.js", "text/javascript; charset=utf-8"),
    asset!("operator.js", "text/javascript; charset=utf-8"),
    asset!("ui.js", "text/javascript; charset=utf-8"),
];

/// The page (`/_kura/console/`) or one of its files (`assets/NAME`).
pub fn serve(parts: &Parts) -> Response<Body> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return response::empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    let rest = parts.uri.path().strip_prefix(super::ROOT).unwrap_or("");
    let name = rest.strip_prefix("assets/").unwrap_or("index.html");
    let Some((_, content_type, text)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return response::empty(StatusCode::NOT_FOUND);
    };
    let mut r = Response::new(if parts.method == Method::HEAD {
        response::full(bytes::Bytes::new())
    } else {
        response::full(bytes::Bytes::from_static(text.as_bytes()))
    });
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change only with the binary: revalidate, but cheaply.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
