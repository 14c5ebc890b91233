//! Usage counters and backups through the admin API: `GET /usage`,
//! `POST /usage/recompute`, `POST /backup`.

use std::sync::Arc;

use http::Response;
use kura_protocol::{S3Error, S3Result};

use super::json;
use super::types::{BackupInfo, BackupRequest, BucketUsage, Recomputed};
use crate::errors::{blocking, StorageResultExt};
use crate::response::Body;
use crate::state::AppState;

/// Every bucket's counters (buckets without objects show zeros).
pub async fn list(state: &Arc<AppState>) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let out = blocking(move || {
        let mut out = Vec::new();
        for (name, _) in st.store.list_buckets().s3()? {
            out.push(BucketUsage::of(&name, st.store.usage(&name).s3()?));
        }
        Ok(out)
    })
    .await?;
    Ok(json(&out))
}

/// Recomputes every bucket's counters from a scan of its rows; the answer
/// says, bucket by bucket, whether the counters were right.
pub async fn recompute(state: &Arc<AppState>) -> S3Result<Response<Body>> {
    let st = Arc::clone(state);
    let out = blocking(move || {
        let mut out = Vec::new();
        for (name, _) in st.store.list_buckets().s3()? {
            let (before, scanned) = st.store.recompute_usage(&name).s3()?;
            out.push(Recomputed {
                counters: BucketUsage::of(&name, before),
                scanned: BucketUsage::of(&name, scanned),
                equal: before == scanned,
            });
        }
        Ok(out)
    })
    .await?;
    let wrong = out.iter().filter(|r| !r.equal).count();
    tracing::info!(buckets = out.len(), wrong, "usage counters recomputed");
    Ok(json(&out))
}

/// Writes a consistent backup of the data directory into a new directory
/// on the server's machine.
pub async fn backup(state: &Arc<AppState>, req: BackupRequest) -> S3Result<Response<Body>> {
    let dir = std::path::PathBuf::from(&req.dir);
    if !dir.is_absolute() {
        return Err(S3Error::invalid_argument(
            "dir must be an absolute path on the server's machine",
        ));
    }
    if dir.exists() {
        return Err(S3Error::invalid_argument(format!(
            "{} exists already: a backup goes into a new directory",
            dir.display()
        )));
    }
    let st = Arc::clone(state);
    let d = dir.clone();
    let stats = blocking(move || st.store.backup(&d).s3()).await?;
    tracing::info!(dir = %dir.display(), files = stats.chunk_files, bytes = stats.chunk_bytes, "backup written");
    Ok(json(&BackupInfo {
        dir: req.dir,
        chunk_files: stats.chunk_files,
        chunk_bytes: stats.chunk_bytes,
    }))
}
