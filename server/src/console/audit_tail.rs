//! The operator's "recent audit entries": the last records of the audit
//! file, newest first, read from its tail (the file may be 100 MiB).

use std::io::{Read, Seek, SeekFrom};

use http::request::Parts;
use http::Response;
use serde::Serialize;

use crate::access_log::AccessRecord;
use crate::response::Body;
use crate::state::AppState;

/// Bytes read from the end of the file at most.
const TAIL: u64 = 512 * 1024;
/// Entries returned by default and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Serialize)]
struct Answer {
    /// Whether the server keeps an audit file (`--audit-log`).
    enabled: bool,
    entries: Vec<AccessRecord>,
}

/// `GET api/audit?limit=N`.
pub(super) fn serve(state: &AppState, parts: &Parts) -> Response<Body> {
    let limit = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("limit="))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let entries = match &state.console.audit_log {
        Some(path) => tail(path, limit).unwrap_or_default(),
        None => Vec::new(),
    };
    super::json(&Answer {
        enabled: state.console.audit_log.is_some(),
        entries,
    })
}

fn tail(path: &std::path::Path, limit: usize) -> std::io::Result<Vec<AccessRecord>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut text = Vec::new();
    f.take(TAIL).read_to_end(&mut text)?;
    let text = String::from_utf8_lossy(&text);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    Ok(lines
        .iter()
        .rev()
        .filter_map(|l| serde_json::from_str::<AccessRecord>(l).ok())
        .take(limit)
        .collect())
}
