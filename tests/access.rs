//! Access control for partners: per-bucket permissions, IP allow-lists,
//! disabling and rotating keys. Keys are made with the real `kura admin` CLI
//! and used through the AWS SDK (and raw requests for forwarded addresses).

use crate::common;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use common::admin::{self, Key};
use common::raw::Raw;
use common::Server;

/// The HTTP status of an SDK call (200 for success).
fn status<T, E: std::fmt::Debug>(r: Result<T, SdkError<E, HttpResponse>>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e
            .raw_response()
            .map(|r| r.status().as_u16())
            .unwrap_or_else(|| panic!("no response: {e:?}")),
    }
}

/// The S3 error code of a failed SDK call.
fn code<T, E: ProvideErrorMetadata>(r: Result<T, SdkError<E, HttpResponse>>) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(e) => e.code().unwrap_or("").to_string(),
    }
}

async fn put(s3: &Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key}: {e:?}"));
}

/// Every key of a bucket with its bytes, as root sees them.
async fn snapshot(root: &Client, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let list = root.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut out = Vec::new();
    for o in list.contents() {
        let key = o.key().unwrap().to_string();
        let body = root
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec();
        out.push((key, body));
    }
    out
}

async fn bucket_names(s3: &Client) -> Vec<String> {
    s3.list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn partners_cannot_reach_each_others_buckets() {
    let server = Server::start();
    let root = server.client_no_retry().await;
    for b in ["partner-a", "partner-b"] {
        root.create_bucket().bucket(b).send().await.unwrap();
        put(&root, b, "report.csv", format!("{b} data").as_bytes()).await;
    }
    let a_key = admin::create_key(&server, "Partner A", &["partner-a:rw"], &[]);
    let b_key = admin::create_key(&server, "Partner B", &["partner-b:rw"], &[]);

    for (me, other, key) in [
        ("partner-a", "partner-b", &a_key),
        ("partner-b", "partner-a", &b_key),
    ] {
        let s3 = server.client_for(key).await;
        let before = snapshot(&root, other).await;
        // Their own bucket works.
        put(&s3, me, "mine.txt", b"mine").await;
        assert_eq!(bucket_names(&s3).await, [me]);

        let get = s3.get_object().bucket(other).key("report.csv").send().await;
        assert_eq!(status(get), 403, "{me} read {other}");
        let head = s3
            .head_object()
            .bucket(other)
            .key("report.csv")
            .send()
            .await;
        assert_eq!(status(head), 403, "{me} head {other}");
        let list = s3.list_objects_v2().bucket(other).send().await;
        assert_eq!(code(list), "AccessDenied", "{me} list {other}");
        let list1 = s3.list_objects().bucket(other).send().await;
        assert_eq!(status(list1), 403, "{me} list v1 {other}");
        let overwrite = s3
            .put_object()
            .bucket(other)
            .key("report.csv")
            .body(ByteStream::from_static(b"overwritten"))
            .send()
            .await;
        assert_eq!(code(overwrite), "AccessDenied", "{me} overwrite in {other}");
        let new = s3
            .put_object()
            .bucket(other)
            .key("planted.txt")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_eq!(status(new), 403, "{me} write into {other}");
        let copy_from = s3
            .copy_object()
            .bucket(me)
            .key("stolen.csv")
            .copy_source(format!("{other}/report.csv"))
            .send()
            .await;
        assert_eq!(code(copy_from), "AccessDenied", "{me} copy from {other}");
        let copy_into = s3
            .copy_object()
            .bucket(other)
            .key("planted.txt")
            .copy_source(format!("{me}/mine.txt"))
            .send()
            .await;
        assert_eq!(status(copy_into), 403, "{me} copy into {other}");
        let del = s3
            .delete_object()
            .bucket(other)
            .key("report.csv")
            .send()
            .await;
        assert_eq!(status(del), 403, "{me} delete in {other}");
        let del_bucket = s3.delete_bucket().bucket(other).send().await;
        assert_eq!(status(del_bucket), 403, "{me} delete bucket {other}");
        let head_bucket = s3.head_bucket().bucket(other).send().await;
        assert_eq!(status(head_bucket), 403, "{me} head bucket {other}");
        // Nor can a partner create buckets (that needs admin).
        let create = s3.create_bucket().bucket("partner-c").send().await;
        assert_eq!(status(create), 403, "{me} create bucket");

        assert_eq!(snapshot(&root, other).await, before, "{other} unchanged");
    }
    assert_eq!(bucket_names(&root).await, ["partner-a", "partner-b"]);
    assert!(snapshot(&root, "partner-a")
        .await
        .iter()
        .all(|(k, _)| k != "stolen.csv"));
}

#[tokio::test]
async fn read_only_key_cannot_write() {
    let server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("reports").send().await.unwrap();
    put(&root, "reports", "q1.pdf", b"quarter one").await;
    let key = admin::create_key(&server, "auditor", &["reports:r"], &[]);
    let s3 = server.client_for(&key).await;

    let got = s3
        .get_object()
        .bucket("reports")
        .key("q1.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"quarter one"
    );
    assert_eq!(
        s3.list_objects_v2()
            .bucket("reports")
            .send()
            .await
            .unwrap()
            .key_count(),
        Some(1)
    );
    let w = s3
        .put_object()
        .bucket("reports")
        .key("q1.pdf")
        .body(ByteStream::from_static(b"forged"))
        .send()
        .await;
    assert_eq!(code(w), "AccessDenied");
    let d = s3
        .delete_object()
        .bucket("reports")
        .key("q1.pdf")
        .send()
        .await;
    assert_eq!(status(d), 403);
    assert_eq!(
        snapshot(&root, "reports").await,
        [("q1.pdf".to_string(), b"quarter one".to_vec())]
    );
}

async fn can_list(server: &Server, key: &Key) -> Result<(), String> {
    let s3 = server.client_for(key).await;
    s3.list_objects_v2()
        .bucket("shared")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {}", e.code().unwrap_or(""), e.message().unwrap_or("")))
}

async fn allow_list_case(listen: &str, own_range: &str, other_range: &str, own_ip: &str) {
    let server = Server::start_with(&["--listen", listen]);
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("shared").send().await.unwrap();
    let inside = admin::create_key(
        &server,
        "inside",
        &["shared:rw"],
        &[own_range, "203.0.113.0/24"],
    );
    let outside = admin::create_key(&server, "outside", &["shared:rw"], &[other_range]);
    assert_eq!(can_list(&server, &inside).await, Ok(()));
    let err = can_list(&server, &outside).await.unwrap_err();
    assert!(err.starts_with("AccessDenied"), "{err}");
    assert!(
        err.contains(&format!("source address {own_ip} is not allowed")),
        "{err}"
    );
}

#[tokio::test]
async fn ip_allow_list_ipv4_loopback() {
    allow_list_case("127.0.0.1:0", "127.0.0.0/8", "10.0.0.0/8", "127.0.0.1").await;
}

#[tokio::test]
async fn ip_allow_list_ipv6_loopback() {
    allow_list_case("[::1]:0", "::1/128", "127.0.0.1/32", "::1").await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let list = |server: &Server, key: &Key, xff: &str| {
        Raw::new("GET", "/shared?list-type=2")
            .credentials(&key.id, &key.secret)
            .header("x-forwarded-for", xff)
            .send(&server.addr)
    };
    // 127.0.0.1 is the proxy: the client is whoever it says.
    let server = Server::start_with(&["--trusted-proxy", "127.0.0.1"]);
    server
        .client()
        .await
        .create_bucket()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    let key = admin::create_key(&server, "behind-proxy", &["shared:r"], &["203.0.113.0/24"]);
    assert_eq!(list(&server, &key, "203.0.113.7").status, 200);
    let denied = list(&server, &key, "198.51.100.1");
    assert_eq!((denied.status, denied.code()), (403, "AccessDenied".into()));
    assert!(
        denied.body_text().contains("198.51.100.1"),
        "{}",
        denied.body_text()
    );
    // A client cannot smuggle an allowed address in front of its own.
    assert_eq!(list(&server, &key, "203.0.113.7, 198.51.100.1").status, 403);
    drop(server);

    // Without a trusted proxy the header is ignored.
    let server = Server::start();
    server
        .client()
        .await
        .create_bucket()
        .bucket("shared")
        .send()
        .await
        .unwrap();
    let key = admin::create_key(&server, "direct", &["shared:r"], &["203.0.113.0/24"]);
    assert_eq!(list(&server, &key, "203.0.113.7").status, 403);
}

#[tokio::test]
async fn disabled_key_is_refused_at_once_and_works_again_when_enabled() {
    let server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("shared").send().await.unwrap();
    let key = admin::create_key(&server, "partner", &["shared:rw"], &[]);
    let s3 = server.client_for(&key).await;
    put(&s3, "shared", "one", b"1").await;

    let shown = admin::json(&server, &["key", "disable", &key.id]);
    assert_eq!(shown["enabled"], false);
    let r = s3
        .put_object()
        .bucket("shared")
        .key("two")
        .body(ByteStream::from_static(b"2"))
        .send()
        .await;
    assert_eq!(status(r), 403);
    let r = s3.get_object().bucket("shared").key("one").send().await;
    assert_eq!(code(r), "InvalidAccessKeyId");
    assert_eq!(snapshot(&root, "shared").await.len(), 1);

    let shown = admin::json(&server, &["key", "enable", &key.id]);
    assert_eq!(shown["enabled"], true);
    put(&s3, "shared", "two", b"2").await;
    assert_eq!(snapshot(&root, "shared").await.len(), 2);

    // Last use is recorded (without a synced write per request).
    let shown = admin::json(&server, &["key", "show", &key.id]);
    assert!(shown["last_used"].is_string(), "{shown}");
    assert_eq!(shown["name"], "partner");
}

#[tokio::test]
async fn rotated_key_old_secret_fails() {
    let server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("shared").send().await.unwrap();
    let old = admin::create_key(&server, "partner", &["shared:rw"], &[]);
    assert!(old.id.len() == 20 && old.id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(old.secret.len(), 40);
    put(&server.client_for(&old).await, "shared", "a", b"a").await;

    let v = admin::json(&server, &["key", "rotate", &old.id]);
    let new = Key {
        id: v["access_key_id"].as_str().unwrap().to_string(),
        secret: v["secret_access_key"].as_str().unwrap().to_string(),
    };
    assert_eq!(new.id, old.id);
    assert_ne!(new.secret, old.secret);
    let r = server
        .client_for(&old)
        .await
        .get_object()
        .bucket("shared")
        .key("a")
        .send()
        .await;
    assert_eq!(code(r), "SignatureDoesNotMatch");
    put(&server.client_for(&new).await, "shared", "b", b"b").await;

    // A deleted key is unknown from then on.
    admin::run(&server, &["key", "delete", &new.id]);
    let r = server
        .client_for(&new)
        .await
        .list_objects_v2()
        .bucket("shared")
        .send()
        .await;
    assert_eq!(code(r), "InvalidAccessKeyId");
}

#[tokio::test]
async fn publishing_an_object_needs_admin_on_its_bucket() {
    use aws_sdk_s3::types::ObjectCannedAcl;
    let server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("shared").send().await.unwrap();
    let writer = admin::create_key(&server, "writer", &["shared:rw"], &[]);
    let owner = admin::create_key(&server, "owner", &["shared:admin"], &[]);
    let s3 = server.client_for(&writer).await;
    put(&s3, "shared", "doc.pdf", b"doc").await;
    let published = s3
        .put_object()
        .bucket("shared")
        .key("doc.pdf")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"doc"))
        .send()
        .await;
    assert_eq!(code(published), "AccessDenied");
    let acl = s3
        .put_object_acl()
        .bucket("shared")
        .key("doc.pdf")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await;
    assert_eq!(status(acl), 403);
    // Still private: an anonymous GET is refused.
    let anon = Raw {
        signed: false,
        ..Raw::new("GET", "/shared/doc.pdf")
    }
    .send(&server.addr);
    assert_eq!(anon.status, 403);
    // The bucket's admin may publish.
    server
        .client_for(&owner)
        .await
        .put_object_acl()
        .bucket("shared")
        .key("doc.pdf")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
}

/// Deleting a version by id empties it from the trash at once: a partner
/// with `w` may not (403 AccessDenied, also per entry of DeleteObjects),
/// except for delete markers, whose removal restores the object. A key with
/// `admin` on the bucket may.
#[tokio::test]
async fn deleting_versions_needs_admin_except_delete_markers() {
    let server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("trash").send().await.unwrap();
    // Delete markers (restorable with `w`) exist in a versioned bucket.
    common::enable_versioning(&root, "trash").await;
    let partner = admin::create_key(&server, "partner", &["trash:rw"], &[]);
    let owner = admin::create_key(&server, "owner", &["trash:admin"], &[]);
    let s3 = server.client_for(&partner).await;
    put(&s3, "trash", "k", b"first").await;
    put(&s3, "trash", "k", b"second").await;
    put(&s3, "trash", "gone", b"deleted by mistake").await;
    let versions = |prefix: &'static str| {
        let root = root.clone();
        async move {
            let v = root
                .list_object_versions()
                .bucket("trash")
                .prefix(prefix)
                .send()
                .await
                .unwrap();
            let data: Vec<String> = v
                .versions()
                .iter()
                .map(|v| v.version_id().unwrap().to_string())
                .collect();
            let markers: Vec<String> = v
                .delete_markers()
                .iter()
                .map(|m| m.version_id().unwrap().to_string())
                .collect();
            (data, markers)
        }
    };
    let (k_versions, _) = versions("k").await;
    assert_eq!(k_versions.len(), 2);
    let (current, older) = (k_versions[0].clone(), k_versions[1].clone());

    // DeleteObject ?versionId= of data (noncurrent or current): refused.
    for v in [&older, &current] {
        let r = s3
            .delete_object()
            .bucket("trash")
            .key("k")
            .version_id(v)
            .send()
            .await;
        assert_eq!(code(r), "AccessDenied", "{v}");
    }
    // So is the null version and a version that does not exist.
    for v in ["null", "0000000000000001"] {
        let r = s3
            .delete_object()
            .bucket("trash")
            .key("k")
            .version_id(v)
            .send()
            .await;
        assert_eq!(code(r), "AccessDenied", "{v}");
    }
    assert_eq!(versions("k").await.0.len(), 2, "the trash is untouched");

    // Deleting without a version id is still `w`, and restoring by deleting
    // the delete marker too.
    s3.delete_object()
        .bucket("trash")
        .key("gone")
        .send()
        .await
        .unwrap();
    let (_, markers) = versions("gone").await;
    assert_eq!(markers.len(), 1);
    let restored = s3
        .delete_object()
        .bucket("trash")
        .key("gone")
        .version_id(&markers[0])
        .send()
        .await
        .unwrap();
    assert_eq!(restored.delete_marker(), Some(true));
    let body = s3
        .get_object()
        .bucket("trash")
        .key("gone")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"deleted by mistake");

    // DeleteObjects checks each entry: the data version is refused with an
    // AccessDenied entry, the delete marker and the plain delete proceed.
    s3.delete_object()
        .bucket("trash")
        .key("gone")
        .send()
        .await
        .unwrap();
    let (_, markers) = versions("gone").await;
    put(&s3, "trash", "plain", b"x").await;
    let ids = |key: &str, v: Option<&str>| {
        aws_sdk_s3::types::ObjectIdentifier::builder()
            .key(key)
            .set_version_id(v.map(str::to_string))
            .build()
            .unwrap()
    };
    let out = s3
        .delete_objects()
        .bucket("trash")
        .delete(
            aws_sdk_s3::types::Delete::builder()
                .objects(ids("k", Some(&older)))
                .objects(ids("gone", Some(&markers[0])))
                .objects(ids("plain", None))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let errors: Vec<(&str, &str, &str)> = out
        .errors()
        .iter()
        .map(|e| {
            (
                e.key().unwrap(),
                e.version_id().unwrap_or(""),
                e.code().unwrap(),
            )
        })
        .collect();
    assert_eq!(errors, [("k", older.as_str(), "AccessDenied")]);
    let mut deleted: Vec<&str> = out.deleted().iter().map(|d| d.key().unwrap()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["gone", "plain"]);
    assert_eq!(versions("k").await.0.len(), 2);
    assert!(s3
        .head_object()
        .bucket("trash")
        .key("gone")
        .send()
        .await
        .is_ok());

    // `admin` on the bucket may remove versions for good.
    let owner = server.client_for(&owner).await;
    owner
        .delete_object()
        .bucket("trash")
        .key("k")
        .version_id(&older)
        .send()
        .await
        .unwrap();
    assert_eq!(versions("k").await.0, [current]);
}
