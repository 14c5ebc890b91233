//! Requests that must be refused, and with which error.

use http::{HeaderMap, Method};
use time::Duration;

use super::*;

#[test]
fn presigned_expiry_and_skew() {
    let h = header_map(&[("host", HOST)]);
    let q = presigned_query("86400", PRESIGNED_SIG);
    let late = now() + Duration::seconds(86401);
    let err = check_at(Method::GET, "/test.txt", &q, &h, late).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AccessDenied);
    assert_eq!(err.message, "Request has expired");
    // Signed 16 minutes in the server's future.
    let early = now() - Duration::minutes(16);
    let r = check_at(Method::GET, "/test.txt", &q, &h, early);
    assert_eq!(code(r), S3ErrorCode::RequestTimeTooSkewed);
    check_at(
        Method::GET,
        "/test.txt",
        &q,
        &h,
        now() - Duration::minutes(14),
    )
    .unwrap();
}

#[test]
fn presigned_expires_bounds() {
    let h = header_map(&[("host", HOST)]);
    for bad in ["0", "604801", "-1", "abc", ""] {
        let q = presigned_query(bad, PRESIGNED_SIG);
        let r = check(Method::GET, "/test.txt", &q, &h);
        assert_eq!(
            code(r),
            S3ErrorCode::AuthorizationQueryParametersError,
            "{bad}"
        );
    }
    // In range but different from what was signed.
    let q = presigned_query("604800", PRESIGNED_SIG);
    let r = check(Method::GET, "/test.txt", &q, &h);
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn presigned_tampering() {
    let h = header_map(&[("host", HOST)]);
    let q = presigned_query("86400", PRESIGNED_SIG);
    let r = check(Method::GET, "/test.txt", &format!("{q}&x-id=GetObject"), &h);
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
    let r = check(Method::PUT, "/test.txt", &q, &h);
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
    // Extra x-amz-* headers must be signed (else a presigned PUT could
    // become a copy of another object).
    let h2 = header_map(&[("host", HOST), ("x-amz-copy-source", "/other/key")]);
    let r = check(Method::GET, "/test.txt", &q, &h2);
    assert_eq!(code(r), S3ErrorCode::AccessDenied);
    // Missing parameter.
    let q = q.replace("&X-Amz-SignedHeaders=host", "");
    let r = check(Method::GET, "/test.txt", &q, &h);
    assert_eq!(code(r), S3ErrorCode::AuthorizationQueryParametersError);
}

#[test]
fn wrong_secret_tampered_header_and_path() {
    let h = get_object_headers(GET_OBJECT_SIG);
    let parts = RequestParts {
        method: &Method::GET,
        raw_path: "/test.txt",
        raw_query: "",
        headers: &h,
    };
    let signed = parse_request_auth(&parts).unwrap().unwrap();
    let r = signed.verify(
        &parts,
        &SecretKey::new("not-the-secret"),
        "us-east-1",
        now(),
    );
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);

    let mut tampered = h.clone();
    tampered.insert("range", "bytes=0-99".parse().unwrap());
    let r = check(Method::GET, "/test.txt", "", &tampered);
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);

    let r = check(Method::GET, "/test.tx", "", &h);
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
    let r = check(Method::HEAD, "/test.txt", "", &h);
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);

    let bad_sig = GET_OBJECT_SIG.replace("f0e8", "f0e9");
    let r = check(Method::GET, "/test.txt", "", &get_object_headers(&bad_sig));
    assert_eq!(code(r), S3ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn skew_both_ways() {
    let h = get_object_headers(GET_OBJECT_SIG);
    for minutes in [16, -16] {
        let r = check_at(
            Method::GET,
            "/test.txt",
            "",
            &h,
            now() + Duration::minutes(minutes),
        );
        assert_eq!(code(r), S3ErrorCode::RequestTimeTooSkewed, "{minutes}");
    }
    for minutes in [15, -15] {
        check_at(
            Method::GET,
            "/test.txt",
            "",
            &h,
            now() + Duration::minutes(minutes),
        )
        .unwrap();
    }
}

#[test]
fn wrong_region_and_service() {
    let h = get_object_headers(GET_OBJECT_SIG);
    let parts = RequestParts {
        method: &Method::GET,
        raw_path: "/test.txt",
        raw_query: "",
        headers: &h,
    };
    let signed = parse_request_auth(&parts).unwrap().unwrap();
    let err = signed
        .verify(&parts, &SecretKey::new(SECRET), "eu-west-1", now())
        .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed);
    assert_eq!(
        err.message,
        "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
    );

    let mut h = h.clone();
    let a =
        auth("host;range;x-amz-content-sha256;x-amz-date", GET_OBJECT_SIG).replace("/s3/", "/iam/");
    h.insert("authorization", a.parse().unwrap());
    let r = check(Method::GET, "/test.txt", "", &h);
    assert_eq!(code(r), S3ErrorCode::AuthorizationHeaderMalformed);
}

#[test]
fn anonymous_and_other_algorithms() {
    let parts_with = |h: &HeaderMap, q: &str| -> S3Result<Option<SignedRequest>> {
        let parts = RequestParts {
            method: &Method::GET,
            raw_path: "/b/k",
            raw_query: q,
            headers: h,
        };
        parse_request_auth(&parts)
    };
    let plain = header_map(&[("host", HOST)]);
    assert!(parts_with(&plain, "").unwrap().is_none());
    assert!(parts_with(&plain, "prefix=a&list-type=2")
        .unwrap()
        .is_none());

    let v2 = header_map(&[
        ("host", HOST),
        ("authorization", "AWS AKIAIOSFODNN7EXAMPLE:c2lnbmF0dXJl"),
    ]);
    let err = parts_with(&v2, "").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    assert_eq!(err.message, "Please use AWS4-HMAC-SHA256.");
    let v2q = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=abc";
    assert_eq!(code(parts_with(&plain, v2q)), S3ErrorCode::InvalidRequest);
    let v4a = header_map(&[
        ("host", HOST),
        ("authorization", "AWS4-ECDSA-P256-SHA256 Credential=x"),
    ]);
    assert_eq!(code(parts_with(&v4a, "")), S3ErrorCode::InvalidRequest);

    // Both mechanisms at once.
    let both = get_object_headers(GET_OBJECT_SIG);
    let q = presigned_query("86400", PRESIGNED_SIG);
    assert_eq!(code(parts_with(&both, &q)), S3ErrorCode::InvalidArgument);
}

#[test]
fn malformed_authorization_headers() {
    let sh = "host;range;x-amz-content-sha256;x-amz-date";
    let cases = [
        "AWS4-HMAC-SHA256".to_string(),
        format!("AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE}, SignedHeaders={sh}"),
        format!("AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3, SignedHeaders={sh}, Signature={GET_OBJECT_SIG}"),
        format!("AWS4-HMAC-SHA256 Credential={AKID}/2013052/us-east-1/s3/aws4_request, SignedHeaders={sh}, Signature={GET_OBJECT_SIG}"),
        format!("AWS4-HMAC-SHA256 Credential=/{SCOPE}, SignedHeaders={sh}, Signature={GET_OBJECT_SIG}"),
        auth(sh, "abc"),
        auth(sh, &format!("{GET_OBJECT_SIG}00")),
        auth("range;x-amz-content-sha256;x-amz-date", GET_OBJECT_SIG),
        auth("Host;range", GET_OBJECT_SIG),
        format!("{}, Signature={GET_OBJECT_SIG}", auth(sh, GET_OBJECT_SIG)),
        format!("{}, Foo=bar", auth(sh, GET_OBJECT_SIG)),
        // Credential date differs from x-amz-date.
        auth(sh, GET_OBJECT_SIG).replace("/20130524/", "/20130525/"),
    ];
    for a in cases {
        let mut h = get_object_headers(GET_OBJECT_SIG);
        h.insert("authorization", a.parse().unwrap());
        let r = check(Method::GET, "/test.txt", "", &h);
        assert_eq!(code(r), S3ErrorCode::AuthorizationHeaderMalformed, "{a}");
    }
    // Without spaces after the commas, as some clients send it: fine.
    let mut h = get_object_headers(GET_OBJECT_SIG);
    let compact = auth(sh, GET_OBJECT_SIG).replace(", ", ",");
    h.insert("authorization", compact.parse().unwrap());
    check(Method::GET, "/test.txt", "", &h).unwrap();
}

#[test]
fn content_sha256_header_rules() {
    let mut h = get_object_headers(GET_OBJECT_SIG);
    h.remove("x-amz-content-sha256");
    let err = check(Method::GET, "/test.txt", "", &h).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    assert_eq!(
        err.message,
        "Missing required header for this request: x-amz-content-sha256"
    );
    for bad in [
        "abc",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        &EMPTY.replace('e', "g"),
    ] {
        h.insert("x-amz-content-sha256", bad.parse().unwrap());
        let r = check(Method::GET, "/test.txt", "", &h);
        assert_eq!(code(r), S3ErrorCode::InvalidArgument, "{bad}");
    }
}

#[test]
fn missing_or_bad_date() {
    let mut h = get_object_headers(GET_OBJECT_SIG);
    h.remove("x-amz-date");
    assert_eq!(
        code(check(Method::GET, "/test.txt", "", &h)),
        S3ErrorCode::AccessDenied
    );
    h.insert("x-amz-date", "2013-05-24T00:00:00Z".parse().unwrap());
    assert_eq!(
        code(check(Method::GET, "/test.txt", "", &h)),
        S3ErrorCode::AccessDenied
    );
}

#[test]
fn unsigned_amz_header_refused() {
    let mut h = get_object_headers(GET_OBJECT_SIG);
    h.insert("x-amz-acl", "public-read".parse().unwrap());
    let err = check(Method::GET, "/test.txt", "", &h).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AccessDenied);
    assert!(err.message.ends_with("x-amz-acl"), "{}", err.message);
    // Unsigned non-amz headers are fine (proxies add them).
    let mut h = get_object_headers(GET_OBJECT_SIG);
    h.insert("user-agent", "curl".parse().unwrap());
    check(Method::GET, "/test.txt", "", &h).unwrap();
}
