//! One record per request, written when its response has been sent (or
//! abandoned): metrics always, the access log line through `tracing`
//! (target `kura::access`, at info level) and the audit file when one is
//! configured.
//!
//! The record is finished by the response body's wrapper ([`Observed`]),
//! so its duration and byte count cover the whole download, not just the
//! time to the response head, as in nginx's access log.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use serde::{Deserialize, Serialize};

use crate::metrics::BytesIn;
use crate::response::Body;
use crate::state::AppState;

/// The tracing target of access log lines (`KURA_LOG=kura::access=off` silences them).
pub const TARGET: &str = "kura::access";

/// What one request did, as logged and audited. Never holds a secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AccessRecord {
    /// When the request arrived (RFC 3339, UTC).
    pub time: String,
    /// The request id (`x-amz-request-id`).
    pub request_id: String,
    /// The client address (the forwarded one behind a trusted proxy).
    pub client: String,
    /// The access key that signed the request (claimed, if it was refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The name given to that key (`root` for the root key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The public link used, for public downloads (no key then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_link: Option<String>,
    /// The share link used or managed (its id: `kura share --list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<String>,
    /// The S3 operation (or `Admin`, `GetPublicObject`, `Unknown`…).
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// The bucket addressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The object key addressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The version read, written or deleted (request's `versionId`, else the response's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// HTTP status of the response.
    pub status: u16,
    /// S3 error code, for errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Request payload bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// Milliseconds from the request head to the last byte sent.
    pub duration_ms: f64,
    /// Whether the whole response was sent (false: the client went away).
    pub complete: bool,
    /// The client's User-Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `console` for requests made through the web console's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// Where the records go, decided once at start-up.
pub struct AccessLog {
    /// The audit file's writer, if `--audit-log` is set.
    pub audit: Option<crate::audit::AuditSink>,
}

impl AccessLog {
    /// Whether a request needs its record built at all (the log line is
    /// enabled, or an audit file is kept). Metrics are recorded either way.
    pub fn wants_records(&self) -> bool {
        self.audit.is_some() || tracing::enabled!(target: TARGET, tracing::Level::INFO)
    }

    fn write(&self, state: &AppState, r: &AccessRecord) {
        tracing::info!(
            target: TARGET,
            request_id = %r.request_id,
            client = %r.client,
            access_key_id = r.access_key_id.as_deref(),
            key_name = r.key_name.as_deref(),
            public_link = r.public_link.as_deref(),
            link_id = r.link_id.as_deref(),
            op = %r.operation,
            method = %r.method,
            bucket = r.bucket.as_deref(),
            key = r.key.as_deref(),
            version_id = r.version_id.as_deref(),
            status = r.status,
            error = r.error.as_deref(),
            bytes_in = r.bytes_in,
            bytes_out = r.bytes_out,
            ms = r.duration_ms,
            complete = r.complete,
            user_agent = r.user_agent.as_deref(),
            "request"
        );
        if let Some(audit) = &self.audit {
            if !audit.send(r) {
                state.metrics.audit_dropped.inc();
            }
        }
    }
}

/// What is known when the response head is ready; finished on drop.
pub struct Finish {
    /// Server state (metrics, log sinks).
    pub state: Arc<AppState>,
    /// The operation's name (resolved to its metrics at the end).
    pub op: &'static str,
    /// When the request head arrived.
    pub started: Instant,
    /// Response status.
    pub status: u16,
    /// The request payload counter, when the request had a body.
    pub bytes_in: Option<BytesIn>,
    /// The record to log, when records are wanted.
    pub record: Option<Box<AccessRecord>>,
}

/// A response body that counts what is sent and, when it ends or is
/// dropped, records the request. Adds no allocation per frame.
pub struct Observed {
    inner: Body,
    sent: u64,
    ended: bool,
    finish: Option<Finish>,
}

impl Observed {
    /// Wraps a response body.
    pub fn new(inner: Body, finish: Finish) -> Observed {
        Observed {
            inner,
            sent: 0,
            ended: false,
            finish: Some(finish),
        }
    }
}

impl HttpBody for Observed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.sent += d.len() as u64;
                }
            }
            Poll::Ready(None) => self.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        let Some(f) = self.finish.take() else {
            return;
        };
        let metrics = &f.state.metrics;
        let elapsed = f.started.elapsed();
        let bytes_in = f
            .bytes_in
            .as_ref()
            .map_or(0, |b| b.0.load(Ordering::Relaxed));
        metrics.record(
            metrics.op(f.op),
            f.status,
            elapsed.as_secs_f64(),
            bytes_in,
            self.sent,
        );
        if let Some(mut r) = f.record {
            r.bytes_in = bytes_in;
            r.bytes_out = self.sent;
            r.duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3;
            r.complete = self.ended || self.inner.is_end_stream();
            f.state.access_log.write(&f.state, &r);
        }
    }
}
