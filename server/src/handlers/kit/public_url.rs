//! Public URLs of published objects, as shown to authenticated callers
//! (`x-kura-public-url`); serving them is `handlers/public.rs`.

use http::request::Parts;
use http::Response;
use kura_protocol::headers::split_host;
use kura_protocol::S3Result;

use crate::errors::StorageResultExt;
use crate::response::{self, Body};
use crate::state::AppState;

/// Path prefix of public URLs. Bucket names have at least 3 characters, so
/// `/p/…` can never be a path-style bucket request.
pub const PUBLIC_PREFIX: &str = "/p/";

/// The file name a key is offered under: its last path segment.
pub fn file_name(key: &str) -> &str {
    key.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("download")
}

/// The public URL of a token, on the host the caller used (without the
/// bucket label of a virtual-host-style request: `/p/` lives on the bare
/// domain).
pub fn public_url(state: &AppState, parts: &Parts, token: &str, key: &str) -> String {
    let mut host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    if let Some(domain) = state.domain.as_deref() {
        let (name, port) = split_host(&host);
        if name.ends_with(&format!(".{domain}")) {
            host = match port {
                Some(p) => format!("{domain}:{p}"),
                None => domain.to_string(),
            };
        }
    }
    format!(
        "{}://{host}{PUBLIC_PREFIX}{token}/{}",
        state.scheme,
        kura_protocol::xml::url_encode(file_name(key))
    )
}

/// Adds `x-kura-public-url` to an authenticated response if the key is published.
pub fn add_public_url(
    state: &AppState,
    parts: &Parts,
    r: &mut Response<Body>,
    bucket: &str,
    key: &str,
) -> S3Result<()> {
    if let Some(token) = state.store.public_token(bucket, key).s3()? {
        response::set_header(
            r,
            "x-kura-public-url",
            &public_url(state, parts, &token, key),
        );
    }
    Ok(())
}
