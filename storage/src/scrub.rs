//! Scrub and fsck: walk the metadata and the chunk files, and report chunks
//! that are missing, corrupted (shorter or longer than recorded, or not
//! matching their block checksums) and orphaned (a file no metadata lists).
//!
//! The same walk serves `kura admin scrub` (online: rate-limited, resumable
//! from a cursor persisted in `meta`, careful about writes running beside
//! it) and `kura fsck` (offline, on a stopped server's data directory).
//!
//! Online, a finding is double-checked before it is reported: the row is read
//! again and must still list the chunk (a version purged or a part replaced
//! while the scrub looked at it is not damage), and a file no row lists is
//! an orphan only once it is older than a grace period (an upload in
//! progress owns its chunk files before its row is committed).

use std::collections::HashSet;

use std::io;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{Batch, Durability, ReadBounds};
use serde::{Deserialize, Serialize};

use crate::chunk_store::ChunkStore;
use crate::chunks::ChunkId;
use crate::error::{StorageError, StorageResult};
use crate::integrity::verify_blocks;
use crate::keys::{self, CF_CHUNKS, CF_META, CF_OBJECTS, CF_PARTS, CF_PURGE, CF_VERSIONS};
use crate::multipart::PartRow;
use crate::rows::{self, ChunkRef, DataLocation, ObjectRow, PurgeEntry, CHECKSUM_BLOCK};
use crate::store::Store;

/// Where an online scrub resumes: the phase (column family) and last key done.
const META_SCRUB_CURSOR: &[u8] = b"scrub_cursor";

/// The column families whose rows list chunks, in the order scrubbed.
const PHASES: [&str; 3] = [CF_OBJECTS, CF_VERSIONS, CF_PARTS];

/// How a scrub runs.
#[derive(Debug, Clone, Default)]
pub struct ScrubOptions {
    /// Chunk bytes read per second at most (`None`: as fast as the disk goes).
    pub rate_bytes_per_sec: Option<u64>,
    /// Stop after this many chunks, persisting where to resume (`None`: to the end).
    pub max_chunks: Option<u64>,
    /// Start over instead of resuming from the persisted cursor.
    pub restart: bool,
    /// Files no row lists are reported as orphans only when older than this
    /// (online: uploads in progress own files not listed yet; offline: zero).
    pub orphan_grace: Duration,
}

/// One damaged chunk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkProblem {
    /// The chunk id (its file name).
    pub chunk: String,
    /// What refers to it: `bucket/key@version`, or `bucket/key upload ID part N`.
    pub owner: String,
    /// What is wrong.
    pub problem: String,
}

/// What a scrub found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScrubReport {
    /// Chunks checked (their length, and their bytes if they carry checksums).
    pub chunks_checked: u64,
    /// Bytes read and verified.
    pub bytes_checked: u64,
    /// Chunks whose file does not exist.
    pub missing: Vec<ChunkProblem>,
    /// Chunks whose file has the wrong length or bytes.
    pub corrupted: Vec<ChunkProblem>,
    /// Chunk files no metadata lists (ids, or file names that are not ids).
    pub orphans: Vec<String>,
    /// Whether the walk reached the end (false: stopped at `max_chunks`;
    /// the next scrub resumes there).
    pub complete: bool,
}

/// A row and the chunks it lists, as the walk meets it.
pub(crate) struct Owner {
    cf: &'static str,
    key: Vec<u8>,
    pub(crate) name: String,
    pub(crate) chunks: Vec<ChunkRef>,
    /// The version to hold a read guard on (parts: none, no purge touches them).
    seq: Option<u64>,
}

impl Store {
    /// Checks chunks against their metadata (see the module docs). Online
    /// and resumable: run it on a blocking thread.
    pub fn scrub(&self, opts: &ScrubOptions) -> StorageResult<ScrubReport> {
        let mut report = ScrubReport::default();
        let started = Instant::now();
        let (mut phase, mut after) = if opts.restart {
            (0, None)
        } else {
            self.scrub_cursor()?
        };
        while phase < PHASES.len() {
            let cf = PHASES[phase];
            let mode = after.as_deref();
            for item in self.inner.db.entries(self.cf(cf), ReadBounds::all(), mode) {
                let (k, v) = item?;
                if after.as_deref() == Some(&k[..]) {
                    continue;
                }
                if let Some(owner) = owner_of(cf, &k, &v)? {
                    self.check_owner(&owner, opts, started, &mut report)?;
                }
                after = Some(k.to_vec());
                if opts.max_chunks.is_some_and(|m| report.chunks_checked >= m) {
                    self.save_scrub_cursor(phase, after.as_deref())?;
                    return Ok(report);
                }
            }
            phase += 1;
            after = None;
        }
        report.orphans = self.find_orphans(opts.orphan_grace, None)?;
        report.complete = true;
        self.save_scrub_cursor(0, None)?;
        Ok(report)
    }

    /// Checks every chunk of one row; reports what is still wrong once the
    /// row has been read again.
    fn check_owner(
        &self,
        owner: &Owner,
        opts: &ScrubOptions,
        started: Instant,
        report: &mut ScrubReport,
    ) -> StorageResult<()> {
        // Keeps the purger off this version's files while they are read.
        let _guard = match owner.seq {
            Some(seq) => match self.inner.readers.register(seq)? {
                Some(g) => Some(g),
                None => return Ok(()), // being purged right now
            },
            None => None,
        };
        for chunk in &owner.chunks {
            let (bytes, problem) = self.check_chunk(chunk, opts, started, report.bytes_checked)?;
            report.chunks_checked += 1;
            report.bytes_checked += bytes;
            let Some((missing, problem)) = problem else {
                continue;
            };
            if !self.still_lists(owner, &chunk.id)? {
                continue;
            }
            tracing::error!(chunk = %hex::encode(chunk.id), owner = %owner.name, %problem, "scrub: damaged chunk");
            let found = ChunkProblem {
                chunk: hex::encode(chunk.id),
                owner: owner.name.clone(),
                problem,
            };
            if missing {
                report.missing.push(found);
            } else {
                report.corrupted.push(found);
            }
        }
        Ok(())
    }

    /// Reads one chunk; returns the bytes read and, if damaged, whether it
    /// is missing and what is wrong.
    #[allow(clippy::type_complexity)]
    fn check_chunk(
        &self,
        chunk: &ChunkRef,
        opts: &ScrubOptions,
        started: Instant,
        done_before: u64,
    ) -> StorageResult<(u64, Option<(bool, String)>)> {
        Ok(check_chunk_in(
            &self.inner.chunks,
            chunk,
            opts.rate_bytes_per_sec,
            started,
            done_before,
        ))
    }

    /// Whether `owner`'s row still exists and still lists chunk `id`.
    fn still_lists(&self, owner: &Owner, id: &ChunkId) -> StorageResult<bool> {
        let Some(raw) = self.inner.db.get_owned(self.cf(owner.cf), &owner.key)? else {
            return Ok(false);
        };
        let again = owner_of(owner.cf, &owner.key, &raw)?;
        Ok(again.is_some_and(|o| o.chunks.iter().any(|c| &c.id == id)))
    }

    /// Chunk files that no row lists (`referenced`, when given, must list
    /// them too), older than `grace`, in the server's backend and in every
    /// bucket backend (named `N/ID` there).
    fn find_orphans(
        &self,
        grace: Duration,
        referenced: Option<&HashSet<ChunkId>>,
    ) -> StorageResult<Vec<String>> {
        let mut orphans = self.find_orphans_in(crate::rows::SERVER_BACKEND, grace, referenced)?;
        for n in self.backend_numbers()? {
            let found = self.find_orphans_in(n, grace, referenced)?;
            orphans.extend(found.into_iter().map(|name| format!("{n}/{name}")));
        }
        Ok(orphans)
    }

    /// [`Store::find_orphans`] in backend `n`.
    fn find_orphans_in(
        &self,
        n: u16,
        grace: Duration,
        referenced: Option<&HashSet<ChunkId>>,
    ) -> StorageResult<Vec<String>> {
        let now = SystemTime::now();
        let mut orphans = Vec::new();
        let mut failed = None;
        self.inner.chunks.list_in(n, |found| {
            let listed = match found.id {
                Some(id) => {
                    referenced.is_some_and(|r| r.contains(&id))
                        || match self.inner.db.get(self.cf(CF_CHUNKS), id) {
                            Ok(v) => v.is_some(),
                            Err(e) => {
                                failed.get_or_insert(e);
                                true
                            }
                        }
                }
                None => false,
            };
            // Only judged for what no row lists: a `stat` per chunk is not free.
            let old_enough = || {
                found
                    .modified()
                    .map(|t| now.duration_since(t).unwrap_or_default() >= grace)
                    .unwrap_or(false)
            };
            if !listed && old_enough() {
                orphans.push(found.name);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        orphans.sort();
        Ok(orphans)
    }

    fn scrub_cursor(&self) -> StorageResult<(usize, Option<Vec<u8>>)> {
        let Some(raw) = self
            .inner
            .db
            .get_owned(self.cf(CF_META), META_SCRUB_CURSOR)?
        else {
            return Ok((0, None));
        };
        match raw.split_first() {
            Some((&phase, key)) if (phase as usize) < PHASES.len() => {
                Ok((phase as usize, Some(key.to_vec())))
            }
            _ => Ok((0, None)),
        }
    }

    /// Persists where the next scrub resumes (`None`: from the start).
    fn save_scrub_cursor(&self, phase: usize, after: Option<&[u8]>) -> StorageResult<()> {
        let cf = self.cf(CF_META);
        match after {
            // Not synced: a cursor lost in a crash only repeats some work.
            Some(key) => {
                let mut raw = vec![phase as u8];
                raw.extend_from_slice(key);
                let mut batch = Batch::default();
                batch.put_cf(cf, META_SCRUB_CURSOR, raw);
                self.inner.db.commit(batch, Durability::Buffered)
            }
            None => {
                let mut batch = Batch::default();
                batch.delete_cf(cf, META_SCRUB_CURSOR);
                self.inner.db.commit(batch, Durability::Buffered)
            }
        }
    }

    /// The offline check (`kura fsck`): a complete scrub from the start,
    /// with orphans judged against every chunk any version, upload part or
    /// pending purge lists, not only the chunk index. `repair` removes the
    /// orphans (and nothing else) and reports them as found.
    pub fn fsck(&self, repair: bool) -> StorageResult<ScrubReport> {
        let opts = ScrubOptions {
            restart: true,
            ..ScrubOptions::default()
        };
        let mut report = self.scrub(&opts)?;
        let referenced = self.every_listed_chunk()?;
        report.orphans = self.find_orphans(Duration::ZERO, Some(&referenced))?;
        if repair {
            for name in &report.orphans {
                // Only files named like chunks (anything else is reported).
                // A bucket backend's chunk is named `N/ID`.
                let (n, hex_id) = match name.split_once('/') {
                    Some((n, id)) => (n.parse::<u16>().unwrap_or(u16::MAX), id),
                    None => (crate::rows::SERVER_BACKEND, name.as_str()),
                };
                let Some(id) = hex::decode(hex_id)
                    .ok()
                    .and_then(|v| ChunkId::try_from(v).ok())
                else {
                    continue;
                };
                self.inner.chunks.remove(n, &id)?;
                tracing::info!(chunk = %name, "fsck: removed orphan chunk file");
            }
        }
        Ok(report)
    }

    /// Every chunk id listed by a version, an upload part or a purge entry.
    fn every_listed_chunk(&self) -> StorageResult<HashSet<ChunkId>> {
        let mut ids = HashSet::new();
        for cf in PHASES {
            for item in self.inner.db.entries(self.cf(cf), ReadBounds::all(), None) {
                let (k, v) = item?;
                if let Some(owner) = owner_of(cf, &k, &v)? {
                    ids.extend(owner.chunks.iter().map(|c| c.id));
                }
            }
        }
        for item in self
            .inner
            .db
            .entries(self.cf(CF_PURGE), ReadBounds::all(), None)
        {
            let (_, v) = item?;
            let entry: PurgeEntry = rows::decode(&v)?;
            ids.extend(entry.chunks.iter().map(|c| c.id));
        }
        Ok(ids)
    }
}

/// Reads one chunk of `chunks`; returns the bytes read and, if damaged, whether it
/// is missing and what is wrong.
pub(crate) fn check_chunk_in(
    chunks: &ChunkStore,
    chunk: &ChunkRef,
    rate: Option<u64>,
    started: Instant,
    done_before: u64,
) -> (u64, Option<(bool, String)>) {
    let missing = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    let opened = chunks
        .open(chunk.backend, &chunk.id)
        .and_then(|f| Ok((f.stored_len()?, f)));
    let (len, mut file) = match opened {
        Ok(found) => found,
        Err(e) if missing(&e) => return (0, Some((true, "file missing".into()))),
        Err(e) => return (0, Some((false, format!("unreadable: {e}")))),
    };
    if len != chunk.len {
        return (
            0,
            Some((false, format!("{len} bytes, {} recorded", chunk.len))),
        );
    }
    if !chunk.is_checksummed() {
        return (0, None);
    }
    let mut buf = Vec::with_capacity(CHECKSUM_BLOCK as usize);
    let mut offset = 0u64;
    while offset < len {
        let n = (len - offset).min(CHECKSUM_BLOCK) as usize;
        buf.clear();
        match file.read_into(offset, n, &mut buf) {
            Ok(got) if got == n => {}
            Ok(got) => {
                let problem = format!("unreadable at {offset}: {got} of {n} bytes");
                return (offset, Some((false, problem)));
            }
            Err(e) => {
                return (
                    offset,
                    Some((false, format!("unreadable at {offset}: {e}"))),
                )
            }
        }
        if verify_blocks(chunk, offset, &buf[..n]).is_err() {
            let problem = format!(
                "checksum mismatch in block {} (bytes {offset}..{})",
                offset / CHECKSUM_BLOCK,
                offset + n as u64
            );
            return (offset + n as u64, Some((false, problem)));
        }
        offset += n as u64;
        throttle(rate, started, done_before + offset);
    }
    (offset, None)
}

/// Sleeps as long as reading `done` bytes since `started` outran `rate`.
fn throttle(rate: Option<u64>, started: Instant, done: u64) {
    let Some(rate) = rate.filter(|r| *r > 0) else {
        return;
    };
    let due = Duration::from_secs_f64(done as f64 / rate as f64);
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        std::thread::sleep(wait);
    }
}

/// The chunks a row of `cf` lists, and a name for its owner.
pub(crate) fn owner_of(cf: &'static str, key: &[u8], value: &[u8]) -> StorageResult<Option<Owner>> {
    let bucket_len = *key
        .first()
        .ok_or_else(|| StorageError::Corrupt("empty key".into()))? as usize;
    let bucket = String::from_utf8_lossy(key.get(1..1 + bucket_len).unwrap_or_default());
    let (chunks, name, seq) = if cf == CF_PARTS {
        let part: PartRow = rows::decode(value)?;
        let rest = &key[(1 + bucket_len).min(key.len())..];
        let (upload, number) = rest.split_at(rest.len().saturating_sub(4));
        let number = number.try_into().map(u32::from_be_bytes).unwrap_or(0);
        let (object, id) = keys::parse_upload_key(upload).unwrap_or_default();
        (
            part.chunks,
            format!("{bucket}/{object} upload {id} part {number}"),
            None,
        )
    } else {
        let row: ObjectRow = rows::decode(value)?;
        let object = if cf == CF_OBJECTS {
            keys::object_key_name(1 + bucket_len, key).map(str::to_string)
        } else {
            keys::version_key_parts(1 + bucket_len, key).map(|(k, _)| k)
        };
        let name = format!(
            "{bucket}/{}@{}",
            object.unwrap_or_default(),
            row.version_id()
        );
        let seq = row.seq;
        let DataLocation::Chunks(chunks) = row.data else {
            return Ok(None);
        };
        (chunks, name, Some(seq))
    };
    if chunks.is_empty() {
        return Ok(None);
    }
    Ok(Some(Owner {
        cf,
        key: key.to_vec(),
        name,
        chunks,
        seq,
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::objects::NewObject;
    use crate::StoreConfig;

    fn config(dir: &std::path::Path) -> StoreConfig {
        StoreConfig {
            data_dir: dir.to_path_buf(),
            chunk_size: 1000,
            inline_threshold: 4,
            retention: Duration::from_secs(3600),
        }
    }

    fn put(s: &Store, key: &str, body: &[u8]) -> ObjectRow {
        let lock = s.lock_key("b", key).unwrap();
        let mut w = s.object_writer();
        w.write(body).unwrap();
        let data = w.finish().unwrap();
        s.commit_object(&lock, "b", key, data, NewObject::default())
            .unwrap()
    }

    #[test]
    fn scrub_and_fsck_find_each_kind_of_damage_and_repair_only_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(config(dir.path())).unwrap();
        s.create_bucket("b").unwrap();
        let body = vec![3u8; 2500];
        let rows: Vec<ObjectRow> = (0..4).map(|i| put(&s, &format!("k{i}"), &body)).collect();
        // A replaced version: noncurrent rows are checked too.
        put(&s, "k0", &body);
        let local = s.inner.chunks.local_files().unwrap();
        let path = |row: &ObjectRow, i: usize| local.path(&row.chunks()[i].id);
        let mut bytes = std::fs::read(path(&rows[0], 1)).unwrap();
        bytes[10] ^= 1;
        std::fs::write(path(&rows[0], 1), bytes).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(path(&rows[1], 0))
            .unwrap()
            .set_len(10)
            .unwrap();
        std::fs::remove_file(path(&rows[2], 2)).unwrap();
        let orphan = crate::chunk_store::ChunkStore::new_id();
        std::fs::write(local.path(&orphan), b"stray").unwrap();

        // Online, in steps of 3 chunks: it resumes where it stopped.
        let step = ScrubOptions {
            max_chunks: Some(3),
            ..ScrubOptions::default()
        };
        let mut total = ScrubReport::default();
        let mut steps = 0;
        loop {
            let r = s.scrub(&step).unwrap();
            steps += 1;
            total.chunks_checked += r.chunks_checked;
            total.missing.extend(r.missing);
            total.corrupted.extend(r.corrupted);
            if r.complete {
                total.orphans = r.orphans;
                break;
            }
            assert!(steps < 20);
        }
        assert!(steps >= 5, "{steps} steps");
        assert_eq!(total.chunks_checked, 15);
        let names = |v: &[ChunkProblem]| v.iter().map(|p| p.chunk.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&total.missing),
            vec![hex::encode(rows[2].chunks()[2].id)]
        );
        let mut corrupted = names(&total.corrupted);
        corrupted.sort();
        let mut expected = vec![
            hex::encode(rows[0].chunks()[1].id),
            hex::encode(rows[1].chunks()[0].id),
        ];
        expected.sort();
        assert_eq!(corrupted, expected);
        assert_eq!(total.orphans, vec![hex::encode(orphan)]);
        // With a grace period, the fresh stray file may be an upload in progress.
        let graced = s
            .scrub(&ScrubOptions {
                orphan_grace: Duration::from_secs(600),
                ..ScrubOptions::default()
            })
            .unwrap();
        assert!(graced.orphans.is_empty() && graced.complete);
        drop(s);

        // Offline: the same report; repair removes the orphan and nothing else.
        let s = Store::open_unswept(config(dir.path()), crate::StoreTuning::default()).unwrap();
        let before = s.fsck(false).unwrap();
        assert_eq!(names(&before.missing), names(&total.missing));
        assert_eq!(before.corrupted.len(), 2);
        assert_eq!(before.orphans, total.orphans);
        let mut files = 0;
        s.inner.chunks.list(|_| files += 1).unwrap();
        let repaired = s.fsck(true).unwrap();
        assert_eq!(repaired.orphans, total.orphans);
        let mut after = 0;
        s.inner.chunks.list(|_| after += 1).unwrap();
        assert_eq!(after, files - 1);
        assert!(!s.inner.chunks.local_files().unwrap().path(&orphan).exists());
        assert!(s.fsck(false).unwrap().orphans.is_empty());
    }
}
