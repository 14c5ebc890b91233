//! The decoder against AWS's two streaming examples ("Transferring Payload
//! in Multiple Chunks" and "Including Trailing Headers"): 64 KiB then 1 KiB
//! of `a`, signed by the example key at 20130524T000000Z.

use bytes::Bytes;
use http::Method;

use super::super::tests::{header_map, now, AKID, SECRET};
use super::super::{parse_request_auth, PayloadMode, RequestParts, SecretKey};
use super::*;

const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];
const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
const TRAILER_SIGS: [&str; 3] = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
];
const TRAILER: &str = "x-amz-checksum-crc32c:sOO8/Q==";
const TRAILER_SIG: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

/// Verifies the example's request headers and returns the chunk signer, so
/// the seed signature itself is checked too.
fn signer_for(content_sha256: &str, seed: &str, signed_headers: &str) -> ChunkSigner {
    let mut pairs = vec![
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", content_sha256),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ];
    if content_sha256.ends_with("TRAILER") {
        pairs.push(("x-amz-trailer", "x-amz-checksum-crc32c"));
    }
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders={signed_headers},Signature={seed}"
    );
    pairs.push(("authorization", &auth));
    let h = header_map(&pairs);
    let parts = RequestParts {
        method: &Method::PUT,
        raw_path: "/examplebucket/chunkObject.txt",
        raw_query: "",
        headers: &h,
    };
    let signed = parse_request_auth(&parts).unwrap().unwrap();
    let v = signed
        .verify(&parts, &SecretKey::new(SECRET), "us-east-1", now())
        .unwrap();
    assert!(matches!(v.payload, PayloadMode::StreamingSigned { .. }));
    v.chunk_signer.unwrap()
}

fn example_signer() -> ChunkSigner {
    signer_for(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        SEED,
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
         x-amz-decoded-content-length;x-amz-storage-class",
    )
}

fn trailer_signer() -> ChunkSigner {
    signer_for(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        TRAILER_SEED,
        "content-encoding;host;x-amz-content-sha256;x-amz-date;\
         x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
    )
}

/// The chunks of the examples, signatures given, then `tail` verbatim.
fn body(sigs: [&str; 3], tail: &str) -> Vec<u8> {
    let mut b = format!("10000;chunk-signature={}\r\n", sigs[0]).into_bytes();
    b.extend(std::iter::repeat_n(b'a', 65536));
    b.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
    b.extend(std::iter::repeat_n(b'a', 1024));
    b.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", sigs[2]).as_bytes());
    b.extend_from_slice(tail.as_bytes());
    b
}

/// Decoded data and trailers.
type Decoded = (Vec<u8>, Vec<(String, String)>);

/// Feeds `raw` in pieces of `step` bytes, draining after each push.
fn decode(
    signer: Option<ChunkSigner>,
    trailer: bool,
    raw: &[u8],
    step: usize,
) -> S3Result<Decoded> {
    let mut d = ChunkedDecoder::new(signer, trailer);
    let mut out = Vec::new();
    for piece in raw.chunks(step) {
        d.push(Bytes::copy_from_slice(piece));
        while let Some(data) = d.next_payload()? {
            assert!(!data.is_empty());
            out.extend_from_slice(&data);
        }
    }
    assert_eq!(d.decoded_len(), out.len() as u64);
    let trailers = d.finish()?;
    Ok((out, trailers))
}

fn code<T: std::fmt::Debug>(r: S3Result<T>) -> S3ErrorCode {
    r.expect_err("should fail").code
}

#[test]
fn aws_example_in_one_piece_and_byte_by_byte() {
    let raw = body(SIGS, "\r\n");
    for step in [raw.len(), 1, 7, 4096] {
        let (data, trailers) = decode(Some(example_signer()), false, &raw, step).unwrap();
        assert_eq!(data.len(), 66560, "step {step}");
        assert!(data.iter().all(|&b| b == b'a'));
        assert!(trailers.is_empty());
    }
}

#[test]
fn final_line_end_may_be_missing() {
    let raw = body(SIGS, "");
    decode(Some(example_signer()), false, &raw, raw.len()).unwrap();
}

#[test]
fn aws_trailer_example() {
    let expected = vec![("x-amz-checksum-crc32c".to_string(), "sOO8/Q==".to_string())];
    let sig_line = format!("x-amz-trailer-signature:{TRAILER_SIG}");
    let tails = [
        // The AWS SDKs' layout.
        format!("{TRAILER}\r\n{sig_line}\r\n\r\n"),
        // Without the closing line end.
        format!("{TRAILER}\r\n{sig_line}\r\n"),
        // With the empty final chunk's data closed first.
        format!("\r\n{TRAILER}\r\n{sig_line}\r\n\r\n"),
        // Bare `\n` line ends.
        format!("{TRAILER}\n{sig_line}\n\n"),
    ];
    for tail in tails {
        let raw = body(TRAILER_SIGS, &tail);
        for step in [raw.len(), 1] {
            let (data, trailers) = decode(Some(trailer_signer()), true, &raw, step)
                .unwrap_or_else(|e| panic!("{tail:?} step {step}: {e}"));
            assert_eq!(data.len(), 66560);
            assert_eq!(trailers, expected);
        }
    }
    // The trailer checksum is what CRC32C says of the data.
    let crc = crate::checksum::ChecksumAlgorithm::Crc32c;
    let mut h = crate::checksum::ChecksumHasher::new(crc);
    h.update(&[b'a'; 66560]);
    assert_eq!(h.finalize().to_base64(), "sOO8/Q==");
}

#[test]
fn bad_trailer_signature_or_value() {
    let bad_sig = TRAILER_SIG.replace("d81f", "d82f");
    let raw = body(
        TRAILER_SIGS,
        &format!("{TRAILER}\r\nx-amz-trailer-signature:{bad_sig}\r\n\r\n"),
    );
    let r = decode(Some(trailer_signer()), true, &raw, raw.len());
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);

    let raw = body(
        TRAILER_SIGS,
        &format!("x-amz-checksum-crc32c:AAAAAA==\r\nx-amz-trailer-signature:{TRAILER_SIG}\r\n\r\n"),
    );
    let r = decode(Some(trailer_signer()), true, &raw, raw.len());
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);

    // A signed trailer without its signature.
    let raw = body(TRAILER_SIGS, &format!("{TRAILER}\r\n\r\n"));
    let r = decode(Some(trailer_signer()), true, &raw, raw.len());
    assert_eq!(code(r), S3ErrorCode::InvalidRequest);
}

#[test]
fn bad_chunk_signature() {
    // Tampered data.
    let mut raw = body(SIGS, "\r\n");
    raw[200] = b'b';
    let r = decode(Some(example_signer()), false, &raw, 1000);
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
    // Each signature in the chain.
    for i in 0..3 {
        let mut sigs = SIGS;
        let tampered = SIGS[i].replace(&SIGS[i][..4], "0000");
        sigs[i] = &tampered;
        let raw = body(sigs, "\r\n");
        let r = decode(Some(example_signer()), false, &raw, raw.len());
        assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch, "chunk {i}");
    }
    // Chunks swapped into another chain (replayed from the trailer example).
    let raw = body(TRAILER_SIGS, "\r\n");
    let r = decode(Some(example_signer()), false, &raw, raw.len());
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
    // Missing signature.
    let raw = b"3\r\nabc\r\n0\r\n\r\n";
    let r = decode(Some(example_signer()), false, raw, raw.len());
    assert_eq!(code(r), S3ErrorCode::InvalidRequest);
}

#[test]
fn truncated_input() {
    let raw = body(SIGS, "\r\n");
    // Everything short of the final chunk header's line end is incomplete.
    let final_header_end = raw.len() - 2;
    for cut in [
        0,
        10,
        90,
        5000,
        65536 + 87,
        65536 + 90,
        final_header_end - 1,
    ] {
        let r = decode(Some(example_signer()), false, &raw[..cut], 4096);
        assert_eq!(code(r), S3ErrorCode::IncompleteBody, "cut at {cut}");
    }
    let raw = body(
        TRAILER_SIGS,
        &format!("{TRAILER}\r\nx-amz-trailer-signature:{TRAILER_SIG}\r\n\r\n"),
    );
    let trailer_start = raw.len() - TRAILER.len() - 94;
    for cut in [trailer_start, trailer_start + 5, raw.len() - 10] {
        let r = decode(Some(trailer_signer()), true, &raw[..cut], 4096);
        assert_eq!(code(r), S3ErrorCode::IncompleteBody, "cut at {cut}");
    }
}

#[test]
fn unsigned_trailer() {
    let value = "x-amz-checksum-crc32:NSRBwg==";
    for tail in [
        format!("{value}\r\n\r\n"),
        format!("{value}\r\n"),
        format!("{value}\n\n"),
    ] {
        let raw = format!("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n{tail}");
        for step in [raw.len(), 1] {
            let (data, trailers) = decode(None, true, raw.as_bytes(), step).unwrap();
            assert_eq!(data, b"hello world");
            assert_eq!(
                trailers,
                vec![("x-amz-checksum-crc32".to_string(), "NSRBwg==".to_string())]
            );
        }
    }
    // Names come back lowercased and values trimmed.
    let raw = "0\r\nX-Amz-Checksum-SHA256 : abc= \r\n\r\n";
    let (_, trailers) = decode(None, true, raw.as_bytes(), 1).unwrap();
    assert_eq!(
        trailers,
        vec![("x-amz-checksum-sha256".to_string(), "abc=".to_string())]
    );
    // Nothing at all after the final chunk.
    let r = decode(None, true, b"0\r\n", 10);
    assert_eq!(code(r), S3ErrorCode::IncompleteBody);
}

#[test]
fn framing_errors() {
    let cases: [(&[u8], bool); 7] = [
        (b"zz\r\nab\r\n0\r\n\r\n", false),
        (b"\r\n", false),
        (b"2\r\nabc\r\n0\r\n\r\n", false),
        (b"11111111111111111\r\n", false),
        (b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", false),
        (b"0\r\nno colon here\r\n\r\n", true),
        (b"0\r\n\r\ngarbage", false),
    ];
    for (raw, trailer) in cases {
        let r = decode(None, trailer, raw, raw.len());
        assert_eq!(
            code(r),
            S3ErrorCode::InvalidRequest,
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    // Stray line ends after the end are tolerated.
    decode(None, false, b"1\r\na\r\n0\r\n\r\n\r\n", 3).unwrap();
}

#[test]
fn overlong_lines_are_refused() {
    let mut raw = b"10;".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 5000));
    for step in [raw.len(), 100] {
        let r = decode(None, false, &raw, step);
        assert_eq!(code(r), S3ErrorCode::InvalidRequest, "step {step}");
    }
    // A 4 KiB line is fine.
    let mut raw = b"1;".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 4094));
    raw.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
    decode(None, false, &raw, 100).unwrap();
    // So is a trailer section of many short lines, up to 16 KiB.
    let mut raw = b"0\r\n".to_vec();
    for i in 0..2000 {
        raw.extend_from_slice(format!("x-t-{i}:v\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let r = decode(None, true, &raw, 512);
    assert_eq!(code(r), S3ErrorCode::InvalidRequest);
}

#[test]
fn data_is_streamed_not_buffered() {
    // A 1 MiB chunk fed in 4 KiB pieces comes out in 4 KiB pieces.
    let mut d = ChunkedDecoder::new(None, false);
    d.push(Bytes::from_static(b"100000\r\n"));
    assert!(d.next_payload().unwrap().is_none());
    let piece = Bytes::from(vec![b'x'; 4096]);
    for _ in 0..256 {
        d.push(piece.clone());
        assert_eq!(d.next_payload().unwrap().unwrap().len(), 4096);
        assert!(d.next_payload().unwrap().is_none());
    }
    d.push(Bytes::from_static(b"\r\n0\r\n\r\n"));
    assert!(d.next_payload().unwrap().is_none());
    assert!(d.is_done());
    assert_eq!(d.finish().unwrap(), vec![]);
}

#[test]
fn signer_debug_hides_key() {
    let s = format!("{:?}", example_signer());
    assert!(s.contains("20130524/us-east-1/s3/aws4_request"));
    assert!(!s.contains("key"));
}
