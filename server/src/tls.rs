//! HTTPS: a rustls acceptor from PEM files (`--tls-cert`, `--tls-key`),
//! whose certificate can be replaced while the server runs.
//!
//! The acceptor asks [`ReloadableCert`] for the certificate at every
//! handshake, so a reload (SIGHUP, see `server.rs`) swaps what new
//! connections get; open connections keep theirs and are never dropped.
//! A new certificate or key that does not load, or whose key does not fit
//! the certificate, is refused and the old pair stays in service.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use parking_lot::RwLock;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The certificate in service, and where to reload it from.
pub struct ReloadableCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("ReloadableCert")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read()))
    }
}

impl ReloadableCert {
    /// Loads the files again; on success new handshakes use the new pair.
    /// On failure the pair in service stays, and the error says why.
    pub fn reload(&self) -> anyhow::Result<()> {
        let fresh = load(&self.cert_path, &self.key_path, &self.provider)?;
        *self.current.write() = Arc::new(fresh);
        Ok(())
    }
}

/// Loads the certificate chain and private key into an acceptor (HTTP/1.1
/// only), with the handle that reloads them.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<(TlsAcceptor, Arc<ReloadableCert>)> {
    let builder = ServerConfig::builder();
    let provider = Arc::clone(builder.crypto_provider());
    let certified = load(cert, key, &provider)?;
    let resolver = Arc::new(ReloadableCert {
        cert_path: cert.to_path_buf(),
        key_path: key.to_path_buf(),
        provider,
        current: RwLock::new(Arc::new(certified)),
    });
    let mut config = builder
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), resolver))
}

fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing TLS certificate {}", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", cert.display());
    // The error names the file only: never print key material.
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| anyhow::anyhow!("no usable PEM private key in {}", key.display()))?;
    CertifiedKey::from_der(certs, key_der, provider)
        .map_err(|e| anyhow::anyhow!("TLS certificate and key do not fit together: {e}"))
}
