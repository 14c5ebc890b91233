//! AWS Signature Version 4, as S3 uses it.
//!
//! The flow is two steps so that the server can look the access key up in
//! between: [`parse_request_auth`] extracts what the client claims (access
//! key, scope, signed headers, signature) from the `Authorization` header or
//! the presigned query, then [`SignedRequest::verify`] recomputes the
//! signature with the secret and checks time, scope and signature.
//!
//! Streaming uploads (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`,
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`) are decoded by [`ChunkedDecoder`],
//! which continues the signature chain started by the request.
//!
//! Everything here is pure: canonicalisation, parsing,
//! dates and HMAC are separate functions tested against AWS's published
//! examples (see `tests.rs`).

mod canonical;
mod chunk_signer;
mod chunked;
mod datetime;
mod parse;
pub mod post_policy;
mod verify;

#[cfg(test)]
mod tests;

use std::fmt;

use subtle::ConstantTimeEq;
use time::OffsetDateTime;

pub use chunk_signer::ChunkSigner;
pub use chunked::ChunkedDecoder;
pub use parse::parse_request_auth;

/// The only signing algorithm kura accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `x-amz-content-sha256` value: the body is not covered by the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-content-sha256` value: aws-chunked body, every chunk signed.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `x-amz-content-sha256` value: signed aws-chunked body followed by signed trailers.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` value: unsigned aws-chunked body followed by trailers.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// How far the request time may be from the server's clock, either way.
/// S3 (and MinIO) allow 15 minutes.
pub const MAX_SKEW: time::Duration = time::Duration::minutes(15);

/// A secret access key. `Debug` and `Display` never print it.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(s: impl Into<String>) -> Self {
        SecretKey(s.into())
    }

    /// The secret itself; only for deriving signing keys or storing it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// A SigV4 signature (HMAC-SHA256 output).
///
/// Deliberately has no `PartialEq`: the only comparison is [`Signature::ct_eq`],
/// which runs in constant time so timing cannot reveal how many bytes matched.
#[derive(Clone, Copy)]
pub struct Signature([u8; 32]);

impl Signature {
    /// Parses 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Option<Signature> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Signature(out))
    }

    /// Lowercase hex, as it appears on the wire and in strings to sign.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Signature) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Signature {
        Signature(bytes)
    }
}

impl fmt::Debug for Signature {
    // A signature is not secret (it travels in the clear); hex helps debugging.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// The parts of an HTTP request that signing covers, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The request method.
    pub method: &'a http::Method,
    /// The path as received: still percent-encoded, without the query.
    pub raw_path: &'a str,
    /// The query as received (without `?`), `""` if none.
    pub raw_query: &'a str,
    /// All request headers.
    pub headers: &'a http::HeaderMap,
}

/// What the body must satisfy once the request signature is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`, and presigned URLs (unless they sign a digest).
    Unsigned,
    /// The body must hash to this SHA-256 (else `XAmzContentSHA256Mismatch`).
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: aws-chunked with signed
    /// chunks; decode with [`ChunkedDecoder`] and [`Verified::chunk_signer`].
    StreamingSigned {
        /// Whether signed trailing headers follow the final chunk.
        trailer: bool,
    },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned, with trailers.
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    /// Whether the body is aws-chunked and must go through [`ChunkedDecoder`].
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            PayloadMode::StreamingSigned { .. } | PayloadMode::StreamingUnsignedTrailer
        )
    }

    /// Whether trailing headers follow the aws-chunked body.
    pub fn has_trailer(&self) -> bool {
        matches!(
            self,
            PayloadMode::StreamingSigned { trailer: true } | PayloadMode::StreamingUnsignedTrailer
        )
    }
}

/// The credential scope: `date/region/service/aws4_request`.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// `YYYYMMDD`.
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
}

impl Scope {
    /// The scope string used in strings to sign.
    pub(crate) fn to_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// What a request claims about its signature, before it is verified.
///
/// Produced by [`parse_request_auth`]; nothing in it is trusted until
/// [`SignedRequest::verify`] succeeds.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    access_key_id: String,
    scope: Scope,
    signed_headers: Vec<String>,
    signature: Signature,
    /// The request time as `YYYYMMDDTHHMMSSZ`, as it goes in strings to sign.
    amz_date: String,
    time: OffsetDateTime,
    /// `Some(X-Amz-Expires)` for presigned URLs.
    expires: Option<u32>,
    /// Whether the request time came from the `Date` header (so `date` must be signed).
    time_from_date_header: bool,
    /// The last line of the canonical request.
    payload_hash: String,
    payload: PayloadMode,
}

impl SignedRequest {
    /// The access key the client claims; look its secret up, then [`verify`](Self::verify).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Whether this is a presigned URL (query authentication).
    pub fn is_presigned(&self) -> bool {
        self.expires.is_some()
    }

    /// The request time the client signed.
    pub fn request_time(&self) -> OffsetDateTime {
        self.time
    }

    /// The payload mode the client declared (trusted only after verification).
    pub fn payload(&self) -> PayloadMode {
        self.payload
    }
}

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// SigV4 in the `Authorization` header.
    SigV4Header,
    /// A SigV4 presigned URL (`X-Amz-Signature` in the query).
    SigV4Presigned,
    /// A SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature`).
    SigV2Presigned,
}

/// A successfully verified request.
#[derive(Debug)]
pub struct Verified {
    /// The authenticated access key.
    pub access_key_id: String,
    /// How it was authenticated: some requests accept only some ways.
    pub scheme: AuthScheme,
    /// What the body must satisfy.
    pub payload: PayloadMode,
    /// `Some` for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: continues the
    /// signature chain into the chunks.
    pub chunk_signer: Option<ChunkSigner>,
}
