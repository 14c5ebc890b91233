//! Multipart uploads through the SDK, for tests whose subject is something
//! else (checksums, publishing, …): create, upload parts, complete.

use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

/// Starts a multipart upload of `bucket`/`key`; returns its upload id.
pub async fn create_upload(s3: &Client, bucket: &str, key: &str) -> String {
    s3.create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string()
}

/// Uploads part `n` and checks its ETag is the part's MD5.
pub async fn upload_part(
    s3: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    n: i32,
    data: &[u8],
) -> CompletedPart {
    let r = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.e_tag(),
        Some(format!("\"{}\"", super::md5_hex(data)).as_str())
    );
    CompletedPart::builder()
        .part_number(n)
        .e_tag(r.e_tag().unwrap())
        .build()
}

/// The CompleteMultipartUpload body listing `parts`.
pub fn completed(parts: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build()
}

/// Uploads each of `parts` (numbered from 1) to the upload `id` and completes it.
pub async fn upload_parts_and_complete(
    s3: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    parts: &[&[u8]],
) -> CompleteMultipartUploadOutput {
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        done.push(upload_part(s3, bucket, key, id, i as i32 + 1, data).await);
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(completed(done))
        .send()
        .await
        .unwrap()
}
