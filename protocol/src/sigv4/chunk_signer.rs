//! The signature chain of streaming uploads: each chunk (and the trailer)
//! is signed over the previous signature, starting from the request's.

use std::fmt;

use sha2::{Digest, Sha256};

use super::verify::hmac_sha256;
use super::Signature;
use crate::error::{S3ErrorCode, S3Result};

/// `hex(sha256(""))`: the "previous header hash" of every chunk string to sign.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Carries what is needed to verify the chain of chunk signatures: the
/// signing key, the request's datetime and scope strings, and the previous
/// signature (at first the request's own, the "seed").
#[derive(Clone)]
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: Signature,
}

impl fmt::Debug for ChunkSigner {
    // The signing key is as good as the secret for a day: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    pub(crate) fn new(key: [u8; 32], amz_date: String, scope: String, seed: Signature) -> Self {
        ChunkSigner {
            key,
            amz_date,
            scope,
            previous: seed,
        }
    }

    fn sign(&self, algorithm: &str, hashes: &str) -> Signature {
        let sts = format!(
            "{algorithm}\n{}\n{}\n{}\n{hashes}",
            self.amz_date,
            self.scope,
            self.previous.to_hex()
        );
        Signature::from_bytes(hmac_sha256(&self.key, sts.as_bytes()))
    }

    /// Checks one chunk's signature and, if good, moves the chain on.
    pub(super) fn verify_chunk(&mut self, data_hash: &[u8], claimed: &Signature) -> S3Result<()> {
        let hashes = format!("{EMPTY_SHA256}\n{}", hex::encode(data_hash));
        let expected = self.sign("AWS4-HMAC-SHA256-PAYLOAD", &hashes);
        if !expected.ct_eq(claimed) {
            return Err(S3ErrorCode::SignatureDoesNotMatch.into());
        }
        self.previous = expected;
        Ok(())
    }

    /// Whether `claimed` signs the canonical trailer (`name:value\n` lines).
    pub(super) fn trailer_matches(&self, canonical: &[u8], claimed: &Signature) -> bool {
        let hash = hex::encode(Sha256::digest(canonical));
        self.sign("AWS4-HMAC-SHA256-TRAILER", &hash).ct_eq(claimed)
    }
}
