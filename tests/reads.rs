//! Reads: ranges, RFC 9110 preconditions, `response-*` overrides, partNumber;
//! and conditional writes (PutObject with If-None-Match / If-Match).

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use common::raw::{Raw, RawResponse};
use common::{pattern, Server};

const SIZE: usize = 100_000;

async fn setup() -> (Server, aws_sdk_s3::Client, Vec<u8>, String) {
    let server = Server::start_with(&["--chunk-size", "32KiB"]);
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let body = pattern(SIZE, 11);
    let etag = s3
        .put_object()
        .bucket("bkt")
        .key("obj")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    (server, s3, body, etag)
}

fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut r = Raw::new("GET", path);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.send(&server.addr)
}

#[tokio::test]
async fn ranges() {
    let (server, s3, body, _) = setup().await;
    let cases: [(&str, usize, usize); 6] = [
        ("bytes=0-0", 0, 0),
        ("bytes=10-99", 10, 99),
        // Spanning chunk files (32 KiB each).
        ("bytes=32000-70000", 32000, 70000),
        ("bytes=99000-", 99000, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        // An end past the object is clamped, a suffix longer than it is the whole.
        ("bytes=99990-2000000", 99990, SIZE - 1),
    ];
    for (range, a, b) in cases {
        let o = s3
            .get_object()
            .bucket("bkt")
            .key("obj")
            .range(range)
            .send()
            .await
            .unwrap();
        assert_eq!(
            o.content_range(),
            Some(format!("bytes {a}-{b}/{SIZE}").as_str()),
            "{range}"
        );
        assert_eq!(o.content_length(), Some((b - a + 1) as i64));
        let data = o.body.collect().await.unwrap().into_bytes();
        assert_eq!(&data[..], &body[a..=b], "{range}");
    }
    let r = get(&server, "/bkt/obj", &[("range", "bytes=-200000")]);
    assert_eq!((r.status, r.body.len()), (206, SIZE));

    for range in ["bytes=100000-", "bytes=200000-300000", "bytes=-0"] {
        let r = get(&server, "/bkt/obj", &[("range", range)]);
        assert_eq!(
            (r.status, r.code().as_str()),
            (416, "InvalidRange"),
            "{range}"
        );
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{SIZE}").as_str())
        );
    }
    // Malformed or multiple ranges are ignored: the whole object, 200.
    for range in ["bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=x-"] {
        let r = get(&server, "/bkt/obj", &[("range", range)]);
        assert_eq!((r.status, r.body.len()), (200, SIZE), "{range}");
        assert_eq!(r.body, body);
    }
}

#[tokio::test]
async fn preconditions_follow_rfc_9110() {
    let (server, s3, _, etag) = setup().await;
    let head = s3
        .head_object()
        .bucket("bkt")
        .key("obj")
        .send()
        .await
        .unwrap();
    let modified = head.last_modified().unwrap().secs();
    let fmt = |secs: i64| {
        DateTime::from_secs(secs)
            .fmt(aws_sdk_s3::primitives::DateTimeFormat::HttpDate)
            .unwrap()
    };
    let (past, future, exact) = (fmt(modified - 3600), fmt(modified + 3600), fmt(modified));
    let other = "\"0123456789abcdef0123456789abcdef\"";

    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("if-match", &etag)], 200),
        (vec![("if-match", "*")], 200),
        (vec![("if-match", other)], 412),
        (vec![("if-none-match", &etag)], 304),
        (vec![("if-none-match", "*")], 304),
        (vec![("if-none-match", other)], 200),
        (vec![("if-modified-since", &past)], 200),
        (vec![("if-modified-since", &exact)], 304),
        (vec![("if-modified-since", &future)], 304),
        (vec![("if-unmodified-since", &past)], 412),
        (vec![("if-unmodified-since", &exact)], 200),
        // If-Match true wins over If-Unmodified-Since false.
        (
            vec![("if-match", &etag), ("if-unmodified-since", &past)],
            200,
        ),
        // If-Match false wins over everything.
        (vec![("if-match", other), ("if-none-match", &etag)], 412),
        // If-None-Match decides alone: If-Modified-Since is then ignored.
        (
            vec![("if-none-match", other), ("if-modified-since", &future)],
            200,
        ),
        (
            vec![("if-none-match", &etag), ("if-modified-since", &past)],
            304,
        ),
        // 412 before 304.
        (
            vec![("if-unmodified-since", &past), ("if-none-match", &etag)],
            412,
        ),
        // An unparseable date is ignored.
        (vec![("if-modified-since", "yesterday")], 200),
    ];
    for (headers, want) in &cases {
        let r = get(&server, "/bkt/obj", headers);
        assert_eq!(r.status, *want, "{headers:?}");
        match want {
            304 => {
                assert!(r.body.is_empty());
                assert_eq!(r.header("etag"), Some(etag.as_str()));
                assert!(r.header("last-modified").is_some());
            }
            412 => assert_eq!(r.code(), "PreconditionFailed"),
            _ => assert_eq!(r.body.len(), SIZE),
        }
        // HEAD answers the same statuses.
        let mut h = Raw::new("HEAD", "/bkt/obj");
        for (k, v) in headers {
            h = h.header(k, v);
        }
        assert_eq!(h.send(&server.addr).status, *want, "HEAD {headers:?}");
    }

    // The SDK surfaces them as errors with the right status.
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("obj")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 304);
    // Conditions combine with ranges: satisfied → 206.
    let r = get(
        &server,
        "/bkt/obj",
        &[("if-match", &etag), ("range", "bytes=0-9")],
    );
    assert_eq!((r.status, r.body.len()), (206, 10));
}

#[tokio::test]
async fn response_overrides() {
    let (server, s3, _, _) = setup().await;
    let o = s3
        .get_object()
        .bucket("bkt")
        .key("obj")
        .response_content_type("text/csv")
        .response_content_disposition("attachment; filename=\"résumé.csv\"")
        .response_cache_control("no-store")
        .response_content_language("fr")
        .response_content_encoding("identity")
        .response_expires(DateTime::from_secs(2_000_000_000))
        .send()
        .await
        .unwrap();
    assert_eq!(o.content_type(), Some("text/csv"));
    assert_eq!(
        o.content_disposition(),
        Some("attachment; filename=\"résumé.csv\"")
    );
    assert_eq!(o.cache_control(), Some("no-store"));
    assert_eq!(o.content_language(), Some("fr"));
    assert_eq!(o.content_encoding(), Some("identity"));
    assert_eq!(o.expires_string(), Some("Wed, 18 May 2033 03:33:20 GMT"));
    // HEAD too.
    let r = Raw::new("HEAD", "/bkt/obj?response-content-type=image%2Fgif").send(&server.addr);
    assert_eq!(r.header("content-type"), Some("image/gif"));
    // A value that would split the header is dropped, not sent.
    let stored = get(&server, "/bkt/obj", &[]);
    let r = get(
        &server,
        "/bkt/obj?response-content-type=a%0D%0AX-Evil%3A%201",
        &[],
    );
    assert_eq!(r.status, 200);
    assert!(r.header("x-evil").is_none());
    assert_eq!(r.header("content-type"), stored.header("content-type"));
}

#[tokio::test]
async fn part_number_of_a_single_part_object() {
    let (server, _s3, body, _) = setup().await;
    let r = get(&server, "/bkt/obj?partNumber=1", &[]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("x-amz-mp-parts-count"), Some("1"));
    assert_eq!(r.body, body);
    let r = get(&server, "/bkt/obj?partNumber=2", &[]);
    assert_eq!((r.status, r.code().as_str()), (416, "InvalidPartNumber"));
}

#[tokio::test]
async fn conditional_put() {
    let (_server, s3, body, etag) = setup().await;
    let put = |key: &str, data: &'static [u8]| {
        s3.put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from_static(data))
    };
    // Create-only.
    let err = put("obj", b"clobber")
        .if_none_match("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("PreconditionFailed"));
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    put("fresh", b"new")
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    let err = put("fresh", b"again")
        .if_none_match("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("PreconditionFailed"));

    // Replace only the version we saw.
    let err = put("obj", b"stale")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("PreconditionFailed"));
    let o = s3
        .get_object()
        .bucket("bkt")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(o.body.collect().await.unwrap().into_bytes().to_vec(), body);
    let new_etag = put("obj", b"v2").if_match(&etag).send().await.unwrap();
    let err = put("obj", b"v3").if_match(&etag).send().await.unwrap_err();
    assert_eq!(
        err.code(),
        Some("PreconditionFailed"),
        "the old ETag no longer matches"
    );
    put("obj", b"v3")
        .if_match(new_etag.e_tag().unwrap())
        .send()
        .await
        .unwrap();
    // If-Match on a missing key: 404, as S3 answers.
    let err = put("missing", b"x")
        .if_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"));
    // A deleted key may be created again with If-None-Match: *.
    s3.delete_object()
        .bucket("bkt")
        .key("fresh")
        .send()
        .await
        .unwrap();
    put("fresh", b"recreated")
        .if_none_match("*")
        .send()
        .await
        .unwrap();
}
