//! `POST /_kura/admin/v1/scrub`: an online scrub (see `kura_storage`'s
//! scrub.rs): reads every chunk at a bounded rate, checks it against its
//! metadata, and answers the report. One scrub at a time; one stopped at
//! `max_chunks` (or by a restart) resumes where it stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::Response;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::ScrubOptions;
use serde::{Deserialize, Serialize};

use super::json;
use crate::errors::{blocking, StorageResultExt};
use crate::response::Body;
use crate::state::AppState;

/// Files no metadata lists count as orphans online only after this long: an
/// upload in progress owns chunk files before its row is committed.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// The request body (every field optional).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ScrubRequest {
    /// Chunk bytes read per second at most (default: unlimited).
    #[serde(default)]
    pub rate_bytes_per_sec: Option<u64>,
    /// Stop after this many chunks; the next scrub resumes there.
    #[serde(default)]
    pub max_chunks: Option<u64>,
    /// Start from the beginning instead of the persisted cursor.
    #[serde(default)]
    pub restart: bool,
}

static RUNNING: AtomicBool = AtomicBool::new(false);

struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

/// Runs one scrub on the blocking pool and answers its report.
pub async fn run(state: &Arc<AppState>, req: ScrubRequest) -> S3Result<Response<Body>> {
    if RUNNING.swap(true, Ordering::AcqRel) {
        return Err(S3Error::with_message(
            S3ErrorCode::OperationAborted,
            "A scrub is already running.",
        ));
    }
    let running = Running;
    let store = state.store.clone();
    let opts = ScrubOptions {
        rate_bytes_per_sec: req.rate_bytes_per_sec,
        max_chunks: req.max_chunks,
        restart: req.restart,
        orphan_grace: ORPHAN_GRACE,
    };
    let report = blocking(move || {
        let _running = running;
        store.scrub(&opts).s3()
    })
    .await?;
    Ok(json(&report))
}
