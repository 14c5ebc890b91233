//! aws-chunked streaming uploads, hand-framed and signed with AWS's own
//! `aws-sigv4` (`sign_chunk`, `sign_trailer`): signed chunks, signed and
//! unsigned trailers with checksums, and malformed framing — which must be
//! a clear 400 with nothing stored.

use crate::common;

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;
use aws_sigv4::http_request::SigningSettings;
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::http::Headers;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use common::raw::{Raw, RawResponse};
use common::{pattern, Server, ACCESS_KEY, SECRET_KEY};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Signed,
    SignedTrailer,
    UnsignedTrailer,
}

impl Mode {
    fn payload(self) -> &'static str {
        match self {
            Mode::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Mode::SignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Mode::UnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }
}

/// Ways to spoil an otherwise correct upload.
#[derive(Default, Clone)]
struct Spoil {
    /// Flip a data byte after signing.
    flip_data: bool,
    /// Send a trailer signature of other trailers.
    wrong_trailer_signature: bool,
    /// Replace the framed body entirely.
    body: Option<Vec<u8>>,
    /// Send only this many bytes of the body.
    cut_at: Option<usize>,
    /// Declare this decoded length instead of the true one.
    decoded_length: Option<usize>,
}

fn crc32_b64(data: &[u8]) -> String {
    STANDARD.encode(crc32fast::hash(data).to_be_bytes())
}

fn crc64_b64(data: &[u8]) -> String {
    let mut d = crc64fast_nvme::Digest::new();
    d.write(data);
    STANDARD.encode(d.sum64().to_be_bytes())
}

/// Sends `data` as an aws-chunked PUT of `path` in chunks of `chunk` bytes,
/// with `trailers` (declared in `x-amz-trailer`) after the final chunk.
#[allow(clippy::too_many_arguments)]
fn put_chunked(
    server: &Server,
    path: &str,
    data: &[u8],
    chunk: usize,
    mode: Mode,
    trailers: &[(&str, &str)],
    declared: &[&str],
    spoil: Spoil,
) -> RawResponse {
    let time = SystemTime::now();
    let identity = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap();

    let pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    let signed = mode != Mode::UnsignedTrailer;
    let sig_ext = |s: &str| {
        if signed {
            format!(";chunk-signature={s}")
        } else {
            String::new()
        }
    };
    let frame = |seed: &str| -> Vec<u8> {
        let mut body = Vec::new();
        let mut running = seed.to_string();
        for piece in pieces.iter().chain(std::iter::once(&&b""[..])) {
            let sig = v4::sign_chunk(&Bytes::copy_from_slice(piece), &running, &params)
                .unwrap()
                .signature()
                .to_string();
            body.extend_from_slice(format!("{:x}{}\r\n", piece.len(), sig_ext(&sig)).as_bytes());
            if !piece.is_empty() {
                body.extend_from_slice(piece);
                body.extend_from_slice(b"\r\n");
            }
            running = sig;
        }
        if mode == Mode::Signed {
            body.extend_from_slice(b"\r\n");
            return body;
        }
        let mut headers = Headers::new();
        for (k, v) in trailers {
            body.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
            headers.insert(k.to_string(), v.to_string());
        }
        if signed {
            if spoil.wrong_trailer_signature {
                headers.insert("x-amz-checksum-crc32", "AAAAAA==");
            }
            let sig = v4::sign_trailer(&headers, &running, &params)
                .unwrap()
                .signature()
                .to_string();
            body.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body
    };

    let mut r = Raw::new("PUT", path);
    r.time = Some(time);
    r.payload_hash = Some(mode.payload().into());
    r.no_content_length = true;
    // The framed length does not depend on the signatures' values.
    let len = spoil
        .body
        .as_ref()
        .map_or_else(|| frame(&"0".repeat(64)).len(), Vec::len);
    r = r
        .header("host", &server.addr)
        .header("content-encoding", "aws-chunked")
        .header("content-length", &len.to_string())
        .header(
            "x-amz-decoded-content-length",
            &spoil.decoded_length.unwrap_or(data.len()).to_string(),
        );
    if !declared.is_empty() {
        r = r.header("x-amz-trailer", &declared.join(","));
    }
    r.sign(&server.addr);
    let auth = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .unwrap();
    let seed = auth.rsplit_once("Signature=").unwrap().1.to_string();
    let mut body = spoil.body.clone().unwrap_or_else(|| frame(&seed));
    if spoil.flip_data {
        let at = body.len() / 2;
        body[at] ^= 0x55;
    }
    r.signed = false;
    r.body = body;
    r.send_body_bytes = spoil.cut_at;
    r.send(&server.addr)
}

async fn setup(server: &Server) -> aws_sdk_s3::Client {
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3
}

async fn stored(s3: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    let got = s3.get_object().bucket("bkt").key(key).send().await.ok()?;
    Some(got.body.collect().await.unwrap().into_bytes().to_vec())
}

fn args() -> [&'static str; 4] {
    ["--chunk-size", "64KiB", "--inline-threshold", "1KiB"]
}

#[tokio::test]
async fn signed_chunks_are_verified_and_decoded() {
    let server = Server::start_with(&args());
    let s3 = setup(&server).await;
    let data = pattern(200 * 1024 + 11, 1);
    let r = put_chunked(
        &server,
        "/bkt/signed",
        &data,
        64 * 1024,
        Mode::Signed,
        &[],
        &[],
        Spoil::default(),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(stored(&s3, "signed").await.as_deref(), Some(&data[..]));
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("signed")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.content_encoding(),
        None,
        "aws-chunked is not the object's encoding"
    );

    // A flipped data byte breaks that chunk's signature: refused, nothing stored.
    let spoil = Spoil {
        flip_data: true,
        ..Default::default()
    };
    let r = put_chunked(
        &server,
        "/bkt/tampered",
        &data,
        64 * 1024,
        Mode::Signed,
        &[],
        &[],
        spoil,
    );
    assert_eq!(r.status, 403, "{}", r.body_text());
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    assert_eq!(stored(&s3, "tampered").await, None);
    assert_eq!(server.chunk_files(), 4, "only the first object's chunks");
}

#[tokio::test]
async fn signed_trailer_carries_a_verified_checksum() {
    let server = Server::start_with(&args());
    let s3 = setup(&server).await;
    let data = pattern(150 * 1024, 2);
    let crc = crc32_b64(&data);
    let trailer = [("x-amz-checksum-crc32", crc.as_str())];
    let declared = ["x-amz-checksum-crc32"];
    let r = put_chunked(
        &server,
        "/bkt/t",
        &data,
        64 * 1024,
        Mode::SignedTrailer,
        &trailer,
        &declared,
        Spoil::default(),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("t")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc.as_str()));

    // A trailer signature over other trailers: 403.
    let spoil = Spoil {
        wrong_trailer_signature: true,
        ..Default::default()
    };
    let r = put_chunked(
        &server,
        "/bkt/bad-sig",
        &data,
        64 * 1024,
        Mode::SignedTrailer,
        &trailer,
        &declared,
        spoil,
    );
    assert_eq!(r.status, 403, "{}", r.body_text());
    assert_eq!(r.code(), "SignatureDoesNotMatch");

    // Correctly signed, but the checksum is not the data's: 400 BadDigest.
    let wrong = crc32_b64(b"other data");
    let trailer = [("x-amz-checksum-crc32", wrong.as_str())];
    let r = put_chunked(
        &server,
        "/bkt/bad-crc",
        &data,
        64 * 1024,
        Mode::SignedTrailer,
        &trailer,
        &declared,
        Spoil::default(),
    );
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert_eq!(r.code(), "BadDigest");
    assert_eq!(stored(&s3, "bad-sig").await, None);
    assert_eq!(stored(&s3, "bad-crc").await, None);
    assert_eq!(server.chunk_files(), 3, "only the first object's chunks");
}

#[tokio::test]
async fn unsigned_trailer_checksums() {
    let server = Server::start_with(&args());
    let s3 = setup(&server).await;
    let data = pattern(100 * 1024 + 1, 3);
    let crc = crc64_b64(&data);
    let declared = ["x-amz-checksum-crc64nvme"];
    let r = put_chunked(
        &server,
        "/bkt/u",
        &data,
        8 * 1024,
        Mode::UnsignedTrailer,
        &[("x-amz-checksum-crc64nvme", crc.as_str())],
        &declared,
        Spoil::default(),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(stored(&s3, "u").await.as_deref(), Some(&data[..]));
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("u")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc64_nvme(), Some(crc.as_str()));

    let wrong = crc64_b64(b"not it");
    let r = put_chunked(
        &server,
        "/bkt/u-bad",
        &data,
        8 * 1024,
        Mode::UnsignedTrailer,
        &[("x-amz-checksum-crc64nvme", wrong.as_str())],
        &declared,
        Spoil::default(),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "BadDigest"),
        "{}",
        r.body_text()
    );

    // Declared but never sent.
    let r = put_chunked(
        &server,
        "/bkt/u-missing",
        &data,
        8 * 1024,
        Mode::UnsignedTrailer,
        &[],
        &declared,
        Spoil::default(),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "InvalidRequest"),
        "{}",
        r.body_text()
    );
    assert_eq!(stored(&s3, "u-bad").await, None);
    assert_eq!(stored(&s3, "u-missing").await, None);
    assert_eq!(server.chunk_files(), 2, "only the first object's chunks");
}

#[tokio::test]
async fn malformed_framing_is_a_clear_400_and_stores_nothing() {
    let server = Server::start_with(&args());
    let s3 = setup(&server).await;
    let data = pattern(100 * 1024, 4);
    let crc = crc32_b64(&data);
    let trailer = [("x-amz-checksum-crc32", crc.as_str())];
    let declared = ["x-amz-checksum-crc32"];
    let piece = |size: &str, body: &[u8]| {
        let mut v = format!("{size}\r\n").into_bytes();
        v.extend_from_slice(body);
        v.extend_from_slice(b"\r\n");
        v
    };
    let cases: Vec<(&str, Spoil, u16, &str)> = vec![
        (
            "size is not hex",
            Spoil {
                body: Some([piece("zz", &data[..10]), b"0\r\n\r\n".to_vec()].concat()),
                decoded_length: Some(10),
                ..Default::default()
            },
            400,
            "InvalidRequest",
        ),
        (
            "data longer than its size",
            Spoil {
                body: Some([piece("10", &data[..20]), b"0\r\n\r\n".to_vec()].concat()),
                decoded_length: Some(16),
                ..Default::default()
            },
            400,
            "InvalidRequest",
        ),
        (
            "cut off mid-chunk",
            Spoil {
                cut_at: Some(70 * 1024),
                ..Default::default()
            },
            400,
            "IncompleteBody",
        ),
        (
            "decoded length larger than the data",
            Spoil {
                decoded_length: Some(data.len() + 1),
                ..Default::default()
            },
            400,
            "IncompleteBody",
        ),
        (
            "decoded length smaller than the data",
            Spoil {
                decoded_length: Some(data.len() - 1),
                ..Default::default()
            },
            400,
            "InvalidRequest",
        ),
    ];
    for (what, spoil, status, code) in cases {
        let r = put_chunked(
            &server,
            "/bkt/m",
            &data,
            64 * 1024,
            Mode::UnsignedTrailer,
            &trailer,
            &declared,
            spoil,
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{what}: {}",
            r.body_text()
        );
        assert!(
            r.body_text().contains("<Message>"),
            "{what}: an explained error"
        );
        assert_eq!(stored(&s3, "m").await, None, "{what}");
        assert_eq!(server.chunk_files(), 0, "{what}: no chunk files left");
    }
}

#[tokio::test]
async fn sdk_default_uploads_send_checksums_that_are_stored() {
    let server = Server::start_with(&args());
    let s3 = setup(&server).await;
    let data = pattern(300 * 1024, 5);
    s3.put_object()
        .bucket("bkt")
        .key("sdk")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("sdk")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    // The SDK's default is CRC32 (sent as a header or trailer); it also
    // validates the returned value against the body it reads.
    assert_eq!(got.checksum_crc32(), Some(crc32_b64(&data).as_str()));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], &data[..]);
}

#[tokio::test]
async fn parts_stream_with_signed_trailers_too() {
    let server = Server::start_with(&args());
    let s3 = setup(&server).await;
    let id = common::multipart::create_upload(&s3, "bkt", "mp").await;
    let data = pattern(130 * 1024, 6);
    let crc = crc32_b64(&data);
    let path = format!("/bkt/mp?partNumber=1&uploadId={id}");
    let r = put_chunked(
        &server,
        &path,
        &data,
        64 * 1024,
        Mode::SignedTrailer,
        &[("x-amz-checksum-crc32", crc.as_str())],
        &["x-amz-checksum-crc32"],
        Spoil::default(),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", common::md5_hex(&data)));

    // A wrong Content-MD5 on a part is BadDigest, and the part is not kept.
    let r = Raw::new("PUT", &format!("/bkt/mp?partNumber=2&uploadId={id}"))
        .header("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(data.clone())
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "BadDigest"));
    let parts = s3
        .list_parts()
        .bucket("bkt")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let numbers: Vec<i32> = parts
        .parts()
        .iter()
        .filter_map(|p| p.part_number())
        .collect();
    assert_eq!(numbers, [1]);
    assert_eq!(parts.parts()[0].checksum_crc32(), Some(crc.as_str()));
    assert_eq!(server.chunk_files(), 3, "only part 1's chunks");
}
