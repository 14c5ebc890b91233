//! Public URLs: a published object is served to anyone without
//! credentials; unpublishing kills the URL at once, republishing gives a new
//! one, deleting kills it, an update keeps it.

use crate::common;

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ObjectCannedAcl, Permission, Type};
use aws_sdk_s3::Client;
use common::multipart::upload_parts_and_complete;
use common::raw::{Raw, RawResponse};
use common::{md5_hex, pattern, Server, ACCESS_KEY, SECRET_KEY};

/// The path of a public URL, checked to carry an unguessable token.
fn url_path(url: &str, addr: &str) -> String {
    let path = url
        .strip_prefix(&format!("http://{addr}"))
        .unwrap_or_else(|| panic!("URL {url:?} not on {addr}"));
    let token = path
        .strip_prefix("/p/")
        .and_then(|r| r.split('/').next())
        .expect("token");
    assert!(
        token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "token {token:?} carries at least 128 random bits"
    );
    path.to_string()
}

fn anon(method: &str, path: &str, addr: &str) -> RawResponse {
    let mut r = Raw::new(method, path);
    r.signed = false;
    r.send(addr)
}

fn anon_with(path: &str, addr: &str, header: (&str, &str)) -> RawResponse {
    let mut r = Raw::new("GET", path).header(header.0, header.1);
    r.signed = false;
    r.send(addr)
}

async fn acl_is_public(c: &Client, bucket: &str, key: &str) -> bool {
    let acl = c
        .get_object_acl()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("acl");
    assert!(acl
        .grants()
        .iter()
        .any(|g| g.permission() == Some(&Permission::FullControl)));
    acl.grants().iter().any(|g| {
        let grantee = g.grantee().unwrap();
        grantee.r#type() == &Type::Group
            && grantee.uri() == Some("http://acs.amazonaws.com/groups/global/AllUsers")
            && g.permission() == Some(&Permission::Read)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn published_object_lifecycle() {
    let s = Server::start_with(&["--chunk-size", "1MiB"]);
    let c = s.client().await;
    let addr = s.addr.clone();
    c.create_bucket().bucket("share").send().await.unwrap();
    // Versioned: the restore below deletes the delete marker.
    common::enable_versioning(&c, "share").await;
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();

    // Publish on upload with x-amz-acl: public-read.
    let put = Raw::new("PUT", "/share/docs/page%20one.html")
        .header("x-amz-acl", "public-read")
        .header("content-type", "text/html")
        .body(html.clone())
        .send(&addr);
    assert_eq!(put.status, 200, "{put:?}");
    let url = put
        .header("x-kura-public-url")
        .expect("public URL")
        .to_string();
    let path = url_path(&url, &addr);
    assert!(url.ends_with("/page%20one.html"), "{url}");
    assert!(acl_is_public(&c, "share", "docs/page one.html").await);

    // Anyone can read it, with the object's headers and safety headers.
    let r = anon("GET", &path, &addr);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, html);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    let disposition = r.header("content-disposition").unwrap();
    assert!(
        disposition.contains("filename=\"page one.html\""),
        "{disposition}"
    );
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(etag, put.header("etag").unwrap());
    assert!(r.header("x-kura-public-url").is_none());
    // Range, conditional requests, HEAD.
    let r = anon_with(&path, &addr, ("range", "bytes=6-13"));
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"<script>");
    assert_eq!(
        anon_with(&path, &addr, ("if-none-match", &etag)).status,
        304
    );
    assert_eq!(
        anon_with(&path, &addr, ("if-match", "\"nope\"")).status,
        412
    );
    let r = anon("HEAD", &path, &addr);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(html.len().to_string().as_str())
    );
    // Read-only: no other method, and a made-up token is a 404.
    assert_eq!(anon("PUT", &path, &addr).status, 405);
    assert_eq!(anon("DELETE", &path, &addr).status, 405);
    let forged = format!("/p/{}/x", "0".repeat(40));
    assert_eq!(anon("GET", &forged, &addr).status, 404);
    // Anonymous path-style access works for a public-read object, as in S3.
    let r = anon("GET", "/share/docs/page%20one.html", &addr);
    assert_eq!((r.status, &r.body), (200, &html));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    // Authenticated GET/HEAD report the URL.
    let r = Raw::new("HEAD", "/share/docs/page%20one.html").send(&addr);
    assert_eq!(r.header("x-kura-public-url"), Some(url.as_str()));

    // An update keeps it published; the URL serves the new version.
    let big = pattern(3 << 20, 4);
    c.put_object()
        .bucket("share")
        .key("docs/page one.html")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    let r = anon("GET", &path, &addr);
    assert_eq!(r.status, 200);
    assert_eq!(md5_hex(&r.body), md5_hex(&big));
    // Also when the client sends `x-amz-acl: private` with every upload.
    let r = Raw::new("PUT", "/share/docs/page%20one.html")
        .header("x-amz-acl", "private")
        .body("v3")
        .send(&addr);
    assert_eq!(r.header("x-kura-public-url"), Some(url.as_str()));
    assert_eq!(anon("GET", &path, &addr).body, b"v3");

    // Unpublish: 404 at once, on both ways in.
    c.put_object_acl()
        .bucket("share")
        .key("docs/page one.html")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anon("GET", &path, &addr).status, 404);
    assert_eq!(
        anon("GET", "/share/docs/page%20one.html", &addr).status,
        403
    );
    assert!(!acl_is_public(&c, "share", "docs/page one.html").await);
    let r = Raw::new("HEAD", "/share/docs/page%20one.html").send(&addr);
    assert!(r.header("x-kura-public-url").is_none());

    // Republish: a new token; the old link stays dead.
    let r = Raw::new("PUT", "/share/docs/page%20one.html?acl")
        .header("x-amz-acl", "public-read")
        .send(&addr);
    assert_eq!(r.status, 200, "{r:?}");
    let url2 = r.header("x-kura-public-url").unwrap().to_string();
    let path2 = url_path(&url2, &addr);
    assert_ne!(path2, path);
    assert_eq!(anon("GET", &path, &addr).status, 404);
    assert_eq!(anon("GET", &path2, &addr).status, 200);
    // Publishing again while published keeps the token.
    let r = Raw::new("PUT", "/share/docs/page%20one.html?acl")
        .header("x-amz-acl", "public-read")
        .send(&addr);
    assert_eq!(r.header("x-kura-public-url"), Some(url2.as_str()));

    // Delete kills the URL, and restoring the object does not revive it.
    let del = c
        .delete_object()
        .bucket("share")
        .key("docs/page one.html")
        .send()
        .await
        .unwrap();
    assert_eq!(anon("GET", &path2, &addr).status, 404);
    c.delete_object()
        .bucket("share")
        .key("docs/page one.html")
        .version_id(del.version_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(anon("GET", &path2, &addr).status, 404);
    assert_eq!(
        anon("GET", "/share/docs/page%20one.html", &addr).status,
        403
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_objects_stay_private() {
    let s = Server::start();
    let c = s.client().await;
    let addr = s.addr.clone();
    c.create_bucket().bucket("share").send().await.unwrap();
    let r = Raw::new("PUT", "/share/secret.txt")
        .body("s3cr3t")
        .send(&addr);
    assert_eq!(r.status, 200);
    assert!(r.header("x-kura-public-url").is_none());
    assert_eq!(anon("GET", "/share/secret.txt", &addr).status, 403);
    assert_eq!(anon("HEAD", "/share/secret.txt", &addr).status, 403);
    assert_eq!(anon("GET", "/share", &addr).status, 403);
    assert!(!acl_is_public(&c, "share", "secret.txt").await);
    // ACLs kura cannot honour are refused, not silently narrowed.
    let r = Raw::new("PUT", "/share/secret.txt?acl")
        .header("x-amz-acl", "public-read-write")
        .send(&addr);
    assert_eq!(r.status, 501);
    assert_eq!(anon("GET", "/share/secret.txt", &addr).status, 403);
    // Publishing a missing key is a 404.
    let r = Raw::new("PUT", "/share/missing?acl")
        .header("x-amz-acl", "public-read")
        .send(&addr);
    assert_eq!(r.code(), "NoSuchKey");
}

/// `aws s3 cp --acl public-read` of a large file goes multipart: the ACL
/// given at creation publishes the object when the upload completes.
#[tokio::test(flavor = "multi_thread")]
async fn multipart_upload_with_public_read_is_published_on_completion() {
    let s = Server::start();
    let c = s.client().await;
    let addr = s.addr.clone();
    c.create_bucket().bucket("share").send().await.unwrap();
    let id = c
        .create_multipart_upload()
        .bucket("share")
        .key("big.bin")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    // Not public before completion: there is no object yet.
    assert_eq!(anon("GET", "/share/big.bin", &addr).status, 403);
    let data = pattern(1000, 5);
    upload_parts_and_complete(&c, "share", "big.bin", &id, &[&data]).await;
    assert!(acl_is_public(&c, "share", "big.bin").await);
    let head = Raw::new("HEAD", "/share/big.bin").send(&addr);
    let url = head
        .header("x-kura-public-url")
        .expect("public url")
        .to_string();
    let r = anon("GET", &url_path(&url, &addr), &addr);
    assert_eq!((r.status, r.body), (200, data));
}

/// With virtual-host-style addressing the link is on the bare domain.
#[tokio::test(flavor = "multi_thread")]
async fn public_url_with_a_domain() {
    let s = Server::start_with(&["--domain", "s3.kura.test"]);
    let addr = s.addr.clone();
    let port = addr.rsplit_once(':').unwrap().1.to_string();
    let bucket_host = format!("share.s3.kura.test:{port}");
    let bare = format!("s3.kura.test:{port}");
    assert_eq!(Raw::new("PUT", "/share").send(&addr).status, 200);
    let r = Raw::new("PUT", "/a.txt")
        .header("host", &bucket_host)
        .header("x-amz-acl", "public-read")
        .body("hello")
        .send(&addr);
    assert_eq!(r.status, 200, "{r:?}");
    let url = r.header("x-kura-public-url").unwrap();
    let path = url_path(url, &bare);
    let mut get = Raw::new("GET", &path).header("host", &bare);
    get.signed = false;
    let r = get.send(&addr);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    // The bucket's own /p/ path is the bucket's, not a public link.
    let mut get = Raw::new("GET", &path).header("host", &bucket_host);
    get.signed = false;
    assert_eq!(get.send(&addr).status, 403);
}

fn kura(args: &[&str], endpoint: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(args)
        .arg("--endpoint")
        .arg(endpoint)
        .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("run kura")
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_and_unpublish_from_the_command_line() {
    let s = Server::start();
    let c = s.client().await;
    let addr = s.addr.clone();
    c.create_bucket().bucket("share").send().await.unwrap();
    c.put_object()
        .bucket("share")
        .key("dir/report 2024.pdf")
        .body(ByteStream::from_static(b"%PDF-1.7 report"))
        .send()
        .await
        .unwrap();

    let out = kura(&["publish", "share/dir/report 2024.pdf"], &s.endpoint);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let path = url_path(&url, &addr);
    let r = anon("GET", &path, &addr);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"%PDF-1.7 report"[..])
    );
    assert!(acl_is_public(&c, "share", "dir/report 2024.pdf").await);

    let out = kura(&["unpublish", "share/dir/report 2024.pdf"], &s.endpoint);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(anon("GET", &path, &addr).status, 404);

    let out = kura(&["publish", "share/dir/report 2024.pdf"], &s.endpoint);
    assert!(out.status.success());
    let url2 = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_ne!(url2, url, "a republished object gets a new URL");
    assert_eq!(anon("GET", &url_path(&url2, &addr), &addr).status, 200);
    assert_eq!(anon("GET", &path, &addr).status, 404);

    // Errors are reported, with a failing exit status.
    let out = kura(&["publish", "share/nope"], &s.endpoint);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NoSuchKey"));
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args([
            "publish",
            "share/dir/report 2024.pdf",
            "--endpoint",
            &s.endpoint,
        ])
        .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
        .env(
            "KURA_SECRET_ACCESS_KEY",
            "wrong-secret-wrong-secret-wrong-secret-0",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SignatureDoesNotMatch"));
}
