//! A minimal S3 client: path-style requests signed with AWS's own
//! `aws-sigv4`, sent over a pooled hyper client (keep-alive, TCP_NODELAY).
//! Bodies are sent as `UNSIGNED-PAYLOAD` so the client never hashes them:
//! its cost per byte must stay far below the server's.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Request bodies: empty, small XML, or streamed object content.
pub type ReqBody = BoxBody<Bytes, std::convert::Infallible>;

/// Why an operation failed: an S3 error code (`NoSuchKey`), `HTTP 503` for
/// bodies without one, or a transport error class.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpError(pub String);

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A signing S3 client for one endpoint; cheap to clone.
#[derive(Clone)]
pub struct S3 {
    http: Client<HttpConnector, ReqBody>,
    endpoint: String,
    host: String,
    region: String,
    identity: Credentials,
}

impl S3 {
    /// A client for `endpoint` (`http://host:port`), keeping up to
    /// `pool` idle connections.
    pub fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        pool: usize,
    ) -> anyhow::Result<S3> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let uri: http::Uri = endpoint.parse().context("parsing --endpoint")?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "only http:// endpoints are supported"
        );
        let host = uri
            .authority()
            .context("--endpoint has no host")?
            .to_string();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(S3 {
            http,
            endpoint,
            host,
            region: region.to_string(),
            identity: Credentials::new(access_key, secret_key, None, None, "kura-bench"),
        })
    }

    /// Sends a signed request for `/bucket[/key][?query]` and returns the
    /// response, its status checked: non-2xx statuses become [`OpError`]s
    /// carrying the S3 error code.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: ReqBody,
    ) -> Result<Response<Incoming>, OpError> {
        let uri = format!("{}{}", self.endpoint, path_and_query);
        let mut all: Vec<(&str, String)> = Vec::with_capacity(headers.len() + 1);
        all.push(("host", self.host.clone()));
        all.extend(headers.iter().cloned());
        let signed = self
            .sign(&method, &uri, &all)
            .map_err(|e| OpError(format!("SigningFailed: {e}")))?;
        let mut req = Request::builder().method(method.clone()).uri(&uri);
        for (k, v) in all.iter().skip(1) {
            req = req.header(*k, v);
        }
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let req = req
            .body(body)
            .map_err(|e| OpError(format!("BadRequest: {e}")))?;
        let resp = self.http.request(req).await.map_err(transport_error)?;
        if resp.status().is_success() || resp.status() == StatusCode::PARTIAL_CONTENT {
            return Ok(resp);
        }
        let status = resp.status();
        let body = if method == Method::HEAD {
            Bytes::new()
        } else {
            resp.into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default()
        };
        Err(OpError(
            error_code(&body).unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
        ))
    }

    /// Like [`S3::send`], then reads the whole (small) response body.
    pub async fn send_read(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: ReqBody,
    ) -> Result<(http::response::Parts, Bytes), OpError> {
        let resp = self.send(method, path_and_query, headers, body).await?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| OpError(format!("BodyError: {e}")))?
            .to_bytes();
        Ok((parts, body))
    }

    /// Creates `bucket` unless it exists already. Another client creating
    /// it at the same moment (several load generators against several
    /// front ends) gets 409 `OperationAborted`, as from S3: try again.
    pub async fn ensure_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        for _ in 0..20 {
            match self
                .send_read(Method::PUT, &format!("/{bucket}"), &[], empty())
                .await
            {
                Ok(_) => return Ok(()),
                Err(OpError(code))
                    if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" =>
                {
                    return Ok(())
                }
                Err(OpError(code)) if code == "OperationAborted" => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => anyhow::bail!("creating bucket {bucket}: {e}"),
            }
        }
        anyhow::bail!("creating bucket {bucket}: still OperationAborted after 20 tries")
    }

    fn sign(
        &self,
        method: &Method,
        uri: &str,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Vec<(&'static str, HeaderValue)>> {
        let identity = self.identity.clone().into();
        let mut settings = SigningSettings::default();
        // S3 style: no path normalisation, single percent-encoding.
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            uri,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let (headers, _) = instructions.into_parts();
        headers
            .into_iter()
            .map(|h| Ok((h.name(), HeaderValue::from_str(h.value())?)))
            .collect()
    }
}

/// An empty request body.
pub fn empty() -> ReqBody {
    Empty::new().boxed()
}

/// A small in-memory request body.
pub fn full(b: impl Into<Bytes>) -> ReqBody {
    Full::new(b.into()).boxed()
}

fn transport_error(e: hyper_util::client::legacy::Error) -> OpError {
    let class = if e.is_connect() {
        "ConnectError"
    } else {
        "TransportError"
    };
    OpError(class.to_string())
}

/// The `<Code>` of an S3 error body.
pub fn error_code(body: &[u8]) -> Option<String> {
    xml_text(body, "Code")
}

/// The text of the first `<name>` element of an XML document.
pub fn xml_text(body: &[u8], name: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.name().as_ref() == name.as_bytes() => inside = true,
            Event::Text(t) if inside => return Some(t.unescape().ok()?.into_owned()),
            Event::End(_) if inside => return Some(String::new()),
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        let body =
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>x</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("NoSuchKey"));
        assert_eq!(error_code(b"<html>oops</html>"), None);
        assert_eq!(error_code(b""), None);
    }
}
