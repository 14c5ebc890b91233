//! Power-loss test: kura's data directory lives on kura-powercut (a FUSE file
//! system that forgets everything not fsynced when told to, see
//! tools/powercut). Concurrent clients write; at a random moment kura is
//! SIGKILLed and the power is cut; kura restarts on what survived, and every
//! acknowledged write must be there, nothing unacknowledged may show, and the
//! views of the store (GET, HEAD, listings, versions, public URLs, chunk
//! files on disk) must agree.
//!
//! `KURA_POWERCUT_CYCLES` (default 20) sets the number of cycles and
//! `KURA_POWERCUT_SEED` replays a run. `KURA_TEST_SKIP_FSYNC=chunk-dir` (a
//! test-only switch in kura-storage) must make this test fail: see README,
//! "Power-loss test". Skips, saying so, where FUSE cannot be mounted.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectCannedAcl};
use aws_sdk_s3::Client;
use common::raw::{Raw, RawResponse};
use common::{md5_hex, pattern};
use kura_powercut::Mounted;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHUNK: usize = 16 * 1024;
const INLINE_MAX: usize = 4096;
const MIN_PART: usize = 5 << 20;
const CLIENTS: usize = 4;
const KEYS_PER_CLIENT: usize = 5;
const BUCKET: &str = "power";
/// Cycles per file system: a fresh mount (and kura data dir) every this many
/// cycles keeps the in-memory disk small over long runs.
const CYCLES_PER_DISK: usize = 20;

/// An object state as the clients wrote it.
#[derive(Clone, Debug, PartialEq)]
struct Obj {
    size: usize,
    md5: String,
}

#[derive(Clone, Debug, PartialEq, Default)]
struct KeyState {
    obj: Option<Obj>,
    published: bool,
}

/// What a key may hold: its last acknowledged state, or the state of the one
/// write in flight on it when the power went (each key has one writer).
#[derive(Default, Debug)]
struct KeyModel {
    ack: KeyState,
    pending: Option<KeyState>,
    writes: u64,
}

type Model = Arc<Mutex<BTreeMap<String, KeyModel>>>;

use common::on_mount::Kura;

fn body_seed(key: &str, write: u64, part: u64) -> u64 {
    key.bytes().fold(
        write.wrapping_mul(31) ^ part.wrapping_mul(1_000_003),
        |h, b| h.wrapping_mul(131).wrapping_add(b as u64),
    )
}

fn random_size(rng: &mut StdRng) -> usize {
    match rng.gen_range(0..10) {
        0..=3 => rng.gen_range(0..=INLINE_MAX),
        4..=6 => rng.gen_range(INLINE_MAX + 1..=CHUNK),
        _ => rng.gen_range(CHUNK + 1..=12 * CHUNK),
    }
}

enum Op {
    Put(Vec<u8>),
    Multipart(Vec<Vec<u8>>),
    Delete,
    Publish,
}

/// One client: random writes to the keys it owns until told to stop.
async fn client_loop(c: usize, s3: Client, model: Model, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::SeqCst) {
        let key = format!("c{c}/k{}", rng.gen_range(0..KEYS_PER_CLIENT));
        let (op, next) = {
            let mut m = model.lock().unwrap();
            let km = m.entry(key.clone()).or_default();
            km.writes += 1;
            let w = km.writes;
            let roll = rng.gen_range(0..100);
            let (op, mut next) = if roll < 15 && km.ack.obj.is_some() {
                (Op::Delete, KeyState::default())
            } else if roll < 25 && km.ack.obj.is_some() && !km.ack.published {
                let mut s = km.ack.clone();
                s.published = true;
                (Op::Publish, s)
            } else if roll < 40 {
                // Multipart: one part of any size, now and then a 5 MiB
                // part first (all but the last part must be >= 5 MiB; a
                // multiple of the chunk size, so chunks = ceil(size / chunk)).
                let mut parts = Vec::new();
                if rng.gen_range(0..30) == 0 {
                    parts.push(pattern(MIN_PART, body_seed(&key, w, 1)));
                }
                let last = rng.gen_range(1..=6 * CHUNK);
                parts.push(pattern(last, body_seed(&key, w, 2)));
                let all: Vec<u8> = parts.concat();
                let obj = Obj {
                    size: all.len(),
                    md5: md5_hex(&all),
                };
                (
                    Op::Multipart(parts),
                    KeyState {
                        obj: Some(obj),
                        published: false,
                    },
                )
            } else {
                let body = pattern(random_size(&mut rng), body_seed(&key, w, 0));
                let obj = Obj {
                    size: body.len(),
                    md5: md5_hex(&body),
                };
                (
                    Op::Put(body),
                    KeyState {
                        obj: Some(obj),
                        published: false,
                    },
                )
            };
            // An overwrite keeps the key published (the link follows the key).
            if matches!(op, Op::Put(_) | Op::Multipart(_)) {
                next.published = km.ack.published;
            }
            km.pending = Some(next.clone());
            (op, next)
        };
        let result = run_op(&s3, &key, op).await;
        let mut m = model.lock().unwrap();
        let km = m.get_mut(&key).unwrap();
        match result {
            Ok(()) => {
                km.ack = next;
                km.pending = None;
            }
            // The power went: the write is in flight, either outcome is fine.
            Err(_) if stop.load(Ordering::SeqCst) => return,
            Err(e) => panic!("write to {key} failed while kura was up: {e}"),
        }
    }
}

async fn run_op(s3: &Client, key: &str, op: Op) -> Result<(), String> {
    match op {
        Op::Put(body) => s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|x| format!("{x:?}")),
        Op::Delete => s3
            .delete_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|x| format!("{x:?}")),
        Op::Publish => s3
            .put_object_acl()
            .bucket(BUCKET)
            .key(key)
            .acl(ObjectCannedAcl::PublicRead)
            .send()
            .await
            .map(drop)
            .map_err(|x| format!("{x:?}")),
        Op::Multipart(parts) => {
            let up = s3
                .create_multipart_upload()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .map_err(|x| format!("{x:?}"))?;
            let id = up.upload_id().unwrap().to_string();
            let mut done = Vec::new();
            for (i, part) in parts.into_iter().enumerate() {
                let n = i as i32 + 1;
                let r = s3
                    .upload_part()
                    .bucket(BUCKET)
                    .key(key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(ByteStream::from(part))
                    .send()
                    .await
                    .map_err(|x| format!("{x:?}"))?;
                done.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .e_tag(r.e_tag().unwrap())
                        .build(),
                );
            }
            s3.complete_multipart_upload()
                .bucket(BUCKET)
                .key(key)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(done))
                        .build(),
                )
                .send()
                .await
                .map(drop)
                .map_err(|x| format!("{x:?}"))
        }
    }
}

/// A raw request; a connection closed without an answer is an error, not a panic.
fn raw(method: &str, path: &str, addr: &str, signed: bool) -> Result<RawResponse, String> {
    let mut r = Raw::new(method, path);
    r.signed = signed;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.send(addr)))
        .map_err(|_| format!("{method} {path}: the connection closed without a response"))
}

/// Chunk files a version holds: multipart objects always use chunks (their
/// parts are multiples of the chunk size but the last), others only above
/// the inline threshold.
fn chunks_of(size: usize, etag: &str) -> usize {
    if etag.contains('-') || size > INLINE_MAX {
        size.div_ceil(CHUNK)
    } else {
        0
    }
}

fn count_files(p: &Path) -> usize {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    count_files(&e.path())
                } else {
                    1
                }
            })
            .sum()
        })
        .unwrap_or(0)
}

/// Checks the restarted server against the model, then settles each key on
/// the state found. Returns what did not hold.
async fn verify(kura: &Kura, s3: &Client, model: &Model, data: &Path) -> Result<(), String> {
    let addr = kura.addr.clone();
    let buckets = s3
        .list_buckets()
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    if !buckets.buckets().iter().any(|b| b.name() == Some(BUCKET)) {
        return Err(format!("bucket {BUCKET} (created, acknowledged) is gone"));
    }
    // Per key: GET and HEAD agree with one allowed state.
    let mut found: BTreeMap<String, (KeyState, String)> = BTreeMap::new();
    let keys: Vec<(String, KeyState, Option<KeyState>)> = model
        .lock()
        .unwrap()
        .iter()
        .map(|(k, m)| (k.clone(), m.ack.clone(), m.pending.clone()))
        .collect();
    for (key, ack, pending) in &keys {
        let path = format!("/{BUCKET}/{key}");
        let get = raw("GET", &path, &addr, true)?;
        let obj = match get.status {
            200 => {
                let len: usize = get.header("content-length").unwrap().parse().unwrap();
                if len != get.body.len() {
                    return Err(format!(
                        "GET {key}: body cut off at {} of {len} bytes",
                        get.body.len()
                    ));
                }
                Some(Obj {
                    size: get.body.len(),
                    md5: md5_hex(&get.body),
                })
            }
            404 => None,
            s => return Err(format!("GET {key}: {s} {}", get.body_text())),
        };
        let head = raw("HEAD", &path, &addr, true)?;
        if head.status != get.status || head.header("etag") != get.header("etag") {
            return Err(format!(
                "HEAD {key} ({} {:?}) disagrees with GET ({} {:?})",
                head.status,
                head.header("etag"),
                get.status,
                get.header("etag")
            ));
        }
        let url = head.header("x-kura-public-url").map(str::to_string);
        let state = KeyState {
            obj,
            published: url.is_some(),
        };
        if state != *ack && Some(&state) != pending.as_ref() {
            return Err(format!(
                "{key}: found {state:?}; acknowledged {ack:?}, in flight {pending:?}"
            ));
        }
        if let Some(url) = url {
            let p = &url[url.find("/p/").ok_or(format!("public URL {url}"))?..];
            let anon = raw("GET", p, &addr, false)?;
            if anon.status != 200 || md5_hex(&anon.body) != state.obj.as_ref().unwrap().md5 {
                return Err(format!("{key}: public URL {url} gives {}", anon.status));
            }
        }
        let etag = get.header("etag").unwrap_or_default().to_string();
        found.insert(key.clone(), (state, etag));
    }
    // Listing: exactly the keys found, with their ETags and sizes.
    let mut listed = BTreeMap::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        for o in page.contents() {
            listed.insert(
                o.key().unwrap().to_string(),
                (o.e_tag().unwrap().to_string(), o.size().unwrap() as usize),
            );
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    let expected: BTreeMap<String, (String, usize)> = found
        .iter()
        .filter_map(|(k, (s, etag))| s.obj.as_ref().map(|o| (k.clone(), (etag.clone(), o.size))))
        .collect();
    if listed != expected {
        return Err(format!(
            "ListObjectsV2 {listed:?} disagrees with GET/HEAD {expected:?}"
        ));
    }
    // Versions: the latest of each key is what GET serves (or a delete
    // marker); count the chunk files all versions hold.
    let mut chunk_files = 0;
    let mut latest: BTreeMap<String, Option<String>> = BTreeMap::new();
    let (mut km, mut vm) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(BUCKET)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        for v in page.versions() {
            let etag = v.e_tag().unwrap_or_default();
            chunk_files += chunks_of(v.size().unwrap_or(0) as usize, etag);
            if v.is_latest() == Some(true) {
                latest.insert(v.key().unwrap().to_string(), Some(etag.to_string()));
            }
        }
        for d in page.delete_markers() {
            if d.is_latest() == Some(true) {
                latest.insert(d.key().unwrap().to_string(), None);
            }
        }
        if page.is_truncated() == Some(true) {
            km = page.next_key_marker().map(str::to_string);
            vm = page.next_version_id_marker().map(str::to_string);
        } else {
            break;
        }
    }
    for (key, (state, etag)) in &found {
        let l = latest.get(key).cloned().flatten();
        let want = state.obj.as_ref().map(|_| etag.clone());
        if l != want {
            return Err(format!(
                "{key}: latest version {l:?} but GET serves {want:?}"
            ));
        }
    }
    if let Some(k) = latest.keys().find(|k| !found.contains_key(*k)) {
        return Err(format!("versions list {k}, which no client wrote"));
    }
    // Multipart uploads cut off by the power keep their committed parts.
    let uploads = s3
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let mut open = Vec::new();
    for u in uploads.uploads() {
        let (key, id) = (u.key().unwrap(), u.upload_id().unwrap());
        let parts = s3
            .list_parts()
            .bucket(BUCKET)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        for p in parts.parts() {
            chunk_files += (p.size().unwrap() as usize).div_ceil(CHUNK);
        }
        open.push((key.to_string(), id.to_string()));
    }
    // Start-up recovery left exactly the chunk files metadata refers to.
    let on_disk = count_files(&data.join("chunks"));
    if on_disk != chunk_files {
        return Err(format!(
            "{on_disk} chunk files on disk, metadata refers to {chunk_files}"
        ));
    }
    // Settle the model on what was found, and drop the leftover uploads.
    {
        let mut m = model.lock().unwrap();
        for (key, (state, _)) in found {
            let km = m.get_mut(&key).unwrap();
            km.ack = state;
            km.pending = None;
        }
    }
    for (key, id) in open {
        s3.abort_multipart_upload()
            .bucket(BUCKET)
            .key(&key)
            .upload_id(&id)
            .send()
            .await
            .map_err(|e| format!("abort {key}: {e:?}"))?;
    }
    Ok(())
}

/// Runs `cycles` power cuts with `seed`; returns the first failure.
async fn run(cycles: usize, seed: u64) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("kura.log");
    let mut done = 0;
    while done < cycles {
        let mnt = tmp.path().join(format!("mnt{done}"));
        std::fs::create_dir(&mnt).unwrap();
        let mounted = match Mounted::mount(&mnt) {
            Ok(m) => m,
            Err(e) if done == 0 => {
                eprintln!(
                    "SKIPPED power-loss test: cannot mount FUSE here ({e}); \
                     needs /dev/fuse and root or fusermount3 (scripts/install-deps --test)"
                );
                return Ok(());
            }
            Err(e) => return Err(format!("mounting: {e}")),
        };
        // The data directory exists before kura starts, durably (as made by
        // an installer); everything inside it is kura's to sync.
        let data = mnt.join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::File::open(&mnt).unwrap().sync_all().unwrap();
        let mut kura = Kura::start(&data, &log);
        kura.client()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .map_err(|e| format!("create bucket: {e:?}"))?;
        let model: Model = Arc::default();
        let in_this_disk = CYCLES_PER_DISK.min(cycles - done);
        for _ in 0..in_this_disk {
            let started = Instant::now();
            let stop = Arc::new(AtomicBool::new(false));
            let s3 = kura.client();
            let clients: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    tokio::spawn(client_loop(
                        c,
                        s3.clone(),
                        model.clone(),
                        stop.clone(),
                        rng.gen(),
                    ))
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(rng.gen_range(100..1500))).await;
            stop.store(true, Ordering::SeqCst);
            kura.kill();
            let stats = mounted.cut();
            for c in clients {
                c.await.map_err(|e| format!("client panicked: {e}"))?;
            }
            let in_flight = model
                .lock()
                .unwrap()
                .values()
                .filter(|m| m.pending.is_some())
                .count();
            kura = Kura::start(&data, &log);
            let s3 = kura.client();
            let checked = verify(&kura, &s3, &model, &data).await;
            done += 1;
            eprintln!(
                "cycle {done}/{cycles}: {in_flight} writes in flight at the cut, \
                 {} file and {} directory syncs so far, {:.1} s",
                stats.file_syncs,
                stats.dir_syncs,
                started.elapsed().as_secs_f64()
            );
            if let Err(e) = checked {
                kura.kill();
                drop(mounted);
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                return Err(format!(
                    "cycle {done} (KURA_POWERCUT_SEED={seed}): {e}\n---- kura log (last lines) ----\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        kura.kill();
        mounted.unmount().map_err(|e| format!("unmount: {e}"))?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_power_cuts() {
    let cycles = std::env::var("KURA_POWERCUT_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = std::env::var("KURA_POWERCUT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("power-loss test: {cycles} cycles, KURA_POWERCUT_SEED={seed}");
    if let Err(e) = run(cycles, seed).await {
        panic!("{e}");
    }
}
