//! The disk model: what a file system holds now (`live`) and what would
//! survive a power cut (`durable`), as plain data with no FUSE in it, so the
//! rules can be unit-tested directly.
//!
//! The rules (the strict POSIX reading, as LazyFS and ALICE model it):
//! - A regular file's contents (bytes and length) become durable only by
//!   `fsync`/`fdatasync` of that file (or a write through an `O_SYNC`/`O_DSYNC`
//!   descriptor). A power cut reverts them to the last synced contents; a file
//!   never synced comes back empty.
//! - A directory's entries (creates, unlinks, renames, links, mkdir, rmdir)
//!   become durable only by `fsync` of that directory. A power cut reverts
//!   each directory to its last synced entries: unsynced new names vanish,
//!   unsynced removals come back, a rename not synced in both directories
//!   shows its old name (and, if only the target directory was synced, both).
//! - Syncing a file never makes its name durable, and syncing a directory
//!   never makes a file's contents durable.
//! - After a cut the tree is what is reachable from the root through durable
//!   entries; every surviving node gets a new inode number, so no cache the
//!   kernel or a process kept about the old ones can show pre-cut state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

/// An inode number.
pub type Ino = u64;
/// The root directory's inode number (FUSE's convention).
pub const ROOT: Ino = 1;

/// What an operation failed with: an `errno` value.
pub type Errno = i32;

/// Kind of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

/// One file or directory as it is now.
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits.
    pub perm: u16,
    /// File contents (empty for directories).
    pub data: Vec<u8>,
    /// Directory entries (empty for files).
    pub entries: BTreeMap<OsString, Ino>,
    /// Names pointing at this node.
    pub nlink: u32,
    /// Open descriptors (a node with no name is kept while open).
    pub opens: u32,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
}

impl Node {
    fn new(kind: Kind, perm: u16) -> Node {
        let now = SystemTime::now();
        Node {
            kind,
            perm,
            data: Vec::new(),
            entries: BTreeMap::new(),
            nlink: 0,
            opens: 0,
            mtime: now,
            ctime: now,
        }
    }
}

/// Counters reported by the control socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub cuts: u64,
    pub file_syncs: u64,
    pub dir_syncs: u64,
    /// Nodes reachable now.
    pub nodes: u64,
    /// Bytes held in live files.
    pub live_bytes: u64,
}

/// An operation a [`Fault`] can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOp {
    Read,
    Write,
    /// `fsync`/`fdatasync` of a file.
    Fsync,
}

/// An injected failure: the next `count` operations `op` on a file whose
/// path contains `path` (after skipping `skip` such operations) fail with
/// `errno`.
///
/// A failed `fsync` models Linux since 4.13 ("fsyncgate"): the write-back
/// error is reported once and the file's dirty pages are then marked clean.
/// Its unsynced contents stay readable but never become durable: every later
/// `fsync` of that file succeeds without making anything durable, so a
/// program that retries the fsync and believes it loses the data at the
/// next power cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub op: FaultOp,
    pub errno: Errno,
    pub path: String,
    pub skip: u32,
    pub count: u32,
}

/// The whole disk: live state plus the durable shadow.
#[derive(Debug)]
pub struct Disk {
    /// Armed faults, in the order given.
    faults: Vec<Fault>,
    /// Files whose fsync failed: nothing written to them becomes durable any more.
    poisoned: HashSet<Ino>,
    live: HashMap<Ino, Node>,
    /// File contents as of each file's last sync.
    durable_data: HashMap<Ino, Vec<u8>>,
    /// Directory entries as of each directory's last sync.
    durable_dirs: HashMap<Ino, BTreeMap<OsString, Ino>>,
    /// Kind and permissions of every node a durable entry may point at.
    /// Metadata other than names and contents is taken as durable at once.
    kinds: HashMap<Ino, (Kind, u16)>,
    next_ino: Ino,
    stats: Stats,
}

impl Default for Disk {
    fn default() -> Self {
        Disk::new()
    }
}

impl Disk {
    /// An empty disk: just the root directory, durable and empty.
    pub fn new() -> Disk {
        let mut root = Node::new(Kind::Dir, 0o755);
        root.nlink = 2;
        let mut live = HashMap::new();
        live.insert(ROOT, root);
        let mut kinds = HashMap::new();
        kinds.insert(ROOT, (Kind::Dir, 0o755));
        let mut durable_dirs = HashMap::new();
        durable_dirs.insert(ROOT, BTreeMap::new());
        Disk {
            faults: Vec::new(),
            poisoned: HashSet::new(),
            live,
            durable_data: HashMap::new(),
            durable_dirs,
            kinds,
            next_ino: ROOT + 1,
            stats: Stats::default(),
        }
    }

    /// The node `ino`, if it exists now.
    pub fn node(&self, ino: Ino) -> Option<&Node> {
        self.live.get(&ino)
    }

    fn node_mut(&mut self, ino: Ino) -> Result<&mut Node, Errno> {
        self.live.get_mut(&ino).ok_or(libc::ENOENT)
    }

    fn dir(&self, ino: Ino) -> Result<&Node, Errno> {
        match self.live.get(&ino) {
            Some(n) if n.kind == Kind::Dir => Ok(n),
            Some(_) => Err(libc::ENOTDIR),
            None => Err(libc::ENOENT),
        }
    }

    /// Looks `name` up in directory `parent`.
    pub fn lookup(&self, parent: Ino, name: &OsStr) -> Result<Ino, Errno> {
        self.dir(parent)?
            .entries
            .get(name)
            .copied()
            .ok_or(libc::ENOENT)
    }

    /// Creates a file or directory `name` in `parent`.
    pub fn create(
        &mut self,
        parent: Ino,
        name: &OsStr,
        kind: Kind,
        perm: u16,
    ) -> Result<Ino, Errno> {
        if self.dir(parent)?.entries.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let mut node = Node::new(kind, perm);
        node.nlink = if kind == Kind::Dir { 2 } else { 1 };
        self.live.insert(ino, node);
        self.kinds.insert(ino, (kind, perm));
        let p = self.node_mut(parent)?;
        p.entries.insert(name.to_owned(), ino);
        p.mtime = SystemTime::now();
        if kind == Kind::Dir {
            p.nlink += 1;
        }
        Ok(ino)
    }

    /// Drops one name of `ino`; frees it once nameless and closed.
    fn unref(&mut self, ino: Ino) {
        let Some(n) = self.live.get_mut(&ino) else {
            return;
        };
        n.nlink = if n.kind == Kind::Dir {
            0
        } else {
            n.nlink.saturating_sub(1)
        };
        n.ctime = SystemTime::now();
        if n.nlink == 0 && n.opens == 0 {
            self.live.remove(&ino);
        }
    }

    /// Removes the file `name` from `parent`.
    pub fn unlink(&mut self, parent: Ino, name: &OsStr) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        if self.live[&ino].kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        let p = self.node_mut(parent)?;
        p.entries.remove(name);
        p.mtime = SystemTime::now();
        self.unref(ino);
        Ok(())
    }

    /// Removes the empty directory `name` from `parent`.
    pub fn rmdir(&mut self, parent: Ino, name: &OsStr) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        let d = self.dir(ino)?;
        if !d.entries.is_empty() {
            return Err(libc::ENOTEMPTY);
        }
        let p = self.node_mut(parent)?;
        p.entries.remove(name);
        p.nlink -= 1;
        p.mtime = SystemTime::now();
        self.unref(ino);
        Ok(())
    }

    /// Adds the name `name` in `parent` for the file `ino`.
    pub fn link(&mut self, ino: Ino, parent: Ino, name: &OsStr) -> Result<(), Errno> {
        match self.live.get(&ino) {
            Some(n) if n.kind == Kind::File => {}
            Some(_) => return Err(libc::EPERM),
            None => return Err(libc::ENOENT),
        }
        if self.dir(parent)?.entries.contains_key(name) {
            return Err(libc::EEXIST);
        }
        self.node_mut(parent)?.entries.insert(name.to_owned(), ino);
        self.node_mut(ino)?.nlink += 1;
        Ok(())
    }

    /// Is `dir` the directory `ancestor` or inside it?
    fn is_within(&self, dir: Ino, ancestor: Ino) -> bool {
        // Directories have one parent; walk down from `ancestor` instead of
        // keeping parent pointers (trees in tests are small).
        if dir == ancestor {
            return true;
        }
        let mut stack = vec![ancestor];
        let mut seen = HashSet::new();
        while let Some(d) = stack.pop() {
            if !seen.insert(d) {
                continue;
            }
            if let Some(n) = self.live.get(&d) {
                for &child in n.entries.values() {
                    if child == dir {
                        return true;
                    }
                    if self.live.get(&child).is_some_and(|c| c.kind == Kind::Dir) {
                        stack.push(child);
                    }
                }
            }
        }
        false
    }

    /// Renames `parent/name` to `newparent/newname`, replacing a file or an
    /// empty directory there (unless `noreplace`).
    pub fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        newparent: Ino,
        newname: &OsStr,
        noreplace: bool,
    ) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        self.dir(newparent)?;
        let kind = self.live[&ino].kind;
        if kind == Kind::Dir && self.is_within(newparent, ino) {
            return Err(libc::EINVAL);
        }
        if let Ok(old) = self.lookup(newparent, newname) {
            if old == ino {
                return Ok(());
            }
            if noreplace {
                return Err(libc::EEXIST);
            }
            match (kind, self.live[&old].kind) {
                (Kind::Dir, Kind::File) => return Err(libc::ENOTDIR),
                (Kind::File, Kind::Dir) => return Err(libc::EISDIR),
                (Kind::Dir, Kind::Dir) => {
                    if !self.live[&old].entries.is_empty() {
                        return Err(libc::ENOTEMPTY);
                    }
                    self.node_mut(newparent)?.nlink -= 1;
                }
                _ => {}
            }
            self.node_mut(newparent)?.entries.remove(newname);
            self.unref(old);
        }
        let now = SystemTime::now();
        let p = self.node_mut(parent)?;
        p.entries.remove(name);
        p.mtime = now;
        if kind == Kind::Dir {
            p.nlink -= 1;
        }
        let np = self.node_mut(newparent)?;
        np.entries.insert(newname.to_owned(), ino);
        np.mtime = now;
        if kind == Kind::Dir {
            np.nlink += 1;
        }
        Ok(())
    }

    /// Reads up to `size` bytes at `offset`.
    pub fn read(&self, ino: Ino, offset: u64, size: u32) -> Result<&[u8], Errno> {
        let n = self.live.get(&ino).ok_or(libc::ENOENT)?;
        if n.kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        let start = (offset as usize).min(n.data.len());
        let end = start.saturating_add(size as usize).min(n.data.len());
        Ok(&n.data[start..end])
    }

    /// Writes `data` at `offset`, growing the file (zero-filled) as needed.
    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let n = self.node_mut(ino)?;
        if n.kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        let start = offset as usize;
        let end = start + data.len();
        if n.data.len() < end {
            n.data.resize(end, 0);
        }
        n.data[start..end].copy_from_slice(data);
        n.mtime = SystemTime::now();
        Ok(())
    }

    /// Truncates or extends (with zeros) the file to `size` bytes.
    pub fn set_len(&mut self, ino: Ino, size: u64) -> Result<(), Errno> {
        let n = self.node_mut(ino)?;
        if n.kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        n.data.resize(size as usize, 0);
        n.mtime = SystemTime::now();
        Ok(())
    }

    /// Changes permission bits.
    pub fn set_perm(&mut self, ino: Ino, perm: u16) -> Result<(), Errno> {
        self.node_mut(ino)?.perm = perm;
        if let Some(k) = self.kinds.get_mut(&ino) {
            k.1 = perm;
        }
        Ok(())
    }

    /// An open descriptor of `ino` begins.
    pub fn open(&mut self, ino: Ino) -> Result<(), Errno> {
        self.node_mut(ino)?.opens += 1;
        Ok(())
    }

    /// An open descriptor of `ino` ends (a nameless node is freed).
    pub fn release(&mut self, ino: Ino) {
        if let Some(n) = self.live.get_mut(&ino) {
            n.opens = n.opens.saturating_sub(1);
            if n.nlink == 0 && n.opens == 0 {
                self.live.remove(&ino);
            }
        }
    }

    /// `fsync`/`fdatasync` of a file: its current contents become durable.
    /// For a directory, its current entries become durable.
    pub fn sync(&mut self, ino: Ino) -> Result<(), Errno> {
        let n = self.live.get(&ino).ok_or(libc::ENOENT)?;
        match n.kind {
            Kind::File => {
                self.stats.file_syncs += 1;
                if self.poisoned.contains(&ino) {
                    // fsyncgate: the failed write-back was reported once; the
                    // pages are clean now, so this sync has nothing to write.
                    return Ok(());
                }
                let data = n.data.clone();
                self.durable_data.insert(ino, data);
            }
            Kind::Dir => {
                self.stats.dir_syncs += 1;
                let entries = n.entries.clone();
                self.durable_dirs.insert(ino, entries);
            }
        }
        Ok(())
    }

    /// Simulates a power cut: the live state becomes the durable state, with
    /// fresh inode numbers for everything but the root.
    pub fn power_cut(&mut self) {
        let mut live = HashMap::new();
        let mut durable_data = HashMap::new();
        let mut durable_dirs = HashMap::new();
        let mut kinds = HashMap::new();
        let mut file_ids: HashMap<Ino, Ino> = HashMap::new(); // old -> new (hard links)
        let mut seen_dirs = HashSet::new();
        let mut next = self.next_ino;
        // (old dir ino, new dir ino)
        let mut stack = vec![(ROOT, ROOT)];
        seen_dirs.insert(ROOT);
        let root_perm = self.kinds.get(&ROOT).map_or(0o755, |k| k.1);
        let mut root = Node::new(Kind::Dir, root_perm);
        root.nlink = 2;
        live.insert(ROOT, root);
        kinds.insert(ROOT, (Kind::Dir, root_perm));
        while let Some((old_dir, new_dir)) = stack.pop() {
            let entries = self.durable_dirs.get(&old_dir).cloned().unwrap_or_default();
            let mut new_entries = BTreeMap::new();
            for (name, old) in entries {
                let Some(&(kind, perm)) = self.kinds.get(&old) else {
                    continue;
                };
                match kind {
                    Kind::Dir => {
                        // A directory has one name; a second durable name
                        // (an unsynced move seen from both sides) is dropped.
                        if !seen_dirs.insert(old) {
                            continue;
                        }
                        let ino = next;
                        next += 1;
                        let mut n = Node::new(Kind::Dir, perm);
                        n.nlink = 2;
                        live.insert(ino, n);
                        kinds.insert(ino, (kind, perm));
                        live.get_mut(&new_dir).unwrap().nlink += 1;
                        new_entries.insert(name, ino);
                        stack.push((old, ino));
                    }
                    Kind::File => {
                        let ino = *file_ids.entry(old).or_insert_with(|| {
                            let ino = next;
                            next += 1;
                            let data = self.durable_data.get(&old).cloned().unwrap_or_default();
                            let mut n = Node::new(Kind::File, perm);
                            n.data = data.clone();
                            live.insert(ino, n);
                            kinds.insert(ino, (kind, perm));
                            durable_data.insert(ino, data);
                            ino
                        });
                        live.get_mut(&ino).unwrap().nlink += 1;
                        new_entries.insert(name, ino);
                    }
                }
            }
            live.get_mut(&new_dir).unwrap().entries = new_entries.clone();
            durable_dirs.insert(new_dir, new_entries);
        }
        self.live = live;
        self.durable_data = durable_data;
        self.durable_dirs = durable_dirs;
        self.kinds = kinds;
        self.next_ino = next;
        self.stats.cuts += 1;
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        Stats {
            nodes: self.live.len() as u64,
            live_bytes: self.live.values().map(|n| n.data.len() as u64).sum(),
            ..self.stats
        }
    }

    /// Arms a fault.
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Whether a read fault is armed (files opened now must bypass the
    /// kernel's page cache, or cached pages would be served around it).
    pub fn read_fault_armed(&self) -> bool {
        self.faults.iter().any(|f| f.op == FaultOp::Read)
    }

    /// Disarms every fault (files already poisoned by a failed fsync stay so).
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Whether `op` on `ino` is to fail now, and with which errno; counts
    /// the operation against the first armed fault that matches it.
    pub fn fault(&mut self, op: FaultOp, ino: Ino) -> Option<Errno> {
        if self.faults.is_empty() {
            return None;
        }
        let path = self.path_of(ino)?;
        let i = self
            .faults
            .iter()
            .position(|f| f.op == op && path.contains(&f.path))?;
        let f = &mut self.faults[i];
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        let errno = f.errno;
        f.count -= 1;
        if f.count == 0 {
            self.faults.remove(i);
        }
        if op == FaultOp::Fsync {
            self.poisoned.insert(ino);
        }
        Some(errno)
    }

    /// A path of `ino` from the root (`/a/b`), if it has a name now.
    pub fn path_of(&self, ino: Ino) -> Option<String> {
        let mut stack = vec![(ROOT, String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for (name, &child) in &self.live.get(&dir)?.entries {
                let path = format!("{prefix}/{}", name.to_string_lossy());
                if child == ino {
                    return Some(path);
                }
                if self.live.get(&child).is_some_and(|n| n.kind == Kind::Dir) {
                    stack.push((child, path));
                }
            }
        }
        None
    }

    /// Walks `path` (components separated by `/`) from the root.
    pub fn resolve(&self, path: &str) -> Result<Ino, Errno> {
        let mut ino = ROOT;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            ino = self.lookup(ino, OsStr::new(part))?;
        }
        Ok(ino)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    fn content(d: &Disk, path: &str) -> Option<Vec<u8>> {
        let ino = d.resolve(path).ok()?;
        Some(d.node(ino)?.data.clone())
    }

    #[test]
    fn move_between_directories_synced_only_at_the_target_shows_both_names() {
        let mut d = Disk::new();
        let a = d.create(ROOT, name("a"), Kind::Dir, 0o755).unwrap();
        let b = d.create(ROOT, name("b"), Kind::Dir, 0o755).unwrap();
        let f = d.create(a, name("f"), Kind::File, 0o644).unwrap();
        d.write(f, 0, b"x").unwrap();
        d.sync(f).unwrap();
        d.sync(a).unwrap();
        d.sync(ROOT).unwrap();
        d.rename(a, name("f"), b, name("g"), false).unwrap();
        d.sync(b).unwrap();
        d.power_cut();
        assert_eq!(content(&d, "a/f"), Some(b"x".to_vec()));
        assert_eq!(content(&d, "b/g"), Some(b"x".to_vec()));
        // One node with two names, as a hard link would be.
        assert_eq!(d.resolve("a/f"), d.resolve("b/g"));
        assert_eq!(d.node(d.resolve("a/f").unwrap()).unwrap().nlink, 2);
    }

    #[test]
    fn cut_renumbers_everything_but_the_root() {
        let mut d = Disk::new();
        let f = d.create(ROOT, name("f"), Kind::File, 0o644).unwrap();
        d.sync(ROOT).unwrap();
        d.power_cut();
        let g = d.resolve("f").unwrap();
        assert_ne!(f, g);
        assert!(d.node(f).is_none());
        assert_eq!(d.stats().cuts, 1);
    }

    #[test]
    fn unsynced_nodes_are_forgotten_for_good() {
        let mut d = Disk::new();
        let f = d.create(ROOT, name("f"), Kind::File, 0o644).unwrap();
        d.write(f, 0, b"data").unwrap();
        d.sync(f).unwrap();
        d.power_cut();
        assert_eq!(d.resolve("f"), Err(libc::ENOENT));
        // A later sync of the root cannot resurrect it.
        d.sync(ROOT).unwrap();
        d.power_cut();
        assert_eq!(d.resolve("f"), Err(libc::ENOENT));
        assert_eq!(d.stats().nodes, 1);
    }

    #[test]
    fn a_failed_fsync_is_not_undone_by_a_retry() {
        let mut d = Disk::new();
        let dir = d.create(ROOT, name("chunks"), Kind::Dir, 0o755).unwrap();
        let f = d.create(dir, name("f"), Kind::File, 0o644).unwrap();
        let g = d.create(ROOT, name("g"), Kind::File, 0o644).unwrap();
        d.sync(dir).unwrap();
        d.sync(ROOT).unwrap();
        d.inject(Fault {
            op: FaultOp::Fsync,
            errno: libc::EIO,
            path: "chunks/".into(),
            skip: 0,
            count: 1,
        });
        d.write(f, 0, b"new").unwrap();
        d.write(g, 0, b"other").unwrap();
        assert_eq!(d.fault(FaultOp::Fsync, g), None, "path does not match");
        assert_eq!(d.fault(FaultOp::Fsync, f), Some(libc::EIO));
        assert_eq!(d.fault(FaultOp::Fsync, f), None, "used up");
        d.sync(f).unwrap();
        d.sync(g).unwrap();
        assert_eq!(d.path_of(f).as_deref(), Some("/chunks/f"));
        d.power_cut();
        assert_eq!(content(&d, "chunks/f"), Some(Vec::new()));
        assert_eq!(content(&d, "g"), Some(b"other".to_vec()));
    }

    #[test]
    fn directory_cannot_move_into_itself() {
        let mut d = Disk::new();
        let a = d.create(ROOT, name("a"), Kind::Dir, 0o755).unwrap();
        d.create(a, name("b"), Kind::Dir, 0o755).unwrap();
        let b = d.resolve("a/b").unwrap();
        assert_eq!(
            d.rename(ROOT, name("a"), b, name("c"), false),
            Err(libc::EINVAL)
        );
    }
}
