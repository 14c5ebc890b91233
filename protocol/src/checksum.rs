//! S3's additional checksums (`x-amz-checksum-*`): CRC32, CRC32C,
//! CRC64NVME, SHA-1 and SHA-256.
//!
//! Values travel base64-encoded, CRCs as big-endian integers. For multipart
//! uploads S3 reports either a *composite* checksum (the checksum of the
//! concatenated binary part checksums, rendered `base64-N`) or, for CRCs, a
//! *full-object* checksum combined from the part CRCs and lengths; CRC64NVME
//! is always full-object.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::Digest as _;

use crate::error::{S3Error, S3Result};

/// A checksum algorithm S3 supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, as in zlib).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in S3's documentation order.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// Parses `CRC32`, `crc64nvme`, ... (the value of
    /// `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`), any case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The name as S3 spells it: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The header carrying a value: `x-amz-checksum-crc32`, ...
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm whose value header is `name` (any case). Not
    /// `x-amz-checksum-type`, `-algorithm` or `-mode`, which share the prefix.
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// Length of the binary digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// The reflected polynomial and width of a CRC algorithm, `None` for hashes.
    fn crc_params(self) -> Option<(u64, usize)> {
        match self {
            ChecksumAlgorithm::Crc32 => Some((0xEDB8_8320, 32)),
            ChecksumAlgorithm::Crc32c => Some((0x82F6_3B78, 32)),
            ChecksumAlgorithm::Crc64Nvme => Some((0x9A6C_9329_AC4B_C9B5, 64)),
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checksum value: the algorithm and its binary digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The algorithm that produced `bytes`.
    pub algorithm: ChecksumAlgorithm,
    /// The binary digest (CRCs big-endian), `algorithm.digest_len()` bytes.
    pub bytes: Vec<u8>,
}

impl Checksum {
    /// The value as it appears in headers and XML: standard base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }

    /// Parses a base64 value sent for `algorithm`; `InvalidRequest` if it
    /// is not base64 or not the algorithm's digest length.
    pub fn parse(algorithm: ChecksumAlgorithm, value: &str) -> S3Result<Checksum> {
        STANDARD
            .decode(value.trim())
            .ok()
            .filter(|b| b.len() == algorithm.digest_len())
            .map(|bytes| Checksum { algorithm, bytes })
            .ok_or_else(|| {
                S3Error::invalid_request(format!(
                    "Value for {} header is invalid.",
                    algorithm.header_name()
                ))
            })
    }

    /// The CRC as an integer, `None` for hashes.
    fn crc_value(&self) -> Option<u64> {
        self.algorithm.crc_params()?;
        Some(
            self.bytes
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    fn from_crc(algorithm: ChecksumAlgorithm, value: u64) -> Checksum {
        let bytes = match algorithm.digest_len() {
            4 => (value as u32).to_be_bytes().to_vec(),
            _ => value.to_be_bytes().to_vec(),
        };
        Checksum { algorithm, bytes }
    }
}

enum HasherState {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// Computes a checksum incrementally over a body as it streams.
pub struct ChecksumHasher {
    algorithm: ChecksumAlgorithm,
    state: HasherState,
}

impl fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChecksumHasher({})", self.algorithm)
    }
}

impl ChecksumHasher {
    /// A hasher for `algorithm`, over no data yet.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => HasherState::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => HasherState::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => HasherState::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => HasherState::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => HasherState::Sha256(sha2::Sha256::new()),
        };
        ChecksumHasher { algorithm, state }
    }

    /// The algorithm being computed.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            HasherState::Crc32(h) => h.update(data),
            HasherState::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            HasherState::Crc64Nvme(h) => h.write(data),
            HasherState::Sha1(h) => h.update(data),
            HasherState::Sha256(h) => h.update(data),
        }
    }

    /// The checksum of everything fed so far.
    pub fn finalize(self) -> Checksum {
        let bytes = match self.state {
            HasherState::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            HasherState::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            HasherState::Crc64Nvme(h) => h.sum64().to_be_bytes().to_vec(),
            HasherState::Sha1(h) => h.finalize().to_vec(),
            HasherState::Sha256(h) => h.finalize().to_vec(),
        };
        Checksum {
            algorithm: self.algorithm,
            bytes,
        }
    }
}

/// The checksum a request asks for: `Some((algorithm, Some(value)))` when an
/// `x-amz-checksum-*` header carries the value; `Some((algorithm, None))`
/// when only the algorithm is named (`x-amz-trailer`, whose value comes in
/// the aws-chunked trailer, or `x-amz-sdk-checksum-algorithm`, in which case
/// the server computes it); `None` when no checksum is involved.
///
/// Conflicting headers (two value headers, a value header and a trailer, or
/// an SDK algorithm that names a different one) are `InvalidRequest`.
pub fn requested_checksum(
    headers: &http::HeaderMap,
) -> S3Result<Option<(ChecksumAlgorithm, Option<Checksum>)>> {
    let multiple = || {
        S3Error::invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )
    };
    let mut given: Option<Checksum> = None;
    for algorithm in ChecksumAlgorithm::ALL {
        for value in headers.get_all(algorithm.header_name()) {
            let value = value.to_str().unwrap_or("\u{0}");
            let checksum = Checksum::parse(algorithm, value)?;
            if given.as_ref().is_some_and(|g| *g != checksum) {
                return Err(multiple());
            }
            given = Some(checksum);
        }
    }

    let mut trailer: Option<ChecksumAlgorithm> = None;
    for value in headers.get_all("x-amz-trailer") {
        let value = value.to_str().unwrap_or("\u{0}");
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let algorithm = ChecksumAlgorithm::from_header_name(name).ok_or_else(|| {
                S3Error::invalid_request(
                    "The value specified in the x-amz-trailer header is not supported",
                )
            })?;
            if trailer.is_some_and(|t| t != algorithm) || given.is_some() {
                return Err(multiple());
            }
            trailer = Some(algorithm);
        }
    }

    let sdk = algorithm_header(headers, "x-amz-sdk-checksum-algorithm")?;

    let named = given.as_ref().map(|g| g.algorithm).or(trailer);
    if let (Some(named), Some(sdk)) = (named, sdk) {
        if named != sdk {
            return Err(S3Error::invalid_request(format!(
                "Value for x-amz-sdk-checksum-algorithm header is invalid: {sdk} but the checksum sent is {named}."
            )));
        }
    }
    Ok(match (named.or(sdk), given) {
        (Some(algorithm), given) => Some((algorithm, given)),
        (None, _) => None,
    })
}

/// A header naming a checksum algorithm; an unknown name is `InvalidRequest`.
fn algorithm_header(headers: &http::HeaderMap, name: &str) -> S3Result<Option<ChecksumAlgorithm>> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(ChecksumAlgorithm::from_name)
        .map(Some)
        .ok_or_else(|| S3Error::invalid_request(format!("Value for {name} header is invalid.")))
}

/// How a multipart upload's checksum covers the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumType {
    /// The checksum of the parts' checksums, with the part count (`base64-N`).
    Composite,
    /// The checksum of the whole object's bytes (CRCs only: they combine).
    FullObject,
}

impl ChecksumType {
    /// The wire name (`COMPOSITE`, `FULL_OBJECT`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::Composite => "COMPOSITE",
            ChecksumType::FullObject => "FULL_OBJECT",
        }
    }
}

/// The checksum a CreateMultipartUpload asks for (`x-amz-checksum-algorithm`,
/// `x-amz-checksum-type`), with S3's defaults and refusals: CRC64NVME is
/// only full-object, SHA-1 and SHA-256 only composite, the other CRCs
/// composite unless asked otherwise; a type without an algorithm is refused.
pub fn multipart_checksum(
    headers: &http::HeaderMap,
) -> S3Result<Option<(ChecksumAlgorithm, ChecksumType)>> {
    let algorithm = algorithm_header(headers, "x-amz-checksum-algorithm")?;
    let kind = match headers.get("x-amz-checksum-type").map(|v| v.to_str()) {
        None => None,
        Some(Ok(t)) if t.eq_ignore_ascii_case("COMPOSITE") => Some(ChecksumType::Composite),
        Some(Ok(t)) if t.eq_ignore_ascii_case("FULL_OBJECT") => Some(ChecksumType::FullObject),
        Some(_) => {
            return Err(S3Error::invalid_request(
                "Value for x-amz-checksum-type header is invalid.",
            ))
        }
    };
    use ChecksumAlgorithm::{Crc64Nvme, Sha1, Sha256};
    Ok(match (algorithm, kind) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(S3Error::invalid_request(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            ))
        }
        (Some(Crc64Nvme), Some(ChecksumType::Composite)) => {
            return Err(S3Error::invalid_request(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
            ))
        }
        (Some(Crc64Nvme), _) => Some((Crc64Nvme, ChecksumType::FullObject)),
        (Some(Sha1 | Sha256), Some(ChecksumType::FullObject)) => {
            return Err(S3Error::invalid_request(
                "The FULL_OBJECT checksum type cannot be used with the sha1 or sha256 checksum algorithm.",
            ))
        }
        (Some(a), kind) => Some((a, kind.unwrap_or(ChecksumType::Composite))),
    })
}

/// A multipart upload's composite checksum: the checksum of the concatenated
/// binary part checksums, with the number of parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositeChecksum {
    /// The checksum of the concatenated part checksums.
    pub checksum: Checksum,
    /// How many parts it covers.
    pub part_count: usize,
}

impl fmt::Display for CompositeChecksum {
    /// `base64-N`, as S3 renders it in headers and XML.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.checksum.to_base64(), self.part_count)
    }
}

/// The composite checksum of `parts` (in part order), as S3 computes it for
/// `CompleteMultipartUpload` with the `COMPOSITE` checksum type.
///
/// CRC64NVME has no composite form in S3 (it is always full-object; see
/// [`full_object_crc`]); parts of another algorithm are refused.
pub fn composite_checksum(
    algorithm: ChecksumAlgorithm,
    parts: &[Checksum],
) -> S3Result<CompositeChecksum> {
    if algorithm == ChecksumAlgorithm::Crc64Nvme {
        return Err(S3Error::invalid_request(
            "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
        ));
    }
    let mut hasher = ChecksumHasher::new(algorithm);
    for part in parts {
        if part.algorithm != algorithm {
            return Err(S3Error::invalid_request(format!(
                "The upload was created using the {algorithm} checksum algorithm, \
                 but a part has a {} checksum.",
                part.algorithm
            )));
        }
        hasher.update(&part.bytes);
    }
    Ok(CompositeChecksum {
        checksum: hasher.finalize(),
        part_count: parts.len(),
    })
}

/// The CRC of a whole object from the CRCs and byte lengths of its parts,
/// in order, without reading the data again (S3's `FULL_OBJECT` type).
/// `None` for SHA algorithms (they cannot be combined), an empty list, or
/// parts of mixed algorithms.
pub fn full_object_crc(parts: &[(Checksum, u64)]) -> Option<Checksum> {
    let ((first, _), rest) = parts.split_first()?;
    let algorithm = first.algorithm;
    let (poly, width) = algorithm.crc_params()?;
    let mut crc = first.crc_value()?;
    for (part, len) in rest {
        if part.algorithm != algorithm {
            return None;
        }
        crc = crc_combine(poly, width, crc, part.crc_value()?, *len);
    }
    Some(Checksum::from_crc(algorithm, crc))
}

/// `crc(A ++ B)` from `crc(A)`, `crc(B)` and `len(B)`, for reflected CRCs
/// whose init and final xor are all ones (all three S3 CRCs). zlib's
/// `crc32_combine`: apply `len_b` zero bytes to `crc_a` by repeated
/// squaring of the GF(2) matrix that shifts the register by one zero bit.
fn crc_combine(poly: u64, width: usize, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    fn times(matrix: &[u64], mut vector: u64) -> u64 {
        let mut sum = 0;
        let mut row = 0;
        while vector != 0 {
            if vector & 1 == 1 {
                sum ^= matrix[row];
            }
            vector >>= 1;
            row += 1;
        }
        sum
    }
    fn square(matrix: &[u64]) -> Vec<u64> {
        matrix.iter().map(|&row| times(matrix, row)).collect()
    }

    if len_b == 0 {
        return crc_a;
    }
    // One zero bit: row 0 is the polynomial, row n shifts bit n to n - 1.
    let one_bit: Vec<u64> = (0..width)
        .map(|n| if n == 0 { poly } else { 1 << (n - 1) })
        .collect();
    // Three squarings: 2, 4, then 8 zero bits, i.e. one zero byte.
    let mut op = square(&square(&square(&one_bit)));
    let (mut crc, mut len) = (crc_a, len_b);
    loop {
        if len & 1 == 1 {
            crc = times(&op, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        op = square(&op);
    }
    crc ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(algorithm: ChecksumAlgorithm, data: &[u8]) -> Checksum {
        let mut h = ChecksumHasher::new(algorithm);
        // In two pieces, to exercise incremental updates.
        let (a, b) = data.split_at(data.len() / 2);
        h.update(a);
        h.update(b);
        h.finalize()
    }

    #[test]
    fn known_answers() {
        use ChecksumAlgorithm::*;
        let check = b"123456789";
        assert_eq!(sum(Crc32, check).bytes, 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(sum(Crc32c, check).bytes, 0xE306_9283u32.to_be_bytes());
        assert_eq!(
            sum(Crc64Nvme, check).bytes,
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
        let hello = b"hello world";
        for (algorithm, expected) in [
            (Crc32, "DUoRhQ=="),
            (Crc32c, "yZRlqg=="),
            (Sha1, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
            (Sha256, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
        ] {
            assert_eq!(sum(algorithm, hello).to_base64(), expected, "{algorithm}");
        }
        assert_eq!(sum(Crc32, b"").to_base64(), "AAAAAA==");
        assert_eq!(sum(Sha256, b"").bytes.len(), 32);
    }

    #[test]
    fn names_and_headers() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_name(a.as_str()), Some(a));
            assert_eq!(
                ChecksumAlgorithm::from_name(&a.as_str().to_lowercase()),
                Some(a)
            );
            assert_eq!(
                ChecksumAlgorithm::from_header_name(a.header_name()),
                Some(a)
            );
        }
        assert_eq!(
            ChecksumAlgorithm::from_name("crc64nvme"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(ChecksumAlgorithm::from_name("MD5"), None);
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-SHA1"),
            Some(ChecksumAlgorithm::Sha1)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-type"),
            None
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-algorithm"),
            None
        );
    }

    #[test]
    fn parse_checks_base64_and_length() {
        let c = Checksum::parse(ChecksumAlgorithm::Crc32, "DUoRhQ==").unwrap();
        assert_eq!(c, sum(ChecksumAlgorithm::Crc32, b"hello world"));
        for bad in [
            "DUoRhQ",
            "DUoRhQ==DUoRhQ==",
            "not base64!",
            "",
            "AAAAAAAAAAA=",
        ] {
            let err = Checksum::parse(ChecksumAlgorithm::Crc32, bad).unwrap_err();
            assert_eq!(err.code, crate::S3ErrorCode::InvalidRequest);
            assert_eq!(
                err.message,
                "Value for x-amz-checksum-crc32 header is invalid."
            );
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn requested_checksum_reads_headers() {
        use ChecksumAlgorithm::*;
        let crc = Checksum::parse(Crc32, "DUoRhQ==").unwrap();
        let ok = |pairs: &[(&str, &str)]| requested_checksum(&headers(pairs)).unwrap();
        assert_eq!(ok(&[]), None);
        assert_eq!(ok(&[("x-amz-checksum-type", "FULL_OBJECT")]), None);
        assert_eq!(
            ok(&[("x-amz-checksum-crc32", "DUoRhQ==")]),
            Some((Crc32, Some(crc.clone())))
        );
        assert_eq!(
            ok(&[
                ("x-amz-checksum-crc32", "DUoRhQ=="),
                ("x-amz-sdk-checksum-algorithm", "crc32")
            ]),
            Some((Crc32, Some(crc)))
        );
        assert_eq!(
            ok(&[("x-amz-trailer", "x-amz-checksum-crc64nvme")]),
            Some((Crc64Nvme, None))
        );
        assert_eq!(
            ok(&[
                ("x-amz-trailer", "x-amz-checksum-sha256"),
                ("x-amz-sdk-checksum-algorithm", "SHA256")
            ]),
            Some((Sha256, None))
        );
        assert_eq!(
            ok(&[("x-amz-sdk-checksum-algorithm", "CRC32C")]),
            Some((Crc32c, None))
        );

        let err = |pairs: &[(&str, &str)]| requested_checksum(&headers(pairs)).unwrap_err().code;
        for bad in [
            &[
                ("x-amz-checksum-crc32", "DUoRhQ=="),
                ("x-amz-checksum-crc32c", "yZRlqg=="),
            ][..],
            &[
                ("x-amz-checksum-crc32", "DUoRhQ=="),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
            &[
                ("x-amz-checksum-crc32", "DUoRhQ=="),
                ("x-amz-sdk-checksum-algorithm", "SHA1"),
            ],
            &[("x-amz-trailer", "x-amz-checksum-crc32,x-amz-checksum-sha1")],
            &[("x-amz-trailer", "x-amz-meta-foo")],
            &[("x-amz-sdk-checksum-algorithm", "MD5")],
            &[("x-amz-checksum-sha256", "DUoRhQ==")],
        ] {
            assert_eq!(err(bad), crate::S3ErrorCode::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn composite_is_checksum_of_part_checksums() {
        use ChecksumAlgorithm::*;
        for algorithm in [Crc32, Crc32c, Sha1, Sha256] {
            let parts = [sum(algorithm, b"part one"), sum(algorithm, b"part two")];
            let concatenated = [parts[0].bytes.clone(), parts[1].bytes.clone()].concat();
            let composite = composite_checksum(algorithm, &parts).unwrap();
            assert_eq!(composite.checksum, sum(algorithm, &concatenated));
            assert_eq!(
                composite.to_string(),
                format!("{}-2", sum(algorithm, &concatenated).to_base64())
            );
        }
        assert!(composite_checksum(Crc64Nvme, &[sum(Crc64Nvme, b"x")]).is_err());
        assert!(composite_checksum(Crc32, &[sum(Sha1, b"x")]).is_err());
    }

    #[test]
    fn full_object_crc_matches_whole_data() {
        use ChecksumAlgorithm::*;
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for algorithm in [Crc32, Crc32c, Crc64Nvme] {
            for cuts in [
                &[0usize, 100_000][..],
                &[1, 99_999],
                &[0, 0, 5, 65_536, 65_536, 99_000],
            ] {
                let mut bounds = vec![0];
                bounds.extend_from_slice(cuts);
                bounds.push(data.len());
                let parts: Vec<(Checksum, u64)> = bounds
                    .windows(2)
                    .map(|w| (sum(algorithm, &data[w[0]..w[1]]), (w[1] - w[0]) as u64))
                    .collect();
                assert_eq!(
                    full_object_crc(&parts),
                    Some(sum(algorithm, &data)),
                    "{algorithm} {cuts:?}"
                );
            }
        }
        assert_eq!(full_object_crc(&[(sum(Sha256, b"a"), 1)]), None);
        assert_eq!(full_object_crc(&[]), None);
    }
}
