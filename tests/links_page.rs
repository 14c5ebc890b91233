//! The upload page in a real browser: headless Chromium (Debian's
//! `chromium` + `chromedriver`, driven by Selenium from Python) opens an
//! upload link signed out, in Japanese, picks a file, watches its progress
//! bar finish, and the file is in the folder with the same bytes; after the
//! link is revoked the page says so and offers no upload. The page runs
//! under its strict Content-Security-Policy: the browser reports no
//! violation. Screenshots go to `$KURA_TEST_ARTIFACTS` (default: the system
//! temporary directory, `kura-artifacts/`).
//!
//! Without Chromium, chromedriver or Selenium on the machine the test prints
//! `SKIPPED` and passes (the browser harness installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Server, ACCESS_KEY, SECRET_KEY};

const SCRIPT: &str = r#"
import sys, json
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

mode, url, path, shots = sys.argv[1:5]
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
          "--window-size=390,844", "--lang=ja"]:
    opts.add_argument(a)
opts.add_experimental_option("prefs", {"intl.accept_languages": "ja,en"})
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
js = d.execute_script
try:
    d.get(url)
    wait = WebDriverWait(d, 30)
    if mode == "upload":
        wait.until(lambda d: js("return document.getElementById('form').hidden") is False)
        assert js("return document.documentElement.lang") == "ja"
        assert d.find_element(By.TAG_NAME, "h1").text == "ファイルを送る", d.find_element(By.TAG_NAME, "h1").text
        assert d.find_element(By.ID, "files-left").text == "2"
        assert d.find_element(By.ID, "label").text == "請求書をお送りください"
        assert js("return document.querySelector('label[for=file]') !== null")
        d.save_screenshot(shots + "/upload-page-ready.png")
        d.find_element(By.ID, "file").send_keys(path)
        wait.until(lambda d: js("const n = document.querySelector('#list li div:last-child');"
                                "return n && n.className === 'done'"))
        bar = js("const b = document.querySelector('#list progress'); return [b.value, b.max]")
        assert bar[0] == bar[1] and bar[1] > 0, bar
        assert d.find_element(By.ID, "files-left").text == "1"
        d.save_screenshot(shots + "/upload-page-sent.png")
    else:
        wait.until(lambda d: "error" in d.find_element(By.ID, "state").get_attribute("class"))
        text = d.find_element(By.ID, "state").text
        assert "取り消" in text, text
        assert js("return document.getElementById('form').hidden") is True
        assert not d.find_element(By.ID, "budget").is_displayed()
        assert not d.find_element(By.ID, "drop").is_displayed()
        d.save_screenshot(shots + "/upload-page-revoked.png")
    csp = [e for e in d.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert not csp, csp
    print("PAGE-OK")
finally:
    d.quit()
"#;

fn browser_available() -> bool {
    Path::new("/usr/bin/chromium").exists()
        && Path::new("/usr/bin/chromedriver").exists()
        && Command::new("python3")
            .args(["-c", "import selenium"])
            .output()
            .is_ok_and(|o| o.status.success())
}

fn share(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .arg("share")
        .args(args)
        .args(["--json", "--endpoint", &server.endpoint])
        .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("kura share");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_page(script: &Path, mode: &str, url: &str, file: &Path, shots: &Path) {
    let out = Command::new("python3")
        .arg(script)
        .args([mode, url])
        .arg(file)
        .arg(shots)
        .env("HOME", script.parent().unwrap())
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("PAGE-OK"),
        "{mode}: {text}"
    );
}

#[tokio::test]
async fn upload_page_in_headless_chromium() {
    if !browser_available() {
        println!("SKIPPED upload page browser test: chromium, chromedriver or selenium missing");
        return;
    }
    let server = Server::start();
    let s3 = server.client().await;
    s3.create_bucket().bucket("inbox").send().await.unwrap();
    let link = share(
        &server,
        &[
            "--upload",
            "inbox/from-browser/",
            "--max-files",
            "2",
            "--label",
            "請求書をお送りください",
        ],
    );
    let url = link["url"].as_str().unwrap().to_string();

    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("page.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let file = tmp.path().join("見積書 2026.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let shots = std::env::var_os("KURA_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("kura-artifacts"));
    std::fs::create_dir_all(&shots).unwrap();

    run_page(&script, "upload", &url, &file, &shots);
    let got = s3
        .get_object()
        .bucket("inbox")
        .key("from-browser/見積書 2026.bin")
        .send()
        .await
        .expect("the file the browser sent");
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().to_vec(),
        data
    );

    share(&server, &["--revoke", link["id"].as_str().unwrap()]);
    run_page(&script, "revoked", &url, &file, &shots);
    println!("screenshots in {}", shots.display());
}
