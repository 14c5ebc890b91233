//! A small HTTP client for the admin API: SigV4-signed with AWS's own
//! `aws-sigv4` signer, over plain TCP or rustls.

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
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::admin::types::ApiError;

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
        let authority = self
            .endpoint
            .authority()
            .context("the endpoint needs a host")?
            .clone();
        let url = format!(
            "{}://{}{}{path}",
            self.endpoint.scheme_str().unwrap_or("http"),
            authority,
            crate::admin::V1
        );
        let mut req = Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::HOST, authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.clone())?;
        self.sign(&mut req, &url, &body)?;
        let (parts, body) = req.into_parts();
        let mut req = Request::from_parts(parts, Full::new(Bytes::from(body)));
        // HTTP/1.1 requests carry the path only; the Host header has the authority.
        *req.uri_mut() = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .parse()?;

        let host = authority.host().trim_matches(['[', ']']).to_string();
        let https = self.endpoint.scheme_str() == Some("https");
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        let resp = if https {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?));
            let name = rustls_pki_types::ServerName::try_from(host.clone())
                .context("invalid server name for TLS")?;
            let tls = connector
                .connect(name, tcp)
                .await
                .context("TLS handshake")?;
            send(TokioIo::new(tls), req).await?
        } else {
            send(TokioIo::new(tcp), req).await?
        };
        let (status, bytes) = resp;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !status.is_success() {
            match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(e) => bail!("{} ({}): {}", status.as_u16(), e.code, e.message),
                Err(_) => bail!("{}: {}", status, String::from_utf8_lossy(&bytes)),
            }
        }
        Ok(Some(
            serde_json::from_slice(&bytes).context("the server's answer is not JSON")?,
        ))
    }

    fn sign(&self, req: &mut Request<Vec<u8>>, url: &str, body: &[u8]) -> anyhow::Result<()> {
        let identity =
            Credentials::new(&self.access_key_id, &self.secret, None, None, "kura-admin").into();
        let mut settings = SigningSettings::default();
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
            SignableBody::Bytes(body),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(())
    }

    fn tls_config(&self) -> anyhow::Result<ClientConfig> {
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

async fn send<I>(io: I, req: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, Bytes)>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .context("sending the request")?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}
