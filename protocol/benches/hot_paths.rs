//! Micro-benchmarks of the pure code every request runs through: SigV4
//! header verification, aws-chunked decoding, and ListObjectsV2 rendering.
//! Run with `cargo bench -p kura-protocol`.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use kura_protocol::sigv4::{parse_request_auth, ChunkedDecoder, RequestParts, SecretKey};
use kura_protocol::xml::{ListBucketResultV2, ObjectEntry};
use time::macros::datetime;

// AWS's published SigV4 examples (example key, 2013-05-24T00:00:00Z).
const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

/// "GET Object" example: parse the Authorization header, then verify.
fn sigv4_verify(c: &mut Criterion) {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
        ("authorization", &auth),
    ]);
    let secret = SecretKey::new(SECRET);
    let now = datetime!(2013-05-24 0:00 UTC);
    c.bench_function("sigv4_verify_header", |b| {
        b.iter(|| {
            let parts = RequestParts {
                method: &Method::GET,
                raw_path: black_box("/test.txt"),
                raw_query: "",
                headers: &h,
            };
            let signed = parse_request_auth(&parts).unwrap().unwrap();
            signed.verify(&parts, &secret, "us-east-1", now).unwrap()
        })
    });
}

/// The "multiple chunks" streaming example (64 KiB + 1 KiB of `a`, every
/// chunk signed), fed as one buffer; and 8 MiB of unsigned chunks with a
/// trailer, the SDKs' default for uploads.
fn aws_chunked(c: &mut Criterion) {
    let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    let sigs = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
         x-amz-decoded-content-length;x-amz-storage-class,Signature={seed}"
    );
    let h = headers(&[
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
        ("authorization", &auth),
    ]);
    let parts = RequestParts {
        method: &Method::PUT,
        raw_path: "/examplebucket/chunkObject.txt",
        raw_query: "",
        headers: &h,
    };
    let verified = parse_request_auth(&parts)
        .unwrap()
        .unwrap()
        .verify(
            &parts,
            &SecretKey::new(SECRET),
            "us-east-1",
            datetime!(2013-05-24 0:00 UTC),
        )
        .unwrap();
    let signer = verified.chunk_signer.expect("streaming signer");
    let mut body = format!("10000;chunk-signature={}\r\n", sigs[0]).into_bytes();
    body.extend(std::iter::repeat_n(b'a', 65536));
    body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
    body.extend(std::iter::repeat_n(b'a', 1024));
    body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n\r\n", sigs[2]).as_bytes());
    let body = Bytes::from(body);

    let mut g = c.benchmark_group("aws_chunked");
    g.throughput(Throughput::Bytes(66560));
    g.bench_function("signed_65KiB", |b| {
        b.iter(|| {
            let mut d = ChunkedDecoder::new(Some(signer.clone()), false);
            d.push(body.clone());
            let mut n = 0;
            while let Some(data) = d.next_payload().unwrap() {
                n += data.len();
            }
            d.finish().unwrap();
            n
        })
    });

    // 128 chunks of 64 KiB, unsigned, CRC32 trailer (value not checked here).
    let chunk = vec![b'z'; 65536];
    let mut raw = Vec::with_capacity((8 << 20) + 4096);
    for _ in 0..128 {
        raw.extend_from_slice(b"10000\r\n");
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    let raw = Bytes::from(raw);
    g.throughput(Throughput::Bytes(8 << 20));
    g.bench_function("unsigned_trailer_8MiB_in_1MiB_reads", |b| {
        b.iter(|| {
            let mut d = ChunkedDecoder::new(None, true);
            let mut n = 0;
            // As from a socket: ~1 MiB at a time, drained after each push.
            for start in (0..raw.len()).step_by(1 << 20) {
                d.push(raw.slice(start..(start + (1 << 20)).min(raw.len())));
                while let Some(data) = d.next_payload().unwrap() {
                    n += data.len();
                }
            }
            d.finish().unwrap();
            n
        })
    });
    g.finish();
}

/// A full 1000-key ListObjectsV2 page.
fn list_xml(c: &mut Criterion) {
    let contents: Vec<ObjectEntry> = (0..1000)
        .map(|i| ObjectEntry {
            key: format!("photos/2024/{i:06}-holiday & friends.jpg"),
            last_modified: datetime!(2024-06-01 12:00 UTC),
            etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
            size: 1_048_576 + i,
            storage_class: "STANDARD".into(),
            owner: None,
            checksum_algorithm: None,
        })
        .collect();
    let page = ListBucketResultV2 {
        name: "bucket".into(),
        prefix: "photos/".into(),
        delimiter: None,
        max_keys: 1000,
        key_count: 1000,
        is_truncated: true,
        continuation_token: None,
        next_continuation_token: Some("cGhvdG9zLzIwMjQvMDAwOTk5".into()),
        start_after: None,
        encoding_type: None,
        contents,
        common_prefixes: Vec::new(),
    };
    c.bench_function("list_objects_v2_xml_1000_keys", |b| {
        b.iter(|| black_box(&page).to_xml().len())
    });
}

criterion_group!(benches, sigv4_verify, aws_chunked, list_xml);
criterion_main!(benches);
