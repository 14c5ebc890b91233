//! Request bodies as a stream of verified payload bytes.
//!
//! Undoes aws-chunked framing (checking every chunk signature), checks the
//! declared `x-amz-content-sha256` and lengths, and maps transport failures
//! to S3 errors. Nothing is buffered beyond one frame.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use kura_protocol::sigv4::{ChunkedDecoder, PayloadMode, Verified};
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use sha2::{Digest, Sha256};

/// A minimum average rate: `bytes` per `per`, enforced from `per` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    /// Bytes that must arrive per period, on average.
    pub bytes: u64,
    /// The period, also the grace time before the rate is enforced.
    pub per: Duration,
}

/// The decoded payload of a request.
pub struct Payload {
    body: Incoming,
    decoder: Option<ChunkedDecoder>,
    sha256: Option<(Sha256, [u8; 32])>,
    /// `x-amz-decoded-content-length` (aws-chunked) or Content-Length.
    expected: Option<u64>,
    /// The most payload accepted (for bodies of undeclared length).
    limit: Option<u64>,
    /// What crossing `limit` answers: `EntityTooLarge`, or `QuotaExceeded`
    /// when the bucket's quota left less room than the size limit.
    limit_error: S3ErrorCode,
    received: u64,
    finished: bool,
    trailers: Vec<(String, String)>,
    /// How long the client may send nothing before `RequestTimeout`.
    idle_timeout: Option<Duration>,
    /// The slowest average the body may arrive at.
    min_rate: Option<MinRate>,
    /// When the handler first asked for payload (the rate's clock starts there).
    started: Option<Instant>,
    /// The request's payload counter for metrics and the access log.
    meter: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl Payload {
    /// Wraps a request body according to the verified payload mode.
    pub fn new(body: Incoming, verified: &mut Verified, expected: Option<u64>) -> Payload {
        let decoder = verified.payload.is_streaming().then(|| {
            ChunkedDecoder::new(verified.chunk_signer.take(), verified.payload.has_trailer())
        });
        let sha256 = match verified.payload {
            PayloadMode::Sha256(h) => Some((Sha256::new(), h)),
            _ => None,
        };
        Payload::with_decoding(body, decoder, sha256, expected)
    }

    /// Wraps a body no signature covers (a browser form, whose signed policy
    /// limits what it may hold instead).
    pub fn unsigned(body: Incoming, expected: Option<u64>) -> Payload {
        Payload::with_decoding(body, None, None, expected)
    }

    fn with_decoding(
        body: Incoming,
        decoder: Option<ChunkedDecoder>,
        sha256: Option<(Sha256, [u8; 32])>,
        expected: Option<u64>,
    ) -> Payload {
        Payload {
            body,
            decoder,
            sha256,
            expected,
            limit: None,
            limit_error: S3ErrorCode::EntityTooLarge,
            received: 0,
            finished: false,
            trailers: Vec::new(),
            idle_timeout: None,
            min_rate: None,
            started: None,
            meter: None,
        }
    }

    /// Counts the payload received into the request's [`crate::metrics::BytesIn`].
    pub fn with_meter(mut self, meter: Option<&crate::metrics::BytesIn>) -> Payload {
        self.meter = meter.map(|m| std::sync::Arc::clone(&m.0));
        self
    }

    /// Fails with 400 `RequestTimeout` when the body stalls this long (a
    /// slow or stuck client must not hold a connection and a write forever).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Payload {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Fails with 400 `RequestTimeout` once the body arrives slower than
    /// `rate` on average (from `rate.per` after it began): a write holds its
    /// key's lock while its body arrives, and a client trickling a byte just
    /// inside the idle timeout must not hold it for ever.
    pub fn with_min_rate(mut self, rate: Option<MinRate>) -> Payload {
        self.min_rate = rate.filter(|r| r.bytes > 0 && !r.per.is_zero());
        self
    }

    /// When the body has to have brought its next bytes: the earlier of the
    /// idle timeout and the moment the bytes received so far fall below the
    /// minimum average rate (`true` when it is the latter).
    fn deadline(&mut self) -> Option<(Instant, bool)> {
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        let idle = self.idle_timeout.map(|t| (now + t, false));
        let slow = self.min_rate.map(|rate| {
            // `received` bytes keep the average at `rate` until this long after the start.
            let covered = rate.per.mul_f64(self.received as f64 / rate.bytes as f64);
            (started + covered.max(rate.per), true)
        });
        match (idle, slow) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    fn timed_out(&self, too_slow: bool) -> S3Error {
        match self.min_rate.filter(|_| too_slow) {
            Some(rate) => S3Error::with_message(
                S3ErrorCode::RequestTimeout,
                format!(
                    "Your request body arrived slower than the minimum of {} bytes per {} seconds.",
                    rate.bytes,
                    rate.per.as_secs_f64()
                ),
            ),
            None => S3Error::new(S3ErrorCode::RequestTimeout),
        }
    }

    /// Fails with 400 `EntityTooLarge` as soon as the payload exceeds
    /// `max` bytes: a body of undeclared length (`Transfer-Encoding:
    /// chunked`) is held to the size limits while it streams.
    pub fn with_limit(mut self, max: u64) -> Payload {
        self.limit = Some(max);
        self
    }

    /// The payload length the request declared, if it did.
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }

    /// The next piece of payload, `None` at the (verified) end.
    pub async fn next(&mut self) -> S3Result<Option<Bytes>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if let Some(decoder) = self.decoder.as_mut() {
                if let Some(data) = decoder.next_payload()? {
                    if data.is_empty() {
                        continue;
                    }
                    return self.accept(data).map(Some);
                }
            }
            let frame = match self.deadline() {
                Some((at, too_slow)) => {
                    match tokio::time::timeout_at(at.into(), self.body.frame()).await {
                        Ok(frame) => frame,
                        Err(_) => return Err(self.timed_out(too_slow)),
                    }
                }
                None => self.body.frame().await,
            };
            match frame {
                None => {
                    self.finish()?;
                    return Ok(None);
                }
                Some(Err(e)) => return Err(transport_error(e)),
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    match self.decoder.as_mut() {
                        Some(decoder) => decoder.push(data),
                        None if data.is_empty() => continue,
                        None => return self.accept(data).map(Some),
                    }
                }
            }
        }
    }

    fn accept(&mut self, data: Bytes) -> S3Result<Bytes> {
        self.received += data.len() as u64;
        if let Some(m) = &self.meter {
            m.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if self.limit.is_some_and(|max| self.received > max) {
            return Err(S3Error::new(self.limit_error));
        }
        if let Some(expected) = self.expected {
            if self.received > expected {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "The request body is longer than its declared length.",
                ));
            }
        }
        if let Some((hasher, _)) = self.sha256.as_mut() {
            hasher.update(&data);
        }
        Ok(data)
    }

    fn finish(&mut self) -> S3Result<()> {
        self.finished = true;
        if let Some(decoder) = self.decoder.take() {
            self.trailers = decoder.finish()?;
        }
        if let Some(expected) = self.expected {
            if self.received != expected {
                return Err(S3Error::new(S3ErrorCode::IncompleteBody));
            }
        }
        if let Some((hasher, want)) = self.sha256.take() {
            if hasher.finalize().as_slice() != want {
                return Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch));
            }
        }
        Ok(())
    }

    /// Trailing headers of an aws-chunked body (after the end was reached).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Holds the body to `room` bytes, the space left by the bucket's quota,
    /// answering 403 `QuotaExceeded` when it crosses it (`None`: no quota).
    pub fn with_quota(mut self, room: Option<u64>) -> Payload {
        if let Some(room) = room.filter(|r| self.limit.is_none_or(|l| *r < l)) {
            self.limit = Some(room);
            self.limit_error = S3ErrorCode::QuotaExceeded;
        }
        self
    }

    /// Reads the whole (small) body, refusing more than `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> S3Result<Bytes> {
        let mut out = BytesMut::new();
        while let Some(data) = self.next().await? {
            if out.len() + data.len() > limit {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "The request body is too large.",
                ));
            }
            out.extend_from_slice(&data);
        }
        Ok(out.freeze())
    }
}

/// A body that ended early or broke mid-way.
fn transport_error(e: hyper::Error) -> S3Error {
    if e.is_timeout() {
        S3Error::new(S3ErrorCode::RequestTimeout)
    } else {
        // hyper reports a body shorter than Content-Length as an incomplete message.
        S3Error::new(S3ErrorCode::IncompleteBody)
    }
}
