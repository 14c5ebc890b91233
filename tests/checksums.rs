//! Additional checksums (`x-amz-checksum-*`) through the AWS SDK: verified
//! on upload, stored, and returned with `x-amz-checksum-mode: ENABLED`.
//! Expected values come from the hashing crates directly, not from kura.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{pattern, Server};
use sha2::Digest;

/// The raw digest of `data` under `algorithm`, as S3 encodes it (CRCs big-endian).
pub fn digest(algorithm: &ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => crc32fast::hash(data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc32C => crc32c::crc32c(data).to_be_bytes().to_vec(),
        ChecksumAlgorithm::Crc64Nvme => {
            let mut d = crc64fast_nvme::Digest::new();
            d.write(data);
            d.sum64().to_be_bytes().to_vec()
        }
        ChecksumAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
        ChecksumAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
        other => panic!("unexpected algorithm {other:?}"),
    }
}

fn b64(v: &[u8]) -> String {
    STANDARD.encode(v)
}

const ALGORITHMS: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32C,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

fn value_of(
    algorithm: &ChecksumAlgorithm,
    crc32: Option<&str>,
    crc32c: Option<&str>,
    crc64: Option<&str>,
    sha1: Option<&str>,
    sha256: Option<&str>,
) -> Option<String> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => crc32,
        ChecksumAlgorithm::Crc32C => crc32c,
        ChecksumAlgorithm::Crc64Nvme => crc64,
        ChecksumAlgorithm::Sha1 => sha1,
        ChecksumAlgorithm::Sha256 => sha256,
        _ => None,
    }
    .map(str::to_string)
}

#[tokio::test]
async fn every_algorithm_is_verified_stored_and_returned() {
    let server = Server::start_with(&["--chunk-size", "64KiB"]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let body = pattern(300 * 1024 + 7, 11);
    for algorithm in ALGORITHMS {
        let key = format!("obj-{}", algorithm.as_str());
        let put = s3
            .put_object()
            .bucket("bkt")
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let sent = value_of(
            &algorithm,
            put.checksum_crc32(),
            put.checksum_crc32_c(),
            put.checksum_crc64_nvme(),
            put.checksum_sha1(),
            put.checksum_sha256(),
        )
        .unwrap_or_else(|| panic!("{algorithm:?}: PUT response carries the checksum"));
        assert_eq!(sent, b64(&digest(&algorithm, &body)), "{algorithm:?}");

        // The SDK validates the returned checksum against the body it reads.
        let got = s3
            .get_object()
            .bucket("bkt")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let returned = value_of(
            &algorithm,
            got.checksum_crc32(),
            got.checksum_crc32_c(),
            got.checksum_crc64_nvme(),
            got.checksum_sha1(),
            got.checksum_sha256(),
        );
        assert_eq!(returned.as_deref(), Some(sent.as_str()), "{algorithm:?}");
        let data = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&data[..], &body[..]);

        let head = s3
            .head_object()
            .bucket("bkt")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let returned = value_of(
            &algorithm,
            head.checksum_crc32(),
            head.checksum_crc32_c(),
            head.checksum_crc64_nvme(),
            head.checksum_sha1(),
            head.checksum_sha256(),
        );
        assert_eq!(returned.as_deref(), Some(sent.as_str()), "{algorithm:?}");
        assert_eq!(
            head.checksum_type().map(|t| t.as_str()),
            Some("FULL_OBJECT")
        );

        // Without the mode, no checksum headers.
        let plain = s3
            .head_object()
            .bucket("bkt")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert!(plain.checksum_crc32().is_none() && plain.checksum_sha256().is_none());
    }
}

#[tokio::test]
async fn wrong_checksum_is_rejected_and_nothing_stored() {
    let server = Server::start_with(&["--chunk-size", "64KiB"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let body = pattern(200 * 1024, 5);
    let wrong_crc32 = b64(&crc32fast::hash(b"something else").to_be_bytes());
    let wrong_crc64 = b64(&digest(&ChecksumAlgorithm::Crc64Nvme, b"other"));
    for (name, req) in [
        (
            "crc32",
            s3.put_object()
                .bucket("bkt")
                .key("bad")
                .checksum_crc32(wrong_crc32),
        ),
        (
            "crc64nvme",
            s3.put_object()
                .bucket("bkt")
                .key("bad")
                .checksum_crc64_nvme(wrong_crc64),
        ),
    ] {
        let err = req
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap_err();
        let err = err.into_service_error();
        assert_eq!(err.code(), Some("BadDigest"), "{name}: {err:?}");
    }
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("bad")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_not_found());
    assert_eq!(
        server.chunk_files(),
        0,
        "refused uploads leave no chunk files"
    );
}
