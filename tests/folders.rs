//! Per-folder access: two partners share one bucket through folder grants
//! (`shared/acme/:rw` and `shared/beta/:rw`) and cannot read, list,
//! overwrite, copy (as source or target), delete, multipart into or follow
//! the feed of each other's files. The matrix walks the operation table
//! itself (`Operation::NAMES`), so an operation added without a case here
//! fails [`every_operation_has_a_case`] and the matrix.

use crate::common;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketCannedAcl, BucketVersioningStatus, CompletedPart, Delete, ObjectAttributes,
    ObjectCannedAcl, ObjectIdentifier, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use common::admin::{self, Key};
use common::multipart::{completed, create_upload, upload_part};
use common::raw::Raw;
use common::Server;
use kura_protocol::router::Operation;

const BUCKET: &str = "shared";

/// The S3 error code of an SDK call ("OK" for success). HEAD answers carry
/// no body, so a bodiless 403 counts as `AccessDenied`.
fn code<T, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, SdkError<E, HttpResponse>>,
) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(e) => match e.code() {
            Some(c) => c.to_string(),
            None => match e.raw_response().map(|r| r.status().as_u16()) {
                Some(403) => "AccessDenied".into(),
                other => format!("no code: {other:?} {e:?}"),
            },
        },
    }
}

/// What root put in one partner's folder before the matrix runs.
struct Folder {
    prefix: &'static str,
    /// An upload without parts (UploadPart, UploadPartCopy, ListParts).
    upload: String,
    /// An upload with one part, to complete.
    to_complete: (String, CompletedPart),
    /// An upload to abort.
    to_abort: String,
}

impl Folder {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

async fn put(s3: &Client, key: &str, body: &[u8]) -> String {
    code(
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await,
    )
}

async fn seed(root: &Client, prefix: &'static str) -> Folder {
    for name in ["seed.txt", "doomed.txt"] {
        let key = format!("{prefix}{name}");
        assert_eq!(put(root, &key, key.as_bytes()).await, "OK");
    }
    let upload = create_upload(root, BUCKET, &format!("{prefix}up.bin")).await;
    let key = format!("{prefix}complete.bin");
    let id = create_upload(root, BUCKET, &key).await;
    let part = upload_part(root, BUCKET, &key, &id, 1, b"the only part").await;
    let to_abort = create_upload(root, BUCKET, &format!("{prefix}abort.bin")).await;
    Folder {
        prefix,
        upload,
        to_complete: (id, part),
        to_abort,
    }
}

/// What the caller must get for `op` against a folder: its own (`own`) or
/// another partner's. `None`: the matrix has no case for `op`.
fn expected(op: &str, own: bool) -> Option<&'static str> {
    let per_folder = if own { "OK" } else { "AccessDenied" };
    Some(match op {
        // The bucket is visible to anyone with a folder in it: clients
        // listing a folder ask for it first.
        "ListBuckets" | "HeadBucket" | "GetBucketLocation" => "OK",
        // The bucket's settings, and publishing, need a bucket-wide grant.
        "CreateBucket"
        | "DeleteBucket"
        | "GetBucketVersioning"
        | "PutBucketVersioning"
        | "GetBucketAcl"
        | "PutBucketAcl"
        | "GetBucketCors"
        | "PutBucketCors"
        | "DeleteBucketCors"
        | "GetBucketTagging"
        | "PutBucketTagging"
        | "DeleteBucketTagging"
        | "GetBucketLifecycleConfiguration"
        | "PutBucketLifecycleConfiguration"
        | "DeleteBucketLifecycleConfiguration"
        | "PutObjectAcl" => "AccessDenied",
        // Everything about keys: only inside one's folder.
        "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "ListMultipartUploads"
        | "ListChanges"
        | "SearchObjects"
        | "DeleteObjects"
        | "PutObject"
        | "PostObject"
        | "CopyObject"
        | "GetObject"
        | "HeadObject"
        | "DeleteObject"
        | "GetObjectAcl"
        | "GetObjectTagging"
        | "PutObjectTagging"
        | "DeleteObjectTagging"
        | "GetObjectAttributes"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "ListParts" => per_folder,
        _ => return None,
    })
}

/// The feed of `bucket` as `key` sees it (status, body).
fn feed(server: &Server, key: &Key, query: &str) -> (u16, String) {
    let r = Raw::new("GET", &format!("/{BUCKET}?changes{query}"))
        .credentials(&key.id, &key.secret)
        .send(&server.addr);
    (r.status, r.body_text())
}

/// Runs `op` as `key` (through `s3`) against `target`'s files; `home` is the
/// caller's own folder, used as the other end of copies. Returns each
/// attempt's label and outcome.
async fn attempt(
    server: &Server,
    s3: &Client,
    key: &Key,
    op: &str,
    target: &Folder,
    home: &Folder,
) -> Vec<(String, String)> {
    let one = |outcome: String| vec![(op.to_string(), outcome)];
    let seed = target.key("seed.txt");
    let home_seed = format!("{BUCKET}/{}", home.key("seed.txt"));
    let target_seed = format!("{BUCKET}/{seed}");
    match op {
        "ListBuckets" => one(code(s3.list_buckets().send().await)),
        "CreateBucket" => one(code(s3.create_bucket().bucket("partner-made").send().await)),
        "HeadBucket" => one(code(s3.head_bucket().bucket(BUCKET).send().await)),
        "DeleteBucket" => one(code(s3.delete_bucket().bucket(BUCKET).send().await)),
        "GetBucketLocation" => one(code(s3.get_bucket_location().bucket(BUCKET).send().await)),
        "GetBucketVersioning" => one(code(s3.get_bucket_versioning().bucket(BUCKET).send().await)),
        "PutBucketVersioning" => one(code(
            s3.put_bucket_versioning()
                .bucket(BUCKET)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await,
        )),
        "GetBucketAcl" => one(code(s3.get_bucket_acl().bucket(BUCKET).send().await)),
        "GetBucketCors" => one(code(s3.get_bucket_cors().bucket(BUCKET).send().await)),
        "PutBucketCors" => one(code(
            s3.put_bucket_cors()
                .bucket(BUCKET)
                .cors_configuration(
                    aws_sdk_s3::types::CorsConfiguration::builder()
                        .cors_rules(
                            aws_sdk_s3::types::CorsRule::builder()
                                .allowed_origins("*")
                                .allowed_methods("GET")
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
        )),
        "DeleteBucketCors" => one(code(s3.delete_bucket_cors().bucket(BUCKET).send().await)),
        "PostObject" => {
            let r = common::form::post(
                &server.addr,
                &key.id,
                &key.secret,
                BUCKET,
                &target.key("form.txt"),
                b"posted by a form",
            );
            one(if r.status < 300 {
                "OK".into()
            } else {
                r.code()
            })
        }
        "PutBucketAcl" => one(code(
            s3.put_bucket_acl()
                .bucket(BUCKET)
                .acl(BucketCannedAcl::Private)
                .send()
                .await,
        )),
        "ListObjects" => one(code(
            s3.list_objects()
                .bucket(BUCKET)
                .prefix(target.prefix)
                .send()
                .await,
        )),
        "ListObjectsV2" => one(code(
            s3.list_objects_v2()
                .bucket(BUCKET)
                .prefix(target.prefix)
                .send()
                .await,
        )),
        "ListObjectVersions" => one(code(
            s3.list_object_versions()
                .bucket(BUCKET)
                .prefix(target.prefix)
                .send()
                .await,
        )),
        "ListMultipartUploads" => one(code(
            s3.list_multipart_uploads()
                .bucket(BUCKET)
                .prefix(target.prefix)
                .send()
                .await,
        )),
        "ListChanges" => {
            let r = Raw::new(
                "GET",
                &format!("/{BUCKET}?changes&prefix={}", target.prefix),
            )
            .credentials(&key.id, &key.secret)
            .send(&server.addr);
            one(if r.status == 200 {
                "OK".into()
            } else {
                r.code()
            })
        }
        "DeleteObjects" => {
            let out = s3
                .delete_objects()
                .bucket(BUCKET)
                .delete(
                    Delete::builder()
                        .objects(
                            ObjectIdentifier::builder()
                                .key(target.key("doomed.txt"))
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .expect("DeleteObjects answers per entry");
            one(match out.errors().first() {
                Some(e) => e.code().unwrap_or("no code").to_string(),
                None => "OK".into(),
            })
        }
        "PutObject" => one(put(s3, &target.key("put.txt"), b"partner wrote this").await),
        "CopyObject" => vec![
            (
                "CopyObject into the folder".into(),
                code(
                    s3.copy_object()
                        .bucket(BUCKET)
                        .key(target.key("copy.txt"))
                        .copy_source(&home_seed)
                        .send()
                        .await,
                ),
            ),
            (
                "CopyObject out of the folder".into(),
                code(
                    s3.copy_object()
                        .bucket(BUCKET)
                        .key(home.key("copied.txt"))
                        .copy_source(&target_seed)
                        .send()
                        .await,
                ),
            ),
        ],
        "GetObject" => one(code(s3.get_object().bucket(BUCKET).key(&seed).send().await)),
        "HeadObject" => one(code(
            s3.head_object().bucket(BUCKET).key(&seed).send().await,
        )),
        "DeleteObject" => one(code(
            s3.delete_object()
                .bucket(BUCKET)
                .key(target.key("doomed.txt"))
                .send()
                .await,
        )),
        "GetBucketTagging" => one(code(s3.get_bucket_tagging().bucket(BUCKET).send().await)),
        "SearchObjects" => {
            // Filtered, not refused: the other folder's files never show.
            let r = Raw::new("GET", &format!("/{BUCKET}?search&prefix={}", target.prefix))
                .header("accept", "application/json")
                .credentials(&key.id, &key.secret)
                .send(&server.addr);
            let body = r.body_text();
            let outcome = if r.status != 200 {
                r.code()
            } else if body.contains(&seed) {
                "OK".to_string()
            } else {
                "AccessDenied".to_string()
            };
            one(outcome)
        }
        "GetBucketLifecycleConfiguration" => one(code(
            s3.get_bucket_lifecycle_configuration()
                .bucket(BUCKET)
                .send()
                .await,
        )),
        "PutBucketLifecycleConfiguration" => one(code(
            s3.put_bucket_lifecycle_configuration()
                .bucket(BUCKET)
                .lifecycle_configuration(
                    aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
                        .rules(
                            aws_sdk_s3::types::LifecycleRule::builder()
                                .id("r")
                                .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
                                .filter(
                                    aws_sdk_s3::types::LifecycleRuleFilter::builder()
                                        .prefix("x/")
                                        .build(),
                                )
                                .expiration(
                                    aws_sdk_s3::types::LifecycleExpiration::builder()
                                        .days(30)
                                        .build(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
        )),
        "DeleteBucketLifecycleConfiguration" => one(code(
            s3.delete_bucket_lifecycle().bucket(BUCKET).send().await,
        )),
        "PutBucketTagging" => one(code(
            s3.put_bucket_tagging()
                .bucket(BUCKET)
                .tagging(
                    aws_sdk_s3::types::Tagging::builder()
                        .tag_set(
                            aws_sdk_s3::types::Tag::builder()
                                .key("k")
                                .value("v")
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
        )),
        "DeleteBucketTagging" => one(code(s3.delete_bucket_tagging().bucket(BUCKET).send().await)),
        "GetObjectTagging" => one(code(
            s3.get_object_tagging()
                .bucket(BUCKET)
                .key(&seed)
                .send()
                .await,
        )),
        "PutObjectTagging" => one(code(
            s3.put_object_tagging()
                .bucket(BUCKET)
                .key(&seed)
                .tagging(
                    aws_sdk_s3::types::Tagging::builder()
                        .tag_set(
                            aws_sdk_s3::types::Tag::builder()
                                .key("k")
                                .value("v")
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
        )),
        "DeleteObjectTagging" => one(code(
            s3.delete_object_tagging()
                .bucket(BUCKET)
                .key(&seed)
                .send()
                .await,
        )),
        "GetObjectAcl" => one(code(
            s3.get_object_acl().bucket(BUCKET).key(&seed).send().await,
        )),
        "GetObjectAttributes" => one(code(
            s3.get_object_attributes()
                .bucket(BUCKET)
                .key(&seed)
                .object_attributes(ObjectAttributes::ObjectSize)
                .send()
                .await,
        )),
        "PutObjectAcl" => one(code(
            s3.put_object_acl()
                .bucket(BUCKET)
                .key(&seed)
                .acl(ObjectCannedAcl::Private)
                .send()
                .await,
        )),
        "CreateMultipartUpload" => one(code(
            s3.create_multipart_upload()
                .bucket(BUCKET)
                .key(target.key("partner.bin"))
                .send()
                .await,
        )),
        "UploadPart" => one(code(
            s3.upload_part()
                .bucket(BUCKET)
                .key(target.key("up.bin"))
                .upload_id(&target.upload)
                .part_number(1)
                .body(ByteStream::from_static(b"partner part"))
                .send()
                .await,
        )),
        "UploadPartCopy" => vec![
            (
                "UploadPartCopy into the folder".into(),
                code(
                    s3.upload_part_copy()
                        .bucket(BUCKET)
                        .key(target.key("up.bin"))
                        .upload_id(&target.upload)
                        .part_number(2)
                        .copy_source(&home_seed)
                        .send()
                        .await,
                ),
            ),
            (
                "UploadPartCopy out of the folder".into(),
                code(
                    s3.upload_part_copy()
                        .bucket(BUCKET)
                        .key(home.key("up.bin"))
                        .upload_id(&home.upload)
                        .part_number(3)
                        .copy_source(&target_seed)
                        .send()
                        .await,
                ),
            ),
        ],
        "CompleteMultipartUpload" => one(code(
            s3.complete_multipart_upload()
                .bucket(BUCKET)
                .key(target.key("complete.bin"))
                .upload_id(&target.to_complete.0)
                .multipart_upload(completed(vec![target.to_complete.1.clone()]))
                .send()
                .await,
        )),
        "AbortMultipartUpload" => one(code(
            s3.abort_multipart_upload()
                .bucket(BUCKET)
                .key(target.key("abort.bin"))
                .upload_id(&target.to_abort)
                .send()
                .await,
        )),
        "ListParts" => one(code(
            s3.list_parts()
                .bucket(BUCKET)
                .key(target.key("up.bin"))
                .upload_id(&target.upload)
                .send()
                .await,
        )),
        other => panic!("the folder matrix has no case for {other}: add one (and its expectation)"),
    }
}

/// Everything in the bucket as root sees it: every version (key, version
/// id, ETag, delete marker), every pending upload and its parts.
async fn snapshot(root: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let v = root
        .list_object_versions()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    for o in v.versions() {
        out.push(format!(
            "version {} {} {}",
            o.key().unwrap(),
            o.version_id().unwrap_or("-"),
            o.e_tag().unwrap_or("-")
        ));
    }
    for m in v.delete_markers() {
        out.push(format!(
            "marker {} {}",
            m.key().unwrap(),
            m.version_id().unwrap_or("-")
        ));
    }
    let ups = root
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    for u in ups.uploads() {
        let (key, id) = (u.key().unwrap(), u.upload_id().unwrap());
        out.push(format!("upload {key} {id}"));
        let parts = root
            .list_parts()
            .bucket(BUCKET)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .unwrap();
        for p in parts.parts() {
            out.push(format!(
                "part {key} {} {}",
                p.part_number().unwrap(),
                p.e_tag().unwrap()
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn every_operation_has_a_case() {
    let missing: Vec<&str> = Operation::NAMES
        .iter()
        .copied()
        .filter(|op| expected(op, true).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a per-folder access case in tests/folders.rs: {missing:?}"
    );
}

#[tokio::test]
async fn partners_in_one_bucket_cannot_reach_each_others_folders() {
    let server = Server::start();
    let root = server.client().await;
    root.create_bucket().bucket(BUCKET).send().await.unwrap();
    root.create_bucket()
        .bucket("elsewhere")
        .send()
        .await
        .unwrap();
    let acme_key = admin::create_key(&server, "acme", &["shared/acme/:rw"], &[]);
    let beta_key = admin::create_key(&server, "beta", &["shared/beta/:rw"], &[]);
    // The grant reads back as given, through the admin API.
    let shown = admin::json(&server, &["key", "show", &acme_key.id]);
    assert_eq!(shown["permissions"], serde_json::json!(["shared/acme/:rw"]));
    let acme_s3 = server.client_for(&acme_key).await;
    let beta_s3 = server.client_for(&beta_key).await;
    let acme = seed(&root, "acme/").await;
    let beta = seed(&root, "beta/").await;
    let partners = [
        (&acme_key, &acme_s3, &acme, &beta),
        (&beta_key, &beta_s3, &beta, &acme),
    ];

    // Each partner tries every operation of the table on the other's files.
    let before = snapshot(&root).await;
    let mut wrong = Vec::new();
    for (key, s3, home, other) in partners {
        for op in Operation::NAMES {
            let want = expected(op, false).expect("every_operation_has_a_case");
            for (label, got) in attempt(&server, s3, key, op, other, home).await {
                if got != want {
                    wrong.push(format!(
                        "{} on {}: {label} gave {got}, not {want}",
                        home.prefix, other.prefix
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Another folder's upload id under one's own key reaches nothing either:
    // an upload belongs to its key.
    let stolen = [
        code(
            acme_s3
                .upload_part()
                .bucket(BUCKET)
                .key("acme/up.bin")
                .upload_id(&beta.upload)
                .part_number(1)
                .body(ByteStream::from_static(b"smuggled"))
                .send()
                .await,
        ),
        code(
            acme_s3
                .list_parts()
                .bucket(BUCKET)
                .key("acme/complete.bin")
                .upload_id(&beta.to_complete.0)
                .send()
                .await,
        ),
        code(
            acme_s3
                .complete_multipart_upload()
                .bucket(BUCKET)
                .key("acme/complete.bin")
                .upload_id(&beta.to_complete.0)
                .multipart_upload(completed(vec![beta.to_complete.1.clone()]))
                .send()
                .await,
        ),
        code(
            acme_s3
                .abort_multipart_upload()
                .bucket(BUCKET)
                .key("acme/abort.bin")
                .upload_id(&beta.to_abort)
                .send()
                .await,
        ),
    ];
    assert_eq!(stolen, ["NoSuchUpload"; 4]);
    // Nothing changed anywhere: no object, version, upload or part.
    assert_eq!(snapshot(&root).await, before);

    // The same operations inside one's own folder work (so the refusals
    // above are about the folder, not the operation).
    for (key, s3, home, _) in partners {
        for op in Operation::NAMES {
            let want = expected(op, true).unwrap();
            for (label, got) in attempt(&server, s3, key, op, home, home).await {
                if got != want {
                    wrong.push(format!(
                        "{} at home: {label} gave {got}, not {want}",
                        home.prefix
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // ListBuckets shows the shared bucket, not the others.
    let names: Vec<String> = acme_s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_string())
        .collect();
    assert_eq!(names, [BUCKET]);

    // Listings: inside the folder only, never above it or beside it.
    let listed = |prefix: &'static str| {
        let s3 = acme_s3.clone();
        async move {
            code(
                s3.list_objects_v2()
                    .bucket(BUCKET)
                    .prefix(prefix)
                    .delimiter("/")
                    .send()
                    .await,
            )
        }
    };
    assert_eq!(listed("").await, "AccessDenied");
    assert_eq!(listed("acme").await, "AccessDenied");
    assert_eq!(listed("ac").await, "AccessDenied");
    assert_eq!(listed("beta/").await, "AccessDenied");
    assert_eq!(listed("acme/").await, "OK");
    let inside = acme_s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("acme/se")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = inside.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["acme/seed.txt"]);
    assert_eq!(
        code(acme_s3.list_objects_v2().bucket(BUCKET).send().await),
        "AccessDenied",
        "a listing without prefix"
    );

    // DeleteObjects with entries on both sides: the own one goes, the other
    // fails alone with AccessDenied.
    assert_eq!(put(&acme_s3, "acme/mixed.txt", b"m").await, "OK");
    let out = acme_s3
        .delete_objects()
        .bucket(BUCKET)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("acme/mixed.txt")
                        .build()
                        .unwrap(),
                )
                .objects(
                    ObjectIdentifier::builder()
                        .key("beta/seed.txt")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["acme/mixed.txt"]);
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some("beta/seed.txt"));
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    assert_eq!(
        code(
            root.head_object()
                .bucket(BUCKET)
                .key("beta/seed.txt")
                .send()
                .await
        ),
        "OK"
    );

    // The feed: without a prefix, only the caller's folder; never the other's.
    let cursor = {
        let (status, body) = feed(&server, &acme_key, "");
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        let keys: Vec<&str> = page["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap())
            .collect();
        assert!(keys.contains(&"acme/seed.txt"), "{keys:?}");
        assert!(keys.iter().all(|k| k.starts_with("acme/")), "{keys:?}");
        page["next"].as_str().unwrap().to_string()
    };
    assert_eq!(put(&beta_s3, "beta/after.txt", b"b").await, "OK");
    assert_eq!(put(&acme_s3, "acme/after.txt", b"a").await, "OK");
    let (status, body) = feed(&server, &acme_key, &format!("&after={cursor}"));
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys: Vec<&str> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["acme/after.txt"]);
    let (status, _) = feed(&server, &acme_key, "&prefix=beta/");
    assert_eq!(status, 403);
    let (status, _) = feed(&server, &acme_key, "&prefix=zzz");
    assert_eq!(status, 403);
}

#[tokio::test]
async fn read_only_folders_and_grant_syntax() {
    let server = Server::start();
    let root = server.client().await;
    root.create_bucket().bucket("reports").send().await.unwrap();
    for key in ["2026/q1.pdf", "2025/q4.pdf"] {
        root.put_object()
            .bucket("reports")
            .key(key)
            .body(ByteStream::from_static(b"pdf"))
            .send()
            .await
            .unwrap();
    }
    let auditor = admin::create_key(&server, "auditor", &["reports/2026/:r"], &[]);
    let s3 = server.client_for(&auditor).await;
    let get = |key: &'static str| {
        let s3 = s3.clone();
        async move { code(s3.get_object().bucket("reports").key(key).send().await) }
    };
    assert_eq!(get("2026/q1.pdf").await, "OK");
    assert_eq!(get("2025/q4.pdf").await, "AccessDenied");
    let write = code(
        s3.put_object()
            .bucket("reports")
            .key("2026/q2.pdf")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!(write, "AccessDenied", "r gives no write");
    let list = |prefix: &'static str| {
        let s3 = s3.clone();
        async move {
            code(
                s3.list_objects_v2()
                    .bucket("reports")
                    .prefix(prefix)
                    .send()
                    .await,
            )
        }
    };
    assert_eq!(list("2026/").await, "OK");
    assert_eq!(list("2025/").await, "AccessDenied");
    assert_eq!(list("").await, "AccessDenied");

    // A folder cannot carry admin (admin is about the bucket itself), and a
    // bad folder spec is refused by the admin API with a clear message.
    let out = admin::run_as(
        &server,
        common::ACCESS_KEY,
        common::SECRET_KEY,
        &[
            "key",
            "create",
            "--name",
            "x",
            "--allow",
            "reports/2026/:admin",
        ],
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("admin covers a whole bucket"),
        "{}",
        out.stderr
    );
    // Bucket-wide grants keep working as before, beside folder grants.
    let both = admin::create_key(&server, "both", &["reports:r", "reports/inbox/:w"], &[]);
    let s3 = server.client_for(&both).await;
    assert_eq!(
        code(s3.list_objects_v2().bucket("reports").send().await),
        "OK"
    );
    let up = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            code(
                s3.put_object()
                    .bucket("reports")
                    .key(key)
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await,
            )
        }
    };
    assert_eq!(up("inbox/new.csv").await, "OK");
    assert_eq!(up("2026/new.csv").await, "AccessDenied");
}

/// What a command printed, and whether it succeeded.
struct Ran {
    ok: bool,
    out: String,
    err: String,
}

/// Runs the commands at once (aws-cli takes seconds just to start); returns
/// their results in order.
fn run_all(cmds: Vec<std::process::Command>) -> Vec<Ran> {
    let children: Vec<_> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn()
                .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            Ran {
                ok: out.status.success(),
                out: String::from_utf8_lossy(&out.stdout).into_owned(),
                err: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .collect()
}

/// aws-cli and rclone, signing with a folder key, work inside the folder
/// (list, upload, download, sync) and are refused beside and above it.
#[test]
fn real_clients_work_inside_a_folder() {
    let server = Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let acme = rt.block_on(async {
        let root = server.client().await;
        root.create_bucket().bucket(BUCKET).send().await.unwrap();
        for key in ["acme/seed.txt", "beta/seed.txt"] {
            assert_eq!(put(&root, key, key.as_bytes()).await, "OK");
        }
        admin::create_key(&server, "acme", &["shared/acme/:rw"], &[])
    });
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    // aws-cli v1 presigns with SigV2 unless told otherwise; kura speaks only SigV4.
    std::fs::write(
        home.join("aws-config"),
        "[default]\ns3 =\n    signature_version = s3v4\n",
    )
    .unwrap();
    let aws = |args: &[&str]| {
        let mut c = std::process::Command::new("aws");
        c.arg("--endpoint-url")
            .arg(&server.endpoint)
            .args(args)
            .env("HOME", home)
            .env("AWS_CONFIG_FILE", home.join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
            .env("AWS_ACCESS_KEY_ID", &acme.id)
            .env("AWS_SECRET_ACCESS_KEY", &acme.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
        c
    };
    let cfg = home.join("rclone.conf");
    std::fs::write(
        &cfg,
        format!(
            "[kura]\ntype = s3\nprovider = Other\naccess_key_id = {}\n\
             secret_access_key = {}\nendpoint = {}\nregion = us-east-1\n",
            acme.id, acme.secret, server.endpoint
        ),
    )
    .unwrap();
    let rclone = |args: &[&str]| {
        let mut c = std::process::Command::new("rclone");
        c.arg("--config")
            .arg(&cfg)
            .args(["--retries", "1", "--low-level-retries", "1"])
            .args(args)
            .env("HOME", home)
            // Debian's rclone refuses to start while this is set.
            .env_remove("AWS_CA_BUNDLE");
        c
    };
    let up = home.join("up");
    std::fs::create_dir(&up).unwrap();
    std::fs::write(up.join("one.txt"), b"one").unwrap();
    std::fs::write(up.join("two.txt"), b"two").unwrap();
    let up = up.to_str().unwrap();
    let back = home.join("back.txt");
    let down = home.join("down");

    // Uploads into the folder.
    let r = run_all(vec![
        aws(&["s3", "sync", up, "s3://shared/acme/synced/"]),
        rclone(&["copy", up, "kura:shared/acme/rc"]),
    ]);
    for ran in &r {
        assert!(ran.ok, "{}{}", ran.out, ran.err);
    }
    // Listings and downloads inside it; listings, reads and uploads beside
    // or above it.
    let r = run_all(vec![
        aws(&["s3", "ls", "s3://shared/acme/"]),
        aws(&[
            "s3",
            "cp",
            "s3://shared/acme/synced/one.txt",
            back.to_str().unwrap(),
        ]),
        aws(&["s3", "ls", "s3://shared/beta/"]),
        rclone(&["check", up, "kura:shared/acme/rc"]),
        rclone(&["lsf", "-R", "kura:shared/acme/"]),
        rclone(&["copy", "kura:shared/acme/rc", down.to_str().unwrap()]),
        rclone(&["lsf", "kura:shared/beta/"]),
        rclone(&["lsf", "kura:shared/"]),
        rclone(&["copy", up, "kura:shared/beta/rc"]),
    ]);
    let (allowed, refused) = ([0, 1, 3, 4, 5], [2, 6, 7, 8]);
    for i in allowed {
        assert!(r[i].ok, "{}{}", r[i].out, r[i].err);
    }
    for i in refused {
        assert!(
            !r[i].ok && r[i].err.contains("AccessDenied"),
            "{}{}",
            r[i].out,
            r[i].err
        );
    }
    for entry in ["PRE synced/", "seed.txt"] {
        assert!(
            r[0].out.contains(entry),
            "{entry} missing from {}",
            r[0].out
        );
    }
    assert_eq!(std::fs::read(&back).unwrap(), b"one");
    for entry in ["rc/one.txt", "rc/two.txt", "synced/two.txt", "seed.txt"] {
        assert!(
            r[4].out.lines().any(|l| l == entry),
            "{entry} missing from {}",
            r[4].out
        );
    }
    assert_eq!(std::fs::read(down.join("two.txt")).unwrap(), b"two");
    // Root sees that nothing reached the other folder.
    let keys = rt.block_on(async {
        let root = server.client().await;
        let list = root
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("beta/")
            .send()
            .await
            .unwrap();
        list.contents()
            .iter()
            .map(|o| o.key().unwrap().to_string())
            .collect::<Vec<_>>()
    });
    assert_eq!(keys, ["beta/seed.txt"]);
}
