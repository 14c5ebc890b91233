//! The small HTTP client of the command line (`kura admin`, `kura publish`):
//! SigV4-signed with AWS's own `aws-sigv4` signer, over plain TCP or rustls.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use clap::Args;
use http::uri::Authority;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::admin::types::ApiError;

/// Where the running server is and whose credentials sign the requests;
/// shared by every command that talks to it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's address.
    #[arg(long, env = "KURA_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: Uri,
    /// Access key id (the root key, or a key with the permissions the command needs).
    /// (Not needed by `kura admin audit`, which reads local files.)
    #[arg(
        long,
        env = "KURA_ACCESS_KEY_ID",
        hide_env_values = true,
        default_value = "",
        hide_default_value = true
    )]
    pub access_key_id: String,
    /// Its secret.
    #[arg(
        long,
        env = "KURA_SECRET_ACCESS_KEY",
        hide_env_values = true,
        default_value = "",
        hide_default_value = true
    )]
    pub secret_access_key: String,
    /// Region the server expects in signatures.
    #[arg(long, env = "KURA_REGION", default_value = "us-east-1")]
    pub region: String,
    /// PEM file of CA certificates to trust for an https endpoint (besides the system's).
    #[arg(long, env = "KURA_CA_BUNDLE")]
    pub ca_bundle: Option<std::path::PathBuf>,
}

/// A response, read whole (the command line only makes small requests).
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// Where the server is and how to sign for it.
pub struct Client {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: Uri,
    /// Admin access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret: String,
    /// Region the server expects in signatures.
    pub region: String,
    /// Extra PEM CA certificates to trust for https.
    pub ca_bundle: Option<std::path::PathBuf>,
}

impl Client {
    /// A client for the server and credentials of `conn`.
    pub fn new(conn: Connection) -> Client {
        Client {
            endpoint: conn.endpoint,
            access_key_id: conn.access_key_id,
            secret: conn.secret_access_key,
            region: conn.region,
            ca_bundle: conn.ca_bundle,
        }
    }

    /// Sends one signed request to `/_kura/admin/v1/{path}`; the JSON answer
    /// on success, the server's message as the error otherwise.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Option<serde_json::Value>> {
        let body = match body {
            Some(v) => serde_json::to_vec(&v)?,
            None => Vec::new(),
        };
        let path = format!("{}{path}", crate::admin::V1);
        let headers = [(http::header::CONTENT_TYPE, "application/json")];
        let Answer { status, body, .. } = self.send(method, &path, &headers, body).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !status.is_success() {
            match serde_json::from_slice::<ApiError>(&body) {
                Ok(e) => bail!("{} ({}): {}", status.as_u16(), e.code, e.message),
                Err(_) => bail!("{}: {}", status, String::from_utf8_lossy(&body)),
            }
        }
        Ok(Some(
            serde_json::from_slice(&body).context("the server's answer is not JSON")?,
        ))
    }

    /// Sends one signed request; `path_and_query` is already percent-encoded.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(http::header::HeaderName, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Answer> {
        let (authority, url) = self.target(path_and_query)?;
        let mut req = request(method, &url, &authority, headers).body(body.clone())?;
        self.sign(&mut req, &url, &body)?;
        let (parts, body) = req.into_parts();
        let req = Request::from_parts(parts, Full::new(Bytes::from(body)));
        let resp = self.dispatch(req).await?;
        let (parts, body) = resp.into_parts();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await?.to_bytes(),
        })
    }

    /// A request with a streamed body, signed as `UNSIGNED-PAYLOAD`, in the
    /// form HTTP/1.1 sends (path only; the Host header has the authority).
    pub(crate) fn signed<B>(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(http::header::HeaderName, String)],
        body: B,
    ) -> anyhow::Result<Request<B>> {
        let (authority, url) = self.target(path_and_query)?;
        let headers: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str()))
            .collect();
        let mut signed = request(method, &url, &authority, &headers).body(())?;
        self.sign_with(&mut signed, &url, SignableBody::UnsignedPayload)?;
        let (mut parts, ()) = signed.into_parts();
        parts.uri = path_and_query.parse()?;
        Ok(Request::from_parts(parts, body))
    }

    /// Opens a connection to the endpoint (TLS for https, TCP_NODELAY: a
    /// request's head and body go out at once) and returns its sender; the
    /// connection is driven by a task of its own until the sender is dropped.
    pub(crate) async fn open<B>(&self) -> anyhow::Result<SendRequest<B>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let authority = self
            .endpoint
            .authority()
            .context("the endpoint needs a host")?;
        let host = authority.host().trim_matches(['[', ']']).to_string();
        let https = self.endpoint.scheme_str() == Some("https");
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        tcp.set_nodelay(true)?;
        if https {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?));
            let name = rustls_pki_types::ServerName::try_from(host.clone())
                .context("invalid server name for TLS")?;
            let tls = connector
                .connect(name, tcp)
                .await
                .context("TLS handshake")?;
            handshake(TokioIo::new(tls)).await
        } else {
            handshake(TokioIo::new(tcp)).await
        }
    }

    /// The endpoint's authority and the full URL of `path_and_query`.
    fn target(&self, path_and_query: &str) -> anyhow::Result<(Authority, String)> {
        let authority = self
            .endpoint
            .authority()
            .context("the endpoint needs a host")?
            .clone();
        let url = format!(
            "{}://{}{path_and_query}",
            self.endpoint.scheme_str().unwrap_or("http"),
            authority,
        );
        Ok((authority, url))
    }

    /// Sends a signed request on a new connection (TLS for an https
    /// endpoint) and returns the response with its body unread.
    async fn dispatch<B>(
        &self,
        mut req: Request<B>,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // HTTP/1.1 requests carry the path only; the Host header has the authority.
        *req.uri_mut() = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .parse()?;
        let mut sender = self.open().await?;
        sender
            .send_request(req)
            .await
            .context("sending the request")
    }

    fn sign(&self, req: &mut Request<Vec<u8>>, url: &str, body: &[u8]) -> anyhow::Result<()> {
        let body = body.to_vec();
        self.sign_with(req, url, SignableBody::Bytes(&body))
    }

    fn sign_with<T>(
        &self,
        req: &mut Request<T>,
        url: &str,
        body: SignableBody<'_>,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.access_key_id.is_empty() && !self.secret.is_empty(),
            "no credentials: set KURA_ACCESS_KEY_ID and KURA_SECRET_ACCESS_KEY (or --access-key-id and --secret-access-key)"
        );
        let identity =
            Credentials::new(&self.access_key_id, &self.secret, None, None, "kura-cli").into();
        let mut settings = SigningSettings::default();
        // With `SignableBody::Bytes` below: x-amz-content-sha256 is the
        // body's real SHA-256, which the admin API requires.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(())
    }

    pub(crate) fn tls_config(&self) -> anyhow::Result<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &self.ca_bundle {
            use rustls_pki_types::pem::PemObject;
            for cert in rustls_pki_types::CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading {}", path.display()))?
            {
                roots
                    .add(cert.with_context(|| format!("parsing {}", path.display()))?)
                    .context("adding a CA certificate")?;
            }
        }
        Ok(ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

/// A request builder for `url` with the Host header and `headers` set.
fn request(
    method: Method,
    url: &str,
    authority: &Authority,
    headers: &[(http::header::HeaderName, &str)],
) -> http::request::Builder {
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::HOST, authority.as_str());
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    req
}

/// The HTTP/1 handshake on `io`; the connection runs on its own task.
async fn handshake<I, B>(io: I) -> anyhow::Result<SendRequest<B>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
