//! The upload page: one static HTML page, an ES module and a style sheet,
//! built into the binary (`server/assets/upload/`). The page is the same
//! for every link — the script reads the token from the address and asks
//! `…/info` what the link accepts — so no inline script is needed and the
//! Content-Security-Policy forbids all of it.

use http::{Response, StatusCode};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};

use crate::response::{self, Body};

const PAGE: &str = include_str!("../../assets/upload/upload.html");
const SCRIPT: &str = include_str!("../../assets/upload/upload.js");
const STYLE: &str = include_str!("../../assets/upload/upload.css");

/// Only this origin's script, style and requests; no plugins, no framing,
/// no forms posted elsewhere. `data:` images only for the page's empty icon,
/// which keeps browsers from asking for `/favicon.ico` (a bucket name).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

fn with_headers(body: &'static str, content_type: &str) -> Response<Body> {
    let mut r = Response::new(response::full(body));
    *r.status_mut() = StatusCode::OK;
    response::set_header(&mut r, "content-type", content_type);
    response::set_header(&mut r, "content-security-policy", CSP);
    // The page's address holds the link's token: never pass it on.
    response::set_header(&mut r, "referrer-policy", "no-referrer");
    response::set_header(&mut r, "cache-control", "no-store");
    r
}

/// The page (the same for every token).
pub fn page() -> Response<Body> {
    with_headers(PAGE, "text/html; charset=utf-8")
}

/// `assets/upload.js` or `assets/upload.css`.
pub fn asset(name: &str) -> S3Result<Response<Body>> {
    match name {
        "upload.js" => Ok(with_headers(SCRIPT, "text/javascript; charset=utf-8")),
        "upload.css" => Ok(with_headers(STYLE, "text/css; charset=utf-8")),
        _ => Err(S3Error::with_message(
            S3ErrorCode::NoSuchKey,
            "No such file of the upload page.",
        )),
    }
}
