//! Raw HTTP requests over a plain TCP socket, signed with `aws-sigv4`.
//!
//! Used for what SDKs refuse to send: wrong Content-MD5, missing
//! Content-Length, truncated bodies, unsigned requests, skewed clocks.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use super::{ACCESS_KEY, SECRET_KEY};

/// A parsed response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 error body.
    pub fn code(&self) -> String {
        let b = self.body_text();
        b.split_once("<Code>")
            .and_then(|(_, r)| r.split_once("</Code>"))
            .map(|(c, _)| c.to_string())
            .unwrap_or_default()
    }
}

/// A request to build, sign and send.
pub struct Raw {
    pub method: String,
    /// Path and query, already encoded, e.g. `/bucket/key?uploads`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sign with this payload hash value instead of the body's SHA-256.
    pub payload_hash: Option<String>,
    /// Sign as of this time instead of now.
    pub time: Option<SystemTime>,
    /// Sign at all?
    pub signed: bool,
    /// Send only this many body bytes, then close the write side.
    pub send_body_bytes: Option<usize>,
    /// Omit the Content-Length header.
    pub no_content_length: bool,
    /// Sign with this key pair instead of the root test key.
    pub credentials: Option<(String, String)>,
}

impl Raw {
    pub fn new(method: &str, path: &str) -> Raw {
        Raw {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            payload_hash: None,
            time: None,
            signed: true,
            send_body_bytes: None,
            no_content_length: false,
            credentials: None,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Raw {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    /// Signs with this key pair instead of the root test key.
    pub fn credentials(mut self, id: &str, secret: &str) -> Raw {
        self.credentials = Some((id.to_string(), secret.to_string()));
        self
    }

    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Raw {
        self.body = b.into();
        self
    }

    /// Signs (unless disabled) and sends to `addr` (`host:port`).
    pub fn send(mut self, addr: &str) -> RawResponse {
        if !self
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            self.headers.push(("host".into(), addr.to_string()));
        }
        if !self.no_content_length {
            self.headers
                .push(("content-length".into(), self.body.len().to_string()));
        }
        if self.signed {
            self.sign(addr);
        }
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("connection: close\r\n\r\n");
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let n = self.send_body_bytes.unwrap_or(self.body.len());
        // The server may answer (and close) before reading a body it refuses.
        let _ = stream.write_all(&self.body[..n]);
        if self.send_body_bytes.is_some() {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        parse_response(&raw)
    }

    /// Signs the request as it stands (adds the SigV4 headers).
    pub fn sign(&mut self, addr: &str) {
        let (id, secret) = self
            .credentials
            .clone()
            .unwrap_or_else(|| (ACCESS_KEY.to_string(), SECRET_KEY.to_string()));
        let identity = Credentials::new(id, secret, None, None, "test").into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        // S3 style: no path normalisation, single percent-encoding.
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(self.time.unwrap_or_else(SystemTime::now))
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let host = self
            .headers
            .iter()
            .find(|(k, _)| k == "host")
            .map(|(_, v)| v.clone());
        let uri = format!("http://{}{}", host.as_deref().unwrap_or(addr), self.path);
        let body = match &self.payload_hash {
            Some(h) => SignableBody::Precomputed(h.clone()),
            None => SignableBody::Bytes(&self.body),
        };
        let signable = SignableRequest::new(
            &self.method,
            &uri,
            self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let (headers, _) = instructions.into_parts();
        for h in headers {
            self.headers
                .push((h.name().to_string(), h.value().to_string()));
        }
    }
}

fn parse_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

/// A signed request head (UNSIGNED-PAYLOAD) for a body of `len` bytes, for
/// tests that stream the body themselves.
pub fn signed_head(method: &str, path: &str, addr: &str, len: usize) -> String {
    let mut r = Raw::new(method, path);
    r.payload_hash = Some("UNSIGNED-PAYLOAD".into());
    r.headers.push(("host".into(), addr.to_string()));
    r.headers.push(("content-length".into(), len.to_string()));
    r.sign(addr);
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}
