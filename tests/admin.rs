//! The admin API and `kura admin`: who may call it, what it prints, that
//! changes persist, that no secret leaks into logs or errors, and the modes
//! of the data directory and the credential file.

use crate::common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use aws_sdk_s3::error::ProvideErrorMetadata;
use common::admin::{self, Key};
use common::raw::Raw;
use common::{Server, SECRET_KEY};

#[tokio::test]
async fn admin_api_needs_a_key_with_admin_on_every_bucket() {
    let server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("bkt-a").send().await.unwrap();
    let partner = admin::create_key(&server, "partner", &["bkt-a:rw"], &[]);
    let bucket_admin = admin::create_key(&server, "bucket-admin", &["bkt-b:admin"], &[]);
    let operator = admin::create_key(&server, "operator", &["*:admin"], &[]);

    for key in [&partner, &bucket_admin] {
        let out = admin::run_as(&server, &key.id, &key.secret, &["key", "list"]);
        assert!(!out.ok);
        assert!(out.stderr.contains("403 (AccessDenied)"), "{}", out.stderr);
    }
    // Unsigned requests are refused as well.
    let unsigned = Raw {
        signed: false,
        ..Raw::new("GET", "/_kura/admin/v1/keys")
    }
    .send(&server.addr);
    assert_eq!(unsigned.status, 403);
    assert_eq!(unsigned.header("content-type"), Some("application/json"));

    // An operator key manages keys like root.
    let out = admin::run_as(
        &server,
        &operator.id,
        &operator.secret,
        &[
            "--json",
            "key",
            "create",
            "--name",
            "made-by-operator",
            "--allow",
            "bkt-a:r",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    let listed = admin::json(&server, &["key", "list"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(names.contains(&"made-by-operator"));

    // Admin on one bucket: create and delete that bucket, nothing else.
    let s3 = server.client_for(&bucket_admin).await;
    s3.create_bucket().bucket("bkt-b").send().await.unwrap();
    s3.delete_bucket().bucket("bkt-b").send().await.unwrap();
    let other = s3.create_bucket().bucket("bkt-c").send().await;
    assert_eq!(other.unwrap_err().code(), Some("AccessDenied"));

    // Bad input is refused with a reason.
    let out = admin::run_as(
        &server,
        common::ACCESS_KEY,
        SECRET_KEY,
        &["key", "create", "--name", "x", "--allow-ip", "300.1.2.3/8"],
    );
    assert!(!out.ok);
    assert!(out.stderr.contains("invalid IP range"), "{}", out.stderr);
    let out = admin::run_as(
        &server,
        common::ACCESS_KEY,
        SECRET_KEY,
        &["key", "create", "--name", "x", "--allow", "bkt-a:rwx"],
    );
    assert!(!out.ok);
}

#[tokio::test]
async fn cli_prints_the_secret_once_in_text_and_json() {
    let server = Server::start();
    let text = admin::run(
        &server,
        &[
            "key",
            "create",
            "--name",
            "partner-a",
            "--allow",
            "bucket-a:rw",
            "--allow",
            "reports:r",
            "--allow-ip",
            "203.0.113.0/24",
        ],
    );
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("AWS_ACCESS_KEY_ID="))
        .expect("id line")
        .to_string();
    let secret = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("AWS_SECRET_ACCESS_KEY="))
        .expect("secret line")
        .to_string();
    assert_eq!((id.len(), secret.len()), (20, 40));

    let json = admin::json(&server, &["key", "create", "--name", "script"]);
    let fields: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["access_key_id", "secret_access_key"]);

    // Afterwards the secret is never shown again.
    let shown = admin::run(&server, &["key", "show", &id]);
    assert!(shown.contains("name=partner-a"), "{shown}");
    assert!(shown.contains("bucket-a:rw,reports:r"), "{shown}");
    assert!(shown.contains("203.0.113.0/24"), "{shown}");
    let listed = admin::run(&server, &["--json", "key", "list"]);
    assert!(!listed.contains(&secret));
    assert!(!listed.contains("secret"));

    // `key set` replaces permissions and allow-list.
    let v = admin::json(
        &server,
        &["key", "set", &id, "--allow", "bucket-a:r", "--any-ip"],
    );
    assert_eq!(v["permissions"], serde_json::json!(["bucket-a:r"]));
    assert_eq!(v["allow_ips"], serde_json::json!([]));
}

#[tokio::test]
async fn no_secret_reaches_the_log_or_an_error() {
    let mut server = Server::start();
    let created = admin::create_key(&server, "partner", &["*:rw"], &[]);
    let v = admin::json(&server, &["key", "rotate", &created.id]);
    let rotated = v["secret_access_key"].as_str().unwrap().to_string();
    // Failing requests: wrong secret, disabled key, wrong address.
    let wrong = Key {
        id: created.id.clone(),
        secret: created.secret.clone(),
    };
    let err = server
        .client_for(&wrong)
        .await
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    let raw_body = format!("{err:?}");
    admin::run(&server, &["key", "disable", &created.id]);
    let denied = Raw::new("GET", "/")
        .credentials(&created.id, &rotated)
        .send(&server.addr);
    assert_eq!(denied.status, 403);
    server.restart();
    let log = server.log();
    assert!(
        log.contains(&created.id),
        "the key id is logged, the secrets are not"
    );
    for secret in [SECRET_KEY, created.secret.as_str(), rotated.as_str()] {
        assert!(!log.contains(secret), "secret in the log");
        assert!(!raw_body.contains(secret), "secret in an error");
        assert!(!denied.body_text().contains(secret), "secret in an error");
    }
}

#[tokio::test]
async fn keys_and_settings_survive_a_restart() {
    let mut server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("kept").send().await.unwrap();
    let key = admin::create_key(&server, "partner", &["kept:rw"], &["127.0.0.1/32"]);
    let off = admin::create_key(&server, "disabled", &["kept:rw"], &[]);
    admin::run(&server, &["key", "disable", &off.id]);
    let s = admin::json(
        &server,
        &[
            "bucket",
            "set",
            "kept",
            "--max-object-size",
            "10MiB",
            "--retention",
            "7d",
        ],
    );
    assert_eq!(s["retention_seconds"], 7 * 86400);
    server
        .client_for(&key)
        .await
        .list_objects_v2()
        .bucket("kept")
        .send()
        .await
        .unwrap();

    server.restart();
    server
        .client_for(&key)
        .await
        .list_objects_v2()
        .bucket("kept")
        .send()
        .await
        .unwrap();
    let r = server
        .client_for(&off)
        .await
        .list_objects_v2()
        .bucket("kept")
        .send()
        .await;
    assert_eq!(r.unwrap_err().code(), Some("InvalidAccessKeyId"));
    let s = admin::json(&server, &["bucket", "show", "kept"]);
    assert_eq!(s["max_object_size"], 10 << 20);
    assert_eq!(s["retention_seconds"], 7 * 86400);
    let s = admin::json(&server, &["bucket", "set", "kept", "--retention", "none"]);
    assert!(s["retention_seconds"].is_null());
    assert!(s["change_log_retention_seconds"].is_null());
    let s = admin::json(
        &server,
        &["bucket", "set", "kept", "--change-log-retention", "30d"],
    );
    assert_eq!(s["change_log_retention_seconds"], 30 * 86400);
    let s = admin::json(
        &server,
        &["bucket", "set", "kept", "--change-log-retention", "none"],
    );
    assert!(s["change_log_retention_seconds"].is_null());
}

#[test]
fn data_dir_is_0700_and_generated_credentials_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fresh");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove("KURA_ACCESS_KEY_ID")
        .env_remove("KURA_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("kura listening on");
        printed.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        printed
            .iter()
            .any(|l| l.contains("KURA_SECRET_ACCESS_KEY=")),
        "{printed:?}"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("root-credentials.json")), 0o600);
}

/// Admin calls must be SigV4 in the Authorization header with the body's
/// real SHA-256: a presigned URL (SigV4 or SigV2) or an `UNSIGNED-PAYLOAD`
/// request could be replayed with another body, e.g. one granting `*:admin`.
#[tokio::test]
async fn admin_api_needs_header_signatures_over_the_body() {
    use common::boto_presign::presign;
    use sha2::{Digest, Sha256};

    let server = Server::start();
    let key_count = || {
        admin::json(&server, &["key", "list"])
            .as_array()
            .unwrap()
            .len()
    };
    let refused = |r: &common::raw::RawResponse| {
        assert_eq!(r.status, 403, "{}", r.body_text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["code"], "AccessDenied");
    };

    // Presigned URLs of the root key, as boto3 makes them.
    for version in ["s3v4", "s3"] {
        let path = presign(&server, version, "get_object", "_kura", "admin/v1/keys");
        let r = Raw {
            signed: false,
            ..Raw::new("GET", &path)
        }
        .send(&server.addr);
        refused(&r);
    }

    let grant = br#"{"name":"evil","permissions":["*:admin"]}"#;
    // Header-signed, but the body is not covered.
    let mut unsigned = Raw::new("POST", "/_kura/admin/v1/keys").body(grant.to_vec());
    unsigned.payload_hash = Some("UNSIGNED-PAYLOAD".into());
    refused(&unsigned.send(&server.addr));
    // Signed for one body, sent with another of the same length.
    let harmless = br#"{"name":"nice","permissions":["b-1:r"  ]}"#;
    assert_eq!(harmless.len(), grant.len());
    let mut swapped = Raw::new("POST", "/_kura/admin/v1/keys").body(grant.to_vec());
    swapped.payload_hash = Some(hex::encode(Sha256::digest(harmless)));
    let r = swapped.send(&server.addr);
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert_eq!(key_count(), 0, "nothing was created");

    // Signed over the real body (as `kura admin` does): accepted.
    let ok = Raw::new("POST", "/_kura/admin/v1/keys")
        .body(harmless.to_vec())
        .send(&server.addr);
    assert_eq!(ok.status, 200, "{}", ok.body_text());
    assert_eq!(key_count(), 1);
}

/// Secrets never reach the disk in plaintext, rotated and deleted ones
/// leave it (WAL and SST files included), and keys still work after a restart.
#[tokio::test]
async fn secrets_are_encrypted_at_rest_and_old_ones_leave_the_disk() {
    let mut server = Server::start();
    let root = server.client_no_retry().await;
    root.create_bucket().bucket("vault").send().await.unwrap();
    let kept = admin::create_key(&server, "kept", &["vault:rw"], &[]);
    let dropped = admin::create_key(&server, "dropped", &["vault:rw"], &[]);
    let v = admin::json(&server, &["key", "rotate", &kept.id]);
    let rotated = v["secret_access_key"].as_str().unwrap().to_string();
    admin::run(&server, &["key", "delete", &dropped.id]);
    let data = server.data_dir();
    let found = |secret: &str| files_containing(&data, secret.as_bytes());
    for secret in [&kept.secret, &rotated, &dropped.secret] {
        assert_eq!(found(secret), Vec::<std::path::PathBuf>::new());
    }
    server.restart();
    for secret in [&kept.secret, &rotated, &dropped.secret] {
        assert_eq!(found(secret), Vec::<std::path::PathBuf>::new());
    }
    let s3 = server.client_with(&kept.id, &rotated, false).await;
    s3.list_objects_v2().bucket("vault").send().await.unwrap();
    let key_file = server.data_dir().join("access-keys.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
        }
    }
    found
}

/// Modes are re-applied at every start, not only when the data directory is
/// created (a Docker volume or a restore may bring it with looser ones), and
/// files RocksDB creates later are owner-only too.
#[test]
fn owner_only_modes_are_reapplied_at_every_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("volume");
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kura"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env_remove("KURA_ACCESS_KEY_ID")
            .env_remove("KURA_SECRET_ACCESS_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut endpoint = String::new();
        for line in lines {
            if let Some(url) = line.unwrap().strip_prefix("kura listening on ") {
                endpoint = url.trim().to_string();
                break;
            }
        }
        (child, endpoint)
    };
    let stop = |(mut child, _): (std::process::Child, String)| {
        let _ = child.kill();
        let _ = child.wait();
    };
    stop(start());
    // Loosen everything, as a pre-existing volume might have it.
    let set = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let all = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    set(&data, 0o755);
    for p in all(&data) {
        set(&p, if p.is_dir() { 0o755 } else { 0o644 });
    }
    for p in all(&data.join("meta")) {
        set(&p, 0o644);
    }
    let running = start();
    // Files RocksDB makes while running (a rotation flushes and compacts).
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("root-credentials.json")).unwrap())
            .unwrap();
    let admin = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kura"))
            .args(["admin", "--json", "--endpoint", &running.1])
            .args(args)
            .env(
                "KURA_ACCESS_KEY_ID",
                creds["access_key_id"].as_str().unwrap(),
            )
            .env(
                "KURA_SECRET_ACCESS_KEY",
                creds["secret_access_key"].as_str().unwrap(),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let created = admin(&["key", "create", "--name", "partner"]);
    admin(&["key", "rotate", created["access_key_id"].as_str().unwrap()]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("meta")), 0o700);
    assert_eq!(mode(&data.join("chunks")), 0o700);
    assert_eq!(mode(&data.join("root-credentials.json")), 0o600);
    assert_eq!(mode(&data.join("access-keys.key")), 0o600);
    let meta_files = all(&data.join("meta"));
    assert!(meta_files.len() > 3, "{meta_files:?}");
    for p in meta_files {
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    stop(running);
}
