//! The file system's rules, checked through a real FUSE mount with ordinary
//! file system calls: what was not made durable is gone after a cut.
//! Skips (with a message) where FUSE cannot be mounted.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use kura_powercut::Mounted;

struct Fixture {
    mounted: Option<Mounted>,
    root: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Option<Fixture> {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("mnt");
        fs::create_dir(&root).unwrap();
        match Mounted::mount(&root) {
            Ok(m) => Some(Fixture {
                mounted: Some(m),
                root,
                _tmp: tmp,
            }),
            Err(e) => {
                eprintln!("SKIPPED: cannot mount FUSE here ({e}); install fuse3 and run as root or with /dev/fuse access");
                None
            }
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn cut(&self) {
        self.mounted.as_ref().unwrap().cut();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            m.unmount().unwrap();
        }
    }
}

fn sync_dir(p: &Path) {
    File::open(p).unwrap().sync_all().unwrap();
}

fn write_file(p: &Path, data: &[u8], sync: bool) {
    let mut f = File::create(p).unwrap();
    f.write_all(data).unwrap();
    if sync {
        f.sync_all().unwrap();
    }
}

fn read(p: &Path) -> Option<Vec<u8>> {
    match fs::read(p) {
        Ok(d) => Some(d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("read {}: {e}", p.display()),
    }
}

macro_rules! fixture {
    () => {
        match Fixture::new() {
            Some(f) => f,
            None => return,
        }
    };
}

#[test]
fn synced_file_and_entry_survive() {
    let f = fixture!();
    fs::create_dir(f.p("d")).unwrap();
    write_file(&f.p("d/a"), b"durable", true);
    sync_dir(&f.p("d"));
    sync_dir(&f.root);
    f.cut();
    assert_eq!(read(&f.p("d/a")).as_deref(), Some(&b"durable"[..]));
}

#[test]
fn unsynced_data_is_gone_but_synced_entry_stays() {
    let f = fixture!();
    write_file(&f.p("a"), b"never synced", false);
    sync_dir(&f.root);
    f.cut();
    assert_eq!(read(&f.p("a")).as_deref(), Some(&b""[..]));
}

#[test]
fn synced_data_without_directory_sync_is_gone() {
    let f = fixture!();
    write_file(&f.p("a"), b"synced", true);
    assert!(read(&f.p("a")).is_some());
    f.cut();
    assert_eq!(read(&f.p("a")), None);
    assert_eq!(fs::read_dir(&f.root).unwrap().count(), 0);
}

#[test]
fn unsynced_tail_is_cut_back_to_the_last_sync() {
    let f = fixture!();
    write_file(&f.p("log"), b"first ", true);
    sync_dir(&f.root);
    let mut h = OpenOptions::new().append(true).open(f.p("log")).unwrap();
    h.write_all(b"second").unwrap();
    drop(h); // close is not a sync
    assert_eq!(read(&f.p("log")).as_deref(), Some(&b"first second"[..]));
    f.cut();
    assert_eq!(read(&f.p("log")).as_deref(), Some(&b"first "[..]));
}

#[test]
fn unsynced_overwrite_and_truncate_revert() {
    let f = fixture!();
    write_file(&f.p("a"), b"0123456789", true);
    sync_dir(&f.root);
    let h = OpenOptions::new().write(true).open(f.p("a")).unwrap();
    h.set_len(3).unwrap();
    drop(h);
    f.cut();
    assert_eq!(read(&f.p("a")).as_deref(), Some(&b"0123456789"[..]));
}

#[test]
fn rename_without_directory_sync_shows_the_old_name() {
    let f = fixture!();
    write_file(&f.p("old"), b"x", true);
    sync_dir(&f.root);
    fs::rename(f.p("old"), f.p("new")).unwrap();
    f.cut();
    assert_eq!(read(&f.p("old")).as_deref(), Some(&b"x"[..]));
    assert_eq!(read(&f.p("new")), None);
    // Synced, the rename sticks.
    fs::rename(f.p("old"), f.p("new")).unwrap();
    sync_dir(&f.root);
    f.cut();
    assert_eq!(read(&f.p("old")), None);
    assert_eq!(read(&f.p("new")).as_deref(), Some(&b"x"[..]));
}

#[test]
fn rename_over_a_file_reverts_to_the_replaced_contents() {
    let f = fixture!();
    write_file(&f.p("CURRENT"), b"v1", true);
    sync_dir(&f.root);
    write_file(&f.p("tmp"), b"v2", true);
    fs::rename(f.p("tmp"), f.p("CURRENT")).unwrap();
    f.cut();
    assert_eq!(read(&f.p("CURRENT")).as_deref(), Some(&b"v1"[..]));
    assert_eq!(read(&f.p("tmp")), None);
}

#[test]
fn unlink_without_directory_sync_comes_back() {
    let f = fixture!();
    write_file(&f.p("a"), b"keep", true);
    sync_dir(&f.root);
    fs::remove_file(f.p("a")).unwrap();
    assert_eq!(read(&f.p("a")), None);
    f.cut();
    assert_eq!(read(&f.p("a")).as_deref(), Some(&b"keep"[..]));
    fs::remove_file(f.p("a")).unwrap();
    sync_dir(&f.root);
    f.cut();
    assert_eq!(read(&f.p("a")), None);
}

#[test]
fn new_directory_needs_its_parent_synced_and_itself_for_its_entries() {
    let f = fixture!();
    fs::create_dir_all(f.p("a/b")).unwrap();
    write_file(&f.p("a/b/c"), b"c", true);
    sync_dir(&f.p("a/b"));
    sync_dir(&f.p("a"));
    // The root was never synced: all of a/ is unreachable.
    f.cut();
    assert!(!f.p("a").exists());

    fs::create_dir_all(f.p("a/b")).unwrap();
    write_file(&f.p("a/b/c"), b"c", true);
    sync_dir(&f.root);
    sync_dir(&f.p("a"));
    // a/b is durable but its entry c is not.
    f.cut();
    assert!(f.p("a/b").is_dir());
    assert_eq!(fs::read_dir(f.p("a/b")).unwrap().count(), 0);
}

#[test]
fn o_dsync_writes_are_durable_as_written() {
    let f = fixture!();
    let mut h = OpenOptions::new()
        .create(true)
        .write(true)
        .custom_flags(libc::O_DSYNC)
        .open(f.p("wal"))
        .unwrap();
    h.write_all(b"record").unwrap();
    sync_dir(&f.root);
    f.cut();
    assert_eq!(read(&f.p("wal")).as_deref(), Some(&b"record"[..]));
}

#[test]
fn a_file_open_across_a_cut_is_stale() {
    let f = fixture!();
    write_file(&f.p("a"), b"before", true);
    sync_dir(&f.root);
    let mut h = File::open(f.p("a")).unwrap();
    f.cut();
    // The process holding it "died" with the power: its descriptor no longer
    // reaches the file (new inode numbers after a cut).
    let mut buf = Vec::new();
    assert!(h.read_to_end(&mut buf).is_err() || buf.is_empty());
    assert_eq!(read(&f.p("a")).as_deref(), Some(&b"before"[..]));
}

#[test]
fn unlinked_open_file_stays_readable_until_closed() {
    let f = fixture!();
    write_file(&f.p("a"), b"still here", false);
    let mut h = File::open(f.p("a")).unwrap();
    fs::remove_file(f.p("a")).unwrap();
    let mut buf = Vec::new();
    h.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"still here");
}

#[test]
fn large_file_round_trips_and_survives_when_synced() {
    let f = fixture!();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write_file(&f.p("big"), &data, true);
    sync_dir(&f.root);
    let mut h = OpenOptions::new().append(true).open(f.p("big")).unwrap();
    h.write_all(&[1; 100_000]).unwrap();
    drop(h);
    f.cut();
    assert!(read(&f.p("big")).unwrap() == data);
}
