//! S3's edge behaviours that retrying clients and SDK helpers depend on
//! (issue 10 §5): repeated CompleteMultipartUpload, presigned expiry codes,
//! checksum mismatches, empty pages, `Transfer-Encoding: chunked` uploads,
//! CreateBucket of an owned bucket and `encoding-type=url` listings.

use crate::common;

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use common::raw::Raw;
use common::{Server, ACCESS_KEY, SECRET_KEY};

/// Runs a boto3 script against `server` (argv[1] is the endpoint); it must
/// print `OK`.
fn boto3(server: &Server, script: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("script.py");
    let prelude = "import sys, boto3\nfrom botocore.config import Config\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
        config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4',\n\
        retries={'max_attempts': 1}))\n";
    std::fs::write(&path, format!("{prelude}{script}\nprint('OK')\n")).unwrap();
    let out = Command::new("python3")
        .arg(&path)
        .arg(&server.endpoint)
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", tmp.path().join("creds"))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "boto3 script failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// botocore sets `encoding-type=url` on every ListObjects(V2)/Versions call
/// and decodes exactly the fields it knows S3 encodes; anything kura encodes
/// beyond those reaches the caller still encoded.
#[test]
fn url_encoded_listings_round_trip_through_boto3() {
    let server = Server::start();
    boto3(
        &server,
        r#"
s3.create_bucket(Bucket='bkt')
for k in ['\nx/a b+c', '\nx/sub/é', '\ny', 'plain']:
    s3.put_object(Bucket='bkt', Key=k, Body=b'1')

r = s3.list_objects(Bucket='bkt', Prefix='\n', Delimiter='/', MaxKeys=1)
assert r['Prefix'] == '\n', repr(r['Prefix'])
assert r['Delimiter'] == '/', r
assert r['IsTruncated'] and r['NextMarker'] == '\nx/', r
r = s3.list_objects(Bucket='bkt', Prefix='\n', Delimiter='/', Marker=r['NextMarker'])
assert r['Marker'] == '\nx/', repr(r['Marker'])
assert [c['Key'] for c in r['Contents']] == ['\ny'], r
r = s3.list_objects(Bucket='bkt', Prefix='\nx/', Delimiter='/')
assert [c['Key'] for c in r['Contents']] == ['\nx/a b+c'], r
assert [p['Prefix'] for p in r['CommonPrefixes']] == ['\nx/sub/'], r

r = s3.list_objects_v2(Bucket='bkt', Prefix='\n', Delimiter='/', StartAfter='\nw')
assert r['Prefix'] == '\n' and r['StartAfter'] == '\nw', r
assert [p['Prefix'] for p in r['CommonPrefixes']] == ['\nx/'], r
assert [c['Key'] for c in r['Contents']] == ['\ny'], r

r = s3.list_object_versions(Bucket='bkt', Prefix='\nx/', Delimiter='/')
assert r['Prefix'] == '\nx/', repr(r['Prefix'])
assert [v['Key'] for v in r['Versions']] == ['\nx/a b+c'], r
assert [p['Prefix'] for p in r['CommonPrefixes']] == ['\nx/sub/'], r
r = s3.list_object_versions(Bucket='bkt', Prefix='\n', MaxKeys=1)
assert r['IsTruncated'] and r['NextKeyMarker'] == '\nx/a b+c', r
r = s3.list_object_versions(Bucket='bkt', Prefix='\n', KeyMarker=r['NextKeyMarker'])
assert r['KeyMarker'] == '\nx/a b+c', r
assert [v['Key'] for v in r['Versions']] == ['\nx/sub/é', '\ny'], r
"#,
    );
}

/// `max-keys=0` is an empty page that is not truncated (a truncated page
/// without a resume point makes paginators loop forever), in every listing.
#[test]
fn max_keys_zero_is_an_empty_final_page() {
    let server = Server::start();
    boto3(
        &server,
        r#"
s3.create_bucket(Bucket='bkt')
s3.put_object(Bucket='bkt', Key='k', Body=b'1')
up = s3.create_multipart_upload(Bucket='bkt', Key='m')['UploadId']
s3.upload_part(Bucket='bkt', Key='m', UploadId=up, PartNumber=1, Body=b'x')
for name, r in [
    ('v1', s3.list_objects(Bucket='bkt', MaxKeys=0)),
    ('v2', s3.list_objects_v2(Bucket='bkt', MaxKeys=0)),
    ('versions', s3.list_object_versions(Bucket='bkt', MaxKeys=0)),
    ('uploads', s3.list_multipart_uploads(Bucket='bkt', MaxUploads=0)),
    ('parts', s3.list_parts(Bucket='bkt', Key='m', UploadId=up, MaxParts=0)),
]:
    assert r['IsTruncated'] is False, (name, r)
    for field in ['Contents', 'Versions', 'Uploads', 'Parts', 'CommonPrefixes']:
        assert not r.get(field), (name, field, r)
assert s3.list_objects_v2(Bucket='bkt', MaxKeys=0)['KeyCount'] == 0
"#,
    );
}

/// An empty `continuation-token` is no token: the listing starts at the
/// beginning instead of failing on an undecodable token.
#[test]
fn empty_continuation_token_is_none() {
    let server = Server::start();
    let r = Raw::new("PUT", "/bkt").send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let r = Raw::new("PUT", "/bkt/k").body("1").send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let r = Raw::new("GET", "/bkt?list-type=2&continuation-token=").send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let body = r.body_text();
    assert!(body.contains("<Key>k</Key>"), "{body}");
    assert!(!body.contains("<ContinuationToken>"), "{body}");
}

/// CreateBucket of a bucket the caller already owns: 200 in us-east-1, 409
/// `BucketAlreadyOwnedByYou` elsewhere, as S3 answers.
#[tokio::test]
async fn create_owned_bucket_again() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap();
    // A retried CreateBucket in us-east-1 succeeds, and changes nothing.
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let got = s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"kept");

    // A partner key with admin on the bucket is its owner too (kura has one
    // account); without admin it may not create buckets at all.
    let admin = common::admin::create_key(&server, "boss", &["bkt:admin"], &[]);
    let reader = common::admin::create_key(&server, "reader", &["bkt:r"], &[]);
    let boss = server.client_for(&admin).await;
    boss.create_bucket().bucket("bkt").send().await.unwrap();
    let err = server
        .client_for(&reader)
        .await
        .create_bucket()
        .bucket("bkt")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.meta().code(), Some("AccessDenied"), "{err:?}");

    let eu = Server::start_with(&["--region", "eu-west-1"]);
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(&eu.endpoint)
        .region(aws_sdk_s3::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    let create = || {
        s3.create_bucket()
            .bucket("bkt")
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint("eu-west-1".into())
                    .build(),
            )
            .send()
    };
    create().await.unwrap();
    let err = create().await.unwrap_err().into_service_error();
    assert!(err.is_bucket_already_owned_by_you(), "{err:?}");
}

/// A CompleteMultipartUpload repeated after the first answer was lost gets
/// that answer again (same ETag, version id and location), across a restart,
/// until the multipart expiry period has passed; a repeat with another part
/// list is not the same request.
#[tokio::test]
async fn repeated_complete_gets_the_first_answer() {
    use common::multipart::{completed, upload_part};
    let mut server = Server::start_with(&["--multipart-expiry", "3s"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    // A versioned bucket, so Complete answers with a version id.
    common::enable_versioning(&s3, "bkt").await;
    let id = common::multipart::create_upload(&s3, "bkt", "big").await;
    let p1 = common::pattern(5 * 1024 * 1024, 1);
    let parts = vec![
        upload_part(&s3, "bkt", "big", &id, 1, &p1).await,
        upload_part(&s3, "bkt", "big", &id, 2, b"tail").await,
    ];
    let complete = |parts: Vec<aws_sdk_s3::types::CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket("bkt")
            .key("big")
            .upload_id(&id)
            // A retry must not fail its own condition.
            .if_none_match("*")
            .multipart_upload(completed(parts))
            .send()
    };
    let first = complete(parts.clone()).await.unwrap();
    let etag = first.e_tag().unwrap().to_string();
    let version = first.version_id().map(str::to_string);
    server.restart();
    let s3 = server.client_no_retry().await;
    let complete = |parts: Vec<aws_sdk_s3::types::CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket("bkt")
            .key("big")
            .upload_id(&id)
            .if_none_match("*")
            .multipart_upload(completed(parts))
            .send()
    };
    let again = complete(parts.clone()).await.unwrap();
    assert_eq!(again.e_tag(), Some(etag.as_str()));
    assert_eq!(again.version_id(), version.as_deref());
    assert!(version.is_some(), "Complete answers the version id");
    // (The restarted server listens on another port.)
    let path = |l: Option<&str>| {
        l.and_then(|l| l.split_once("/bkt/"))
            .map(|(_, p)| p.to_string())
    };
    assert_eq!(path(again.location()), path(first.location()));
    assert!(first.location().unwrap().ends_with("/bkt/big"));
    assert_eq!((again.bucket(), again.key()), (Some("bkt"), Some("big")));
    assert_eq!(again.checksum_crc64_nvme(), first.checksum_crc64_nvme());

    // Another part list is another request, for an upload that is gone.
    let err = complete(parts[..1].to_vec())
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.meta().code(), Some("NoSuchUpload"), "{err:?}");
    // The upload itself stays gone: no parts, no listing.
    let uploads = s3
        .list_multipart_uploads()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));

    // After the multipart expiry period the completion is forgotten.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match complete(parts.clone()).await {
            Ok(_) => {
                assert!(std::time::Instant::now() < deadline, "never forgotten");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => {
                let e = e.into_service_error();
                assert_eq!(e.meta().code(), Some("NoSuchUpload"), "{e:?}");
                break;
            }
        }
    }
}

/// `data` framed as an HTTP/1.1 chunked body, in pieces of `piece` bytes.
fn http_chunked(data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A signed request whose body goes with `Transfer-Encoding: chunked` and no
/// Content-Length; `payload_hash` is what the signature covers (the decoded
/// body's SHA-256, or UNSIGNED-PAYLOAD).
fn chunked_request(method: &str, path: &str, data: &[u8], payload_hash: String) -> Raw {
    let mut r = Raw::new(method, path)
        .header("transfer-encoding", "chunked")
        .body(http_chunked(data, 100_000));
    r.no_content_length = true;
    r.payload_hash = Some(payload_hash);
    r
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// PUT and UploadPart with `Transfer-Encoding: chunked` and no length are
/// stored (signed or unsigned payload), and held to the size limits
/// while they stream: nothing of a refused body stays on disk.
#[tokio::test]
async fn chunked_transfer_uploads_stream_within_limits() {
    let server = Server::start_with(&["--max-object-size", "1MiB", "--chunk-size", "256KiB"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let data = common::pattern(700 * 1024, 3);
    for (key, hash) in [
        ("unsigned", "UNSIGNED-PAYLOAD".to_string()),
        ("signed", sha256_hex(&data)),
    ] {
        let r = chunked_request("PUT", &format!("/bkt/{key}"), &data, hash).send(&server.addr);
        assert_eq!(r.status, 200, "{key}: {}", r.body_text());
        let got = s3.get_object().bucket("bkt").key(key).send().await.unwrap();
        assert_eq!(got.content_length(), Some(data.len() as i64));
        assert_eq!(got.body.collect().await.unwrap().to_vec(), data, "{key}");
    }
    // A signed payload hash still has to match what arrived.
    let r = chunked_request("PUT", "/bkt/lie", &data, sha256_hex(b"other")).send(&server.addr);
    assert_eq!(r.code(), "XAmzContentSHA256Mismatch", "{}", r.body_text());
    let files = server.chunk_files();

    // Over the server's limit: refused once the limit is passed.
    let big = common::pattern(1024 * 1024 + 1, 4);
    let r = chunked_request("PUT", "/bkt/big", &big, "UNSIGNED-PAYLOAD".into()).send(&server.addr);
    assert_eq!(
        (r.status, r.code()),
        (413, "EntityTooLarge".into()),
        "{}",
        r.body_text()
    );
    // Over the bucket's own limit, for a part too.
    common::admin::run(
        &server,
        &["bucket", "set", "bkt", "--max-object-size", "512KiB"],
    );
    let r = chunked_request("PUT", "/bkt/big", &data, "UNSIGNED-PAYLOAD".into()).send(&server.addr);
    assert_eq!(
        (r.status, r.code()),
        (413, "EntityTooLarge".into()),
        "{}",
        r.body_text()
    );
    let id = common::multipart::create_upload(&s3, "bkt", "mp").await;
    let part_path = format!("/bkt/mp?partNumber=1&uploadId={id}");
    let r = chunked_request("PUT", &part_path, &data, "UNSIGNED-PAYLOAD".into()).send(&server.addr);
    assert_eq!(
        (r.status, r.code()),
        (413, "EntityTooLarge".into()),
        "{}",
        r.body_text()
    );
    assert_eq!(server.chunk_files(), files, "refused bodies leave no file");
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("big")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_not_found());

    // Within the limits a chunked part is stored like any other.
    let small = common::pattern(300 * 1024, 5);
    let r = chunked_request("PUT", &part_path, &small, sha256_hex(&small)).send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{}\"", common::md5_hex(&small)).as_str())
    );
}

fn b64(v: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(v)
}

fn crc64nvme(data: &[u8]) -> Vec<u8> {
    let mut d = crc64fast_nvme::Digest::new();
    d.write(data);
    d.sum64().to_be_bytes().to_vec()
}

/// A checksum that does not match the body is 400 `BadDigest`, whether it
/// comes in a header or in the aws-chunked trailer, on PutObject and
/// UploadPart alike; a malformed one is `InvalidRequest`.
#[tokio::test]
async fn checksum_mismatch_is_bad_digest() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let id = common::multipart::create_upload(&s3, "bkt", "mp").await;
    let wrong = b64(&crc32fast::hash(b"other").to_be_bytes());
    for path in [
        "/bkt/k".to_string(),
        format!("/bkt/mp?partNumber=1&uploadId={id}"),
    ] {
        let r = Raw::new("PUT", &path)
            .header("x-amz-checksum-crc32", &wrong)
            .body("hello")
            .send(&server.addr);
        assert_eq!((r.status, r.code()), (400, "BadDigest".into()), "{path}");
        let r = Raw::new("PUT", &path)
            .header("x-amz-checksum-crc32", "AAAA")
            .body("hello")
            .send(&server.addr);
        assert_eq!(
            (r.status, r.code()),
            (400, "InvalidRequest".into()),
            "{path}"
        );

        let body = format!("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:{wrong}\r\n\r\n");
        let mut req = Raw::new("PUT", &path)
            .header("content-encoding", "aws-chunked")
            .header("x-amz-decoded-content-length", "5")
            .header("x-amz-trailer", "x-amz-checksum-crc32")
            .body(body);
        req.payload_hash = Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER".into());
        let r = req.send(&server.addr);
        assert_eq!(
            (r.status, r.code()),
            (400, "BadDigest".into()),
            "{path} trailer"
        );
    }
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_not_found());
    let parts = s3
        .list_parts()
        .bucket("bkt")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert!(parts.parts().is_empty());
}

/// Checksums given to CompleteMultipartUpload are checked against the parts:
/// a part's (`InvalidPart` if it is not that part's, `InvalidRequest` if
/// malformed), the whole object's (`BadDigest`), and the checksum type
/// (`BadDigest`). A refused Complete leaves the upload as it was.
#[tokio::test]
async fn complete_checks_the_checksums_it_is_given() {
    use aws_sdk_s3::types::{ChecksumType, CompletedPart};
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let id = common::multipart::create_upload(&s3, "bkt", "mp").await;
    let p1 = common::pattern(5 * 1024 * 1024, 7);
    let p2 = b"the end".to_vec();
    let mut etags = Vec::new();
    for (n, data) in [(1, &p1), (2, &p2)] {
        let r = s3
            .upload_part()
            .bucket("bkt")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        etags.push(r.e_tag().unwrap().to_string());
    }
    let part = |n: usize, crc: Option<String>, sha: Option<String>| {
        CompletedPart::builder()
            .part_number(n as i32 + 1)
            .e_tag(&etags[n])
            .set_checksum_crc64_nvme(crc)
            .set_checksum_sha256(sha)
            .build()
    };
    let crc = |d: &[u8]| Some(b64(&crc64nvme(d)));
    let whole = b64(&crc64nvme(&[p1.clone(), p2.clone()].concat()));
    let wrong = b64(&crc64nvme(b"other"));
    let complete = |parts: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket("bkt")
            .key("mp")
            .upload_id(&id)
            .multipart_upload(common::multipart::completed(parts))
    };
    let code = |r: Result<_, aws_sdk_s3::error::SdkError<_>>| {
        let e: aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError =
            r.map(|_: aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput| ())
                .unwrap_err()
                .into_service_error();
        e.meta().code().unwrap_or_default().to_string()
    };
    let cases = [
        // A part's checksum that is another part's.
        (
            complete(vec![part(0, crc(&p2), None), part(1, crc(&p2), None)]),
            "InvalidPart",
        ),
        // One the part was not uploaded with.
        (
            complete(vec![
                part(0, None, Some(b64(&[0; 32]))),
                part(1, None, None),
            ]),
            "InvalidPart",
        ),
        // Not a CRC64NVME value at all.
        (
            complete(vec![part(0, Some("abc".into()), None), part(1, None, None)]),
            "InvalidRequest",
        ),
        // The whole object's, wrong or malformed.
        (
            complete(vec![part(0, crc(&p1), None), part(1, crc(&p2), None)])
                .checksum_crc64_nvme(&wrong),
            "BadDigest",
        ),
        (
            complete(vec![part(0, None, None), part(1, None, None)]).checksum_crc64_nvme("xyz"),
            "InvalidRequest",
        ),
        // The upload's type is FULL_OBJECT (S3's default CRC64NVME).
        (
            complete(vec![part(0, None, None), part(1, None, None)])
                .checksum_type(ChecksumType::Composite),
            "BadDigest",
        ),
    ];
    for (i, (req, expected)) in cases.into_iter().enumerate() {
        assert_eq!(code(req.send().await), expected, "case {i}");
    }
    // Nothing was completed; the right checksums complete it.
    let done = complete(vec![part(0, crc(&p1), None), part(1, crc(&p2), None)])
        .checksum_crc64_nvme(&whole)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap();
    assert_eq!(done.checksum_crc64_nvme(), Some(whole.as_str()));
}

/// A presigned URL past its expiry is 403 `AccessDenied` ("Request has
/// expired") for SigV4 and SigV2 alike; an `X-Amz-Expires` out of S3's range
/// (1..=604800) is 400 `AuthorizationQueryParametersError`.
#[test]
fn presigned_expiry_answers() {
    let server = Server::start();
    boto3(
        &server,
        r#"
import time, urllib.request, urllib.error
def get(url):
    try:
        return urllib.request.urlopen(url).status, b''
    except urllib.error.HTTPError as e:
        return e.code, e.read()
s3.create_bucket(Bucket='bkt')
s3.put_object(Bucket='bkt', Key='k', Body=b'data')
v2 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',
                  config=Config(signature_version='s3'))
for name, c in [('v4', s3), ('v2', v2)]:
    url = c.generate_presigned_url('get_object', Params={'Bucket': 'bkt', 'Key': 'k'}, ExpiresIn=1)
    assert ('X-Amz-Expires=1' in url) == (name == 'v4'), url
    deadline = time.time() + 10
    while True:
        status, body = get(url)
        if status != 200:
            break
        assert time.time() < deadline, 'never expired'
        time.sleep(0.1)
    assert status == 403 and b'<Code>AccessDenied</Code>' in body, (name, status, body)
    assert b'Request has expired' in body, body
url = s3.generate_presigned_url('get_object', Params={'Bucket': 'bkt', 'Key': 'k'}, ExpiresIn=600)
assert get(url)[0] == 200
for bad in ['0', '-1', '604801']:
    status, body = get(url.replace('X-Amz-Expires=600', 'X-Amz-Expires=' + bad))
    assert status == 400 and b'AuthorizationQueryParametersError' in body, (bad, status, body)
"#,
    );
}
