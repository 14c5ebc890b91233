//! Driving the admin API through the real `kura admin` command line.

use std::process::Command;

use super::{Server, ACCESS_KEY, SECRET_KEY};

/// A key pair made by `kura admin key create`.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

/// The output of a `kura admin` run.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `kura admin --endpoint <server> ARGS` with the given credentials.
pub fn run_as(server: &Server, id: &str, secret: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .arg("admin")
        .arg("--endpoint")
        .arg(&server.endpoint)
        .args(args)
        .env("KURA_ACCESS_KEY_ID", id)
        .env("KURA_SECRET_ACCESS_KEY", secret)
        .output()
        .expect("run kura admin");
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `kura admin` as root and expects success.
pub fn run(server: &Server, args: &[&str]) -> String {
    let out = run_as(server, ACCESS_KEY, SECRET_KEY, args);
    assert!(
        out.ok,
        "kura admin {args:?} failed: {}\n{}",
        out.stderr, out.stdout
    );
    out.stdout
}

/// Runs `kura admin --json ARGS` as root and parses the answer.
pub fn json(server: &Server, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&run(server, &all)).expect("JSON from kura admin --json")
}

/// `kura admin key create --name NAME --allow … --allow-ip …`.
pub fn create_key(server: &Server, name: &str, allow: &[&str], allow_ips: &[&str]) -> Key {
    let mut args = vec!["key", "create", "--name", name];
    for a in allow {
        args.extend(["--allow", a]);
    }
    for ip in allow_ips {
        args.extend(["--allow-ip", ip]);
    }
    let v = json(server, &args);
    Key {
        id: v["access_key_id"].as_str().expect("id").to_string(),
        secret: v["secret_access_key"].as_str().expect("secret").to_string(),
    }
}

impl Server {
    /// An SDK client (no retries) signing with `key`.
    pub async fn client_for(&self, key: &Key) -> aws_sdk_s3::Client {
        self.client_with(&key.id, &key.secret, false).await
    }
}
