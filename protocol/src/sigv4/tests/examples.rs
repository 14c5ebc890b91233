//! AWS's published examples, and requests signed by hand that must verify.

use http::Method;
use time::Duration;

use super::*;

#[test]
fn get_object_example() {
    let h = get_object_headers(GET_OBJECT_SIG);
    let v = check(Method::GET, "/test.txt", "", &h).unwrap();
    assert_eq!(v.access_key_id, AKID);
    assert_eq!(v.payload, PayloadMode::Sha256(hex_digest(EMPTY)));
    assert!(v.chunk_signer.is_none());
}

#[test]
fn get_object_canonical_request_and_string_to_sign() {
    let h = get_object_headers(GET_OBJECT_SIG);
    let signed = ["host", "range", "x-amz-content-sha256", "x-amz-date"].map(String::from);
    let parts = RequestParts {
        method: &Method::GET,
        raw_path: "/test.txt",
        raw_query: "",
        headers: &h,
    };
    let canonical = canonical_request(&parts, &signed, EMPTY, false);
    let expected = format!(
        "GET\n/test.txt\n\nhost:{HOST}\nrange:bytes=0-9\nx-amz-content-sha256:{EMPTY}\n\
         x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n{EMPTY}"
    );
    assert_eq!(String::from_utf8(canonical.clone()).unwrap(), expected);
    assert_eq!(
        string_to_sign("20130524T000000Z", SCOPE, &canonical),
        format!(
            "AWS4-HMAC-SHA256\n20130524T000000Z\n{SCOPE}\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        )
    );
}

#[test]
fn put_object_example() {
    let h = header_map(&[
        ("host", HOST),
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
        (
            "authorization",
            &auth(
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ),
    ]);
    check(Method::PUT, "/test%24file.text", "", &h).unwrap();
    // The same key sent with '$' unencoded signs the same.
    check(Method::PUT, "/test$file.text", "", &h).unwrap();
}

#[test]
fn get_lifecycle_example() {
    let sig = "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543";
    check(Method::GET, "/", "lifecycle", &bucket_headers(sig)).unwrap();
    check(Method::GET, "/", "lifecycle=", &bucket_headers(sig)).unwrap();
}

#[test]
fn list_objects_example() {
    let sig = "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
    check(
        Method::GET,
        "/",
        "max-keys=2&prefix=J",
        &bucket_headers(sig),
    )
    .unwrap();
    // Order on the wire does not matter.
    check(
        Method::GET,
        "/",
        "prefix=J&max-keys=2",
        &bucket_headers(sig),
    )
    .unwrap();
    // A different value does.
    let r = check(
        Method::GET,
        "/",
        "max-keys=3&prefix=J",
        &bucket_headers(sig),
    );
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn presigned_example() {
    let h = header_map(&[("host", HOST)]);
    let q = presigned_query("86400", PRESIGNED_SIG);
    let v = check(Method::GET, "/test.txt", &q, &h).unwrap();
    assert_eq!(v.payload, PayloadMode::Unsigned);
    assert!(v.chunk_signer.is_none());
    // Valid until the last second of X-Amz-Expires.
    check_at(
        Method::GET,
        "/test.txt",
        &q,
        &h,
        now() + Duration::seconds(86400),
    )
    .unwrap();

    let parts = RequestParts {
        method: &Method::GET,
        raw_path: "/test.txt",
        raw_query: &q,
        headers: &h,
    };
    let signed = parse_request_auth(&parts).unwrap().unwrap();
    assert!(signed.is_presigned());
    assert_eq!(signed.access_key_id(), AKID);
}

/// Requests dated by the `Date` header, in each HTTP date format.
#[test]
fn date_header_in_three_formats() {
    let canonical = format!(
        "GET\n/b/k\n\ndate:{{DATE}}\nhost:{HOST}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\n\
         date;host;x-amz-content-sha256\nUNSIGNED-PAYLOAD"
    );
    for date in [
        "Fri, 24 May 2013 00:00:00 GMT",
        "Friday, 24-May-13 00:00:00 GMT",
        "Fri May 24 00:00:00 2013",
    ] {
        let sig = sign_by_hand(&canonical.replace("{DATE}", date), "20130524T000000Z");
        let h = header_map(&[
            ("host", HOST),
            ("date", date),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            (
                "authorization",
                &auth("date;host;x-amz-content-sha256", &sig),
            ),
        ]);
        let v = check(Method::GET, "/b/k", "", &h).unwrap();
        assert_eq!(v.payload, PayloadMode::Unsigned, "{date}");
    }
}

/// Keys with `+`, spaces, `*` and unicode: S3 canonicalises the path to
/// AWS encoding whatever the client left unencoded (versitygw #275).
#[test]
fn awkward_keys() {
    let canonical_path = "/b/a%2Bb%20c%2A%E6%97%A5%21";
    let canonical = format!(
        "PUT\n{canonical_path}\nprefix=a%2Bb%20c&x=%2A\nhost:{HOST}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\
         x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"
    );
    let sig = sign_by_hand(&canonical, "20130524T000000Z");
    let h = header_map(&[
        ("host", HOST),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            &auth("host;x-amz-content-sha256;x-amz-date", &sig),
        ),
    ]);
    for (path, query) in [
        (canonical_path, "prefix=a%2Bb%20c&x=%2A"),
        ("/b/a+b%20c*%e6%97%a5!", "x=*&prefix=a+b%20c"),
        ("/b/a%2bb%20c%2a日%21", "prefix=a%2bb%20c&x=*"),
    ] {
        check(Method::PUT, path, query, &h).unwrap_or_else(|e| panic!("{path}?{query}: {e}"));
    }
    // '+' is not a space, neither in the path nor in the query.
    for (path, query) in [
        ("/b/a%20b%20c*%E6%97%A5!", "prefix=a%2Bb%20c&x=%2A"),
        (canonical_path, "prefix=a+b+c&x=%2A"),
    ] {
        let r = check(Method::PUT, path, query, &h);
        assert_eq!(
            code(r),
            S3ErrorCode::SignatureDoesNotMatch,
            "{path}?{query}"
        );
    }
}

#[test]
fn streaming_modes_parse() {
    for (value, mode) in [
        (
            STREAMING_PAYLOAD,
            PayloadMode::StreamingSigned { trailer: false },
        ),
        (
            STREAMING_PAYLOAD_TRAILER,
            PayloadMode::StreamingSigned { trailer: true },
        ),
        (
            STREAMING_UNSIGNED_PAYLOAD_TRAILER,
            PayloadMode::StreamingUnsignedTrailer,
        ),
        (UNSIGNED_PAYLOAD, PayloadMode::Unsigned),
    ] {
        let mut h = get_object_headers(GET_OBJECT_SIG);
        h.insert("x-amz-content-sha256", value.parse().unwrap());
        let parts = RequestParts {
            method: &Method::PUT,
            raw_path: "/b/k",
            raw_query: "",
            headers: &h,
        };
        let signed = parse_request_auth(&parts).unwrap().unwrap();
        assert_eq!(signed.payload(), mode);
        assert_eq!(mode.is_streaming(), value.starts_with("STREAMING"));
    }
}

#[test]
fn secrets_never_print() {
    let s = SecretKey::new(SECRET);
    assert_eq!(format!("{s:?}"), "SecretKey(***)");
    assert_eq!(format!("{s}"), "SecretKey(***)");
    assert_eq!(s.expose(), SECRET);
}
