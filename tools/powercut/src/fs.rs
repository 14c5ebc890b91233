//! The FUSE adapter: kernel requests in, [`Disk`] operations out.
//!
//! Attributes and entries are returned with a zero TTL and files are opened
//! without `FOPEN_KEEP_CACHE`, so the kernel re-asks after a power cut instead
//! of serving what it cached before it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::disk::{Disk, FaultOp, Ino, Kind, Node};

const TTL: Duration = Duration::ZERO;

/// The file system served over FUSE; the [`Disk`] is shared with the control socket.
pub struct PowerCutFs {
    disk: Arc<Mutex<Disk>>,
    /// Open handles: inode and whether writes through it are synchronous.
    handles: Mutex<HashMap<u64, (Ino, bool)>>,
    next_fh: AtomicU64,
    uid: u32,
    gid: u32,
}

impl PowerCutFs {
    /// Serves `disk`; every node is owned by `uid`/`gid`.
    pub fn new(disk: Arc<Mutex<Disk>>, uid: u32, gid: u32) -> PowerCutFs {
        PowerCutFs {
            disk,
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            uid,
            gid,
        }
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        // A panic while holding the lock leaves a consistent-enough model for
        // a test tool; keep serving.
        self.disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn attr(&self, ino: Ino, n: &Node) -> FileAttr {
        let (kind, size) = match n.kind {
            Kind::File => (FileType::RegularFile, n.data.len() as u64),
            Kind::Dir => (FileType::Directory, 4096),
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.ctime,
            crtime: UNIX_EPOCH,
            kind,
            perm: n.perm,
            nlink: n.nlink.max(1),
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn new_handle(&self, ino: Ino, flags: i32) -> FileHandle {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let sync = flags & libc::O_DSYNC != 0;
        self.handles.lock().unwrap().insert(fh, (ino, sync));
        FileHandle(fh)
    }

    fn entry(&self, disk: &Disk, ino: Ino, reply: ReplyEntry) {
        match disk.node(ino) {
            Some(n) => reply.entry(&TTL, &self.attr(ino, n), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }
}

fn err(e: i32) -> Errno {
    Errno::from_i32(e)
}

fn to_time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

impl Filesystem for PowerCutFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let disk = self.disk();
        match disk.lookup(parent.0, name) {
            Ok(ino) => self.entry(&disk, ino, reply),
            Err(e) => reply.error(err(e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let disk = self.disk();
        match disk.node(ino.0) {
            Some(n) => reply.attr(&TTL, &self.attr(ino.0, n)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut disk = self.disk();
        let mut result = Ok(());
        if let Some(size) = size {
            result = result.and(disk.set_len(ino.0, size));
        }
        if let Some(mode) = mode {
            result = result.and(disk.set_perm(ino.0, (mode & 0o7777) as u16));
        }
        if let Err(e) = result {
            return reply.error(err(e));
        }
        let _ = mtime.map(to_time); // times are not modelled beyond now
        match disk.node(ino.0) {
            Some(n) => reply.attr(&TTL, &self.attr(ino.0, n)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut disk = self.disk();
        let perm = (mode & !umask & 0o7777) as u16;
        match disk.create(parent.0, name, Kind::Dir, perm) {
            Ok(ino) => self.entry(&disk, ino, reply),
            Err(e) => reply.error(err(e)),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        let mut disk = self.disk();
        let perm = (mode & !umask & 0o7777) as u16;
        match disk.create(parent.0, name, Kind::File, perm) {
            Ok(ino) => self.entry(&disk, ino, reply),
            Err(e) => reply.error(err(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.disk().unlink(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.disk().rmdir(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return reply.error(Errno::EINVAL);
        }
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        match self
            .disk()
            .rename(parent.0, name, newparent.0, newname, noreplace)
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let mut disk = self.disk();
        match disk.link(ino.0, newparent.0, newname) {
            Ok(()) => self.entry(&disk, ino.0, reply),
            Err(e) => reply.error(err(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut disk = self.disk();
        if let Err(e) = disk.open(ino.0) {
            return reply.error(err(e));
        }
        if flags.0 & libc::O_TRUNC != 0 {
            let _ = disk.set_len(ino.0, 0);
        }
        // Reads served from the page cache would never reach an armed fault.
        let open_flags = if disk.read_fault_armed() {
            FopenFlags::FOPEN_DIRECT_IO
        } else {
            FopenFlags::empty()
        };
        reply.opened(self.new_handle(ino.0, flags.0), open_flags);
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut disk = self.disk();
        let perm = (mode & !umask & 0o7777) as u16;
        let ino = match disk.create(parent.0, name, Kind::File, perm) {
            Ok(ino) => ino,
            Err(e) => return reply.error(err(e)),
        };
        let _ = disk.open(ino);
        let attr = self.attr(ino, disk.node(ino).expect("just created"));
        let fh = self.new_handle(ino, flags);
        reply.created(&TTL, &attr, Generation(0), fh, FopenFlags::empty());
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut disk = self.disk();
        if let Some(e) = disk.fault(FaultOp::Read, ino.0) {
            return reply.error(err(e));
        }
        match disk.read(ino.0, offset, size) {
            Ok(data) => reply.data(data),
            Err(e) => reply.error(err(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let sync = flags.0 & libc::O_DSYNC != 0
            || self.handles.lock().unwrap().get(&fh.0).is_some_and(|h| h.1);
        let mut disk = self.disk();
        if let Some(e) = disk.fault(FaultOp::Write, ino.0) {
            return reply.error(err(e));
        }
        let mut offset = offset;
        if flags.0 & libc::O_APPEND != 0 {
            offset = disk.node(ino.0).map_or(0, |n| n.data.len() as u64);
        }
        let result =
            disk.write(ino.0, offset, data)
                .and_then(|()| if sync { disk.sync(ino.0) } else { Ok(()) });
        match result {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(err(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() is not a sync: nothing becomes durable here.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.handles.lock().unwrap().remove(&fh.0);
        self.disk().release(ino.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut disk = self.disk();
        if let Some(e) = disk.fault(FaultOp::Fsync, ino.0) {
            return reply.error(err(e));
        }
        match disk.sync(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.disk().node(ino.0) {
            Some(n) if n.kind == Kind::Dir => reply.opened(FileHandle(0), FopenFlags::empty()),
            Some(_) => reply.error(Errno::ENOTDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let disk = self.disk();
        let Some(dir) = disk.node(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        if dir.kind != Kind::Dir {
            return reply.error(Errno::ENOTDIR);
        }
        // Offsets: 1 = ".", 2 = "..", 3.. = entries in name order.
        let dots = [
            (ino.0, FileType::Directory, OsStr::new(".")),
            (ino.0, FileType::Directory, OsStr::new("..")),
        ];
        let entries = dir.entries.iter().map(|(name, &child)| {
            let kind = match disk.node(child).map(|n| n.kind) {
                Some(Kind::Dir) => FileType::Directory,
                _ => FileType::RegularFile,
            };
            (child, kind, name.as_os_str())
        });
        for (i, (child, kind, name)) in dots
            .into_iter()
            .chain(entries)
            .enumerate()
            .skip(offset as usize)
        {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut disk = self.disk();
        if let Some(e) = disk.fault(FaultOp::Fsync, ino.0) {
            return reply.error(err(e));
        }
        match disk.sync(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Report a roomy disk: kura and RocksDB only look at free space.
        let blocks = 1 << 28; // 1 TiB of 4 KiB blocks
        reply.statfs(blocks, blocks, blocks, 1 << 24, 1 << 24, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let mut disk = self.disk();
        let Some(n) = disk.node(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let len = n.data.len() as u64;
        if mode & !libc::FALLOC_FL_KEEP_SIZE != 0 {
            return reply.error(Errno::EOPNOTSUPP);
        }
        // Allocation without KEEP_SIZE grows the file with zeros (unsynced,
        // like any other size change); with it, nothing visible changes.
        if mode & libc::FALLOC_FL_KEEP_SIZE == 0 && offset + length > len {
            if let Err(e) = disk.set_len(ino.0, offset + length) {
                return reply.error(err(e));
            }
        }
        reply.ok();
    }
}
