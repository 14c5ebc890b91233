//! S3's versioning states over kura's trash: a bucket whose versioning was
//! never enabled behaves as an unversioned S3 bucket (no version ids on
//! writes, no delete markers, the current object is `null`) while replaced
//! and deleted bytes stay listable and restorable; `Enabled` and `Suspended`
//! behave as S3 documents them.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, ObjectIdentifier, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use common::raw::Raw;
use common::{get_version, Server};

/// One entry of ListObjectVersions: (key, version id, delete marker, latest).
type Entry = (String, String, bool, bool);

/// Every version and marker of `bucket` in listing order (key, newest
/// first), collected over pages of `page` entries. Read from the XML (in
/// document order) because the SDK splits versions and markers into two
/// lists and timestamps can tie.
fn versions(s: &Server, bucket: &str, page: usize) -> Vec<Entry> {
    fn field<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
        let open = format!("<{name}>");
        let at = xml.find(&open)? + open.len();
        let len = xml[at..].find(&format!("</{name}>"))?;
        Some(&xml[at..at + len])
    }
    let mut out = Vec::new();
    let mut marker = String::new();
    loop {
        let r = Raw::new(
            "GET",
            &format!("/{bucket}?versions&max-keys={page}{marker}"),
        )
        .send(&s.addr);
        assert_eq!(r.status, 200, "{}", r.body_text());
        let body = r.body_text();
        let mut rest = body.as_str();
        let mut on_page = 0;
        loop {
            let v = rest.find("<Version>");
            let m = rest.find("<DeleteMarker>");
            let (at, is_marker, close) = match (v, m) {
                (Some(v), Some(m)) if m < v => (m, true, "</DeleteMarker>"),
                (Some(v), _) => (v, false, "</Version>"),
                (None, Some(m)) => (m, true, "</DeleteMarker>"),
                (None, None) => break,
            };
            let end = at + rest[at..].find(close).unwrap();
            let item = &rest[at..end];
            out.push((
                field(item, "Key").unwrap().to_string(),
                field(item, "VersionId").unwrap().to_string(),
                is_marker,
                field(item, "IsLatest") == Some("true"),
            ));
            on_page += 1;
            rest = &rest[end..];
        }
        assert!(on_page <= page);
        if field(&body, "IsTruncated") != Some("true") {
            break;
        }
        marker = format!("&key-marker={}", field(&body, "NextKeyMarker").unwrap());
        if let Some(v) = field(&body, "NextVersionIdMarker") {
            marker.push_str(&format!("&version-id-marker={v}"));
        }
    }
    out
}

async fn put(c: &Client, bucket: &str, key: &str, body: &'static [u8]) -> Option<String> {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .expect("put")
        .version_id
}

async fn set_versioning(c: &Client, bucket: &str, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .expect("put versioning");
}

async fn delete_objects(
    c: &Client,
    bucket: &str,
    objects: &[(&str, Option<&str>)],
) -> aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput {
    let objects = objects
        .iter()
        .map(|(k, v)| {
            ObjectIdentifier::builder()
                .key(*k)
                .set_version_id(v.map(str::to_string))
                .build()
                .unwrap()
        })
        .collect();
    c.delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("delete objects")
}

fn own_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Never enabled: writes answer no version id, the current object is
/// `null`, DELETE leaves no delete marker — and the replaced and deleted
/// bytes are still listed as noncurrent versions with their own ids, and
/// restorable by copying one onto the key.
#[tokio::test(flavor = "multi_thread")]
async fn unversioned_bucket_shows_s3_behaviour_over_the_trash() {
    let s = Server::start();
    let c = s.client().await;
    c.create_bucket().bucket("plain").send().await.unwrap();
    let v = c
        .get_bucket_versioning()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), None, "never enabled: no Status");

    // Writes: no x-amz-version-id on PUT, Copy or Complete.
    assert_eq!(put(&c, "plain", "k", b"one").await, None);
    let r = Raw::new("PUT", "/plain/k").body("two").send(&s.addr);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-version-id"), None);
    let copy = c
        .copy_object()
        .bucket("plain")
        .key("copy")
        .copy_source("plain/k")
        .send()
        .await
        .unwrap();
    assert_eq!(copy.version_id(), None);
    let upload = c
        .create_multipart_upload()
        .bucket("plain")
        .key("mp")
        .send()
        .await
        .unwrap();
    let done = common::multipart::upload_parts_and_complete(
        &c,
        "plain",
        "mp",
        upload.upload_id().unwrap(),
        &[b"multi"],
    )
    .await;
    assert_eq!(done.version_id(), None);
    // Nor on GET / HEAD of the current version.
    let head = c
        .head_object()
        .bucket("plain")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.version_id(), None);
    assert_eq!(
        Raw::new("GET", "/plain/k")
            .send(&s.addr)
            .header("x-amz-version-id"),
        None
    );

    // The current object is `null`; the replaced one is in the trash under
    // its own id, readable by it.
    let listed = versions(&s, "plain", 1000);
    let k: Vec<&Entry> = listed.iter().filter(|e| e.0 == "k").collect();
    assert_eq!(k.len(), 2, "{listed:?}");
    assert_eq!((k[0].1.as_str(), k[0].2, k[0].3), ("null", false, true));
    assert!(own_id(&k[1].1) && !k[1].2 && !k[1].3, "{k:?}");
    let one_id = k[1].1.clone();
    assert_eq!(get_version(&c, "plain", "k", Some(&one_id)).await, b"one");
    assert_eq!(get_version(&c, "plain", "k", Some("null")).await, b"two");
    assert!(listed
        .iter()
        .filter(|e| e.0 != "k")
        .all(|e| e.1 == "null" && e.3));

    // DELETE: 204 without a delete marker or version id.
    let r = Raw::new("DELETE", "/plain/k").send(&s.addr);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-amz-delete-marker"), None);
    assert_eq!(r.header("x-amz-version-id"), None);
    let again = c
        .delete_object()
        .bucket("plain")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!((again.delete_marker(), again.version_id()), (None, None));
    // Gone, with no trace of a marker anywhere.
    let r = Raw::new("GET", "/plain/k").send(&s.addr);
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchKey"));
    assert_eq!(r.header("x-amz-delete-marker"), None);
    let r = Raw::new("GET", "/plain/k?versionId=null").send(&s.addr);
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchVersion"));
    let listed = versions(&s, "plain", 1);
    assert!(listed.iter().all(|e| !e.2), "no delete markers: {listed:?}");
    let k: Vec<&Entry> = listed.iter().filter(|e| e.0 == "k").collect();
    assert_eq!(k.len(), 2, "both old versions in the trash: {listed:?}");
    assert!(k.iter().all(|e| own_id(&e.1) && !e.3), "{k:?}");
    assert_eq!(k[1].1, one_id);
    let two_id = k[0].1.clone();
    assert_eq!(get_version(&c, "plain", "k", Some(&two_id)).await, b"two");

    // DeleteObjects: just the key, no marker fields.
    let out = delete_objects(&c, "plain", &[("copy", None)]).await;
    let d = &out.deleted()[0];
    assert_eq!(d.key(), Some("copy"));
    assert_eq!(
        (
            d.delete_marker(),
            d.delete_marker_version_id(),
            d.version_id()
        ),
        (None, None, None)
    );
    assert!(versions(&s, "plain", 1000)
        .iter()
        .any(|e| e.0 == "copy" && own_id(&e.1) && !e.3));

    // Restore: copy the trash version onto the key, as with S3 versions.
    let restored = c
        .copy_object()
        .bucket("plain")
        .key("k")
        .copy_source(format!("plain/k?versionId={two_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(restored.version_id(), None);
    assert_eq!(restored.copy_source_version_id(), Some(two_id.as_str()));
    assert_eq!(get_version(&c, "plain", "k", None).await, b"two");
    let k: Vec<Entry> = versions(&s, "plain", 1000)
        .into_iter()
        .filter(|e| e.0 == "k")
        .collect();
    assert_eq!(k.len(), 3, "{k:?}");
    assert_eq!((k[0].1.as_str(), k[0].3), ("null", true));
    assert_eq!(
        (k[1].1.as_str(), k[2].1.as_str()),
        (two_id.as_str(), one_id.as_str())
    );
}

/// Enabled: version ids on every write, delete markers stacked (also for
/// a key that never existed), DeleteObjects reports them, and an object
/// written before versioning was enabled stays addressable as `null`.
#[tokio::test(flavor = "multi_thread")]
async fn enabled_bucket_stacks_delete_markers() {
    let s = Server::start();
    let c = s.client().await;
    c.create_bucket().bucket("ver").send().await.unwrap();
    assert_eq!(put(&c, "ver", "k", b"before").await, None);
    set_versioning(&c, "ver", BucketVersioningStatus::Enabled).await;

    let v1 = put(&c, "ver", "k", b"v1").await.expect("version id on PUT");
    let copy = c
        .copy_object()
        .bucket("ver")
        .key("copy")
        .copy_source("ver/k")
        .send()
        .await
        .unwrap();
    let copy_id = copy.version_id().expect("version id on Copy").to_string();
    let upload = c
        .create_multipart_upload()
        .bucket("ver")
        .key("mp")
        .send()
        .await
        .unwrap();
    let done = common::multipart::upload_parts_and_complete(
        &c,
        "ver",
        "mp",
        upload.upload_id().unwrap(),
        &[b"multi"],
    )
    .await;
    let mp_id = done
        .version_id()
        .expect("version id on Complete")
        .to_string();
    assert!(own_id(&v1) && own_id(&copy_id) && own_id(&mp_id));
    let head = c.head_object().bucket("ver").key("k").send().await.unwrap();
    assert_eq!(head.version_id(), Some(v1.as_str()));
    // The version from before versioning is `null`, and readable as such.
    assert_eq!(get_version(&c, "ver", "k", Some("null")).await, b"before");
    let head = c
        .head_object()
        .bucket("ver")
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(head.version_id(), Some("null"));

    // Two DELETEs stack two markers.
    let mut markers = Vec::new();
    for _ in 0..2 {
        let d = c
            .delete_object()
            .bucket("ver")
            .key("k")
            .send()
            .await
            .unwrap();
        assert_eq!(d.delete_marker(), Some(true));
        markers.push(d.version_id().expect("marker id").to_string());
    }
    assert_ne!(markers[0], markers[1]);
    let k: Vec<Entry> = versions(&s, "ver", 1)
        .into_iter()
        .filter(|e| e.0 == "k")
        .collect();
    assert_eq!(
        k,
        vec![
            ("k".into(), markers[1].clone(), true, true),
            ("k".into(), markers[0].clone(), true, false),
            ("k".into(), v1.clone(), false, false),
            ("k".into(), "null".into(), false, false),
        ]
    );
    // A key that never existed gets a marker too.
    let d = c
        .delete_object()
        .bucket("ver")
        .key("never")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));

    // DeleteObjects: DeleteMarker / DeleteMarkerVersionId for a new marker
    // and for a marker deleted by id.
    let out = delete_objects(&c, "ver", &[("copy", None), ("k", Some(&markers[1]))]).await;
    let mut deleted = out.deleted().to_vec();
    deleted.sort_by(|a, b| a.key().cmp(&b.key()));
    assert_eq!(deleted[0].key(), Some("copy"));
    assert_eq!(deleted[0].delete_marker(), Some(true));
    let copy_marker = deleted[0].delete_marker_version_id().unwrap().to_string();
    assert!(own_id(&copy_marker));
    assert_eq!(deleted[1].version_id(), Some(markers[1].as_str()));
    assert_eq!(deleted[1].delete_marker(), Some(true));
    assert_eq!(
        deleted[1].delete_marker_version_id(),
        Some(markers[1].as_str())
    );
    assert!(versions(&s, "ver", 1000).contains(&("copy".into(), copy_marker, true, true)));
    // The older marker is the latest now: still deleted. Removing it
    // restores v1.
    let r = Raw::new("GET", "/ver/k").send(&s.addr);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    let undo = c
        .delete_object()
        .bucket("ver")
        .key("k")
        .version_id(&markers[0])
        .send()
        .await
        .unwrap();
    assert_eq!(undo.delete_marker(), Some(true));
    assert_eq!(get_version(&c, "ver", "k", None).await, b"v1");
}

/// Suspended: writes make the `null` version, replacing the previous one
/// (its bytes stay in the trash under their own id); versions from the
/// Enabled period are kept; DELETE makes one `null` delete marker.
#[tokio::test(flavor = "multi_thread")]
async fn suspended_bucket_replaces_the_null_version_into_the_trash() {
    let s = Server::start();
    let c = s.client().await;
    c.create_bucket().bucket("sus").send().await.unwrap();
    put(&c, "sus", "k", b"first").await;
    set_versioning(&c, "sus", BucketVersioningStatus::Enabled).await;
    let e1 = put(&c, "sus", "k", b"enabled").await.unwrap();
    set_versioning(&c, "sus", BucketVersioningStatus::Suspended).await;
    let v = c
        .get_bucket_versioning()
        .bucket("sus")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Suspended));

    // As S3: the write itself answers no version id; reads say `null`.
    assert_eq!(put(&c, "sus", "k", b"suspended").await, None);
    let head = c.head_object().bucket("sus").key("k").send().await.unwrap();
    assert_eq!(head.version_id(), Some("null"));
    let k = versions(&s, "sus", 1000);
    assert_eq!(k.len(), 3, "{k:?}");
    assert_eq!((k[0].1.as_str(), k[0].3), ("null", true));
    assert_eq!(k[1].1, e1, "the Enabled version is kept");
    // The replaced null version ("first") is in the trash, own id.
    assert!(own_id(&k[2].1) && !k[2].3, "{k:?}");
    assert_eq!(get_version(&c, "sus", "k", Some(&k[2].1)).await, b"first");
    assert_eq!(
        get_version(&c, "sus", "k", Some("null")).await,
        b"suspended"
    );

    // Overwriting replaces the null version again.
    put(&c, "sus", "k", b"again").await;
    let k = versions(&s, "sus", 2);
    assert_eq!(k.len(), 4, "{k:?}");
    assert_eq!(k[0].1, "null");
    assert!(own_id(&k[1].1));
    assert_eq!(
        get_version(&c, "sus", "k", Some(&k[1].1)).await,
        b"suspended"
    );
    assert_eq!(get_version(&c, "sus", "k", Some("null")).await, b"again");

    // DELETE: a `null` delete marker, only one however often.
    for _ in 0..2 {
        let d = c
            .delete_object()
            .bucket("sus")
            .key("k")
            .send()
            .await
            .unwrap();
        assert_eq!(
            (d.delete_marker(), d.version_id()),
            (Some(true), Some("null"))
        );
    }
    let k = versions(&s, "sus", 1000);
    assert_eq!(k.iter().filter(|e| e.2).count(), 1, "{k:?}");
    assert_eq!(k[0], ("k".into(), "null".into(), true, true));
    assert_eq!(k.len(), 5, "again, suspended, enabled, first + the marker");
    // DeleteObjects says the same.
    put(&c, "sus", "other", b"x").await;
    let out = delete_objects(&c, "sus", &[("other", None)]).await;
    assert_eq!(out.deleted()[0].delete_marker(), Some(true));
    assert_eq!(out.deleted()[0].delete_marker_version_id(), Some("null"));
    // Writing over the null marker replaces it (a marker has no bytes to keep).
    put(&c, "sus", "k", b"back").await;
    let k = versions(&s, "sus", 1000);
    let k: Vec<&Entry> = k.iter().filter(|e| e.0 == "k").collect();
    assert!(k.iter().all(|e| !e.2), "{k:?}");
    assert_eq!(k.len(), 5);
    // Deleting the null version by id removes it now; the newest remaining
    // version becomes current.
    c.delete_object()
        .bucket("sus")
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&c, "sus", "k", None).await, b"again");
}

const BOTO3_SCRIPT: &str = r#"
import sys
import boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))

s3.create_bucket(Bucket="plain")
assert "Status" not in s3.get_bucket_versioning(Bucket="plain")
r = s3.put_object(Bucket="plain", Key="k", Body=b"one")
assert "VersionId" not in r, r
s3.put_object(Bucket="plain", Key="k", Body=b"two")
v = s3.list_object_versions(Bucket="plain")["Versions"]
assert [(x["VersionId"] == "null", x["IsLatest"]) for x in v] == [(True, True), (False, False)], v
old = v[1]["VersionId"]
r = s3.delete_object(Bucket="plain", Key="k")
assert "DeleteMarker" not in r and "VersionId" not in r, r
v = s3.list_object_versions(Bucket="plain")
assert "DeleteMarkers" not in v, v
assert len(v["Versions"]) == 2 and not any(x["IsLatest"] for x in v["Versions"]), v
r = s3.copy_object(Bucket="plain", Key="k", CopySource={"Bucket": "plain", "Key": "k", "VersionId": old})
assert "VersionId" not in r, r
assert s3.get_object(Bucket="plain", Key="k")["Body"].read() == b"one"

s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
r = s3.put_object(Bucket="plain", Key="k", Body=b"three")
assert len(r["VersionId"]) == 16, r
a = s3.delete_object(Bucket="plain", Key="k")
b = s3.delete_object(Bucket="plain", Key="k")
assert a["DeleteMarker"] and b["DeleteMarker"] and a["VersionId"] != b["VersionId"], (a, b)
assert len(s3.list_object_versions(Bucket="plain")["DeleteMarkers"]) == 2

s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Suspended"})
assert s3.get_bucket_versioning(Bucket="plain")["Status"] == "Suspended"
r = s3.put_object(Bucket="plain", Key="s", Body=b"x")
assert "VersionId" not in r, r
assert s3.head_object(Bucket="plain", Key="s")["VersionId"] == "null"
r = s3.delete_objects(Bucket="plain", Delete={"Objects": [{"Key": "s"}]})["Deleted"][0]
assert r["DeleteMarker"] and r["DeleteMarkerVersionId"] == "null", r
print("BOTO3-VERSIONING-OK")
"#;

/// The same model as boto3 sees it.
#[test]
fn boto3_sees_the_versioning_states() {
    let server = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("versioning.py");
    std::fs::write(&script, BOTO3_SCRIPT).unwrap();
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&server.endpoint)
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            tmp.path().join("aws-credentials"),
        )
        .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("BOTO3-VERSIONING-OK"),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
