//! Scenario tests with the S3 tools users already have: aws-cli, boto3,
//! s3cmd and rclone, each pointed at a running kura with a throw-away HOME
//! and config, each ending by comparing content hashes.
//!
//! Each tool also moves one file above its multipart threshold (aws-cli and
//! boto3 8 MiB, s3cmd 15 MiB, rclone 200 MiB), so uploads go multipart and
//! downloads use parallel ranged GETs.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::raw::Raw;
use common::{md5_hex, pattern, Server, ACCESS_KEY, SECRET_KEY};

/// Runs a client command, failing the test with its output if it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Runs a command that must fail; returns its stderr.
fn run_failing(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(!out.status.success(), "{cmd:?} unexpectedly succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A directory tree with awkward names and assorted sizes (all below 8 MiB).
fn make_tree(root: &Path) -> BTreeMap<String, String> {
    let files: [(&str, usize); 8] = [
        ("top.txt", 12),
        ("empty", 0),
        ("docs/report 2024.pdf", 300_000),
        ("docs/a+b=c.txt", 5_000),
        ("docs/deep/nested/日本語.bin", 70_000),
        ("data/100%.csv", 1),
        ("data/big.bin", 7 * 1024 * 1024),
        ("data/x,y;z(1).dat", 4097),
    ];
    let mut hashes = BTreeMap::new();
    for (i, (name, size)) in files.iter().enumerate() {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let data = pattern(*size, i as u64 + 100);
        std::fs::write(&path, &data).unwrap();
        hashes.insert(name.to_string(), md5_hex(&data));
    }
    hashes
}

/// Relative path → MD5 of every file under `root`.
fn hash_tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, md5_hex(&std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn file_md5(p: &Path) -> String {
    md5_hex(&std::fs::read(p).unwrap())
}

/// An aws-cli invocation with a private HOME and config, credentials from env.
fn aws_cmd(server: &Server, home: &Path) -> Command {
    let mut c = Command::new("aws");
    c.arg("--endpoint-url")
        .arg(&server.endpoint)
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
    c
}

#[test]
fn aws_cli() {
    let server = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    // aws-cli v1 presigns with SigV2 unless told otherwise; kura speaks only SigV4.
    std::fs::write(
        home.join("aws-config"),
        "[default]\ns3 =\n    signature_version = s3v4\n",
    )
    .unwrap();
    let aws = |args: &[&str]| run(aws_cmd(&server, home).args(args));

    aws(&["s3", "mb", "s3://cli-bkt"]);
    assert!(aws(&["s3", "ls"]).contains("cli-bkt"));

    // cp up and down.
    let one = home.join("one.bin");
    std::fs::write(&one, pattern(6 * 1024 * 1024, 1)).unwrap();
    aws(&[
        "s3",
        "cp",
        one.to_str().unwrap(),
        "s3://cli-bkt/single/one.bin",
    ]);
    let back = home.join("one.back");
    aws(&[
        "s3",
        "cp",
        "s3://cli-bkt/single/one.bin",
        back.to_str().unwrap(),
    ]);
    assert_eq!(file_md5(&back), file_md5(&one));

    // 50 MiB: a multipart upload, downloaded with parallel ranged GETs.
    let big = home.join("big.bin");
    std::fs::write(&big, pattern(50 * 1024 * 1024, 2)).unwrap();
    aws(&[
        "s3",
        "cp",
        big.to_str().unwrap(),
        "s3://cli-bkt/single/big.bin",
    ]);
    let head = aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "cli-bkt",
        "--key",
        "single/big.bin",
    ]);
    assert!(
        head.contains("-7\\\""),
        "multipart ETag (7 parts of 8 MiB): {head}"
    );
    let big_back = home.join("big.back");
    aws(&[
        "s3",
        "cp",
        "s3://cli-bkt/single/big.bin",
        big_back.to_str().unwrap(),
    ]);
    assert_eq!(file_md5(&big_back), file_md5(&big));

    // sync a tree up, then down into an empty directory.
    let up = home.join("up");
    let want = make_tree(&up);
    aws(&["s3", "sync", up.to_str().unwrap(), "s3://cli-bkt/tree/"]);
    let listing = aws(&["s3", "ls", "--recursive", "s3://cli-bkt/tree/"]);
    for name in want.keys() {
        assert!(
            listing.contains(&format!("tree/{name}")),
            "{name} in {listing}"
        );
    }
    let down = home.join("down");
    aws(&["s3", "sync", "s3://cli-bkt/tree/", down.to_str().unwrap()]);
    assert_eq!(hash_tree(&down), want);
    // A second sync has nothing to do.
    let again = aws(&["s3", "sync", up.to_str().unwrap(), "s3://cli-bkt/tree/"]);
    assert!(!again.contains("upload:"), "{again}");

    // s3api: head, copy, conditional put, presign.
    let head = aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "cli-bkt",
        "--key",
        "tree/top.txt",
    ]);
    assert!(head.contains(&want["top.txt"]), "{head}");
    aws(&[
        "s3api",
        "copy-object",
        "--bucket",
        "cli-bkt",
        "--key",
        "copied/top.txt",
        "--copy-source",
        "cli-bkt/tree/top.txt",
    ]);
    let copied = home.join("copied.txt");
    aws(&[
        "s3api",
        "get-object",
        "--bucket",
        "cli-bkt",
        "--key",
        "copied/top.txt",
        copied.to_str().unwrap(),
    ]);
    assert_eq!(file_md5(&copied), want["top.txt"]);
    let err = run_failing(aws_cmd(&server, home).args([
        "s3api",
        "put-object",
        "--bucket",
        "cli-bkt",
        "--key",
        "copied/top.txt",
        "--body",
        one.to_str().unwrap(),
        "--if-none-match",
        "*",
    ]));
    assert!(err.contains("PreconditionFailed"), "{err}");
    let url = aws(&[
        "s3",
        "presign",
        "s3://cli-bkt/tree/top.txt",
        "--expires-in",
        "300",
    ]);
    let url = url.trim();
    let path = &url[url.find("/cli-bkt/").expect(url)..];
    let mut r = Raw::new("GET", path);
    r.signed = false;
    let r = r.send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(md5_hex(&r.body), want["top.txt"]);

    // Without that setting aws-cli v1 presigns with SigV2, which kura accepts
    // for presigned downloads only.
    let url = run(aws_cmd(&server, home)
        .env("AWS_CONFIG_FILE", home.join("no-such-config"))
        .args(["s3", "presign", "s3://cli-bkt/tree/top.txt"]));
    let url = url.trim();
    assert!(url.contains("AWSAccessKeyId="), "{url}");
    let path = &url[url.find("/cli-bkt/").expect(url)..];
    let mut r = Raw::new("GET", path);
    r.signed = false;
    let r = r.send(&server.addr);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(md5_hex(&r.body), want["top.txt"]);
    let mut r = Raw::new("GET", &path.replacen("top.txt", "empty", 1));
    r.signed = false;
    let r = r.send(&server.addr);
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // rm --recursive empties the prefix.
    aws(&["s3", "rm", "--recursive", "s3://cli-bkt/tree/"]);
    let rest = aws(&["s3", "ls", "--recursive", "s3://cli-bkt/"]);
    assert!(!rest.contains("tree/"), "{rest}");
    assert!(rest.contains("copied/top.txt") && rest.contains("single/one.bin"));
    aws(&["s3", "rm", "--recursive", "s3://cli-bkt/"]);
    aws(&["s3", "rb", "s3://cli-bkt"]);
    assert!(!aws(&["s3", "ls"]).contains("cli-bkt"));
}

const BOTO3_SCRIPT: &str = r#"
import hashlib, os, sys, urllib.error, urllib.request
import boto3
from botocore.config import Config

endpoint, work = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
md5 = lambda b: hashlib.md5(b).hexdigest()

s3.create_bucket(Bucket="boto-bkt")
data = os.urandom(3 * 1024 * 1024 + 7)
src = os.path.join(work, "src.bin")
with open(src, "wb") as f:
    f.write(data)

# upload_file / download_file with the default transfer config.
s3.upload_file(src, "boto-bkt", "dir/file one.bin")
dst = os.path.join(work, "dst.bin")
s3.download_file("boto-bkt", "dir/file one.bin", dst)
assert md5(open(dst, "rb").read()) == md5(data), "download_file differs"

# Above the 8 MiB threshold: multipart upload, parallel ranged download.
big = os.urandom(20 * 1024 * 1024 + 3)
with open(src, "wb") as f:
    f.write(big)
s3.upload_file(src, "boto-bkt", "big.bin")
assert s3.head_object(Bucket="boto-bkt", Key="big.bin")["ETag"].endswith('-3"')
s3.download_file("boto-bkt", "big.bin", dst)
assert md5(open(dst, "rb").read()) == md5(big), "multipart download differs"
s3.delete_object(Bucket="boto-bkt", Key="big.bin")

# put/get with metadata and an explicit checksum.
s3.put_object(Bucket="boto-bkt", Key="k+ey é", Body=b"hello", ContentType="text/plain",
              Metadata={"who": "boto3"}, ChecksumAlgorithm="SHA256")
o = s3.get_object(Bucket="boto-bkt", Key="k+ey é")
assert o["Body"].read() == b"hello"
assert o["ContentType"] == "text/plain" and o["Metadata"] == {"who": "boto3"}, o
r = s3.get_object(Bucket="boto-bkt", Key="dir/file one.bin", Range="bytes=10-19")
assert r["Body"].read() == data[10:20]
h = s3.head_object(Bucket="boto-bkt", Key="k+ey é", ChecksumMode="ENABLED")
assert h["ChecksumSHA256"] == __import__("base64").b64encode(hashlib.sha256(b"hello").digest()).decode(), h

# Presigned URLs used by plain HTTP (botocore presigns with SigV2 unless
# signature_version is s3v4; kura speaks only SigV4).
url = s3.generate_presigned_url("put_object", Params={"Bucket": "boto-bkt", "Key": "shared.bin"}, ExpiresIn=300)
req = urllib.request.Request(url, data=data[:1000], method="PUT")
assert urllib.request.urlopen(req).status == 200
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto-bkt", "Key": "shared.bin"}, ExpiresIn=300)
assert md5(urllib.request.urlopen(url).read()) == md5(data[:1000])

# boto3's default presigning (SigV2 for a custom endpoint) works too, for
# downloads: SigV2 is accepted only for presigned GET and HEAD of objects.
plain = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
url = plain.generate_presigned_url("put_object", Params={"Bucket": "boto-bkt", "Key": "v2 shared+.bin"}, ExpiresIn=300)
assert "AWSAccessKeyId=" in url, url
# SigV2 signs Content-Type: send none (urllib would add a form type), as curl -T does.
req = urllib.request.Request(url, data=data[:2000], method="PUT", headers={"Content-Type": ""})
try:
    urllib.request.urlopen(req)
    raise AssertionError("a SigV2 presigned PUT was accepted")
except urllib.error.HTTPError as e:
    assert e.code == 400 and b"InvalidRequest" in e.read(), e.code
s3.put_object(Bucket="boto-bkt", Key="v2 shared+.bin", Body=data[:2000])
url = plain.generate_presigned_url("get_object", Params={"Bucket": "boto-bkt", "Key": "v2 shared+.bin",
                                   "ResponseContentType": "text/plain"}, ExpiresIn=300)
resp = urllib.request.urlopen(url)
assert resp.headers["Content-Type"] == "text/plain", resp.headers
assert md5(resp.read()) == md5(data[:2000])
try:
    urllib.request.urlopen(url.replace("text%2Fplain", "text%2Fhtml"))
    raise AssertionError("a tampered SigV2 URL was accepted")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
plain.delete_object(Bucket="boto-bkt", Key="v2 shared+.bin")

# copy, list, delete_objects.
s3.copy_object(Bucket="boto-bkt", Key="copy.bin", CopySource={"Bucket": "boto-bkt", "Key": "dir/file one.bin"})
assert md5(s3.get_object(Bucket="boto-bkt", Key="copy.bin")["Body"].read()) == md5(data)
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="boto-bkt")["Contents"])
assert keys == ["copy.bin", "dir/file one.bin", "k+ey é", "shared.bin"], keys
keys_v1 = sorted(o["Key"] for o in s3.list_objects(Bucket="boto-bkt")["Contents"])
assert keys_v1 == keys, keys_v1
res = s3.delete_objects(Bucket="boto-bkt", Delete={"Objects": [{"Key": k} for k in keys]})
assert len(res["Deleted"]) == 4 and not res.get("Errors"), res
assert s3.list_objects_v2(Bucket="boto-bkt")["KeyCount"] == 0
print("BOTO3-OK", md5(data))
"#;

#[test]
fn boto3() {
    let server = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("scenario.py");
    std::fs::write(&script, BOTO3_SCRIPT).unwrap();
    let out = run(Command::new("python3")
        .arg(&script)
        .arg(&server.endpoint)
        .arg(tmp.path())
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            tmp.path().join("aws-credentials"),
        )
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true"));
    assert!(out.contains("BOTO3-OK"), "{out}");
}

fn s3cmd_config(server: &Server, dir: &Path) -> PathBuf {
    let path = dir.join("s3cfg");
    std::fs::write(
        &path,
        format!(
            "[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n\
             host_base = {addr}\nhost_bucket = {addr}\nuse_https = False\n\
             signature_v2 = False\nbucket_location = us-east-1\n",
            addr = server.addr
        ),
    )
    .unwrap();
    path
}

#[test]
fn s3cmd() {
    let server = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let cfg = s3cmd_config(&server, home);
    let s3cmd = |args: &[&str]| {
        run(Command::new("s3cmd")
            .arg("-c")
            .arg(&cfg)
            .args(args)
            .env("HOME", home))
    };

    s3cmd(&["mb", "s3://cmd-bkt"]);
    let file = home.join("put me.bin");
    std::fs::write(&file, pattern(2 * 1024 * 1024 + 3, 5)).unwrap();
    s3cmd(&["put", file.to_str().unwrap(), "s3://cmd-bkt/in/put me.bin"]);
    let back = home.join("got.bin");
    s3cmd(&["get", "s3://cmd-bkt/in/put me.bin", back.to_str().unwrap()]);
    assert_eq!(file_md5(&back), file_md5(&file));
    // Above s3cmd's 15 MiB multipart chunk.
    let big = home.join("big.bin");
    std::fs::write(&big, pattern(20 * 1024 * 1024, 6)).unwrap();
    s3cmd(&["put", big.to_str().unwrap(), "s3://cmd-bkt/in/big.bin"]);
    let big_back = home.join("big.back");
    s3cmd(&["get", "s3://cmd-bkt/in/big.bin", big_back.to_str().unwrap()]);
    assert_eq!(file_md5(&big_back), file_md5(&big));
    s3cmd(&["del", "s3://cmd-bkt/in/big.bin"]);
    let ls = s3cmd(&["ls", "s3://cmd-bkt/in/"]);
    assert!(ls.contains("s3://cmd-bkt/in/put me.bin"), "{ls}");

    // sync a tree up and back down.
    let up = home.join("up");
    let want = make_tree(&up);
    s3cmd(&["sync", &format!("{}/", up.display()), "s3://cmd-bkt/tree/"]);
    let down = home.join("down");
    std::fs::create_dir_all(&down).unwrap();
    s3cmd(&[
        "sync",
        "s3://cmd-bkt/tree/",
        &format!("{}/", down.display()),
    ]);
    assert_eq!(hash_tree(&down), want);

    s3cmd(&["del", "s3://cmd-bkt/in/put me.bin"]);
    s3cmd(&["del", "--recursive", "--force", "s3://cmd-bkt/tree/"]);
    let ls = s3cmd(&["ls", "--recursive", "s3://cmd-bkt"]);
    assert!(ls.trim().is_empty(), "{ls}");
    s3cmd(&["rb", "s3://cmd-bkt"]);
}

#[test]
fn rclone() {
    let server = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let cfg = home.join("rclone.conf");
    std::fs::write(
        &cfg,
        format!(
            "[kura]\ntype = s3\nprovider = Other\naccess_key_id = {ACCESS_KEY}\n\
             secret_access_key = {SECRET_KEY}\nendpoint = {}\nregion = us-east-1\n",
            server.endpoint
        ),
    )
    .unwrap();
    let rclone = |args: &[&str]| {
        run(Command::new("rclone")
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .env("HOME", home)
            // Debian's rclone refuses to start while this is set.
            .env_remove("AWS_CA_BUNDLE"))
    };

    rclone(&["mkdir", "kura:rc-bkt"]);
    let up = home.join("up");
    let mut want = make_tree(&up);
    // A file above rclone's 200 MiB upload cutoff (multipart, 5 MiB parts).
    let big = pattern(210 * 1024 * 1024, 7);
    std::fs::create_dir_all(up.join("large")).unwrap();
    std::fs::write(up.join("large/big.bin"), &big).unwrap();
    want.insert("large/big.bin".into(), md5_hex(&big));
    drop(big);
    // Many small files too.
    for i in 0..1000 {
        let name = format!("many/f{i:04}.txt");
        let data = format!("small file {i}\n").into_bytes();
        std::fs::create_dir_all(up.join("many")).unwrap();
        std::fs::write(up.join(&name), &data).unwrap();
        want.insert(name, md5_hex(&data));
    }
    rclone(&["copy", up.to_str().unwrap(), "kura:rc-bkt/tree"]);
    // rclone check compares sizes and MD5s (ETags) on both sides.
    rclone(&["check", up.to_str().unwrap(), "kura:rc-bkt/tree"]);
    let ls = rclone(&["ls", "kura:rc-bkt/tree"]);
    assert_eq!(ls.lines().count(), want.len(), "{ls}");
    let down = home.join("down");
    rclone(&["copy", "kura:rc-bkt/tree", down.to_str().unwrap()]);
    assert_eq!(hash_tree(&down), want);

    // sync mirrors a deletion and a change.
    std::fs::remove_file(up.join("top.txt")).unwrap();
    std::fs::write(up.join("many/f0000.txt"), b"changed").unwrap();
    rclone(&["sync", up.to_str().unwrap(), "kura:rc-bkt/tree"]);
    rclone(&["check", up.to_str().unwrap(), "kura:rc-bkt/tree"]);
    let ls = rclone(&["lsf", "kura:rc-bkt/tree"]);
    assert!(!ls.lines().any(|l| l == "top.txt"), "{ls}");

    rclone(&["delete", "kura:rc-bkt/tree"]);
    let ls = rclone(&["ls", "kura:rc-bkt"]);
    assert!(ls.trim().is_empty(), "{ls}");
}

/// Sends a signed request head (plus `extra` header lines) and body over a
/// keep-alive connection; returns the final response's head, lowercased.
fn final_response_head(
    server: &Server,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
) -> String {
    use std::io::{Read, Write};
    let head = common::raw::signed_head(method, path, &server.addr, body.len());
    let head = format!("{}{extra}\r\n", head.strip_suffix("\r\n").unwrap());
    let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer before reading the body; then writing it may fail.
    let _ = stream.write_all(body);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
        // Skip interim 100 responses; stop at the end of the final head.
        let mut rest = text.as_str();
        while let Some(after) = rest.strip_prefix("http/1.1 100 continue\r\n\r\n") {
            rest = after;
        }
        if let Some(end) = rest.find("\r\n\r\n") {
            return rest[..end].to_string();
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before a response: {text:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// botocore sends `Expect: 100-continue` even for empty bodies; hyper then
/// answers without a `100 Continue`, which botocore mishandles on the next
/// request of that connection (a 30 s stall in `aws s3 sync` of a tree with
/// an empty file). kura closes such connections.
#[test]
fn expect_continue_with_empty_body_closes_the_connection() {
    let server = Server::start();
    let r = Raw::new("PUT", "/exp-bkt").send(&server.addr);
    assert_eq!(r.status, 200);
    let expect = "expect: 100-continue\r\n";
    let head = final_response_head(&server, "PUT", "/exp-bkt/empty", expect, b"");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    // With a body, hyper sends 100 Continue and the connection stays open.
    let head = final_response_head(&server, "PUT", "/exp-bkt/full", expect, b"x");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
}

/// An error answered before the body was read ends the connection, and the
/// response says so: a client must not pool it for its next request.
#[test]
fn early_errors_close_the_connection() {
    let server = Server::start();
    let body = vec![7u8; 1 << 20];
    let head = final_response_head(&server, "PUT", "/no-such-bucket/k", "", &body);
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    // Errors of bodiless requests keep the connection.
    let head = final_response_head(&server, "GET", "/no-such-bucket/k", "", b"");
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
}
