//! Model-checked history: concurrent writers (overwrites, deletes, restores)
//! and readers drive a few keys of a versioned bucket on the real server,
//! whose one-second retention purges replaced versions while they run;
//! every operation's invocation and answer are recorded, and the history is
//! checked against kura's rules:
//!
//! - the change feed gives the commit order of the writes; every write that
//!   succeeded appears in it once, every write refused with 409 not at all,
//!   and the order agrees with what the clients saw (a write that answered
//!   before another was sent is ordered first); a purge only ever removes a
//!   version that is no longer current;
//! - a read returns exactly one version, whole (each version's bytes are a
//!   function of its id, so a mix of two is caught), and that version was
//!   the current one at some moment while the read ran; a 404 likewise;
//! - after a restart each key's current version and its version list equal
//!   the model's.
//!
//! `KURA_HISTORY_SEED` replays a run; `KURA_HISTORY_OPS` sets how many
//! writes the run makes (default 800; `scripts/history.sh` runs long ones).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::{self, raw::Raw, Server};

const BUCKET: &str = "history";
const KEYS: [&str; 3] = ["h/a", "h/b", "h/c"];
/// Bodies of every size class: inline, one chunk, several chunks.
const SIZES: [usize; 3] = [40, 20_000, 300_000];

/// A version's bytes: its content id, then a pattern seeded by it.
fn content(id: u64, size: usize) -> Vec<u8> {
    let mut v = format!("id={id:012}\n").into_bytes();
    v.extend(common::pattern(size - v.len(), id));
    v
}

/// The content id of a body, if the body is exactly what [`content`] makes.
fn content_id(body: &[u8]) -> Option<u64> {
    let id: u64 = std::str::from_utf8(body.get(3..15)?).ok()?.parse().ok()?;
    (body == content(id, body.len()).as_slice()).then_some(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Put(u64),
    Delete,
    Restore,
}

#[derive(Debug, Clone)]
struct Write {
    key: &'static str,
    kind: Kind,
    start: Instant,
    end: Instant,
    /// Answered 2xx: the version written (PUT), the marker created
    /// (DELETE) or the marker removed (restore).
    version: Option<String>,
    conflict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Content(u64),
    Missing,
}

#[derive(Debug, Clone)]
struct Read {
    key: &'static str,
    start: Instant,
    end: Instant,
    seen: Seen,
}

#[derive(Default)]
struct History {
    writes: Vec<Write>,
    reads: Vec<Read>,
}

async fn writer(
    s3: Client,
    seed: u64,
    ops: usize,
    h: Arc<Mutex<History>>,
    next_id: Arc<Mutex<u64>>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..ops {
        let key = KEYS[rng.gen_range(0..KEYS.len())];
        let roll = rng.gen_range(0..100);
        let start = Instant::now();
        let (kind, result) = if roll < 60 {
            let id = {
                let mut n = next_id.lock();
                *n += 1;
                *n
            };
            let size = SIZES[rng.gen_range(0..SIZES.len())];
            let r = s3
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(ByteStream::from(content(id, size)))
                .send()
                .await;
            (
                Kind::Put(id),
                r.map(|o| o.version_id)
                    .map_err(|e| e.into_service_error().code().map(str::to_string)),
            )
        } else if roll < 85 {
            let r = s3.delete_object().bucket(BUCKET).key(key).send().await;
            (
                Kind::Delete,
                r.map(|o| o.version_id)
                    .map_err(|e| e.into_service_error().code().map(str::to_string)),
            )
        } else {
            // Restore: remove the key's latest delete marker, if it has one.
            let versions = s3
                .list_object_versions()
                .bucket(BUCKET)
                .prefix(key)
                .send()
                .await
                .unwrap();
            let Some(marker) = versions
                .delete_markers()
                .iter()
                .find(|m| m.key() == Some(key) && m.is_latest() == Some(true))
                .and_then(|m| m.version_id().map(str::to_string))
            else {
                continue;
            };
            let start = Instant::now();
            let r = s3
                .delete_object()
                .bucket(BUCKET)
                .key(key)
                .version_id(&marker)
                .send()
                .await;
            let end = Instant::now();
            let write = match r {
                Ok(_) => Write {
                    key,
                    kind: Kind::Restore,
                    start,
                    end,
                    version: Some(marker),
                    conflict: false,
                },
                Err(e) => {
                    let code = e.into_service_error().code().map(str::to_string);
                    assert_eq!(
                        code.as_deref(),
                        Some("OperationAborted"),
                        "restore of {key} failed"
                    );
                    Write {
                        key,
                        kind: Kind::Restore,
                        start,
                        end,
                        version: None,
                        conflict: true,
                    }
                }
            };
            h.lock().writes.push(write);
            continue;
        };
        let end = Instant::now();
        let write = match result {
            Ok(version) => {
                assert!(
                    version.is_some(),
                    "a write in a versioned bucket answers its version id"
                );
                Write {
                    key,
                    kind,
                    start,
                    end,
                    version,
                    conflict: false,
                }
            }
            Err(code) => {
                assert_eq!(
                    code.as_deref(),
                    Some("OperationAborted"),
                    "{kind:?} of {key} failed"
                );
                Write {
                    key,
                    kind,
                    start,
                    end,
                    version: None,
                    conflict: true,
                }
            }
        };
        h.lock().writes.push(write);
    }
}

async fn reader(
    s3: Client,
    seed: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
    h: Arc<Mutex<History>>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let key = KEYS[rng.gen_range(0..KEYS.len())];
        let start = Instant::now();
        let r = s3.get_object().bucket(BUCKET).key(key).send().await;
        let seen = match r {
            Ok(o) => {
                let body = o
                    .body
                    .collect()
                    .await
                    .expect("a started download finishes")
                    .into_bytes();
                let id = content_id(&body).unwrap_or_else(|| {
                    panic!(
                        "a read of {key} returned bytes that are no one version ({} bytes)",
                        body.len()
                    )
                });
                Seen::Content(id)
            }
            Err(e) => match e.into_service_error().code() {
                Some("NoSuchKey") => Seen::Missing,
                // A read while the key is being written (the default policy).
                Some("OperationAborted") => continue,
                other => panic!("GET {key}: {other:?}"),
            },
        };
        let end = Instant::now();
        h.lock().reads.push(Read {
            key,
            start,
            end,
            seen,
        });
    }
}

/// Writes `key` (outside the keys under test) and waits until the feed
/// shows it, so that every change committed before it shows too.
async fn settle(server: &Server, key: &str) {
    let c = server.client().await;
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from_static(b"settle"))
        .send()
        .await
        .unwrap();
    common::eventually(
        "the settling write in the feed",
        std::time::Duration::from_secs(20),
        || feed(server).iter().any(|(_, k, _)| k == key),
    )
    .await;
}

/// The feed's entries for the bucket: (event, key, versionId), in commit order.
fn feed(server: &Server) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let r = Raw::new("GET", &format!("/{BUCKET}?changes&max-items=10000{after}"))
            .send(&server.addr);
        assert_eq!(r.status, 200, "{}", r.body_text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        for c in v["changes"].as_array().unwrap() {
            out.push((
                c["event"].as_str().unwrap().to_string(),
                c["key"].as_str().unwrap().to_string(),
                c["versionId"].as_str().unwrap_or_default().to_string(),
            ));
        }
        if v["more"] != true {
            return out;
        }
        after = format!("&after={}", v["next"].as_str().unwrap());
    }
}

/// One key's committed history: the writes in commit order, and the state
/// (current content, or none) after each; `states[0]` is the initial state.
struct Timeline {
    writes: Vec<Write>,
    states: Vec<Seen>,
    /// The version list at the end, newest first.
    versions: Vec<String>,
}

/// `settled`: the feed was read after the purges of the acknowledged
/// writes' versions became visible (a feed read right after the run may
/// not yet show a purge committed behind one still in flight).
fn timeline(
    key: &str,
    events: &[(String, String, String)],
    writes: &[Write],
    settled: bool,
) -> Timeline {
    let ok: Vec<&Write> = writes
        .iter()
        .filter(|w| w.key == key && !w.conflict)
        .collect();
    let by_version = |kind: fn(&Kind) -> bool, v: &str| -> Write {
        let found: Vec<&&Write> = ok
            .iter()
            .filter(|w| kind(&w.kind) && w.version.as_deref() == Some(v))
            .collect();
        match found.as_slice() {
            [one] => (**one).clone(),
            // Two writers removed the same marker: the first did, the other
            // deleted a version that no longer existed, which S3 answers 204
            // too. One of them committed, within the span of both.
            [first, ..] if first.kind == Kind::Restore => Write {
                start: found.iter().map(|w| w.start).min().unwrap(),
                end: found.iter().map(|w| w.end).max().unwrap(),
                ..(**first).clone()
            },
            _ => panic!(
                "{key}: the feed names version {v}, which {} acknowledged writes made",
                found.len()
            ),
        }
    };
    // The version stack: (version id, content id or None for a marker).
    let mut stack: Vec<(String, Option<u64>)> = Vec::new();
    // The newest version was a delete marker that reached the end of its
    // retention: it is purged, and the version under it stays noncurrent
    // (a purge never restores anything) until the next write, or until the
    // removal of the marker now on top (which restores, as in S3).
    let mut top_purged = false;
    let mut purged: Vec<String> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut t = Timeline {
        writes: Vec::new(),
        states: vec![Seen::Missing],
        versions: Vec::new(),
    };
    for (event, _, v) in events.iter().filter(|(_, k, _)| k == key) {
        match event.as_str() {
            "put" => {
                let w = by_version(|k| matches!(k, Kind::Put(_)), v);
                let Kind::Put(id) = w.kind else {
                    unreachable!()
                };
                stack.push((v.clone(), Some(id)));
                top_purged = false;
                t.writes.push(w);
            }
            "delete" => {
                if let Some(pos) = stack.iter().position(|(sv, _)| sv == v) {
                    // The second sight of a marker: it was removed (a restore).
                    assert!(
                        stack[pos].1.is_none(),
                        "{key}: version {v} deleted by id, but it is no marker"
                    );
                    if pos + 1 == stack.len() {
                        top_purged = false;
                    }
                    stack.remove(pos);
                    removed.push(v.clone());
                    t.writes.push(by_version(|k| *k == Kind::Restore, v));
                } else {
                    stack.push((v.clone(), None));
                    top_purged = false;
                    t.writes.push(by_version(|k| *k == Kind::Delete, v));
                }
            }
            // The version a restore made current: already the top of the stack.
            "restore" => {
                assert_eq!(
                    stack.last().map(|(sv, _)| sv.as_str()),
                    Some(v.as_str()),
                    "{key}: restore of {v}"
                );
                continue;
            }
            // A version's retention ended: it leaves the version list, and
            // what is current does not change (only noncurrent versions and
            // delete markers, the newest one included, are purged).
            "purge" => {
                if let Some(pos) = stack.iter().position(|(sv, _)| sv == v) {
                    let current = pos + 1 == stack.len() && stack[pos].1.is_some() && !top_purged;
                    assert!(!current, "{key}: the current version {v} was purged");
                    if pos + 1 == stack.len() {
                        top_purged = true;
                    }
                    stack.remove(pos);
                }
                purged.push(v.clone());
                continue;
            }
            other => panic!("{key}: unexpected {other} event in the feed"),
        }
        t.states.push(match stack.last() {
            Some((_, Some(id))) if !top_purged => Seen::Content(*id),
            _ => Seen::Missing,
        });
    }
    // Every acknowledged write appears in the feed exactly once. Repeated
    // removals of one marker count once, and removing a marker already
    // purged changes nothing (S3 answers 204 for a missing version too).
    for w in ok.iter().filter(|w| settled && w.kind == Kind::Restore) {
        let v = w.version.clone().unwrap_or_default();
        assert!(
            removed.contains(&v) || purged.contains(&v),
            "{key}: the acknowledged removal of {v} is not in the feed: {:?}",
            events
                .iter()
                .filter(|(_, _, ev)| *ev == v)
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(
        t.writes.len(),
        ok.iter().filter(|w| w.kind != Kind::Restore).count() + removed.len(),
        "{key}: every acknowledged write appears in the feed exactly once"
    );
    t.versions = stack.iter().rev().map(|(v, _)| v.clone()).collect();
    t
}

/// Whether the state `r` saw was the current one at some moment while it
/// ran: state `i` began when write `i - 1` committed (within its span) and
/// ended when write `i` committed.
fn possible(t: &Timeline, r: &Read) -> bool {
    t.states.iter().enumerate().any(|(i, s)| {
        *s == r.seen
            && (i == 0 || t.writes[i - 1].start < r.end)
            && (i == t.writes.len() || t.writes[i].end > r.start)
    })
}

/// The checker itself catches a stale read, a read from the future, and
/// accepts reads that overlap a write.
#[test]
fn the_read_check_can_fail() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
    let write = |id: u64, start: u64, end: u64| Write {
        key: "k",
        kind: Kind::Put(id),
        start: at(start),
        end: at(end),
        version: Some(format!("{id:016x}")),
        conflict: false,
    };
    // v1 committed within 10..20, v2 within 30..40.
    let t = Timeline {
        writes: vec![write(1, 10, 20), write(2, 30, 40)],
        states: vec![Seen::Missing, Seen::Content(1), Seen::Content(2)],
        versions: Vec::new(),
    };
    let read = |seen: Seen, start: u64, end: u64| Read {
        key: "k",
        start: at(start),
        end: at(end),
        seen,
    };
    assert!(possible(&t, &read(Seen::Content(1), 22, 28)));
    assert!(
        possible(&t, &read(Seen::Content(1), 35, 45)),
        "overlaps v2's write"
    );
    assert!(possible(&t, &read(Seen::Missing, 0, 5)));
    assert!(
        !possible(&t, &read(Seen::Content(1), 41, 50)),
        "stale: v2 was acknowledged before"
    );
    assert!(
        !possible(&t, &read(Seen::Content(2), 21, 29)),
        "from the future: v2 not yet sent"
    );
    assert!(
        !possible(&t, &read(Seen::Missing, 21, 29)),
        "deleted state that never was"
    );
    assert!(
        !possible(&t, &read(Seen::Content(3), 0, 50)),
        "a version never written"
    );
}

#[tokio::test]
async fn concurrent_history_matches_the_model() {
    let seed: u64 = std::env::var("KURA_HISTORY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let ops: usize = std::env::var("KURA_HISTORY_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(800);
    eprintln!("history seed {seed} ({ops} writes): KURA_HISTORY_SEED={seed} replays it");
    // A short retention: replaced versions and markers are purged while the
    // writers and readers run, so purges interleave with everything else.
    // The change log is kept longer, so the feed read at the end still holds
    // every write (as a partner that syncs less often than the trash empties).
    let mut server = Server::start_with(&["--chunk-size", "64KiB", "--retention", "1s"]);
    let admin = server.client().await;
    admin.create_bucket().bucket(BUCKET).send().await.unwrap();
    common::enable_versioning(&admin, BUCKET).await;
    common::admin::json(
        &server,
        &["bucket", "set", BUCKET, "--change-log-retention", "1h"],
    );

    let history = Arc::new(Mutex::new(History::default()));
    let next_id = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..3 {
        readers.push(tokio::spawn(reader(
            server.client_no_retry().await,
            seed ^ (1000 + r),
            stop.clone(),
            history.clone(),
        )));
    }
    let mut writers = Vec::new();
    for w in 0..4u64 {
        writers.push(tokio::spawn(writer(
            server.client_no_retry().await,
            seed.wrapping_add(w),
            ops / 4,
            history.clone(),
            next_id.clone(),
        )));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }

    let h = std::mem::take(&mut *history.lock());
    // The feed shows a commit once every front end's horizon has passed it
    // (on etcd the horizons are published every 200 ms): once a write made
    // after all the others shows, every one of them does.
    settle(&server, "last").await;
    let events = feed(&server);
    let conflicts = h.writes.iter().filter(|w| w.conflict).count();
    let mut checked_reads = 0;
    let mut models = HashMap::new();
    for key in KEYS {
        let t = timeline(key, &events, &h.writes, false);
        // The commit order agrees with what the clients saw.
        for (i, a) in t.writes.iter().enumerate() {
            for b in &t.writes[i + 1..] {
                assert!(
                    b.end >= a.start,
                    "{key}: {b:?} answered before {a:?} was sent, yet committed after it (seed {seed})"
                );
            }
        }
        // Each read saw one state that was current while it ran.
        for r in h.reads.iter().filter(|r| r.key == key) {
            checked_reads += 1;
            assert!(
                possible(&t, r),
                "{key}: read {r:?} saw a state that was never current during it (seed {seed})"
            );
        }
        models.insert(key, t);
    }
    // Refused writes left nothing: none of their content was ever read, and
    // none of them is in the feed (checked by `timeline`).
    let refused: Vec<u64> = h
        .writes
        .iter()
        .filter(|w| w.conflict)
        .filter_map(|w| match w.kind {
            Kind::Put(id) => Some(id),
            _ => None,
        })
        .collect();
    assert!(
        !h.reads
            .iter()
            .any(|r| matches!(r.seen, Seen::Content(id) if refused.contains(&id))),
        "a write refused with 409 became visible (seed {seed})"
    );

    // After a restart the state is the model's.
    server.restart();
    let s3 = server.client().await;
    // The versions listed lie between the model at the first feed read and
    // the model at a second one read after the listings (equal unless
    // something was purged in between).
    let mut listed_versions = HashMap::new();
    for key in KEYS {
        let t = &models[key];
        let seen = match s3.get_object().bucket(BUCKET).key(key).send().await {
            Ok(o) => {
                Seen::Content(content_id(&o.body.collect().await.unwrap().into_bytes()).unwrap())
            }
            Err(e) => {
                assert_eq!(e.into_service_error().code(), Some("NoSuchKey"));
                Seen::Missing
            }
        };
        assert_eq!(
            Some(&seen),
            t.states.last(),
            "{key}: current state after restart (seed {seed})"
        );
        let listed = s3
            .list_object_versions()
            .bucket(BUCKET)
            .prefix(key)
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = listed
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .filter_map(|v| v.version_id().map(str::to_string))
            .chain(
                listed
                    .delete_markers()
                    .iter()
                    .filter(|m| m.key() == Some(key))
                    .filter_map(|m| m.version_id().map(str::to_string)),
            )
            .collect();
        // Version ids sort by commit (they are the sequence number in hex).
        ids.sort_by(|a, b| b.cmp(a));
        assert!(
            ids.iter().all(|v| t.versions.contains(v)),
            "{key}: versions after restart {ids:?} that the model does not have {:?} (seed {seed})",
            t.versions
        );
        listed_versions.insert(key, ids);
    }
    // Likewise after the restart (on etcd the killed process's horizon
    // holds the feed back until its lease ends).
    settle(&server, "last-after-restart").await;
    let later = feed(&server);
    for key in KEYS {
        let t = timeline(key, &later, &h.writes, true);
        let ids = &listed_versions[key];
        assert!(
            t.versions.iter().all(|v| ids.contains(v)),
            "{key}: versions {:?} missing after restart {ids:?} (seed {seed})",
            t.versions
        );
    }
    let purges = later.iter().filter(|(e, _, _)| e == "purge").count();
    eprintln!(
        "history: {} writes ({conflicts} refused with 409), {checked_reads} reads checked, {} feed entries, {purges} purges",
        h.writes.len(),
        events.len()
    );
    assert!(checked_reads > 0 && h.writes.len() > conflicts);
    assert!(
        purges > 0,
        "the run purged nothing: the purge went unchecked"
    );
}
