//! The config layers of `kura serve`: flag > `KURA_*` environment >
//! `--config` TOML file > default, for flags with an `env` of their own and
//! for flags without (the layer is generic over the clap struct), and
//! `kura config check` naming an unknown key's line.

use std::process::Command;

use crate::common;
use common::raw::Raw;
use common::Server;

fn config(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("kura.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The status and code of a PUT of `len` bytes into a fresh key.
fn put(server: &Server, key: &str, len: usize) -> (u16, String) {
    let r = Raw::new("PUT", &format!("/cfg/{key}"))
        .body(vec![7u8; len])
        .send(&server.addr);
    (
        r.status,
        if r.status == 200 {
            String::new()
        } else {
            r.code()
        },
    )
}

fn server(file: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut all = vec!["--config", file];
    all.extend_from_slice(args);
    let s = Server::start_with_env(&all, env);
    assert_eq!(Raw::new("PUT", "/cfg").send(&s.addr).status, 200);
    s
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let tmp = tempfile::tempdir().unwrap();
    let file = config(tmp.path(), "# limits\nmax-object-size = \"1KiB\"\n");
    // file > default (5GiB)
    let s = server(&file, &[], &[]);
    assert_eq!(put(&s, "a", 1024).0, 200);
    assert_eq!(put(&s, "b", 1025), (413, "EntityTooLarge".into()));
    drop(s);
    // environment > file
    let s = server(&file, &[], &[("KURA_MAX_OBJECT_SIZE", "2KiB")]);
    assert_eq!(put(&s, "a", 2048).0, 200);
    assert_eq!(put(&s, "b", 2049).1, "EntityTooLarge");
    drop(s);
    // flag > environment
    let s = server(
        &file,
        &["--max-object-size", "3KiB"],
        &[("KURA_MAX_OBJECT_SIZE", "2KiB")],
    );
    assert_eq!(put(&s, "a", 3072).0, 200);
    assert_eq!(put(&s, "b", 3073).1, "EntityTooLarge");
}

/// `min-free-space` has no `env =` of its own: the generic layer gives it
/// `KURA_MIN_FREE_SPACE` and its file key. 100% can never be free, so every
/// write answers 507 while reads go on.
#[test]
fn flags_without_their_own_env_work_from_file_and_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let file = config(tmp.path(), "min_free_space = \"100%\"\n");
    let s = Server::start_with(&["--config", &file]);
    let r = Raw::new("PUT", "/cfg").send(&s.addr);
    assert_eq!(r.status, 200, "creating a bucket is no upload");
    assert_eq!(put(&s, "a", 10), (507, "InsufficientStorage".into()));
    assert_eq!(
        Raw::new("GET", "/cfg").send(&s.addr).status,
        200,
        "listings go on"
    );
    drop(s);
    let empty = config(tmp.path(), "");
    let s = server(&empty, &[], &[("KURA_MIN_FREE_SPACE", "100%")]);
    assert_eq!(put(&s, "a", 10).0, 507);
    drop(s);
    let s = server(
        &empty,
        &["--min-free-space", "off"],
        &[("KURA_MIN_FREE_SPACE", "100%")],
    );
    assert_eq!(put(&s, "a", 10).0, 200);
}

#[test]
fn unknown_keys_are_errors_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = config(
        tmp.path(),
        "listen = \"127.0.0.1:0\"\n\n# typo below\nretension = \"7d\"\n",
    );
    let check = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["config", "check", &file])
        .output()
        .unwrap();
    assert!(!check.status.success());
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("kura.toml:4: unknown key `retension`"),
        "{err}"
    );
    // `kura serve` refuses to start on it, saying the same.
    let serve = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["serve", "--config", &file])
        .output()
        .unwrap();
    assert!(!serve.status.success());
    assert!(
        String::from_utf8_lossy(&serve.stderr).contains(":4: unknown key `retension`"),
        "{}",
        String::from_utf8_lossy(&serve.stderr)
    );
    // A bad value is named too; a good file passes.
    let bad = config(tmp.path(), "retention = \"7w\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["config", "check", &bad])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--retention"));
    let good = config(
        tmp.path(),
        "retention = \"7d\"\ntrusted-proxy = [\"10.0.0.0/8\"]\nrocksdb-block-cache = \"16MiB\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["config", "check", &good])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("retention = 7d"));
}

/// The example config file shipped in deploy/ stays valid.
#[test]
fn the_shipped_example_config_checks() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/kura.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["config", "check", path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
