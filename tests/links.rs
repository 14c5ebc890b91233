//! Share links (`kura share`): upload links that let someone without an
//! account drop files into one folder, and expiring download links — made
//! through the real command line, used with plain unsigned HTTP requests,
//! refused once expired, used up or revoked, and audited with the link id.

use std::process::Command;
use std::time::Duration;

use crate::common::admin::{create_key, run as admin, Key};
use crate::common::raw::{Raw, RawResponse};
use crate::common::{eventually, Server, ACCESS_KEY, SECRET_KEY};

/// Runs `kura share ARGS --json` as `key` (root when `None`).
fn share(server: &Server, key: Option<&Key>, args: &[&str]) -> Result<serde_json::Value, String> {
    let (id, secret) = key.map_or((ACCESS_KEY, SECRET_KEY), |k| (&k.id, &k.secret));
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .arg("share")
        .args(args)
        .args(["--json", "--endpoint", &server.endpoint])
        .env("KURA_ACCESS_KEY_ID", id)
        .env("KURA_SECRET_ACCESS_KEY", secret)
        .output()
        .expect("run kura share");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("kura share --json answers JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The path of a link's URL on `server`.
fn path_of(server: &Server, link: &serde_json::Value) -> String {
    link["url"]
        .as_str()
        .expect("a new link has its URL")
        .strip_prefix(&server.endpoint)
        .expect("URL on the server")
        .to_string()
}

/// A `multipart/form-data` body: `fields`, then the file.
fn form(fields: &[(&str, &str)], filename: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----kura-links-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts a file through an upload link, without credentials.
fn post(
    server: &Server,
    path: &str,
    fields: &[(&str, &str)],
    name: &str,
    data: &[u8],
) -> RawResponse {
    let (ct, body) = form(fields, name, data);
    let mut r = Raw::new("POST", path)
        .header("content-type", &ct)
        .body(body);
    r.signed = false;
    r.send(&server.addr)
}

fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut r = Raw::new("GET", path);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.signed = false;
    r.send(&server.addr)
}

fn json(r: &RawResponse) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("JSON answer, got {} {}", r.status, r.body_text()))
}

/// The `code` of a JSON error (upload links) or `<Code>` of an XML one.
fn code(r: &RawResponse) -> String {
    match serde_json::from_slice::<serde_json::Value>(&r.body) {
        Ok(v) => v["code"].as_str().unwrap_or_default().to_string(),
        Err(_) => r.code(),
    }
}

fn audit_records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn object(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<(Vec<u8>, String)> {
    let o = c.get_object().bucket(bucket).key(key).send().await.ok()?;
    let ct = o.content_type().unwrap_or_default().to_string();
    Some((o.body.collect().await.unwrap().into_bytes().to_vec(), ct))
}

async fn keys(c: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn upload_link_takes_files_into_its_folder_only_within_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let server = Server::start_with(&["--audit-log", audit.to_str().unwrap()]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("drop").send().await.unwrap();
    let partner = create_key(&server, "acme", &["drop/in/acme/:rw"], &[]);
    let reader = create_key(&server, "reader", &["drop/in/acme/:r"], &[]);

    // Only a key that may write into the whole folder makes a link for it.
    let e = share(&server, Some(&reader), &["--upload", "drop/in/acme/"]).unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    let e = share(&server, Some(&partner), &["--upload", "drop/in/"]).unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    let link = share(
        &server,
        Some(&partner),
        &[
            "--upload",
            "drop/in/acme/",
            "--expires",
            "1h",
            "--max-size",
            "1KiB",
            "--max-files",
            "3",
            "--label",
            "Invoices for November",
        ],
    )
    .unwrap();
    let id = link["id"].as_str().unwrap().to_string();
    let path = path_of(&server, &link);
    assert!(
        path.starts_with("/_kura/upload/") && path.len() > 50,
        "{path}"
    );
    assert_eq!(link["prefix"], "in/acme/");

    // The page: static, strict CSP, its script and style from this origin.
    let page = get(&server, &path, &[]);
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let html = page.body_text();
    assert!(html.contains("/_kura/upload/assets/upload.js") && !html.contains("<script>"));
    assert!(
        html.contains("<label for=\"file\""),
        "the file input has a label"
    );
    let js = get(&server, "/_kura/upload/assets/upload.js", &[]);
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.body_text().contains("XMLHttpRequest") && js.body_text().contains("ja:"));
    let info = get(&server, &format!("{path}/info"), &[]);
    assert_eq!(info.status, 200, "{}", info.body_text());
    let info = json(&info);
    assert_eq!(info["files_left"], 3);
    assert_eq!(info["max_file_size"], 1024);
    assert_eq!(info["label"], "Invoices for November");

    // A plain multipart post, no credentials: the file lands in the folder.
    let r = post(&server, &path, &[], "report.csv", b"a,b\n1,2\n");
    assert_eq!(r.status, 201, "{}", r.body_text());
    let answer = json(&r);
    assert_eq!(answer["name"], "report.csv");
    assert_eq!(answer["link"]["files_left"], 2);
    let (bytes, _) = object(&s3, "drop", "in/acme/report.csv").await.unwrap();
    assert_eq!(bytes, b"a,b\n1,2\n");
    // The page's own fields: key `${filename}` and the file's type.
    let r = post(
        &server,
        &path,
        &[("key", "${filename}"), ("Content-Type", "text/plain")],
        "note.txt",
        b"hello",
    );
    assert_eq!(r.status, 201, "{}", r.body_text());
    let (bytes, ct) = object(&s3, "drop", "in/acme/note.txt").await.unwrap();
    assert_eq!(
        (bytes.as_slice(), ct.as_str()),
        (&b"hello"[..], "text/plain")
    );

    // Keys that would leave the folder, and fields the link does not take.
    for (fields, name) in [
        (vec![("key", "../escape.txt")], "x"),
        (vec![], "../../escape.txt"),
        (vec![("key", "/etc/escape.txt")], "x"),
        (vec![("key", "sub/./x")], "x"),
        (vec![("key", "a\u{1}b")], "x"),
    ] {
        let r = post(&server, &path, &fields, name, b"evil");
        assert_eq!(r.status, 400, "{fields:?} {name}: {}", r.body_text());
        assert_eq!(code(&r), "InvalidArgument");
    }
    let r = post(&server, &path, &[("acl", "public-read")], "p.txt", b"x");
    assert_eq!((r.status, code(&r)), (403, "AccessDenied".into()));
    // An anonymous uploader never replaces a file.
    let r = post(&server, &path, &[], "report.csv", b"overwritten");
    assert_eq!((r.status, code(&r)), (412, "PreconditionFailed".into()));
    // Larger than --max-size: refused as it streams, nothing stored.
    let r = post(&server, &path, &[], "big.bin", &[7u8; 1025]);
    assert_eq!(
        (r.status, code(&r)),
        (413, "EntityTooLarge".into()),
        "{}",
        r.body_text()
    );
    assert_eq!(
        keys(&s3, "drop").await,
        ["in/acme/note.txt", "in/acme/report.csv"],
        "nothing but the two files was stored"
    );
    assert_eq!(
        object(&s3, "drop", "in/acme/report.csv").await.unwrap().0,
        b"a,b\n1,2\n"
    );

    // The third file uses the link up.
    let r = post(
        &server,
        &path,
        &[("key", "sub/third.bin")],
        "x",
        &[1u8; 1024],
    );
    assert_eq!(r.status, 201, "{}", r.body_text());
    assert_eq!(json(&r)["link"]["files_left"], 0);
    let r = post(&server, &path, &[], "fourth.bin", b"4");
    assert_eq!((r.status, code(&r)), (403, "LinkUsedUp".into()));
    let r = get(&server, &format!("{path}/info"), &[]);
    assert_eq!((r.status, code(&r)), (403, "LinkUsedUp".into()));
    assert!(object(&s3, "drop", "in/acme/fourth.bin").await.is_none());

    // The maker sees it used up; a key without write on the folder does not see it.
    let list = share(&server, Some(&partner), &["--list"]).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["state"], "used-up");
    assert_eq!(list[0]["files"], 3);
    assert!(list[0].get("url").is_none(), "the URL is shown only once");
    assert_eq!(
        share(&server, Some(&reader), &["--list"]).unwrap(),
        serde_json::json!([])
    );

    // Every upload through the link is audited with the link's id, refused ones too.
    let mut records = Vec::new();
    eventually("audit records of the link", Duration::from_secs(10), || {
        records = audit_records(&audit);
        records
            .iter()
            .filter(|r| r["operation"] == "UploadThroughLink")
            .count()
            >= 12
    })
    .await;
    let uploads: Vec<_> = records
        .iter()
        .filter(|r| r["operation"] == "UploadThroughLink")
        .collect();
    assert!(
        uploads.iter().all(|r| r["link_id"] == id.as_str()),
        "{uploads:?}"
    );
    let ok = uploads
        .iter()
        .find(|r| r["key"] == "in/acme/report.csv" && r["status"] == 201)
        .expect("the first upload's record");
    assert_eq!(ok["bucket"], "drop");
    assert!(ok.get("access_key_id").is_none(), "no account was used");
    assert!(uploads.iter().any(|r| r["error"] == "LinkUsedUp"));
    let made = records
        .iter()
        .find(|r| r["operation"] == "CreateLink" && r["status"] == 201)
        .unwrap();
    // `kura admin audit --link ID` finds them all, and only them.
    let found = admin(
        &server,
        &[
            "--json",
            "audit",
            "--file",
            audit.to_str().unwrap(),
            "--link",
            &id,
        ],
    );
    let found: Vec<serde_json::Value> = found
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(found.len() >= uploads.len() + 2, "{found:?}");
    assert!(found.iter().all(|r| r["link_id"] == id.as_str()));
    assert_eq!(
        (made["link_id"].as_str(), made["access_key_id"].as_str()),
        (Some(id.as_str()), Some(partner.id.as_str()))
    );
}

#[tokio::test]
async fn revoked_expired_and_orphaned_upload_links_are_refused() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("inbox").send().await.unwrap();
    let partner = create_key(&server, "acme", &["inbox:rw"], &[]);

    let revoked = share(&server, None, &["--upload", "inbox/r", "--expires", "1h"]).unwrap();
    let path = path_of(&server, &revoked);
    assert_eq!(revoked["prefix"], "r/", "a folder prefix gets its slash");
    let r = post(&server, &path, &[], "before.txt", b"1");
    assert_eq!(r.status, 201, "{}", r.body_text());
    let id = revoked["id"].as_str().unwrap();
    let after = share(&server, None, &["--revoke", id]).unwrap();
    assert_eq!(after["state"], "revoked");
    let r = post(&server, &path, &[], "after.txt", b"2");
    assert_eq!((r.status, code(&r)), (403, "LinkRevoked".into()));
    assert!(object(&s3, "inbox", "r/after.txt").await.is_none());

    // A link stops at its expiry.
    let short = share(&server, None, &["--upload", "inbox/e/", "--expires", "1s"]).unwrap();
    let path = path_of(&server, &short);
    let mut last = None;
    eventually("the link expires", Duration::from_secs(10), || {
        let r = post(&server, &path, &[], "late.txt", b"x");
        let expired = r.status == 403 && code(&r) == "LinkExpired";
        last = Some(r);
        expired
    })
    .await;
    assert!(last.is_some());
    assert_eq!(
        code(&get(&server, &format!("{path}/info"), &[])),
        "LinkExpired"
    );

    // A link is no stronger than the key that made it.
    let theirs = share(
        &server,
        Some(&partner),
        &["--upload", "inbox/p/", "--expires", "1h"],
    )
    .unwrap();
    let path = path_of(&server, &theirs);
    assert_eq!(post(&server, &path, &[], "ok.txt", b"1").status, 201);
    admin(&server, &["key", "disable", &partner.id]);
    let r = post(&server, &path, &[], "no.txt", b"2");
    assert_eq!((r.status, code(&r)), (403, "AccessDenied".into()));
    // Another key may not revoke what it could not make.
    let other = create_key(&server, "other", &["inbox/x/:rw"], &[]);
    let e = share(
        &server,
        Some(&other),
        &["--revoke", theirs["id"].as_str().unwrap()],
    )
    .unwrap_err();
    assert!(e.contains("NoSuchLink"), "{e}");

    // Unknown tokens.
    let r = post(
        &server,
        "/_kura/upload/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &[],
        "x",
        b"x",
    );
    assert_eq!((r.status, code(&r)), (404, "NoSuchLink".into()));
    let r = get(&server, "/_kura/upload/short/info", &[]);
    assert_eq!((r.status, code(&r)), (404, "NoSuchLink".into()));
}

#[tokio::test]
async fn download_link_serves_its_version_until_expiry_or_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let server = Server::start_with(&["--audit-log", audit.to_str().unwrap()]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("out").send().await.unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    s3.put_object()
        .bucket("out")
        .key("docs/offer.pdf")
        .body(data.clone().into())
        .send()
        .await
        .unwrap();
    let stranger = create_key(&server, "stranger", &["out/other/:r"], &[]);
    let e = share(&server, Some(&stranger), &["out/docs/offer.pdf"]).unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    let reader = create_key(&server, "reader", &["out/docs/:r"], &[]);
    let link = share(
        &server,
        Some(&reader),
        &["out/docs/offer.pdf", "--expires", "1h"],
    )
    .unwrap();
    let id = link["id"].as_str().unwrap().to_string();
    let path = path_of(&server, &link);
    assert!(
        path.starts_with("/_kura/d/") && path.ends_with("/offer.pdf"),
        "{path}"
    );

    let r = get(&server, &path, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    let etag = r.header("etag").unwrap().to_string();
    let r = get(&server, &path, &[("range", "bytes=100-199")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[100..200]);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/200000"));
    let r = get(&server, &path, &[("if-none-match", &etag)]);
    assert_eq!(r.status, 304);

    // The shared version stays what was shared when the key is written again.
    s3.put_object()
        .bucket("out")
        .key("docs/offer.pdf")
        .body(b"version two".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(get(&server, &path, &[]).body, data);

    share(&server, Some(&reader), &["--revoke", &id]).unwrap();
    let r = get(&server, &path, &[]);
    assert_eq!((r.status, r.code()), (403, "LinkRevoked".into()));

    let short = share(&server, None, &["out/docs/offer.pdf", "--expires", "1s"]).unwrap();
    let short_path = path_of(&server, &short);
    eventually("the download link expires", Duration::from_secs(10), || {
        let r = get(&server, &short_path, &[]);
        r.status == 403 && r.code() == "LinkExpired"
    })
    .await;

    // Deleting the key ends its links.
    let live = share(&server, None, &["out/docs/offer.pdf", "--expires", "1h"]).unwrap();
    let live_path = path_of(&server, &live);
    assert_eq!(get(&server, &live_path, &[]).body, b"version two");
    s3.delete_object()
        .bucket("out")
        .key("docs/offer.pdf")
        .send()
        .await
        .unwrap();
    let r = get(&server, &live_path, &[]);
    assert_eq!((r.status, r.code()), (404, "NoSuchKey".into()));

    let mut records = Vec::new();
    eventually(
        "audit records of the download link",
        Duration::from_secs(10),
        || {
            records = audit_records(&audit);
            records
                .iter()
                .any(|r| r["operation"] == "GetLinkObject" && r["error"] == "LinkRevoked")
        },
    )
    .await;
    let served: Vec<_> = records
        .iter()
        .filter(|r| r["operation"] == "GetLinkObject" && r["link_id"] == id.as_str())
        .collect();
    assert!(served.len() >= 5, "{served:?}");
    assert!(served
        .iter()
        .all(|r| r["bucket"] == "out" && r["key"] == "docs/offer.pdf"));
    assert!(served.iter().any(|r| r["status"] == 206));
}

#[tokio::test]
async fn concurrent_uploads_never_exceed_a_link_and_files_stream() {
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("race").send().await.unwrap();

    // Four files at once into a link that takes one: exactly one lands.
    let one = share(
        &server,
        None,
        &["--upload", "race/one/", "--max-files", "1"],
    )
    .unwrap();
    let one = path_of(&server, &one);
    // A budget of 10 bytes, four files of 6 bytes at once: exactly one lands.
    let bytes = share(
        &server,
        None,
        &["--upload", "race/bytes/", "--max-total", "10"],
    )
    .unwrap();
    let bytes = path_of(&server, &bytes);
    for path in [&one, &bytes] {
        let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let server = &server;
                    s.spawn(move || {
                        let r = post(server, path, &[], &format!("f{i}.bin"), b"sixsix");
                        (r.status, code(&r))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let landed = statuses.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(landed, 1, "{statuses:?}");
        // A loser is refused at admission (the link is used up), or, with a
        // byte budget, while it streams: one that started after the winner
        // landed sees the 4 bytes left and its 6-byte file is too large.
        assert!(
            statuses.iter().all(|(s, c)| *s == 201
                || (*s == 403 && c == "LinkUsedUp")
                || (path == &bytes && *s == 413 && c == "EntityTooLarge")),
            "{statuses:?}"
        );
    }
    let stored = keys(&s3, "race").await;
    assert_eq!(stored.len(), 2, "{stored:?}");

    // A 64 MiB file through a link streams: the server's memory stays flat.
    let big = share(
        &server,
        None,
        &["--upload", "race/big/", "--max-size", "100MiB"],
    )
    .unwrap();
    let big = path_of(&server, &big);
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i % 253) as u8).collect();
    let before = server.peak_rss_kib();
    let r = post(&server, &big, &[], "big.bin", &data);
    assert_eq!(r.status, 201, "{}", r.body_text());
    let grown = server.peak_rss_kib().saturating_sub(before);
    eprintln!("peak RSS grew by {grown} KiB");
    assert!(
        grown < 40 * 1024,
        "peak RSS grew by {grown} KiB for a 64 MiB file"
    );
    let head = s3
        .head_object()
        .bucket("race")
        .key("big/big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(64 << 20));
    let md5 = format!("\"{:x}\"", md5_of(&data));
    assert_eq!(head.e_tag(), Some(md5.as_str()));
}

fn md5_of(data: &[u8]) -> impl std::fmt::LowerHex {
    use md5::Digest;
    md5::Md5::digest(data)
}
