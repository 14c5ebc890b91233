//! Presigned URLs as boto3 makes them (SigV2 `s3` or SigV4 `s3v4`), for
//! requests that must refuse them: a leaked URL is a replayable request.

use std::process::Command;

use super::{Server, ACCESS_KEY, SECRET_KEY};

const SCRIPT: &str = r#"
import sys
import boto3
from botocore.config import Config
endpoint, version, method, bucket, key = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=sys.argv[6], aws_secret_access_key=sys.argv[7],
                  config=Config(signature_version=version, s3={"addressing_style": "path"}))
params = {"Bucket": bucket}
if key:
    params["Key"] = key
print(s3.generate_presigned_url(method, Params=params, ExpiresIn=600))
"#;

/// The path and query of a URL boto3 presigns as root: `version` is `s3`
/// (SigV2) or `s3v4`, `method` a boto3 client method such as `get_object`.
pub fn presign(server: &Server, version: &str, method: &str, bucket: &str, key: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &server.endpoint, version, method, bucket, key])
        .args([ACCESS_KEY, SECRET_KEY])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "boto3 presign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap();
    let url = url.trim();
    let (_, rest) = url.split_once("://").expect("a URL");
    let path = &rest[rest.find('/').expect("a path")..];
    path.to_string()
}
