//! The checksums of a CompleteMultipartUpload: the object's, combined from
//! its parts', and the ones the request carries, checked against them.
//!
//! - A part's `<ChecksumXXX>` in the XML must be that part's checksum of
//!   that algorithm: malformed is `InvalidRequest`; one the part was not
//!   uploaded with, or a different value, is `InvalidPart` (as S3 does).
//! - A whole-object `x-amz-checksum-*` header must match the object's
//!   checksum (composite `base64-N`, with or without the `-N`, or
//!   full-object): malformed or uncheckable is `InvalidRequest`, different
//!   is `BadDigest`. For an upload created without an algorithm, a CRC
//!   header is checked by combining the parts' CRCs of that algorithm.
//! - `x-amz-checksum-type` must be the upload's (`BadDigest` otherwise, as
//!   S3 documents).

use kura_protocol::checksum::{composite_checksum, full_object_crc, Checksum, ChecksumAlgorithm};
use kura_protocol::xml::CompletedPart;
use kura_protocol::{S3Error, S3ErrorCode, S3Result};
use kura_storage::{PartRow, UploadRow};

use super::checksum;
use super::writes::upload_algorithm;

/// The object's checksum from its parts' (`None` if the parts lack one),
/// after checking every checksum the request names against them.
pub fn object_checksum(
    upload: &UploadRow,
    listed: &[CompletedPart],
    chosen: &[(u32, &PartRow)],
    h: &http::HeaderMap,
) -> S3Result<Option<(String, String)>> {
    check_listed(listed, chosen)?;
    let sent = sent_whole(h)?;
    check_type(upload, h)?;
    let Some(algorithm) = upload_algorithm(upload) else {
        // Like S3: without a requested algorithm the object gets a
        // full-object CRC64NVME, combined from the parts' (if all have one).
        let whole = combined(chosen, checksum::DEFAULT_ALGORITHM);
        if let Some(sent) = sent {
            let computed = if sent.algorithm == checksum::DEFAULT_ALGORITHM {
                whole.clone()
            } else {
                combined(chosen, sent.algorithm)
            };
            let computed = computed.ok_or_else(|| {
                S3Error::invalid_request(format!(
                    "The upload was created without a checksum algorithm and its parts carry no {} checksum: {} cannot be checked.",
                    sent.algorithm,
                    sent.algorithm.header_name()
                ))
            })?;
            if sent != computed {
                return Err(checksum::mismatch(sent.algorithm));
            }
        }
        return Ok(whole.map(|c| checksum::stored(&c)));
    };
    let mut parts = Vec::with_capacity(chosen.len());
    for (number, part) in chosen {
        let stored = part_checksum(part, algorithm).ok_or_else(|| {
            S3Error::invalid_request(format!(
                "The upload was created using the {algorithm} checksum algorithm but part {number} has no {algorithm} checksum."
            ))
        })?;
        parts.push((stored, part.size));
    }
    if let Some(sent) = &sent {
        if sent.algorithm != algorithm {
            return Err(S3Error::invalid_request(format!(
                "The upload was created using the {algorithm} checksum algorithm: {} cannot be checked.",
                sent.algorithm.header_name()
            )));
        }
    }
    if upload.checksum_type.as_deref() == Some("FULL_OBJECT") {
        let whole = full_object_crc(&parts).ok_or_else(|| {
            S3Error::invalid_request("A full-object checksum needs a CRC algorithm.")
        })?;
        if sent.is_some_and(|s| s != whole) {
            return Err(checksum::mismatch(algorithm));
        }
        return Ok(Some(checksum::stored(&whole)));
    }
    let checksums: Vec<Checksum> = parts.into_iter().map(|(c, _)| c).collect();
    let composite = composite_checksum(algorithm, &checksums)?;
    if let Some(sent) = sent {
        // Either form: the header was parsed without its `-N`; a part count
        // that was given must be right too.
        let count_ok = sent_part_count(h, algorithm).is_none_or(|n| n == composite.part_count);
        if sent != composite.checksum || !count_ok {
            return Err(checksum::mismatch(algorithm));
        }
    }
    Ok(Some((
        algorithm.as_str().to_string(),
        composite.to_string(),
    )))
}

/// The part's stored checksum of `algorithm`, if it has one.
fn part_checksum(part: &PartRow, algorithm: ChecksumAlgorithm) -> Option<Checksum> {
    let value = match &part.checksum {
        Some((a, v)) if a == algorithm.as_str() => Some(v.as_str()),
        _ if algorithm == checksum::DEFAULT_ALGORITHM => part.crc64nvme.as_deref(),
        _ => None,
    }?;
    Checksum::parse(algorithm, value).ok()
}

/// The full-object CRC of `algorithm` combined from every chosen part's.
fn combined(chosen: &[(u32, &PartRow)], algorithm: ChecksumAlgorithm) -> Option<Checksum> {
    let parts: Option<Vec<(Checksum, u64)>> = chosen
        .iter()
        .map(|(_, p)| Some((part_checksum(p, algorithm)?, p.size)))
        .collect();
    full_object_crc(&parts?)
}

/// Each `<ChecksumXXX>` of a listed part must be the part's own.
fn check_listed(listed: &[CompletedPart], chosen: &[(u32, &PartRow)]) -> S3Result<()> {
    for (p, (_, part)) in listed.iter().zip(chosen) {
        let fields = [
            (ChecksumAlgorithm::Crc32, &p.checksum_crc32),
            (ChecksumAlgorithm::Crc32c, &p.checksum_crc32c),
            (ChecksumAlgorithm::Crc64Nvme, &p.checksum_crc64nvme),
            (ChecksumAlgorithm::Sha1, &p.checksum_sha1),
            (ChecksumAlgorithm::Sha256, &p.checksum_sha256),
        ];
        for (algorithm, value) in fields {
            let Some(value) = value else { continue };
            let sent = Checksum::parse(algorithm, value).map_err(|_| {
                S3Error::invalid_request(format!(
                    "The {algorithm} checksum given for part {} is not a valid {algorithm} value.",
                    p.part_number
                ))
            })?;
            if part_checksum(part, algorithm).as_ref() != Some(&sent) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidPart,
                    format!(
                        "The {algorithm} checksum given for part {} does not match the part's.",
                        p.part_number
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The whole-object checksum header, if one was sent (a composite value's
/// `-N` suffix stripped; see [`sent_part_count`]).
fn sent_whole(h: &http::HeaderMap) -> S3Result<Option<Checksum>> {
    let mut found = None;
    for algorithm in ChecksumAlgorithm::ALL {
        let Some(value) = h.get(algorithm.header_name()) else {
            continue;
        };
        if found.is_some() {
            return Err(S3Error::invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        let value = value.to_str().unwrap_or("\u{0}");
        let base = value.split_once('-').map_or(value, |(b, _)| b);
        found = Some(Checksum::parse(algorithm, base)?);
    }
    Ok(found)
}

/// The `-N` part count of a composite value sent in the header of `algorithm`.
fn sent_part_count(h: &http::HeaderMap, algorithm: ChecksumAlgorithm) -> Option<usize> {
    let value = h.get(algorithm.header_name())?.to_str().ok()?;
    // Unparsable counts count as wrong.
    value
        .split_once('-')
        .map(|(_, n)| n.trim().parse().unwrap_or(usize::MAX))
}

/// `x-amz-checksum-type`, if sent, must be the upload's.
fn check_type(upload: &UploadRow, h: &http::HeaderMap) -> S3Result<()> {
    let Some(sent) = h.get("x-amz-checksum-type") else {
        return Ok(());
    };
    let sent = sent.to_str().unwrap_or_default();
    if !["COMPOSITE", "FULL_OBJECT"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(sent))
    {
        return Err(S3Error::invalid_request(
            "Value for x-amz-checksum-type header is invalid.",
        ));
    }
    // An upload created without an algorithm gets a full-object CRC64NVME.
    let upload_type = upload.checksum_type.as_deref().unwrap_or("FULL_OBJECT");
    if !sent.eq_ignore_ascii_case(upload_type) {
        return Err(S3Error::with_message(
            S3ErrorCode::BadDigest,
            format!("The upload was created with the {upload_type} checksum type, not {sent}."),
        ));
    }
    Ok(())
}
