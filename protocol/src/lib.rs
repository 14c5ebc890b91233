//! `kura-protocol`: the S3 wire format and nothing else.
//!
//! Routing of HTTP requests into typed [`router::Operation`]s, SigV4
//! verification ([`sigv4`]), header parsing ([`headers`]), XML bodies
//! ([`xml`]), checksums ([`checksum`]) and the S3 error table ([`error`]).
//! Everything here is a pure function over bytes and headers: no disk, no
//! sockets, so every parser can be unit-tested and fuzzed in isolation.

pub mod checksum;
pub mod cors;
pub mod error;
pub mod headers;
pub mod names;
pub mod router;
pub mod search;
pub mod sigv2;
pub mod sigv4;
pub mod xml;

pub use error::{S3Error, S3ErrorCode, S3Result};
