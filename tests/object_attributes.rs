//! GetObjectAttributes: ETag, Checksum, ObjectParts, StorageClass and
//! ObjectSize, each only when asked for.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ObjectAttributes, StorageClass};
use common::multipart::upload_parts_and_complete;
use common::raw::Raw;
use common::{pattern, Server};

#[tokio::test]
async fn attributes_of_a_single_part_object() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let data = pattern(3000, 1);
    let put = s3
        .put_object()
        .bucket("bkt")
        .key("small")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();

    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::StorageClass,
        ObjectAttributes::ObjectSize,
    ];
    let a = s3
        .get_object_attributes()
        .bucket("bkt")
        .key("small")
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .unwrap();
    // As S3: the ETag without its quotes.
    assert_eq!(a.e_tag(), put.e_tag().map(|e| e.trim_matches('"')));
    assert_eq!(
        a.checksum().and_then(|c| c.checksum_crc32()),
        put.checksum_crc32()
    );
    assert_eq!(a.storage_class(), Some(&StorageClass::Standard));
    assert_eq!(a.object_size(), Some(3000));
    assert!(a.object_parts().is_none(), "one part: no ObjectParts");
    assert_eq!(a.version_id(), put.version_id());
    assert!(a.last_modified().is_some());

    let only_size = s3
        .get_object_attributes()
        .bucket("bkt")
        .key("small")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(only_size.object_size(), Some(3000));
    assert!(only_size.e_tag().is_none() && only_size.checksum().is_none());

    let r = Raw::new("GET", "/bkt/small?attributes").send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidArgument"));
    let r = Raw::new("GET", "/bkt/small?attributes")
        .header("x-amz-object-attributes", "ETag,Colour")
        .send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidArgument"));
    let e = s3
        .get_object_attributes()
        .bucket("bkt")
        .key("missing")
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"));
}

#[tokio::test]
async fn object_parts_are_paged() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let id = common::multipart::create_upload(&s3, "bkt", "big").await;
    let (first, second) = (pattern(5 << 20, 2), pattern(1024, 3));
    upload_parts_and_complete(&s3, "bkt", "big", &id, &[&first, &second]).await;

    let page = |marker: Option<&str>| {
        s3.get_object_attributes()
            .bucket("bkt")
            .key("big")
            .object_attributes(ObjectAttributes::ObjectParts)
            .object_attributes(ObjectAttributes::ObjectSize)
            .max_parts(1)
            .set_part_number_marker(marker.map(str::to_string))
            .send()
    };
    let a = page(None).await.unwrap();
    assert_eq!(a.object_size(), Some((5 << 20) + 1024));
    let parts = a.object_parts().unwrap();
    assert_eq!(parts.total_parts_count(), Some(2));
    assert_eq!(parts.is_truncated(), Some(true));
    assert_eq!(parts.next_part_number_marker(), Some("1"));
    let listed: Vec<_> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size()))
        .collect();
    assert_eq!(listed, [(Some(1), Some(5 << 20))]);

    let a = page(Some("1")).await.unwrap();
    let parts = a.object_parts().unwrap();
    assert_eq!(parts.is_truncated(), Some(false));
    let listed: Vec<_> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size()))
        .collect();
    assert_eq!(listed, [(Some(2), Some(1024))]);
}

/// What SDKs read to verify a multipart upload's checksums: the composite
/// checksum with its part count, and each part's own checksum and size.
#[tokio::test]
async fn a_multipart_upload_with_checksums() {
    use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload, CompletedPart};
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let created = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap();
    let parts = [pattern(5 << 20, 11), pattern(5 << 20, 12), pattern(777, 13)];
    let mut done = Vec::new();
    let mut part_sums = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = s3
            .upload_part()
            .bucket("bkt")
            .key("mp")
            .upload_id(id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let sum = r.checksum_sha256().unwrap().to_string();
        part_sums.push(sum.clone());
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .checksum_sha256(sum)
                .build(),
        );
    }
    let complete = s3
        .complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let a = s3
        .get_object_attributes()
        .bucket("bkt")
        .key("mp")
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::Checksum)
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::StorageClass)
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(a.e_tag(), complete.e_tag().map(|e| e.trim_matches('"')));
    assert!(a.e_tag().unwrap().ends_with("-3"));
    let checksum = a.checksum().unwrap();
    assert_eq!(checksum.checksum_sha256(), complete.checksum_sha256());
    assert!(checksum.checksum_sha256().unwrap().ends_with("-3"));
    assert_eq!(checksum.checksum_type(), Some(&ChecksumType::Composite));
    assert_eq!(a.storage_class(), Some(&StorageClass::Standard));
    assert_eq!(a.object_size(), Some((10 << 20) + 777));
    let p = a.object_parts().unwrap();
    assert_eq!(p.total_parts_count(), Some(3));
    assert_eq!(p.is_truncated(), Some(false));
    let listed: Vec<_> = p
        .parts()
        .iter()
        .map(|p| {
            (
                p.part_number(),
                p.size(),
                p.checksum_sha256().map(str::to_string),
            )
        })
        .collect();
    let want: Vec<_> = parts
        .iter()
        .zip(&part_sums)
        .enumerate()
        .map(|(i, (d, s))| (Some(i as i32 + 1), Some(d.len() as i64), Some(s.clone())))
        .collect();
    assert_eq!(listed, want, "each part's size and checksum");
}
