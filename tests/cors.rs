//! CORS: the bucket's rules round-trip through the S3 API, answer browser
//! preflights, and decorate the actual requests they allow; a server-wide
//! origin list covers buckets without rules.

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::common::{self, raw::Raw, Server};

fn preflight(
    s: &Server,
    path: &str,
    origin: &str,
    method: &str,
    headers: Option<&str>,
) -> common::raw::RawResponse {
    let mut r = Raw::new("OPTIONS", path)
        .header("origin", origin)
        .header("access-control-request-method", method);
    if let Some(h) = headers {
        r = r.header("access-control-request-headers", h);
    }
    r.signed = false;
    r.send(&s.addr)
}

#[tokio::test]
async fn bucket_rules_answer_preflights_and_actual_requests() {
    let s = Server::start();
    let c = s.client().await;
    c.create_bucket().bucket("web").send().await.unwrap();
    c.put_object()
        .bucket("web")
        .key("a.txt")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();

    // No rules yet: GetBucketCors is 404, a preflight is refused.
    let err = c.get_bucket_cors().bucket("web").send().await.unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("NoSuchCORSConfiguration")
    );
    let r = preflight(&s, "/web/a.txt", "https://app.example.com", "PUT", None);
    assert_eq!(r.status, 403);
    assert!(
        r.body_text().contains("CORS is not enabled"),
        "{}",
        r.body_text()
    );

    let rules = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .id("app")
                .allowed_origins("https://*.example.com")
                .allowed_methods("PUT")
                .allowed_methods("GET")
                .allowed_headers("content-type")
                .allowed_headers("x-amz-*")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket("web")
        .cors_configuration(rules)
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_cors().bucket("web").send().await.unwrap();
    let rule = &got.cors_rules()[0];
    assert_eq!(rule.id(), Some("app"));
    assert_eq!(rule.allowed_methods(), ["PUT", "GET"]);
    assert_eq!(rule.allowed_origins(), ["https://*.example.com"]);
    assert_eq!(rule.max_age_seconds(), Some(600));

    // An allowed preflight.
    let r = preflight(
        &s,
        "/web/a.txt",
        "https://app.example.com",
        "PUT",
        Some("Content-Type, X-Amz-Date"),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("PUT, GET"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    // Denied: another origin, a method not allowed, a header not allowed.
    for (origin, method, headers) in [
        ("https://evil.test", "PUT", None),
        ("https://app.example.com", "DELETE", None),
        ("https://app.example.com", "PUT", Some("authorization")),
    ] {
        let r = preflight(&s, "/web/a.txt", origin, method, headers);
        assert_eq!(r.status, 403, "{origin} {method} {headers:?}");
        assert_eq!(r.code(), "AccessDenied");
        assert!(r.header("access-control-allow-origin").is_none());
    }
    // Malformed preflights.
    let mut r = Raw::new("OPTIONS", "/web/a.txt").header("access-control-request-method", "GET");
    r.signed = false;
    assert_eq!(r.send(&s.addr).code(), "BadRequest");

    // Actual requests from an allowed origin carry the headers; others not.
    let r = Raw::new("GET", "/web/a.txt")
        .header("origin", "https://app.example.com")
        .send(&s.addr);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    let r = Raw::new("GET", "/web/a.txt")
        .header("origin", "https://evil.test")
        .send(&s.addr);
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    let r = Raw::new("GET", "/web/a.txt").send(&s.addr);
    assert!(r.header("access-control-allow-origin").is_none());

    // Deleted rules stop answering at once.
    c.delete_bucket_cors().bucket("web").send().await.unwrap();
    assert_eq!(
        preflight(&s, "/web/a.txt", "https://app.example.com", "PUT", None).status,
        403
    );

    // Bad configurations get S3's errors.
    let bad = Raw::new("PUT", "/web?cors")
        .body("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>")
        .send(&s.addr);
    assert_eq!(bad.code(), "InvalidRequest");
    let bad = Raw::new("PUT", "/web?cors")
        .body("<CORSConfiguration/>")
        .send(&s.addr);
    assert_eq!(bad.code(), "MalformedXML");
}

#[tokio::test]
async fn server_wide_origins_cover_buckets_without_rules() {
    let s = Server::start_with(&["--cors-allow-origin", "https://console.example.com"]);
    let c = s.client().await;
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let r = preflight(
        &s,
        "/bkt/x",
        "https://console.example.com",
        "PUT",
        Some("content-type, authorization"),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://console.example.com")
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("ETag"));
    assert_eq!(
        preflight(&s, "/bkt/x", "https://other.test", "PUT", None).status,
        403
    );
    // A bucket's own rules replace the default.
    c.put_bucket_cors()
        .bucket("bkt")
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(
                    CorsRule::builder()
                        .allowed_origins("https://other.test")
                        .allowed_methods("GET")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight(&s, "/bkt/x", "https://console.example.com", "PUT", None).status,
        403
    );
    assert_eq!(
        preflight(&s, "/bkt/x", "https://other.test", "GET", None).status,
        200
    );
}
