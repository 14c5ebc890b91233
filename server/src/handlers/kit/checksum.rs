//! Additional checksums (`x-amz-checksum-*`) of PutObject and UploadPart:
//! which one a request asks for, verifying it against what was computed
//! while streaming, and returning stored ones on GET/HEAD.

use http::{HeaderMap, Response};
use kura_protocol::checksum::{requested_checksum, Checksum, ChecksumAlgorithm};
use kura_protocol::xml::Checksums;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::ObjectRow;

use crate::response::{self, Body};

/// The checksum a write request carries or asks the server to compute.
#[derive(Debug, Clone)]
pub struct Requested {
    /// The algorithm to compute while streaming.
    pub algorithm: ChecksumAlgorithm,
    /// The value sent in a header, if any.
    pub value: Option<Checksum>,
    /// Whether the value comes in the aws-chunked trailer.
    pub trailer: bool,
}

/// Reads the checksum headers of a write. `has_trailer`: whether the
/// payload mode carries trailers at all.
pub fn requested(h: &HeaderMap, has_trailer: bool) -> S3Result<Option<Requested>> {
    let Some((algorithm, value)) = requested_checksum(h)? else {
        return Ok(None);
    };
    let trailer = h.contains_key("x-amz-trailer");
    if trailer && !has_trailer {
        return Err(S3Error::invalid_request(
            "x-amz-trailer requires a STREAMING-*-TRAILER payload (aws-chunked with trailers).",
        ));
    }
    Ok(Some(Requested {
        algorithm,
        value,
        trailer,
    }))
}

/// The algorithm S3 computes and stores when a write names none: a
/// full-object CRC64NVME (it can be combined across multipart parts).
pub const DEFAULT_ALGORITHM: ChecksumAlgorithm = ChecksumAlgorithm::Crc64Nvme;

/// What to compute while streaming a write: the requested algorithm, and
/// the default one unless it is already that (`with_default`).
pub fn algorithms(requested: Option<&Requested>, with_default: bool) -> Vec<ChecksumAlgorithm> {
    let mut out: Vec<ChecksumAlgorithm> = requested.map(|r| r.algorithm).into_iter().collect();
    if with_default && !out.contains(&DEFAULT_ALGORITHM) {
        out.push(DEFAULT_ALGORITHM);
    }
    out
}

/// The computed checksum of `algorithm`, if it was computed.
pub fn computed(all: &[Checksum], algorithm: ChecksumAlgorithm) -> Option<Checksum> {
    all.iter().find(|c| c.algorithm == algorithm).cloned()
}

/// Checks the computed checksum against the one sent (in a header or the
/// trailer): `BadDigest` on mismatch. Returns the checksum to store.
pub fn verify(
    requested: Option<&Requested>,
    all: &[Checksum],
    trailers: &[(String, String)],
) -> S3Result<Option<Checksum>> {
    let Some(req) = requested else {
        return Ok(None);
    };
    let Some(computed) = computed(all, req.algorithm) else {
        return Ok(None);
    };
    let sent = if req.trailer {
        let name = req.algorithm.header_name();
        let value = trailers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                S3Error::invalid_request(format!(
                    "The {name} trailer was declared in x-amz-trailer but not sent."
                ))
            })?;
        Some(Checksum::parse(req.algorithm, value)?)
    } else {
        req.value.clone()
    };
    if let Some(sent) = sent {
        if sent != computed {
            return Err(mismatch(req.algorithm));
        }
    }
    Ok(Some(computed))
}

/// `BadDigest` as S3 words it for an additional checksum.
pub fn mismatch(algorithm: ChecksumAlgorithm) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::BadDigest,
        format!("The {algorithm} you specified did not match the calculated checksum."),
    )
}

/// The form kept in rows: (algorithm name, base64 value).
pub fn stored(c: &Checksum) -> (String, String) {
    (c.algorithm.as_str().to_string(), c.to_base64())
}

/// Sets `x-amz-checksum-<algorithm>` for a stored checksum.
pub fn set_header(r: &mut Response<Body>, (algorithm, value): &(String, String)) {
    if let Some(a) = ChecksumAlgorithm::from_name(algorithm) {
        response::set_header(r, a.header_name(), value);
    }
}

/// On GET/HEAD with `x-amz-checksum-mode: ENABLED`, returns the object's
/// checksums and their type. Only for whole-object responses: a checksum
/// of the whole object would fail a client's check of a range.
pub fn response_headers(r: &mut Response<Body>, row: &ObjectRow, h: &HeaderMap, whole: bool) {
    let enabled = h
        .get("x-amz-checksum-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("ENABLED"));
    if !enabled || !whole {
        return;
    }
    for c in &row.checksums {
        set_header(r, c);
        // Composite values carry their part count (`base64-N`).
        let kind = if c.1.contains('-') {
            "COMPOSITE"
        } else {
            "FULL_OBJECT"
        };
        response::set_header(r, "x-amz-checksum-type", kind);
    }
}

/// A stored (algorithm, value) pair as the XML's checksum fields.
pub fn checksums_of((algorithm, value): &(String, String)) -> Checksums {
    let mut c = Checksums::default();
    let slot = match ChecksumAlgorithm::from_name(algorithm) {
        Some(ChecksumAlgorithm::Crc32) => &mut c.crc32,
        Some(ChecksumAlgorithm::Crc32c) => &mut c.crc32c,
        Some(ChecksumAlgorithm::Crc64Nvme) => &mut c.crc64nvme,
        Some(ChecksumAlgorithm::Sha1) => &mut c.sha1,
        Some(ChecksumAlgorithm::Sha256) => &mut c.sha256,
        None => return c,
    };
    *slot = Some(value.clone());
    c
}
