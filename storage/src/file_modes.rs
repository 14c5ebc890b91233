//! Owner-only modes on what the store keeps, re-applied at every open.
//!
//! A data directory may predate this build, or come from a Docker volume
//! or a restore that did not keep modes, so modes are set each time, not
//! only when a directory is created. RocksDB creates its files with 0666
//! less the umask (0644 usually): the server sets a umask of 077 before it
//! opens the store, so files RocksDB creates later (SSTs, WALs, manifests)
//! are born 0600; this pass fixes what exists already.
//!
//! Directories get 0700 and the files of `meta/` and the key file 0600.
//! Chunk files are not walked (there may be millions, and start-up would
//! pay for each): `chunks/` itself is 0700, so no other user can reach them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::StorageResult;

/// Sets `path`'s mode unless it already has it. Symbolic links are left
/// alone (a chmod would change what they point to).
fn set_mode(path: &Path, mode: u32) -> StorageResult<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if meta.file_type().is_symlink() || meta.permissions().mode() & 0o7777 == mode {
        return Ok(());
    }
    match fs::set_permissions(path, fs::Permissions::from_mode(mode)) {
        // RocksDB may have just removed an obsolete file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => Ok(r?),
    }
}

/// Applies the owner-only modes to the store under `data_dir`.
pub(crate) fn restrict(data_dir: &Path) -> StorageResult<()> {
    set_mode(data_dir, 0o700)?;
    set_mode(&data_dir.join("chunks"), 0o700)?;
    set_mode(&data_dir.join(crate::secrets::KEY_FILE), 0o600)?;
    let meta = data_dir.join("meta");
    if !meta.exists() {
        // Metadata on another engine (`--meta etcd://…`).
        return Ok(());
    }
    set_mode(&meta, 0o700)?;
    for entry in fs::read_dir(&meta)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            set_mode(&entry.path(), 0o700)?;
        } else if kind.is_file() {
            set_mode(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}
