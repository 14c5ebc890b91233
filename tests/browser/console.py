#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium (Debian's chromium
and chromium-driver) driven over WebDriver by selenium. Started by
tests/browser.rs, which runs the kura servers and checks the audit file;
see there for the scenarios. Every step waits on a condition in the page
(WebDriverWait), never on a fixed sleep, except where the scenario is the
passing of time (a session's lifetime).

Environment: KURA_ENDPOINT (main server), KURA_SHORT_ENDPOINT (a server
whose sessions last KURA_SHORT_LIFETIME seconds), KURA_ROOT_KEY,
KURA_ROOT_SECRET, KURA_SCREENSHOTS (directory), KURA_WORK (scratch dir).
"""

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ENDPOINT = os.environ["KURA_ENDPOINT"]
SHORT = os.environ["KURA_SHORT_ENDPOINT"]
SHORT_LIFETIME = float(os.environ["KURA_SHORT_LIFETIME"])
ROOT_KEY = os.environ["KURA_ROOT_KEY"]
ROOT_SECRET = os.environ["KURA_ROOT_SECRET"]
SHOTS = os.environ["KURA_SCREENSHOTS"]
WORK = os.environ["KURA_WORK"]
CONSOLE = "/_kura/console/"
BUCKET = "exchange"
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.2f}s] {msg}", flush=True)


def s3(key=ROOT_KEY, secret=ROOT_SECRET):
    return boto3.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=key, aws_secret_access_key=secret,
        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}),
    )


def browser(lang="en-US", width=1280, height=900, downloads=None):
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("KURA_CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},{height}", f"--lang={lang}", "--no-first-run"):
        opts.add_argument(a)
    prefs = {"intl.accept_languages": lang}
    if downloads:
        prefs.update({"download.default_directory": downloads, "download.prompt_for_download": False})
    opts.add_experimental_option("prefs", prefs)
    d = webdriver.Chrome(service=Service(os.environ.get("KURA_CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
    d.set_script_timeout(30)
    return d


class Page:
    def __init__(self, driver, base):
        self.d = driver
        self.base = base

    def wait(self, cond, timeout=20, what="condition"):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(cond)
        except TimeoutException:
            self.shot("failure")
            raise AssertionError(f"timed out waiting for {what}")

    def find(self, css, timeout=20):
        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout, css)

    def click(self, css):
        self.wait(EC.element_to_be_clickable((By.CSS_SELECTOR, css)), what=css).click()

    def xpath(self, xp):
        return self.wait(EC.element_to_be_clickable((By.XPATH, xp)), what=xp)

    def shot(self, name):
        path = os.path.join(SHOTS, f"{name}.png")
        self.d.save_screenshot(path)
        log(f"screenshot {path}")

    def js(self, script, *args):
        return self.d.execute_async_script(script, *args)

    def fetch(self, method, path, headers=None, body=None):
        """A request from the page (same origin, the session cookie goes with it)."""
        return self.js(
            "const [m, p, h, b, done] = arguments;"
            "fetch(p, {method: m, headers: h || {}, body: b, credentials: 'same-origin'})"
            ".then(async r => done({status: r.status, text: await r.text()}), e => done({status: -1, text: String(e)}));",
            method, path, headers, body)

    def open(self):
        self.d.get(self.base + CONSOLE)

    def sign_in(self, key, secret):
        self.find("#access-key").clear()
        self.find("#access-key").send_keys(key)
        self.find("#secret-key").clear()
        self.find("#secret-key").send_keys(secret)
        self.click("#signin-form button[type=submit]")
        self.find("#nav")

    def sign_out(self):
        self.click("#signout")
        self.find("#signin-view")

    def row(self, key, timeout=20):
        return self.find(f'.listing tr[data-key="{key}"]', timeout)

    def no_row(self, key):
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, f'.listing tr[data-key="{key}"]'), what=f"{key} gone")

    def open_bucket(self, name):
        self.click(f'.bucket-list button[data-bucket="{name}"]')
        self.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".crumbs [aria-current]").text == name, what="bucket open")

    def open_folder(self, name):
        """Opens the folder `prefix` shown in the listing."""
        self.click(f'.listing tr.folder button[data-prefix="{name}"]')
        self.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".crumbs [aria-current]").text == name.rstrip("/").split("/")[-1], what=f"folder {name}")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def seed():
    """The bucket the scenarios browse: a folder of 150 files (two pages),
    the partner's folder and folders it must not see."""
    from concurrent.futures import ThreadPoolExecutor
    for endpoint in (ENDPOINT, SHORT):
        c = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ROOT_KEY,
                         aws_secret_access_key=ROOT_SECRET, region_name="us-east-1",
                         config=Config(s3={"addressing_style": "path"}))
        c.create_bucket(Bucket=BUCKET)
    c = s3()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: c.put_object(Bucket=BUCKET, Key=f"many/file-{i:04}.txt", Body=b"x" * i), range(150)))
    c.put_object(Bucket=BUCKET, Key="acme/offer.pdf", Body=b"%PDF-1.4 offer")
    c.put_object(Bucket=BUCKET, Key="inbox/readme.txt", Body=b"read me", Tagging="kind=note")
    c.put_object(Bucket=BUCKET, Key="other/secret.txt", Body=b"not for acme")
    with open(os.path.join(WORK, "partner.txt"), "wb") as f:
        f.write(b"from the partner")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    seed()
    downloads = os.path.join(WORK, "downloads")
    os.makedirs(downloads, exist_ok=True)
    big = os.path.join(WORK, "big-20MiB.bin")
    with open(big, "wb") as f:
        # 20 MiB that no two parts share, so a part sent twice or out of order shows.
        for i in range(20):
            f.write(hashlib.sha256(str(i).encode()).digest() * (1 << 15))
    root = s3()

    d = browser(downloads=downloads)
    p = Page(d, ENDPOINT)
    try:
        # --- Sign in (a wrong secret first) ---------------------------------
        p.open()
        p.find("#signin-view")
        assert d.find_element(By.CSS_SELECTOR, "label[for=access-key]").text == "Access key ID"
        p.shot("01-sign-in")
        p.find("#access-key").send_keys(ROOT_KEY)
        p.find("#secret-key").send_keys("wrong")
        p.click("#signin-form button[type=submit]")
        p.wait(lambda d: "wrong" in d.find_element(By.ID, "signin-error").text, what="sign-in error")
        p.sign_in(ROOT_KEY, ROOT_SECRET)
        cookie = d.get_cookie("kura_console")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert p.js("arguments[0](document.cookie)") == "", "the session cookie is not readable by script"
        log("signed in")

        # --- Browse: buckets, breadcrumbs, paging ---------------------------
        p.open_bucket(BUCKET)
        p.open_folder("many/")
        rows = lambda d: len(d.find_elements(By.CSS_SELECTOR, ".listing tr.file"))
        p.wait(lambda d: rows(d) == 100, what="first page of 100")
        p.click("button.more")
        p.wait(lambda d: rows(d) == 150, what="second page")
        assert not d.find_element(By.CSS_SELECTOR, "button.more").is_displayed()
        p.xpath('//ol[@class="crumbs"]//button[normalize-space()="exchange"]').click()
        p.find('.listing tr.folder')
        p.shot("02-files")
        log("browsed with paging")

        # --- Upload 20 MiB (multipart) with progress; a dropped file --------
        p.open_folder("inbox/")
        d.execute_script(
            "window.__progress = [];"
            "new MutationObserver(ms => { for (const m of ms) if (m.target.localName === 'progress')"
            " window.__progress.push([Number(m.target.getAttribute('value')), Number(m.target.max)]); })"
            ".observe(document.querySelector('.uploads'), {subtree: true, attributes: true, attributeFilter: ['value']});")
        d.find_element(By.ID, "file-input").send_keys(big)
        p.wait(lambda d: "Done" in d.find_element(By.CSS_SELECTOR, ".upload .pct").text, timeout=60, what="upload done")
        seen = d.execute_script("return window.__progress")
        size = os.path.getsize(big)
        middle = [v for v, m in seen if 0 < v < m]
        assert middle, f"no progress between 0 and the end was shown: {seen}"
        assert seen[-1] == [size, size], seen[-1]
        p.row("inbox/big-20MiB.bin")
        p.shot("03-upload")
        head = root.head_object(Bucket=BUCKET, Key="inbox/big-20MiB.bin")
        assert head["ContentLength"] == size and "-3" in head["ETag"], head  # 3 parts of 8 MiB
        log(f"uploaded 20 MiB, {len(seen)} progress updates")
        # A drop of two files, as a desktop's drag and drop delivers them.
        d.execute_script(
            "const dt = new DataTransfer();"
            "dt.items.add(new File(['dropped one'], 'drop-1.txt', {type: 'text/plain'}));"
            "dt.items.add(new File(['dropped two'], 'drop-2.txt', {type: 'text/plain'}));"
            "document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));")
        p.row("inbox/drop-1.txt")
        p.row("inbox/drop-2.txt")
        assert root.get_object(Bucket=BUCKET, Key="inbox/drop-2.txt")["Body"].read() == b"dropped two"

        # --- Download and compare bytes -------------------------------------
        p.row("inbox/big-20MiB.bin").find_element(By.LINK_TEXT, "Download").click()
        target = os.path.join(downloads, "big-20MiB.bin")
        p.wait(lambda d: os.path.exists(target) and os.path.getsize(target) == size, timeout=60, what="download")
        assert sha256(target) == sha256(big), "downloaded bytes differ"
        log("downloaded the same bytes")

        # --- Delete to the trash, restore -----------------------------------
        p.row("inbox/drop-1.txt").find_element(By.CSS_SELECTOR, "button.danger").click()
        p.wait(EC.alert_is_present(), what="confirm")
        d.switch_to.alert.accept()
        p.no_row("inbox/drop-1.txt")
        try:
            root.head_object(Bucket=BUCKET, Key="inbox/drop-1.txt")
            raise AssertionError("deleted file still current")
        except root.exceptions.ClientError:
            pass
        p.click(".trash summary")
        d.execute_script("arguments[0].scrollIntoView()", p.find('.trash tr[data-key="inbox/drop-1.txt"]'))
        p.shot("04-trash")
        p.find('.trash tr[data-key="inbox/drop-1.txt"] button').click()
        p.row("inbox/drop-1.txt")
        assert root.get_object(Bucket=BUCKET, Key="inbox/drop-1.txt")["Body"].read() == b"dropped one"
        log("deleted and restored")

        # --- Details, publish, the link signed out --------------------------
        p.row("inbox/drop-2.txt").find_element(By.CSS_SELECTOR, "button.link").click()
        p.find("dialog.details h2")
        p.find("#tag-edit").send_keys("kind=offer\nfrom=acme")
        p.click(".tag-edit button")
        p.wait(lambda d: "offer" in d.find_element(By.CSS_SELECTOR, "dialog.details dl:nth-of-type(2)").text, what="tags shown")
        tags = root.get_object_tagging(Bucket=BUCKET, Key="inbox/drop-2.txt")["TagSet"]
        assert sorted((t["Key"], t["Value"]) for t in tags) == [("from", "acme"), ("kind", "offer")], tags
        p.click("#publish-toggle")
        link = p.find("#public-link").get_attribute("value")
        assert "/p/" in link, link
        p.shot("05-details")
        p.click("#details-close")
        p.sign_out()
        got = p.fetch("GET", link)
        assert got == {"status": 200, "text": "dropped two"}, got
        denied = p.fetch("GET", CONSOLE + "s3/exchange/inbox/drop-2.txt")
        assert denied["status"] == 401, denied
        log("published; the link works signed out, the console does not")

        # --- CSRF: a change without the token is refused --------------------
        p.sign_in(ROOT_KEY, ROOT_SECRET)
        for headers in (None, {"x-kura-csrf": "0" * 64}):
            r = p.fetch("PUT", CONSOLE + "s3/exchange/inbox/forged.txt", headers, "forged")
            assert r["status"] == 403 and "CSRF" in r["text"], r
        r = p.fetch("DELETE", CONSOLE + "api/session")
        assert r["status"] == 403, r
        try:
            root.head_object(Bucket=BUCKET, Key="inbox/forged.txt")
            raise AssertionError("a request without the CSRF token wrote")
        except root.exceptions.ClientError:
            pass
        # A cross-site page cannot read the token, but the page itself can: the check is the token.
        log("CSRF refused")

        # --- Share links: a download link, an upload link used signed out, revoked
        p.open_bucket(BUCKET)
        p.open_folder("inbox/")
        p.row("inbox/drop-2.txt").find_element(By.CSS_SELECTOR, "button.link").click()
        p.click("#download-link")
        got = urllib.request.urlopen(p.find("#link-url").get_attribute("value")).read()
        assert got == b"dropped two", got
        p.click("#details-close")
        p.click("#upload-link")
        days = p.find("#link-days")
        days.clear()
        days.send_keys("1")
        p.find("#link-max-files").send_keys("2")
        p.click("#link-create")
        url = p.find("#link-url").get_attribute("value")
        assert "/_kura/upload/" in url, url
        p.shot("06-upload-link")
        p.click("#details-close")
        via = os.path.join(WORK, "via-link.txt")
        with open(via, "wb") as f:
            f.write(b"sent through an upload link")
        anon = browser()  # no session: someone without an account
        try:
            anon.get(url)
            WebDriverWait(anon, 30).until(lambda d: d.execute_script("return document.getElementById('form').hidden") is False)
            anon.find_element(By.ID, "file").send_keys(via)
            WebDriverWait(anon, 30).until(lambda d: d.execute_script(
                "const n = document.querySelector('#list li div:last-child'); return n && n.className === 'done'"))
        finally:
            anon.quit()
        assert root.get_object(Bucket=BUCKET, Key="inbox/via-link.txt")["Body"].read() == b"sent through an upload link"
        p.click("#links summary")
        upload_row = "//details[@id='links']//tr[td[1]='upload']"
        p.xpath(upload_row + "//button").click()
        states = ("return [...document.querySelectorAll('#links tbody tr')]"
                  ".filter(r => r.cells[0].textContent === 'upload').map(r => r.cells[3].textContent)")
        p.wait(lambda d: d.execute_script(states) == ["revoked"], what="upload link revoked")
        p.shot("07-links")
        try:
            urllib.request.urlopen(urllib.request.Request(
                url, method="POST", data=b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"late.txt\"\r\n\r\nlate\r\n--x--\r\n",
                headers={"content-type": "multipart/form-data; boundary=x"}))
            raise AssertionError("a revoked upload link took a file")
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            assert e.code == 403 and "LinkRevoked" in body, (e.code, body)
        # A fresh visit moves root's "changes since the last visit" past the link's upload.
        d.refresh()
        p.open_bucket(BUCKET)
        p.find(".changes details")
        log("share links made, used signed out and revoked from the console")

        # --- Operator: a partner key limited to one folder ------------------
        p.click("#nav-operator")
        p.find("#key-name").send_keys("acme partner")
        p.find("#key-perms").send_keys("exchange/acme/:rw")
        p.find("#key-ips").send_keys("127.0.0.1/32")
        p.click(".create-key button[type=submit]")
        key_id = p.find("#new-key-id").text
        secret = p.find("#new-key-secret").text
        p.find(f'tr[data-key-id="{key_id}"]')
        p.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".audit tbody tr"), what="audit rows")
        p.shot("08-operator")
        log(f"operator created {key_id}")
        p.sign_out()
        p.sign_in(key_id, secret)
        p.open_bucket(BUCKET)
        folders = [e.get_attribute("data-prefix") for e in d.find_elements(By.CSS_SELECTOR, ".listing tr.folder button")]
        assert folders == ["acme/"], folders
        p.open_folder("acme/")
        p.row("acme/offer.pdf")
        assert not d.find_elements(By.ID, "nav-operator") or not d.find_element(By.ID, "nav-operator").is_displayed()
        # The gateway refuses what the key may not do, as S3 would.
        r = p.fetch("GET", CONSOLE + "s3/exchange?list-type=2&prefix=inbox/")
        assert r["status"] == 403 and "AccessDenied" in r["text"], r
        r = p.fetch("GET", CONSOLE + "admin/v1/keys")
        assert r["status"] == 403, r
        d.find_element(By.ID, "file-input").send_keys(os.path.join(WORK, "partner.txt"))
        p.row("acme/partner.txt")
        p.shot("09-partner")
        log("partner sees only its folder")
        p.sign_out()

        # --- A phone-sized window -------------------------------------------
        d.set_window_size(390, 844)
        p.sign_in(ROOT_KEY, ROOT_SECRET)
        p.open_bucket(BUCKET)
        # What changed since root last opened the bucket: the partner's upload, and only that.
        p.wait(lambda d: "acme/partner.txt" in d.find_element(By.CSS_SELECTOR, ".changes").text, what="changes since the last visit")
        changes = d.find_elements(By.CSS_SELECTOR, ".changes li")
        assert [c.text.split()[:2] for c in changes] == [["put", "acme/partner.txt"]], [c.text for c in changes]
        p.open_folder("inbox/")
        p.row("inbox/big-20MiB.bin")
        width = d.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
        p.shot("10-phone")
    finally:
        d.quit()

    # --- Japanese, and a session past its lifetime (another server) -------
    d = browser(lang="ja")
    p = Page(d, SHORT)
    try:
        p.open()
        p.find("#signin-view")
        assert d.find_element(By.CSS_SELECTOR, "label[for=access-key]").text == "アクセスキー ID"
        assert d.execute_script("return document.documentElement.lang") == "ja"
        p.sign_in(ROOT_KEY, ROOT_SECRET)
        signed_in = time.monotonic()
        session_id = d.get_cookie("kura_console")["value"]
        p.open_bucket(BUCKET)
        p.shot("11-japanese")
        # The lifetime is absolute: being busy does not extend it.
        time.sleep(max(0.0, SHORT_LIFETIME + 0.5 - (time.monotonic() - signed_in)))
        # The browser drops the cookie at its Max-Age; the server refuses it anyway.
        r = p.fetch("GET", CONSOLE + "api/session")
        assert r["status"] == 401, r
        req = urllib.request.Request(SHORT + CONSOLE + "api/session",
                                     headers={"cookie": f"kura_console={session_id}"})
        try:
            urllib.request.urlopen(req)
            raise AssertionError("an expired session was accepted")
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            assert e.code == 401 and "expired" in body, (e.code, body)
        d.refresh()
        p.find("#signin-view")
        log("expired session refused")
        # Guessing: ten wrong secrets, then even the right one is refused for a while.
        codes = []
        for i in range(11):
            r = p.fetch("POST", CONSOLE + "api/session", {"content-type": "application/json"},
                        json.dumps({"accessKeyId": ROOT_KEY, "secretAccessKey": f"guess{i}"}))
            codes.append(r["status"])
        assert codes == [403] * 10 + [429], codes
        r = p.fetch("POST", CONSOLE + "api/session", {"content-type": "application/json"},
                    json.dumps({"accessKeyId": ROOT_KEY, "secretAccessKey": ROOT_SECRET}))
        assert r["status"] == 429, r
        log("sign-in rate limited")
    finally:
        d.quit()
    log("all console scenarios passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
