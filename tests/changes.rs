//! The change feed (`GET /{bucket}?changes`): every committed change exactly
//! once and in order, long polls, cursors across a crash, `since=`,
//! `prefix=`, expired cursors and permissions. Writes go through the AWS SDK;
//! the feed is read with signed raw requests (AWS's own signer).

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use common::raw::Raw;
use common::{admin, eventually, Server};
use serde_json::Value;

/// One GET of the feed; returns the status and the parsed JSON body.
fn feed(addr: &str, bucket: &str, query: &str) -> (u16, Value) {
    feed_as(addr, bucket, query, None)
}

fn feed_as(addr: &str, bucket: &str, query: &str, key: Option<&admin::Key>) -> (u16, Value) {
    let path = if query.is_empty() {
        format!("/{bucket}?changes")
    } else {
        format!("/{bucket}?changes&{query}")
    };
    let mut req = Raw::new("GET", &path);
    if let Some(k) = key {
        req = req.credentials(&k.id, &k.secret);
    }
    let resp = req.send(addr);
    let body = resp.body_text();
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (resp.status, json)
}

/// Every entry from `after` (exclusive) to the end, following `next`.
fn read_all(addr: &str, bucket: &str, after: Option<&str>) -> (Vec<Value>, String) {
    let mut out = Vec::new();
    let mut cursor = after.map(str::to_string);
    loop {
        let q = match &cursor {
            Some(c) => format!("after={c}&max-items=500"),
            None => "max-items=500".to_string(),
        };
        let (status, page) = feed(addr, bucket, &q);
        assert_eq!(status, 200, "{page}");
        out.extend(page["changes"].as_array().unwrap().iter().cloned());
        cursor = Some(page["next"].as_str().unwrap().to_string());
        if !page["more"].as_bool().unwrap() {
            return (out, cursor.unwrap());
        }
    }
}

fn seqs(entries: &[Value]) -> Vec<u64> {
    entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn assert_increasing(seqs: &[u64]) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequences must strictly increase"
    );
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> String {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string()
}

/// Four writers create, update and delete 2,000 times while a reader follows
/// the feed with `after=` cursors and long polls: the reader sees each
/// acknowledged change exactly once, in order, and the state it derives is
/// the final listing (keys, version ids, ETags).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_sees_every_change_once_and_derives_the_listing() {
    const WRITERS: usize = 4;
    const OPS: usize = 500;
    const KEYS: usize = 60;
    let server = Server::start();
    let client = server.client().await;
    client.create_bucket().bucket("feed").send().await.unwrap();
    common::enable_versioning(&client, "feed").await;

    // The reader: long polls with after= until the writers are done and the
    // feed is drained.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (addr, done) = (server.addr.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let q = match &cursor {
                    Some(c) => format!("after={c}&max-items=137&wait=1"),
                    None => "max-items=137&wait=1".to_string(),
                };
                let (status, page) = feed(&addr, "feed", &q);
                assert_eq!(status, 200, "{page}");
                pages += 1;
                let changes = page["changes"].as_array().unwrap();
                seen.extend(changes.iter().cloned());
                cursor = Some(page["next"].as_str().unwrap().to_string());
                if finished && changes.is_empty() && !page["more"].as_bool().unwrap() {
                    return (seen, pages);
                }
            }
        })
    };

    // (key, version id, etag or None for a delete marker), as acknowledged.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (c, acked) = (client.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut x = 0x9E37_79B9_u64 * (w as u64 + 1);
            for i in 0..OPS {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = format!("w{w}/k{:03}", x % KEYS as u64);
                if x.is_multiple_of(5) {
                    let out = c
                        .delete_object()
                        .bucket("feed")
                        .key(&key)
                        .send()
                        .await
                        .unwrap();
                    // Deleting a missing key changes nothing (no marker).
                    if let Some(v) = out.version_id() {
                        acked.lock().unwrap().push((key, v.to_string(), None));
                    }
                } else {
                    let body = format!("{key} {i} {x}");
                    let out = c
                        .put_object()
                        .bucket("feed")
                        .key(&key)
                        .body(ByteStream::from(body.into_bytes()))
                        .send()
                        .await
                        .unwrap();
                    let etag = out.e_tag().unwrap().to_string();
                    let v = out.version_id().unwrap().to_string();
                    acked.lock().unwrap().push((key, v, Some(etag)));
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let (seen, pages) = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();

    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 1_500,
        "most of the 2,000 operations change something"
    );
    assert_increasing(&seqs(&seen));
    assert_eq!(seen.len(), acked.len(), "exactly the acknowledged changes");
    let seen_versions: HashSet<(String, String)> = seen
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["versionId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(seen_versions.len(), seen.len(), "no change twice");
    for (key, v, _) in &acked {
        assert!(
            seen_versions.contains(&(key.clone(), v.clone())),
            "{key} {v} missing"
        );
    }

    // Replay the feed into a state and compare with the final listing.
    let mut state: BTreeMap<String, (String, String)> = BTreeMap::new();
    for e in &seen {
        let key = e["key"].as_str().unwrap().to_string();
        match e["event"].as_str().unwrap() {
            "put" | "metadata" | "restore" => {
                let v = e["versionId"].as_str().unwrap().to_string();
                let etag = e["etag"].as_str().unwrap().to_string();
                assert_eq!(e["url"].as_str().unwrap(), format!("/feed/{key}"));
                state.insert(key, (v, etag));
            }
            "delete" => {
                assert!(e["etag"].is_null(), "a delete marker has no ETag");
                state.remove(&key);
            }
            other => panic!("unexpected event {other}"),
        }
    }
    let mut listed = BTreeMap::new();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let page = client
            .list_object_versions()
            .bucket("feed")
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        for v in page.versions() {
            if v.is_latest() == Some(true) {
                listed.insert(
                    v.key().unwrap().to_string(),
                    (
                        v.version_id().unwrap().to_string(),
                        v.e_tag().unwrap().to_string(),
                    ),
                );
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
    }
    assert!(!listed.is_empty());
    assert_eq!(state, listed, "the feed's state is the bucket's state");
    eprintln!(
        "feed: {} changes from 4 writers, read in {pages} pages",
        seen.len()
    );
}

/// A long poll answers soon after the next commit, and an idle one answers
/// (empty, same cursor) when its wait ends.
#[tokio::test]
async fn a_long_poll_returns_right_after_a_commit() {
    let server = Server::start();
    let client = server.client().await;
    client.create_bucket().bucket("poll").send().await.unwrap();
    common::enable_versioning(&client, "poll").await;
    let (_, cursor) = read_all(&server.addr, "poll", None);

    // Idle: held for the whole wait, then an empty page with the same cursor.
    let started = Instant::now();
    let (status, page) = feed(&server.addr, "poll", &format!("after={cursor}&wait=1"));
    let held = started.elapsed();
    assert_eq!(status, 200);
    assert!(page["changes"].as_array().unwrap().is_empty());
    if common::engines::distributed() {
        // On etcd the horizon every front end publishes moves with time, and
        // the cursor may move over the empty stretch with it.
        let next: u64 = page["next"].as_str().unwrap().parse().unwrap();
        assert!(
            next >= cursor.parse::<u64>().unwrap(),
            "{next} before {cursor}"
        );
    } else {
        assert_eq!(page["next"].as_str().unwrap(), cursor);
    }
    assert!(held >= Duration::from_millis(950), "held {held:?}");
    assert!(held < Duration::from_secs(3), "held {held:?}");

    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let (_, cursor) = read_all(&server.addr, "poll", None);
        let addr = server.addr.clone();
        let poll = std::thread::spawn(move || {
            let started = Instant::now();
            let (status, page) = feed(&addr, "poll", &format!("after={cursor}&wait=30"));
            (status, page, Instant::now(), started.elapsed())
        });
        // Give the poll time to be waiting; whether it is or not, the bound
        // below holds (it would just answer at once).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let key = format!("k{round}");
        let v = put(&client, "poll", &key, b"x").await;
        let acked = Instant::now();
        let (status, page, answered, held) =
            tokio::task::spawn_blocking(move || poll.join().unwrap())
                .await
                .unwrap();
        assert_eq!(status, 200);
        let changes = page["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 1, "{page}");
        assert_eq!(changes[0]["versionId"].as_str().unwrap(), v);
        assert!(
            held >= Duration::from_millis(250),
            "the poll waited ({held:?})"
        );
        let lag = answered.saturating_duration_since(acked);
        worst = worst.max(lag);
    }
    eprintln!("long poll: answered at most {worst:?} after the PUT's 200");
    assert!(worst < Duration::from_millis(500), "worst {worst:?}");
}

/// SIGKILL while four writers run: after the restart, the feed holds every
/// acknowledged change, its sequences keep increasing, and a cursor taken
/// before the crash still resumes exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_survives_sigkill_during_writes() {
    let mut server = Server::start();
    let client = server.client_no_retry().await;
    client.create_bucket().bucket("crash").send().await.unwrap();
    common::enable_versioning(&client, "crash").await;
    for i in 0..20 {
        put(&client, "crash", &format!("before/{i}"), b"x").await;
    }
    let (before, cursor) = read_all(&server.addr, "crash", None);
    assert_eq!(before.len(), 20);

    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (c, acked, count) = (client.clone(), acked.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let key = format!("w{w}/{}", i % 25);
                let r = if i % 4 == 3 {
                    c.delete_object()
                        .bucket("crash")
                        .key(&key)
                        .send()
                        .await
                        .map(|o| o.version_id().map(str::to_string))
                        .map_err(|_| ())
                } else {
                    c.put_object()
                        .bucket("crash")
                        .key(&key)
                        .body(ByteStream::from_static(b"data"))
                        .send()
                        .await
                        .map(|o| o.version_id().map(str::to_string))
                        .map_err(|_| ())
                };
                match r {
                    Ok(Some(v)) => {
                        acked.lock().unwrap().push((key, v));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(None) => {}
                    // The server is gone: stop.
                    Err(()) => return,
                }
            }
        }));
    }
    let c = count.clone();
    eventually(
        "writers acknowledged 300 changes",
        Duration::from_secs(30),
        || c.load(Ordering::SeqCst) >= 300,
    )
    .await;
    server.restart();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // On etcd the killed front end's horizon record holds the feed back
    // until its lease ends (a few seconds); embedded, this holds at once.
    let shown = |all: &[serde_json::Value]| -> HashSet<(String, String)> {
        all.iter()
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_string(),
                    e["versionId"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    eventually(
        "every acknowledged change in the feed",
        Duration::from_secs(20),
        || {
            let (all, _) = read_all(&server.addr, "crash", None);
            let present = shown(&all);
            acked.iter().all(|a| present.contains(a))
        },
    )
    .await;
    let (all, _) = read_all(&server.addr, "crash", None);
    let all_seqs = seqs(&all);
    assert_increasing(&all_seqs);
    let present: HashSet<(String, String)> = all
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["versionId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for a in &acked {
        assert!(
            present.contains(a),
            "acknowledged {a:?} missing after the crash"
        );
    }
    // At most the changes in flight at the kill (4 writers) beyond the acknowledged.
    assert!(all.len() - 20 >= acked.len() && all.len() - 20 <= acked.len() + 4);

    // The old cursor resumes exactly after the first 20.
    let (after, _) = read_all(&server.addr, "crash", Some(&cursor));
    assert_eq!(seqs(&after), all_seqs[20..]);
    // New changes come after everything from before the crash.
    let client = server.client().await;
    let v = put(&client, "crash", "after", b"y").await;
    // On etcd the killed front end's horizon record may still hold a new
    // change back until its lease ends (as above); embedded, at once.
    let mut newer = Vec::new();
    eventually(
        "the change after the restart in the feed",
        Duration::from_secs(20),
        || {
            newer = read_all(&server.addr, "crash", Some(&cursor)).0;
            newer.last().and_then(|e| e["versionId"].as_str()) == Some(v.as_str())
        },
    )
    .await;
    let last = newer.last().unwrap();
    assert_eq!(last["versionId"].as_str().unwrap(), v);
    assert!(last["seq"].as_u64().unwrap() > *all_seqs.last().unwrap());
}

/// `prefix=`, `since=`, every event of one key, and `read` needed.
#[tokio::test]
async fn prefix_since_events_and_permissions() {
    let server = Server::start();
    let client = server.client().await;
    client.create_bucket().bucket("bkt").send().await.unwrap();
    common::enable_versioning(&client, "bkt").await;
    client.create_bucket().bucket("other").send().await.unwrap();
    common::enable_versioning(&client, "other").await;
    put(&client, "bkt", "a/1", b"1").await;
    put(&client, "bkt", "z/1", b"1").await;
    let (first, _) = read_all(&server.addr, "bkt", None);
    assert_eq!(first.len(), 2);
    // Entries are stamped in ms: make sure the next ones are later.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let since = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    put(&client, "bkt", "a/2", b"2").await;
    client
        .copy_object()
        .bucket("bkt")
        .key("a/2")
        .copy_source("bkt/a/2")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .content_type("text/plain")
        .send()
        .await
        .unwrap();
    let v = put(&client, "bkt", "a/3", b"3").await;
    let marker = client
        .delete_object()
        .bucket("bkt")
        .key("a/3")
        .send()
        .await
        .unwrap();
    client
        .delete_object()
        .bucket("bkt")
        .key("a/3")
        .version_id(marker.version_id().unwrap())
        .send()
        .await
        .unwrap();
    put(&client, "other", "a/1", b"elsewhere").await;

    let (status, page) = feed(&server.addr, "bkt", "prefix=a/");
    assert_eq!(status, 200);
    let events: Vec<String> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap(),
                e["key"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            "put a/1",
            "put a/2",
            "metadata a/2",
            "put a/3",
            "delete a/3",
            "delete a/3",
            "restore a/3"
        ]
    );
    let restore = &page["changes"][6];
    assert_eq!(restore["versionId"].as_str().unwrap(), v);
    assert_eq!(restore["size"].as_u64().unwrap(), 1);

    let (status, page) = feed(&server.addr, "bkt", &format!("since={since}"));
    assert_eq!(status, 200);
    let changes = page["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 6, "{page}");
    assert_eq!(changes[0]["key"].as_str().unwrap(), "a/2");
    let (status, _) = feed(&server.addr, "bkt", "since=yesterday");
    assert_eq!(status, 400);
    let (status, page) = feed(&server.addr, "bkt", "max-items=2");
    assert_eq!(page["changes"].as_array().unwrap().len(), 2);
    assert!(page["more"].as_bool().unwrap());
    assert_eq!(status, 200);
    let (status, _) = feed(&server.addr, "missing", "");
    assert_eq!(status, 404);

    // read on the bucket is needed; write alone or another bucket is not enough.
    let reader = admin::create_key(&server, "reader", &["bkt:r"], &[]);
    let writer = admin::create_key(&server, "writer", &["bkt:w", "other:r"], &[]);
    let (status, page) = feed_as(&server.addr, "bkt", "", Some(&reader));
    assert_eq!(status, 200);
    assert_eq!(page["changes"].as_array().unwrap().len(), 8);
    let (status, page) = feed_as(&server.addr, "bkt", "", Some(&writer));
    assert_eq!(status, 403, "{page}");
    let (status, page) = feed_as(&server.addr, "other", "", Some(&writer));
    assert_eq!(status, 200);
    assert_eq!(page["changes"].as_array().unwrap().len(), 1);
}

/// Entries older than the bucket's retention are trimmed; a cursor from
/// before answers 410 with a cursor to restart from after listing.
#[tokio::test]
async fn an_expired_cursor_answers_410_with_a_restart_cursor() {
    let server = Server::start_with(&["--retention", "1s"]);
    let client = server.client().await;
    client.create_bucket().bucket("short").send().await.unwrap();
    common::enable_versioning(&client, "short").await;
    put(&client, "short", "k", b"1").await;
    let (_, old) = read_all(&server.addr, "short", None);
    put(&client, "short", "k", b"2").await;
    let addr = server.addr.clone();
    let expired = Arc::new(Mutex::new(None));
    let e = expired.clone();
    eventually(
        "the log is trimmed past the old cursor",
        Duration::from_secs(10),
        || {
            let (status, body) = feed(&addr, "short", &format!("after={old}"));
            if status == 410 {
                *e.lock().unwrap() = Some(body);
                return true;
            }
            assert_eq!(status, 200);
            false
        },
    )
    .await;
    let body = expired.lock().unwrap().clone().unwrap();
    assert_eq!(body["error"].as_str().unwrap(), "CursorExpired");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("List the bucket"));
    let restart = body["cursor"].as_str().unwrap().to_string();
    // since= before the trimmed entries is expired too.
    let (status, _) = feed(&server.addr, "short", "since=2020-01-01T00:00:00Z");
    assert_eq!(status, 410);
    // The restart cursor works and sees what comes after it.
    let v = put(&client, "short", "k", b"3").await;
    let (status, page) = feed(&server.addr, "short", &format!("after={restart}"));
    assert_eq!(status, 200);
    // (Versions replaced a second ago may be purged meanwhile: `purge` entries.)
    let puts: Vec<&Value> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["event"] == "put")
        .collect();
    assert_eq!(puts.len(), 1, "{page}");
    assert_eq!(puts[0]["versionId"].as_str().unwrap(), v);
}

fn kura_changes(server: &Server, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kura"));
    cmd.arg("changes")
        .arg("--endpoint")
        .arg(&server.endpoint)
        .args(args)
        .env("KURA_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", common::SECRET_KEY);
    cmd
}

/// `kura changes` prints the feed one line a change, resumes with
/// `--after`, and `--follow` prints new changes as they commit.
#[tokio::test]
async fn the_changes_command_prints_and_follows() {
    use std::io::{BufRead, BufReader};
    let server = Server::start();
    let client = server.client().await;
    client.create_bucket().bucket("cli").send().await.unwrap();
    common::enable_versioning(&client, "cli").await;
    let v1 = put(&client, "cli", "one", b"1").await;
    put(&client, "cli", "dir/two", b"22").await;

    let out = kura_changes(&server, &["cli", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["versionId"].as_str().unwrap(), v1);
    assert_eq!(lines[1]["key"].as_str().unwrap(), "dir/two");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let cursor = stderr
        .lines()
        .find_map(|l| l.strip_prefix("cursor: "))
        .expect("the cursor on stderr")
        .to_string();

    let out = kura_changes(&server, &["cli", "--prefix", "dir/"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(
        text.contains(" put ") && text.contains(" dir/two "),
        "{text}"
    );

    let mut follow = kura_changes(&server, &["cli", "--follow", "--after", &cursor])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let v3 = put(&client, "cli", "three", b"333").await;
    let read = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let line = tokio::time::timeout(Duration::from_secs(20), read).await;
    let _ = follow.kill();
    let _ = follow.wait();
    let line = line.expect("--follow printed the new change").unwrap();
    assert!(line.contains(" three ") && line.contains(&v3), "{line}");
}

/// The feed works with a presigned URL (SigV4 query), e.g. for a plain
/// HTTP client that cannot sign.
#[tokio::test]
async fn a_presigned_feed_url_works() {
    use aws_sigv4::http_request::{
        sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode,
    };
    use aws_sigv4::sign::v4;
    let server = Server::start();
    let client = server.client().await;
    client.create_bucket().bucket("pre").send().await.unwrap();
    common::enable_versioning(&client, "pre").await;
    let v = put(&client, "pre", "k", b"x").await;

    let identity = aws_credential_types::Credentials::new(
        common::ACCESS_KEY,
        common::SECRET_KEY,
        None,
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(300));
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let path = "/pre?changes=&max-items=10";
    let url = format!("http://{}{path}", server.addr);
    let host = [("host", server.addr.as_str())];
    let signable =
        SignableRequest::new("GET", &url, host.into_iter(), SignableBody::UnsignedPayload).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (_, query) = instructions.into_parts();
    let mut full = path.to_string();
    for (k, v) in query {
        full.push_str(&format!(
            "&{k}={}",
            percent_encoding::utf8_percent_encode(&v, percent_encoding::NON_ALPHANUMERIC)
        ));
    }
    let mut req = Raw::new("GET", &full);
    req.signed = false;
    let resp = req.send(&server.addr);
    assert_eq!(resp.status, 200, "{}", resp.body_text());
    let page: Value = serde_json::from_str(&resp.body_text()).unwrap();
    assert_eq!(page["changes"][0]["versionId"].as_str().unwrap(), v);
}

/// What the test's webhook receiver got: (x-kura-seq, x-kura-signature, body).
type Received = Arc<Mutex<Vec<(u64, String, Vec<u8>)>>>;

/// A small HTTP receiver: answers 500 to its first `fail_first` requests,
/// and after `down_after` successes stops listening for `down_for`.
fn receiver(fail_first: usize, down_after: usize, down_for: Duration) -> (String, Received) {
    use std::io::{BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        let mut listener = Some(listener);
        let (mut requests, mut ok) = (0, 0);
        loop {
            let Ok((stream, _)) = listener.as_ref().unwrap().accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let Some(delivery) = common::webhook::read_delivery(&mut reader) else {
                continue;
            };
            requests += 1;
            let status = if requests <= fail_first {
                "500 Internal Server Error"
            } else {
                g.lock()
                    .unwrap()
                    .push((delivery.seq, delivery.signature, delivery.body));
                ok += 1;
                "200 OK"
            };
            let _ = reader.get_mut().write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
            if ok == down_after {
                // Down: nothing listens (connections are refused) for a while.
                drop(listener.take());
                std::thread::sleep(down_for);
                listener = Some(std::net::TcpListener::bind(addr).unwrap());
            }
        }
    });
    (format!("http://{addr}/hook"), got)
}

/// A webhook receiver that fails its first requests and is down for a while
/// still gets every entry, in order, signed; delivery resumes after a
/// SIGKILL of kura from the stored cursor; the lag shows in `bucket show`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_deliver_every_entry_in_order_signed() {
    use hmac::{Hmac, Mac};
    let mut server = Server::start();
    let client = server.client().await;
    client.create_bucket().bucket("hook").send().await.unwrap();
    common::enable_versioning(&client, "hook").await;
    put(
        &client,
        "hook",
        "before",
        b"not delivered: before registration",
    )
    .await;
    let (url, got) = receiver(3, 4, Duration::from_millis(1500));
    let hook = admin::json(&server, &["bucket", "notify", "hook", "--url", &url]);
    let secret = hook["secret"].as_str().unwrap().to_string();
    let start = hook["cursor"].as_str().unwrap().to_string();

    for i in 0..8 {
        put(
            &client,
            "hook",
            &format!("k{i}"),
            format!("v{i}").as_bytes(),
        )
        .await;
    }
    client
        .delete_object()
        .bucket("hook")
        .key("k0")
        .send()
        .await
        .unwrap();
    let expect = |addr: &str| read_all(addr, "hook", Some(&start)).0;
    let wanted = expect(&server.addr);
    assert_eq!(wanted.len(), 9);
    let g = got.clone();
    eventually("every entry delivered", Duration::from_secs(20), || {
        g.lock().unwrap().len() >= 9
    })
    .await;
    // The cursor is stored just after the receiver answers: a kill before
    // that would rightly deliver the last entry again (at least once).
    let last = wanted[8]["seq"].as_u64().unwrap();
    eventually("the cursor stored", Duration::from_secs(20), || {
        let shown = admin::json(&server, &["bucket", "show", "hook"]);
        let cursor = shown["webhooks"][0]["cursor"]
            .as_str()
            .unwrap()
            .parse::<u64>();
        cursor.unwrap() >= last
    })
    .await;

    // SIGKILL, restart: delivery resumes from the stored cursor.
    server.restart();
    let client = server.client().await;
    put(&client, "hook", "after-restart", b"x").await;
    // On etcd the killed front end's horizon record holds the feed back
    // until its lease ends (a few seconds): wait for the entry to show.
    eventually(
        "the entry after the restart in the feed",
        Duration::from_secs(20),
        || expect(&server.addr).len() >= 10,
    )
    .await;
    let wanted = expect(&server.addr);
    assert_eq!(wanted.len(), 10);
    let g = got.clone();
    eventually(
        "the entry after the restart delivered",
        Duration::from_secs(20),
        || g.lock().unwrap().len() >= 10,
    )
    .await;

    let got = got.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        10,
        "each entry once (cursor synced after each delivery)"
    );
    for ((seq, sig, body), want) in got.iter().zip(&wanted) {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        assert_eq!(
            *sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(*seq, want["seq"].as_u64().unwrap());
        assert_eq!(v["seq"], want["seq"]);
        assert_eq!(v["versionId"], want["versionId"]);
        assert_eq!(v["event"], want["event"]);
        assert_eq!(v["bucket"].as_str().unwrap(), "hook");
    }
    let shown = admin::json(&server, &["bucket", "show", "hook"]);
    let w = &shown["webhooks"][0];
    assert_eq!(w["lag_seconds"].as_u64().unwrap(), 0);
    let cursor: u64 = w["cursor"].as_str().unwrap().parse().unwrap();
    let last = wanted[9]["seq"].as_u64().unwrap();
    if common::engines::distributed() {
        // On etcd the cursor may move on over the empty stretch after the
        // last entry, with the horizon every front end publishes.
        assert!(cursor >= last, "cursor {cursor} before {last}");
    } else {
        assert_eq!(cursor, last);
    }
    assert!(w.get("secret").is_none(), "the secret is shown only once");
}

fn replicator(source: &Server, target: &Server, state: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
        .arg("replicate")
        .arg("--source")
        .arg(format!("{}/src", source.endpoint))
        .arg("--target")
        .arg(format!("s3://dst@{}", target.endpoint))
        .arg("--state")
        .arg(state)
        .env("KURA_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// key → (ETag, content-type, user metadata) of every current object.
async fn snapshot(
    c: &aws_sdk_s3::Client,
    bucket: &str,
) -> BTreeMap<String, (String, Option<String>, Vec<(String, String)>)> {
    let mut out = BTreeMap::new();
    let mut pages = c.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            let key = o.key().unwrap().to_string();
            // A HEAD racing a write of the key is refused (409): ask again.
            let mut tries = 0;
            let head = loop {
                match c.head_object().bucket(bucket).key(&key).send().await {
                    Ok(h) => break Some(h),
                    Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                        break None
                    }
                    Err(e) => {
                        tries += 1;
                        assert!(tries < 50, "HEAD {key}: {e:?}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };
            let Some(head) = head else { continue };
            let mut meta: Vec<(String, String)> = head
                .metadata()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            meta.sort();
            out.insert(
                key,
                (
                    o.e_tag().unwrap().to_string(),
                    head.content_type().map(str::to_string),
                    meta,
                ),
            );
        }
    }
    out
}

/// `kura replicate` from one kura to another under concurrent writes, the
/// replicator SIGKILLed and restarted twice: the target ends equal to the
/// source (keys, bytes' MD5 = ETag, content type, user metadata), deletes included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replication_converges_across_replicator_kills() {
    let source = Server::start();
    let target = Server::start();
    let (s, t) = (source.client().await, target.client().await);
    s.create_bucket().bucket("src").send().await.unwrap();
    common::enable_versioning(&s, "src").await;
    t.create_bucket().bucket("dst").send().await.unwrap();
    common::enable_versioning(&t, "dst").await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("replicate.state");

    let mut tasks = Vec::new();
    for w in 0..2 {
        let c = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..120u64 {
                let key = format!("w{w}/{}", (i * 7) % 30);
                if i % 6 == 5 {
                    c.delete_object()
                        .bucket("src")
                        .key(&key)
                        .send()
                        .await
                        .unwrap();
                } else {
                    let body = common::pattern(100 + (i as usize * 997) % 20_000, i + w);
                    c.put_object()
                        .bucket("src")
                        .key(&key)
                        .content_type(if i % 2 == 0 {
                            "text/plain"
                        } else {
                            "image/png"
                        })
                        .metadata("round", i.to_string())
                        .body(ByteStream::from(body))
                        .send()
                        .await
                        .unwrap();
                }
            }
        }));
    }
    let mut child = replicator(&source, &target, &state);
    for kill in 0..2 {
        // Kill it once it has made progress (its cursor moved).
        let before = std::fs::read_to_string(&state).unwrap_or_default();
        let st = state.clone();
        eventually("the replicator advanced", Duration::from_secs(20), || {
            std::fs::read_to_string(&st).unwrap_or_default() != before
        })
        .await;
        child.kill().unwrap();
        child.wait().unwrap();
        eprintln!("replicator killed ({kill})");
        child = replicator(&source, &target, &state);
    }
    for task in tasks {
        task.await.unwrap();
    }
    let want = snapshot(&s, "src").await;
    assert!(want.len() > 20);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = snapshot(&t, "dst").await;
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "target never matched: {} vs {} keys",
            got.len(),
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Bytes: one object's content, end to end.
    let (key, _) = want.iter().next().unwrap();
    let a = s.get_object().bucket("src").key(key).send().await.unwrap();
    let b = t.get_object().bucket("dst").key(key).send().await.unwrap();
    assert_eq!(
        a.body.collect().await.unwrap().into_bytes(),
        b.body.collect().await.unwrap().into_bytes()
    );
    let _ = child.kill();
    let _ = child.wait();
}
