//! kura-powercut: a FUSE file system for tests that simulates power cuts.
//!
//! It keeps every file in memory and tracks, next to what the files hold now,
//! what the last `fsync` of each file and each directory made durable
//! ([`disk`] states the rules). On command (the control socket, see
//! [`control`]) it throws away everything that was not durable, as a power
//! cut would, and serves what survived. See README.md, "Power-loss test".

pub mod control;
pub mod disk;
pub mod fs;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use fuser::{BackgroundSession, Config, MountOption};

/// A mounted power-cut file system, served by a background thread of this
/// process; unmounted on drop.
pub struct Mounted {
    disk: Arc<Mutex<disk::Disk>>,
    session: Option<BackgroundSession>,
}

impl Mounted {
    /// Mounts an empty file system at `mountpoint` (an existing directory).
    /// Fails where FUSE cannot be used (no `/dev/fuse`, not root and no
    /// `fusermount3`, or mounting not permitted in this container).
    pub fn mount(mountpoint: &Path) -> std::io::Result<Mounted> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(mountpoint)?;
        let disk = Arc::new(Mutex::new(disk::Disk::new()));
        let fs = fs::PowerCutFs::new(disk.clone(), meta.uid(), meta.gid());
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("kura-powercut".into()),
            MountOption::Subtype("powercut".into()),
            MountOption::RW,
        ];
        let session = fuser::spawn_mount(fs, mountpoint, &config)?;
        Ok(Mounted {
            disk,
            session: Some(session),
        })
    }

    /// The disk model behind the mount.
    pub fn disk(&self) -> MutexGuard<'_, disk::Disk> {
        self.disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulates a power cut; returns the counters after it.
    pub fn cut(&self) -> disk::Stats {
        let mut d = self.disk();
        d.power_cut();
        d.stats()
    }

    /// Unmounts and waits for the serving thread.
    pub fn unmount(mut self) -> std::io::Result<()> {
        match self.session.take().map(|s| s.umount_and_join()) {
            // The unmount ends the FUSE connection; the kernel may then tell
            // the serving thread's pending read "aborted" rather than "no
            // device" (seen once in twenty-odd runs of the power-loss test,
            // after every check had passed). Either way the mount is gone.
            Some(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionAborted => Ok(()),
            Some(result) => result,
            None => Ok(()),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.umount_and_join();
        }
    }
}
