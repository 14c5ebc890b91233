//! HTTPS with `--tls-cert` / `--tls-key`: a certificate the test makes
//! itself, trusted by boto3 (through AWS_CA_BUNDLE) and by `kura admin`.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{Server, ACCESS_KEY, SECRET_KEY};

struct Tls {
    _dir: tempfile::TempDir,
    cert: String,
    key: String,
}

fn self_signed() -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    Tls {
        cert: cert.to_str().unwrap().to_string(),
        key: key.to_str().unwrap().to_string(),
        _dir: dir,
    }
}

const BOTO3: &str = r#"
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
s3.create_bucket(Bucket="secure")
s3.put_object(Bucket="secure", Key="hello.txt", Body=b"over tls")
body = s3.get_object(Bucket="secure", Key="hello.txt")["Body"].read()
print(body.decode())
"#;

#[test]
fn https_works_with_boto3_trusting_the_test_ca() {
    let tls = self_signed();
    let server = Server::start_with(&["--tls-cert", &tls.cert, "--tls-key", &tls.key]);
    assert!(
        server.endpoint.starts_with("https://"),
        "{}",
        server.endpoint
    );

    let out = Command::new("python3")
        .arg("-c")
        .arg(BOTO3)
        .arg(&server.endpoint)
        .arg(ACCESS_KEY)
        .arg(SECRET_KEY)
        .env("AWS_CA_BUNDLE", &tls.cert)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "over tls");

    // The admin CLI reaches the server over HTTPS too.
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args([
            "admin",
            "--endpoint",
            &server.endpoint,
            "--ca-bundle",
            &tls.cert,
        ])
        .args(["--json", "bucket", "show", "secure"])
        .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"name\": \"secure\""));

    // So does `kura publish`, which prints the object's public link.
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args([
            "publish",
            "secure/hello.txt",
            "--endpoint",
            &server.endpoint,
        ])
        .args(["--ca-bundle", &tls.cert])
        .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        link.starts_with(&format!("{}/p/", server.endpoint)),
        "{link}"
    );

    // Without trusting the test CA, a client refuses the server.
    let out = Command::new("python3")
        .arg("-c")
        .arg(BOTO3)
        .arg(&server.endpoint)
        .arg(ACCESS_KEY)
        .arg(SECRET_KEY)
        .env_remove("AWS_CA_BUNDLE")
        .env("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED")
            || String::from_utf8_lossy(&out.stderr).contains("SSL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(&server.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(!buf.starts_with(b"HTTP/1.1 200"));
}

/// Over HTTPS the console's session cookie is `Secure` (and always
/// `HttpOnly`, `SameSite=Strict`), so a browser never sends it in clear.
#[test]
fn console_session_cookie_is_secure_over_https() {
    let tls = self_signed();
    let server = Server::start_with(&["--tls-cert", &tls.cert, "--tls-key", &tls.key]);
    let script = r#"
import sys, requests
r = requests.post(sys.argv[1] + "/_kura/console/api/session", verify=sys.argv[4],
                  json={"accessKeyId": sys.argv[2], "secretAccessKey": sys.argv[3]})
print(r.status_code, r.headers.get("set-cookie"))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([
            server.endpoint.as_str(),
            ACCESS_KEY,
            SECRET_KEY,
            tls.cert.as_str(),
        ])
        .output()
        .expect("python3 with requests");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("200 kura_console="), "{text}");
    for attribute in ["; HttpOnly", "; SameSite=Strict", "; Secure"] {
        assert!(text.contains(attribute), "{attribute} missing: {text}");
    }
}
