//! POST Object (browser form uploads): boto3's `generate_presigned_post`
//! form, posted by `requests`, works unchanged; every policy condition kind
//! is enforced; a 100 MiB form upload streams with flat server memory.

use std::process::Command;

use crate::common::{Server, ACCESS_KEY, SECRET_KEY};

const SCRIPT: &str = r#"
import sys, hashlib, boto3, requests, xml.etree.ElementTree as ET
from botocore.config import Config

endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
s3v2 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                    config=Config(signature_version="s3", s3={"addressing_style": "path"}))

def form(key="in/${filename}", fields=None, conditions=None, expires=600, client=s3):
    return client.generate_presigned_post(bucket, key, Fields=fields, Conditions=conditions,
                                          ExpiresIn=expires)

def post(p, data=b"hello world", name="hello.txt", extra=None, drop=None, **kw):
    fields = dict(p["fields"])
    fields.update(extra or {})
    for k in drop or []:
        fields.pop(k, None)
    return requests.post(p["url"], data=fields, files={"file": (name, data)}, **kw)

def code(r):
    return ET.fromstring(r.content).find("Code").text

# The form boto3 makes, with every condition kind, works unchanged.
conds = [{"success_action_status": "201"}, {"x-amz-meta-site": "0020"},
         ["starts-with", "$Content-Type", "text/"], ["content-length-range", 1, 1048576],
         ["starts-with", "$key", "in/"]]
ok = form(fields={"success_action_status": "201", "x-amz-meta-site": "0020",
                  "Content-Type": "text/plain"}, conditions=conds)
r = post(ok)
assert r.status_code == 201, (r.status_code, r.text)
doc = ET.fromstring(r.content)
ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
assert doc.find("s3:Key", ns).text == "in/hello.txt", r.text
assert doc.find("s3:Bucket", ns).text == bucket, r.text
assert r.headers["ETag"] == '"%s"' % hashlib.md5(b"hello world").hexdigest(), r.headers
got = s3.get_object(Bucket=bucket, Key="in/hello.txt")
assert got["Body"].read() == b"hello world"
assert got["ContentType"] == "text/plain", got["ContentType"]
assert got["Metadata"] == {"site": "0020"}, got["Metadata"]

# Each condition violated.
def refused(r, status, want):
    assert r.status_code == status, (r.status_code, r.text)
    assert code(r) == want, r.text
    return r.text
refused(post(ok, extra={"key": "out/x"}), 403, "AccessDenied")
refused(post(ok, extra={"x-amz-meta-site": "9999"}), 403, "AccessDenied")
refused(post(ok, extra={"Content-Type": "image/png"}), 403, "AccessDenied")
refused(post(ok, extra={"success_action_status": "200"}), 403, "AccessDenied")
assert "Extra input fields" in refused(post(ok, extra={"x-amz-meta-other": "1"}), 403, "AccessDenied")
refused(post(ok, data=b""), 400, "EntityTooSmall")
small = form(conditions=[["content-length-range", 0, 10]])
refused(post(small, data=b"x" * 11), 413, "EntityTooLarge")
assert post(small, data=b"x" * 10).status_code == 204
assert "expired" in refused(post(form(expires=-60)), 403, "AccessDenied")
tampered = form(key="in/a")
tampered["fields"]["policy"] = tampered["fields"]["policy"][:-4] + "AAAA"
refused(post(tampered), 403, "SignatureDoesNotMatch")
refused(post(ok, drop=["policy"]), 403, "AccessDenied")
# A form for another bucket does not upload here.
other = s3.generate_presigned_post("elsewhere", "in/x")
other["url"] = ok["url"]
refused(post(other), 403, "AccessDenied")

# Status and redirect answers.
r = post(form(key="plain.txt"))
assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
red = form(key="r.txt", fields={"success_action_redirect": "https://app.example.com/done?x=1"},
           conditions=[{"success_action_redirect": "https://app.example.com/done?x=1"}])
r = post(red, allow_redirects=False)
assert r.status_code == 303, (r.status_code, r.text)
loc = r.headers["Location"]
assert loc.startswith("https://app.example.com/done?x=1&bucket=" + bucket + "&key=r.txt&etag="), loc

# SigV2-signed forms (boto3 with signature_version="s3").
v2 = form(key="v2.txt", client=s3v2)
assert "AWSAccessKeyId" in v2["fields"] and "signature" in v2["fields"], v2["fields"]
r = post(v2)
assert r.status_code == 204, (r.status_code, r.text)
assert s3.get_object(Bucket=bucket, Key="v2.txt")["Body"].read() == b"hello world"

# Not a form, and a form without a file.
r = requests.post(ok["url"], data=b"x", headers={"Content-Type": "text/plain"})
refused(r, 412, "PreconditionFailed")
r = requests.post(ok["url"], files={"key": (None, "a")})
assert r.status_code in (400, 403), r.text

# 100 MiB, streamed.
big = form(key="big.bin")
blob = bytes(range(256)) * (100 * 4096)
r = post(big, data=blob)
assert r.status_code == 204, (r.status_code, r.text)
head = s3.head_object(Bucket=bucket, Key="big.bin")
assert head["ContentLength"] == len(blob)
assert head["ETag"] == '"%s"' % hashlib.md5(blob).hexdigest()
print("POST-OK")
"#;

#[test]
fn boto3_presigned_post_forms_and_every_condition() {
    let server = Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = server.client().await;
        c.create_bucket().bucket("forms").send().await.unwrap();
    });
    let before = server.peak_rss_kib();
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("post.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .arg(&server.endpoint)
        .arg("forms")
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            tmp.path().join("aws-credentials"),
        )
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("POST-OK"), "{text}");
    // The 100 MiB form streamed: the server's peak memory grew by far less
    // than the file.
    let grown = server.peak_rss_kib().saturating_sub(before);
    eprintln!("peak RSS grew by {grown} KiB");
    assert!(
        grown < 48 * 1024,
        "peak RSS grew by {grown} KiB during a 100 MiB form upload"
    );
}
