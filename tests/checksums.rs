//! Additional checksums (`x-amz-checksum-*`) through the AWS SDK: verified
//! on upload, stored, and returned with `x-amz-checksum-mode: ENABLED`.
//! Expected values come from the hashing crates directly, not from kura.

use crate::common;

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
        assert_eq!(put.checksum_type().map(|t| t.as_str()), Some("FULL_OBJECT"));

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

mod multipart {
    use super::*;
    use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload, CompletedPart};

    const MIB: usize = 1024 * 1024;

    /// Uploads `parts` under `algorithm` (and `kind`), completes with the
    /// part checksums, and returns the object checksum of the Complete
    /// response and of a GET with checksum mode.
    async fn upload(
        s3: &aws_sdk_s3::Client,
        key: &str,
        algorithm: ChecksumAlgorithm,
        kind: Option<ChecksumType>,
        parts: &[Vec<u8>],
    ) -> (String, String) {
        let id = s3
            .create_multipart_upload()
            .bucket("bkt")
            .key(key)
            .checksum_algorithm(algorithm.clone())
            .set_checksum_type(kind)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        let mut done = Vec::new();
        for (i, data) in parts.iter().enumerate() {
            let n = i as i32 + 1;
            let r = s3
                .upload_part()
                .bucket("bkt")
                .key(key)
                .upload_id(&id)
                .part_number(n)
                .checksum_algorithm(algorithm.clone())
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap();
            let value = value_of(
                &algorithm,
                r.checksum_crc32(),
                r.checksum_crc32_c(),
                r.checksum_crc64_nvme(),
                r.checksum_sha1(),
                r.checksum_sha256(),
            )
            .expect("UploadPart returns the part checksum");
            assert_eq!(value, b64(&digest(&algorithm, data)));
            let part = CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap());
            let part = match algorithm {
                ChecksumAlgorithm::Crc32 => part.checksum_crc32(value),
                ChecksumAlgorithm::Crc32C => part.checksum_crc32_c(value),
                ChecksumAlgorithm::Crc64Nvme => part.checksum_crc64_nvme(value),
                ChecksumAlgorithm::Sha1 => part.checksum_sha1(value),
                _ => part.checksum_sha256(value),
            };
            done.push(part.build());
        }
        // ListParts reports each part's checksum.
        let listed = s3
            .list_parts()
            .bucket("bkt")
            .key(key)
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.checksum_algorithm(), Some(&algorithm));
        for (p, data) in listed.parts().iter().zip(parts) {
            let value = value_of(
                &algorithm,
                p.checksum_crc32(),
                p.checksum_crc32_c(),
                p.checksum_crc64_nvme(),
                p.checksum_sha1(),
                p.checksum_sha256(),
            );
            assert_eq!(value, Some(b64(&digest(&algorithm, data))));
        }
        let c = s3
            .complete_multipart_upload()
            .bucket("bkt")
            .key(key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let completed = value_of(
            &algorithm,
            c.checksum_crc32(),
            c.checksum_crc32_c(),
            c.checksum_crc64_nvme(),
            c.checksum_sha1(),
            c.checksum_sha256(),
        )
        .expect("Complete returns the object checksum");
        let got = s3
            .get_object()
            .bucket("bkt")
            .key(key)
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
        )
        .expect("GET returns the object checksum");
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], &parts.concat()[..]);
        (completed, returned)
    }

    #[tokio::test]
    async fn composite_and_full_object_checksums() {
        let server = Server::start_with(&["--chunk-size", "1MiB"]);
        let s3 = server.client().await;
        s3.create_bucket().bucket("bkt").send().await.unwrap();
        let parts = vec![pattern(5 * MIB, 1), pattern(MIB + 3, 2)];
        let whole = parts.concat();

        // Composite: the checksum of the concatenated part checksums, "-N".
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32C,
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
        ] {
            let joined: Vec<u8> = parts.iter().flat_map(|p| digest(&algorithm, p)).collect();
            let expected = format!("{}-2", b64(&digest(&algorithm, &joined)));
            let key = format!("composite-{}", algorithm.as_str());
            let (completed, returned) = upload(&s3, &key, algorithm.clone(), None, &parts).await;
            assert_eq!(completed, expected, "{algorithm:?}");
            assert_eq!(returned, expected, "{algorithm:?}");
            let head = s3
                .head_object()
                .bucket("bkt")
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
        }

        // Full object: the CRC of the whole data, combined from the parts'.
        for (algorithm, kind) in [
            (ChecksumAlgorithm::Crc64Nvme, None),
            (ChecksumAlgorithm::Crc64Nvme, Some(ChecksumType::FullObject)),
            (ChecksumAlgorithm::Crc32, Some(ChecksumType::FullObject)),
            (ChecksumAlgorithm::Crc32C, Some(ChecksumType::FullObject)),
        ] {
            let key = format!("full-{}", algorithm.as_str());
            let expected = b64(&digest(&algorithm, &whole));
            let (completed, returned) = upload(&s3, &key, algorithm.clone(), kind, &parts).await;
            assert_eq!(completed, expected, "{algorithm:?}");
            assert_eq!(returned, expected, "{algorithm:?}");
        }
    }

    #[tokio::test]
    async fn wrong_part_checksum_is_rejected() {
        let server = Server::start_with(&["--chunk-size", "1MiB"]);
        let s3 = server.client_no_retry().await;
        s3.create_bucket().bucket("bkt").send().await.unwrap();
        let id = s3
            .create_multipart_upload()
            .bucket("bkt")
            .key("k")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        let data = pattern(2 * MIB, 9);
        let err = s3
            .upload_part()
            .bucket("bkt")
            .key("k")
            .upload_id(&id)
            .part_number(1)
            .checksum_sha256(b64(&digest(&ChecksumAlgorithm::Sha256, b"x")))
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.into_service_error().code(), Some("BadDigest"));
        // Another algorithm than the upload's is refused too.
        let err = s3
            .upload_part()
            .bucket("bkt")
            .key("k")
            .upload_id(&id)
            .part_number(1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.into_service_error().code(), Some("InvalidRequest"));
        let parts = s3
            .list_parts()
            .bucket("bkt")
            .key("k")
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        assert!(parts.parts().is_empty(), "no part stored");
        assert_eq!(server.chunk_files(), 0);
    }
}

/// Like S3, an upload that names no checksum gets a full-object CRC64NVME,
/// for single PUTs and multipart uploads alike.
#[tokio::test]
async fn uploads_without_checksum_get_a_crc64nvme() {
    use common::multipart::upload_parts_and_complete;
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let crc64 = |d: &[u8]| b64(&digest(&ChecksumAlgorithm::Crc64Nvme, d));

    let data = pattern(10_000, 3);
    let r = common::raw::Raw::new("PUT", "/bkt/plain")
        .body(data.clone())
        .send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("plain")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc64_nvme(), Some(crc64(&data).as_str()));
    assert!(head.checksum_crc32().is_none());

    let parts = [pattern(5 << 20, 4), pattern(1234, 5)];
    let id = common::multipart::create_upload(&s3, "bkt", "mp").await;
    let c = upload_parts_and_complete(&s3, "bkt", "mp", &id, &[&parts[0], &parts[1]]).await;
    let whole = parts.concat();
    assert_eq!(c.checksum_crc64_nvme(), Some(crc64(&whole).as_str()));
    // The SDK checks the returned CRC64NVME against the body it reads.
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("mp")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc64_nvme(), Some(crc64(&whole).as_str()));
    assert_eq!(got.checksum_type().map(|t| t.as_str()), Some("FULL_OBJECT"));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), whole.len());
}
