//! The web console in a real browser (issue 16): headless Chromium from
//! Debian, driven over WebDriver by `tests/browser/console.py` (selenium),
//! against two real kura servers. The script signs in (a wrong secret
//! first), browses a folder of 150 files in pages of 100, uploads 20 MiB
//! (multipart) watching its progress bar and two dropped files, downloads
//! the 20 MiB and compares bytes, deletes to the trash and restores,
//! edits tags, publishes and reads the public link signed out, is refused a change
//! without the CSRF token, creates a partner key as operator and signs in
//! as that partner (who sees only its folder), sees that upload as root
//! in the changes since the last visit, checks a phone-sized window
//! does not scroll sideways, shows the Japanese text for a Japanese
//! browser, and is refused past a session's lifetime and after ten wrong
//! secrets. This file then checks that the console's requests reached the
//! audit file as the keys that made them.
//!
//! Screenshots of the main pages are saved under
//! `$CARGO_TARGET_TMPDIR/console-screenshots/` (the path is printed).
//! Its own test binary: a browser is heavy, and nothing else should share
//! the machine with its timing.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;

/// The short-lived server's session lifetime, in seconds.
const SHORT_LIFETIME: u64 = 3;

#[tokio::test(flavor = "multi_thread")]
async fn console_in_a_real_browser() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let main = Server::start_with(&["--audit-log", audit.to_str().unwrap()]);
    let lifetime = format!("{SHORT_LIFETIME}s");
    let short = Server::start_with(&["--console-session-lifetime", &lifetime]);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    println!("console screenshots: {}", shots.display());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/console.py");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .env("KURA_ENDPOINT", &main.endpoint)
        .env("KURA_SHORT_ENDPOINT", &short.endpoint)
        .env("KURA_SHORT_LIFETIME", SHORT_LIFETIME.to_string())
        .env("KURA_ROOT_KEY", common::ACCESS_KEY)
        .env("KURA_ROOT_SECRET", common::SECRET_KEY)
        .env("KURA_SCREENSHOTS", &shots)
        .env("KURA_WORK", &work)
        .output()
        .expect("python3 runs (scripts/install-deps --test installs selenium and chromium)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser scenarios failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        main.log()
    );
    assert!(shots.join("03-upload.png").exists());

    // Every console request is in the audit file, as the key that made it.
    let records = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let has = |recs: &[serde_json::Value], op: &str, who: &str, key: Option<&str>| {
        recs.iter().any(|r| {
            r["via"] == "console"
                && r["operation"] == op
                && r["key_name"] == who
                && key.is_none_or(|k| r["key"] == k)
        })
    };
    let wanted: &[(&str, &str, Option<&str>)] = &[
        ("ConsoleSignIn", "root", None),
        ("CreateMultipartUpload", "root", Some("inbox/big-20MiB.bin")),
        ("UploadPart", "root", Some("inbox/big-20MiB.bin")),
        (
            "CompleteMultipartUpload",
            "root",
            Some("inbox/big-20MiB.bin"),
        ),
        ("GetObject", "root", Some("inbox/big-20MiB.bin")),
        ("DeleteObject", "root", Some("inbox/drop-1.txt")),
        ("CopyObject", "root", Some("inbox/drop-1.txt")),
        ("PutObjectAcl", "root", Some("inbox/drop-2.txt")),
        ("Admin", "root", None),
        ("PutObject", "acme partner", Some("acme/partner.txt")),
        ("ListObjectsV2", "acme partner", None),
    ];
    common::eventually(
        "console requests in the audit file",
        Duration::from_secs(10),
        || {
            let recs = records();
            wanted
                .iter()
                .all(|(op, who, key)| has(&recs, op, who, *key))
        },
    )
    .await;
    let recs = records();
    // The forged requests were recorded too, refused.
    assert!(
        recs.iter()
            .any(|r| r["via"] == "console" && r["status"] == 403 && r["key"] == "inbox/forged.txt")
            || recs
                .iter()
                .any(|r| r["via"] == "console" && r["status"] == 403)
    );
    println!("browser test took {:?}", started.elapsed());
}
