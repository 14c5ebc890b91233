//! Where chunk bytes go (`--blobs`): local files under the data directory
//! (the default), or a backend of `kura_storage::ChunkBackend`:
//!
//! * `s3://BUCKET[/PREFIX]@http(s)://HOST[:PORT]` — any S3-compatible
//!   endpoint ([`s3`]), one object per chunk named `PREFIX` + the chunk id
//!   in hex; credentials from `--blobs-access-key-id` /
//!   `--blobs-secret-access-key` (or `KURA_BLOBS_ACCESS_KEY_ID` /
//!   `KURA_BLOBS_SECRET_ACCESS_KEY`), region from `--blobs-region`.
//! * `rados://POOL?conf=/etc/ceph/ceph.conf[&namespace=NS][&user=ID][&op_timeout=60s]`
//!   — a Ceph RADOS pool ([`rados`], built with the default `rados`
//!   feature), one RADOS object per chunk named by the id in hex.
//!
//! The data directory records the backend it was first started on
//! (`blobs` file, the URL without credentials), and a later start on
//! another one is refused: the metadata names chunks by id only, so
//! switching would strand every chunk written before.

#[cfg(feature = "rados")]
pub mod rados;
pub mod s3;

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use kura_storage::ChunkBackend;

/// The file in the data directory naming the chunk backend.
const BLOBS_FILE: &str = "blobs";
/// What it says for local chunk files.
const LOCAL: &str = "local";

/// Credentials and region for a remote chunk backend.
#[derive(Clone, Default)]
pub struct BlobCredentials {
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Its secret.
    pub secret_access_key: Option<String>,
    /// Region the endpoint expects in signatures.
    pub region: String,
}

impl std::fmt::Debug for BlobCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The backend `url` names (`None`: local chunk files), checked against
/// what the data directory was started on (and recorded there on a first
/// start).
pub fn open(
    data_dir: &Path,
    url: Option<&str>,
    creds: &BlobCredentials,
) -> anyhow::Result<Option<Arc<dyn ChunkBackend>>> {
    let backend = match url {
        None => None,
        Some(url) => Some(parse(url, creds)?),
    };
    let wanted = backend
        .as_ref()
        .map_or_else(|| LOCAL.to_string(), |b| b.describe());
    let file = data_dir.join(BLOBS_FILE);
    match std::fs::read_to_string(&file) {
        Ok(recorded) if recorded.trim() == wanted => {}
        Ok(recorded) => bail!(
            "{} holds its chunks in {} (recorded in {}); it cannot be started on {wanted}: \
             the metadata would point at chunks that are not there",
            data_dir.display(),
            recorded.trim(),
            file.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A data directory from before `--blobs` existed has local chunks.
            if data_dir.join("meta").exists() && wanted != LOCAL {
                bail!(
                    "{} already holds data in local chunk files; it cannot be started on {wanted}",
                    data_dir.display()
                );
            }
            record(data_dir, &file, &wanted)?;
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    }
    Ok(backend)
}

/// The backend recorded in a data directory (for `kura fsck`), `None` for local files.
pub fn recorded(data_dir: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(data_dir.join(BLOBS_FILE)) {
        Ok(s) if s.trim() == LOCAL => Ok(None),
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Parses a `--blobs` URL into its backend.
pub fn parse(url: &str, creds: &BlobCredentials) -> anyhow::Result<Arc<dyn ChunkBackend>> {
    if let Some(rest) = url.strip_prefix("s3://") {
        return Ok(Arc::new(s3::S3Chunks::new(
            s3::S3Target::parse(rest)?,
            creds,
        )?));
    }
    if let Some(rest) = url.strip_prefix("rados://") {
        #[cfg(feature = "rados")]
        return Ok(Arc::new(rados::RadosChunks::connect(
            rados::RadosTarget::parse(rest)?,
        )?));
        #[cfg(not(feature = "rados"))]
        bail!("rados://{rest}: this kura was built without the `rados` feature");
    }
    bail!(
        "unknown chunk backend {url:?}: expected s3://BUCKET[/PREFIX]@http(s)://HOST:PORT \
         or rados://POOL?conf=FILE"
    )
}

/// Opens the buckets' own backends (`kura admin bucket set NAME --backend
/// URL`) from their registry rows: the same URLs as `--blobs`, with the
/// credentials registered with them.
pub fn opener() -> kura_storage::BackendOpener {
    Arc::new(|spec: &kura_storage::BackendSpec| {
        let creds = BlobCredentials {
            access_key_id: spec.access_key_id.clone(),
            secret_access_key: spec.secret_access_key.clone(),
            region: spec.region.clone().unwrap_or_else(|| "us-east-1".into()),
        };
        parse(&spec.url, &creds).map_err(|e| std::io::Error::other(format!("{e:#}")))
    })
}

/// Writes the `blobs` file durably (temporary name, fsync, rename, fsync the directory).
fn record(data_dir: &Path, file: &Path, what: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = data_dir.join(format!("{BLOBS_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{what}\n").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)?;
    std::fs::File::open(data_dir)?.sync_all()?;
    Ok(())
}
