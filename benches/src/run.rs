//! Running a workload: prepare objects, run the measured phase on N
//! workers until the time or operation budget is spent, merge what each
//! worker recorded, clean up.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;

use crate::cli::{Common, Ratio, Workload};
use crate::client::{OpError, S3};
use crate::ops::Ctx;
use crate::payload::Pool;
use crate::stats::{Recorder, Report};

/// When the measured phase stops.
struct Budget {
    deadline: Instant,
    ops: Option<u64>,
    issued: AtomicU64,
    stop: AtomicBool,
}

impl Budget {
    /// Whether a worker may start another operation.
    fn take(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        match self.ops {
            Some(n) => self.issued.fetch_add(1, Ordering::Relaxed) < n,
            None => Instant::now() < self.deadline,
        }
    }
}

/// Keys of the mixed workload: the live objects, and how many GETs are
/// reading each, so a DELETE never pulls an object from under a GET (which
/// would show up as a spurious `NoSuchKey`).
#[derive(Default)]
struct LiveKeys {
    keys: Vec<String>,
    reading: HashMap<String, u32>,
}

/// State every worker shares.
struct Shared {
    ctx: Ctx,
    workload: Workload,
    budget: Budget,
    prefix: String,
    /// Keys for the delete workload, taken one by one.
    to_delete: Mutex<Vec<String>>,
    live: Mutex<LiveKeys>,
    next_id: AtomicU64,
    done_ops: AtomicU64,
    done_bytes: AtomicU64,
}

/// Name of the `i`th prepared object.
pub fn object_key(prefix: &str, i: u64) -> String {
    format!("{prefix}obj-{i:08}")
}

/// Runs `workload` and returns its report.
pub async fn run(workload: Workload) -> anyhow::Result<Report> {
    let c = workload.common().clone();
    anyhow::ensure!(c.concurrency > 0, "--concurrency must be at least 1");
    let s3 = S3::new(
        &c.endpoint,
        &c.access_key,
        &c.secret_key,
        &c.region,
        c.concurrency,
    )?;
    let ctx = Ctx {
        s3,
        pool: Pool::new(),
        bucket: c.bucket.clone(),
        size: c.size,
        verify: c.verify,
    };
    let tty = std::io::stderr().is_terminal();
    let objects = c.objects.unwrap_or(match &workload {
        Workload::List { .. } => 1000,
        Workload::Delete(_) => 10_000,
        Workload::Get(_) | Workload::Mixed { .. } => c.concurrency as u64,
        Workload::Put(_) | Workload::Multipart { .. } | Workload::Search { .. } => 0,
    });
    let keys: Vec<String> = (0..objects).map(|i| object_key(&c.prefix, i)).collect();
    if !c.skip_prepare {
        ctx.s3.ensure_bucket(&c.bucket).await?;
        if !keys.is_empty() {
            if tty {
                eprintln!("preparing {} objects...", keys.len());
            }
            prepare(&ctx, &keys, c.concurrency).await?;
        }
    }

    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        budget: Budget {
            deadline: Instant::now() + c.duration,
            ops: c.ops,
            issued: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        },
        prefix: c.prefix.clone(),
        to_delete: Mutex::new(keys.iter().rev().cloned().collect()),
        live: Mutex::new(LiveKeys {
            keys: keys.clone(),
            reading: HashMap::new(),
        }),
        next_id: AtomicU64::new(objects),
        done_ops: AtomicU64::new(0),
        done_bytes: AtomicU64::new(0),
        workload,
    });
    let started = Instant::now();
    let progress = tty.then(|| spawn_progress(Arc::clone(&shared), &c));
    let mut handles = Vec::with_capacity(c.concurrency);
    for w in 0..c.concurrency {
        handles.push(tokio::spawn(worker(w, Arc::clone(&shared))));
    }
    let mut by_op: BTreeMap<String, Recorder> = BTreeMap::new();
    let mut created = Vec::new();
    for h in handles {
        let (recs, keys) = h.await.context("worker panicked")?;
        for (kind, rec) in recs {
            by_op.entry(kind.to_string()).or_default().merge(&rec);
        }
        created.extend(keys);
    }
    let elapsed = started.elapsed();
    shared.budget.stop.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        let _ = p.await;
    }

    if !c.no_cleanup {
        let mut leftover = created;
        match &shared.workload {
            Workload::Mixed { .. } => leftover.append(&mut shared.live.lock().unwrap().keys),
            Workload::Delete(_) => leftover.append(&mut shared.to_delete.lock().unwrap()),
            Workload::Get(_) | Workload::List { .. } if !c.skip_prepare => leftover.extend(keys),
            _ => {}
        }
        if tty && !leftover.is_empty() {
            eprintln!("cleaning up {} objects...", leftover.len());
        }
        cleanup(&ctx, leftover, c.concurrency).await;
    }

    let mut total = Recorder::default();
    for rec in by_op.values() {
        total.merge(rec);
    }
    Ok(Report {
        workload: shared.workload.name().to_string(),
        endpoint: c.endpoint.clone(),
        bucket: c.bucket.clone(),
        size: c.size,
        concurrency: c.concurrency,
        elapsed_s: elapsed.as_secs_f64(),
        total: total.summary(elapsed),
        by_op: by_op
            .iter()
            .map(|(k, r)| (k.clone(), r.summary(elapsed)))
            .collect(),
        verified: c.verify,
    })
}

/// One worker: operations back to back until the budget is spent. Returns
/// what it measured per operation kind and the keys it created.
async fn worker(w: usize, s: Arc<Shared>) -> (HashMap<&'static str, Recorder>, Vec<String>) {
    let mut recs: HashMap<&'static str, Recorder> = HashMap::new();
    let mut created = Vec::new();
    let mut token: Option<String> = None;
    let mut n = 0u64;
    while s.budget.take() {
        let start = Instant::now();
        let (kind, result): (&'static str, Result<u64, OpError>) = match &s.workload {
            Workload::Put(_) => {
                let key = format!("{}put/{w:04}/{n:010}", s.prefix);
                n += 1;
                let r = s.ctx.put(&key).await;
                if r.is_ok() {
                    created.push(key);
                }
                ("put", r)
            }
            Workload::Get(_) => {
                let count = s.next_id.load(Ordering::Relaxed).max(1);
                let i = rand::thread_rng().gen_range(0..count);
                ("get", s.ctx.get(&object_key(&s.prefix, i)).await)
            }
            Workload::Delete(_) => {
                let Some(key) = s.to_delete.lock().unwrap().pop() else {
                    break;
                };
                ("delete", s.ctx.delete(&key).await)
            }
            Workload::List { common, max_keys } => {
                let r = s
                    .ctx
                    .list_page(&common.prefix, *max_keys, token.as_deref())
                    .await;
                (
                    "list",
                    r.map(|(_, next)| {
                        token = next;
                        0
                    }),
                )
            }
            Workload::Search {
                query, max_keys, ..
            } => ("search", s.ctx.search(query, *max_keys).await),
            Workload::Multipart { part_size, .. } => {
                let key = format!("{}multipart/{w:04}/{n:010}", s.prefix);
                n += 1;
                let r = s.ctx.multipart(&key, *part_size).await;
                if r.is_ok() {
                    created.push(key);
                }
                ("multipart", r)
            }
            Workload::Mixed { ratio, .. } => mixed_op(&s, ratio).await,
        };
        let rec = recs.entry(kind).or_default();
        match result {
            Ok(bytes) => {
                rec.ok(start.elapsed(), bytes);
                s.done_ops.fetch_add(1, Ordering::Relaxed);
                s.done_bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Err(e) => rec.error(&e.0),
        }
    }
    (recs, created)
}

/// One operation of the mixed workload, chosen by the weights.
async fn mixed_op(s: &Shared, ratio: &Ratio) -> (&'static str, Result<u64, OpError>) {
    let total = ratio.get + ratio.put + ratio.delete;
    let pick = rand::thread_rng().gen_range(0..total);
    let (is_get, is_delete) = (pick < ratio.get, pick >= ratio.get + ratio.put);
    if is_get || is_delete {
        let chosen = {
            let mut live = s.live.lock().unwrap();
            let live = &mut *live;
            let mut chosen = None;
            for _ in 0..8 {
                if live.keys.is_empty() {
                    break;
                }
                let i = rand::thread_rng().gen_range(0..live.keys.len());
                if is_get {
                    let key = live.keys[i].clone();
                    *live.reading.entry(key.clone()).or_default() += 1;
                    chosen = Some(key);
                    break;
                }
                if !live.reading.contains_key(&live.keys[i]) {
                    chosen = Some(live.keys.swap_remove(i));
                    break;
                }
            }
            chosen
        };
        if let Some(key) = chosen {
            if is_delete {
                return ("delete", s.ctx.delete(&key).await);
            }
            let r = s.ctx.get(&key).await;
            let mut live = s.live.lock().unwrap();
            if let Some(n) = live.reading.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    live.reading.remove(&key);
                }
            }
            return ("get", r);
        }
        // Nothing to read or delete: write instead.
    }
    let key = object_key(&s.prefix, s.next_id.fetch_add(1, Ordering::Relaxed));
    let r = s.ctx.put(&key).await;
    if r.is_ok() {
        s.live.lock().unwrap().keys.push(key);
    }
    ("put", r)
}

/// Uploads `keys` with `concurrency` uploads at once; any failure aborts.
async fn prepare(ctx: &Ctx, keys: &[String], concurrency: usize) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let keys = Arc::new(keys.to_vec());
    let mut tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>> = Vec::new();
    for _ in 0..concurrency.min(keys.len()) {
        let (ctx, next, keys) = (ctx.clone(), Arc::clone(&next), Arc::clone(&keys));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(key) = keys.get(i) else {
                    return Ok(());
                };
                ctx.put(key)
                    .await
                    .map_err(|e| anyhow::anyhow!("preparing {key}: {e}"))?;
            }
        }));
    }
    for t in tasks {
        t.await.context("prepare task panicked")??;
    }
    Ok(())
}

/// Deletes `keys`, best effort.
async fn cleanup(ctx: &Ctx, keys: Vec<String>, concurrency: usize) {
    let keys = Arc::new(Mutex::new(keys));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (ctx, keys) = (ctx.clone(), Arc::clone(&keys));
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(key) = keys.lock().unwrap().pop() else {
                    return;
                };
                let _ = ctx.delete(&key).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// A live progress bar on the terminal, updated five times a second.
fn spawn_progress(s: Arc<Shared>, c: &Common) -> tokio::task::JoinHandle<()> {
    use indicatif::{ProgressBar, ProgressStyle};
    let by_ops = c.ops;
    let bar = match by_ops {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new(c.duration.as_millis() as u64),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {msg}")
            .expect("progress template")
            .progress_chars("=> "),
    );
    let start = Instant::now();
    tokio::spawn(async move {
        loop {
            let ops = s.done_ops.load(Ordering::Relaxed);
            let bytes = s.done_bytes.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64().max(1e-3);
            bar.set_position(match by_ops {
                Some(_) => ops,
                None => start.elapsed().as_millis() as u64,
            });
            bar.set_message(format!(
                "{ops} ops  {:.1} ops/s  {:.1} MiB/s",
                ops as f64 / secs,
                bytes as f64 / secs / (1 << 20) as f64
            ));
            if s.budget.stop.load(Ordering::Relaxed) {
                bar.finish_and_clear();
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}
