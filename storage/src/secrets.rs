//! Access key secrets are encrypted at rest.
//!
//! The rows of `access_keys` hold secrets that sign requests; anyone who can
//! read the RocksDB files (a backup, a copied volume, a file left readable)
//! could otherwise use every partner's key. Each row is sealed with
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) under a 256-bit key
//! kept in its own file, [`KEY_FILE`], mode 0600, in the data directory: it
//! can be backed up (and withheld from a copy) apart from the metadata.
//!
//! A sealed value is `[FORMAT_V1][24-byte random nonce][ciphertext + tag]`;
//! the access key id and the format byte are authenticated with it, so a row
//! cannot be moved to another id or read as another format. Random 192-bit
//! nonces never repeat in practice, however many times keys are rotated.
//!
//! Rows written by builds before encryption are plaintext; `meta`'s
//! [`META_KEYS_SEALED`] marks that every row is sealed, so a row is never
//! guessed to be one or the other (see `Store::seal_plaintext_keys`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;

use crate::error::{StorageError, StorageResult};

/// The key file, in the data directory.
pub const KEY_FILE: &str = "access-keys.key";
/// `meta` key present once every `access_keys` row is sealed.
pub const META_KEYS_SEALED: &[u8] = b"access_keys_sealed";

/// First byte of a sealed value.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// The cipher that seals access key rows.
pub(crate) struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    /// Reads the key file of `data_dir`, creating it (0600, synced) if
    /// `may_create`; a missing file when rows are already sealed is an error
    /// that says what to restore, never a silently new key.
    pub(crate) fn open(data_dir: &Path, may_create: bool) -> StorageResult<SecretBox> {
        let path = data_dir.join(KEY_FILE);
        let hex_key = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
                create_key_file(data_dir, &path)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::Corrupt(format!(
                    "{} is missing: the access keys in the metadata are encrypted with it; \
                     restore it from a backup of the data directory",
                    path.display()
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex_key.trim(), &mut key).map_err(|_| {
            StorageError::Corrupt(format!(
                "{} does not hold a 64-digit hex key",
                path.display()
            ))
        })?;
        Ok(SecretBox {
            cipher: XChaCha20Poly1305::new(&key.into()),
        })
    }

    /// Seals `plain` (the encoded row of access key `id`).
    pub(crate) fn seal(&self, id: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = aad(id);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length kura stores");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value [`SecretBox::seal`] made for `id`.
    pub(crate) fn unseal(&self, id: &str, value: &[u8]) -> StorageResult<Vec<u8>> {
        let corrupt = || {
            StorageError::Corrupt(format!(
                "access key {id} cannot be decrypted (damaged, or {KEY_FILE} is not the key it was \
                 written with)"
            ))
        };
        let (&format, rest) = value.split_first().ok_or_else(corrupt)?;
        if format != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad(id),
                },
            )
            .map_err(|_| corrupt())
    }
}

/// What is authenticated besides the ciphertext: the format and the row's id.
fn aad(id: &str) -> Vec<u8> {
    let mut aad = vec![FORMAT_V1];
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// Writes a new random key (hex, one line) to `path`, mode 0600, synced
/// with its directory entry. `create_new`: never overwrites a key.
fn create_key_file(data_dir: &Path, path: &Path) -> StorageResult<String> {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let text = format!("{}\n", hex::encode(key));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::File::open(data_dir)?.sync_all()?;
    tracing::info!(path = %path.display(), "created the key that encrypts access keys at rest");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_id() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(SecretBox::open(tmp.path(), false).is_err());
        let sb = SecretBox::open(tmp.path(), true).unwrap();
        let sealed = sb.seal("AKID", b"row bytes");
        assert_eq!(sealed[0], FORMAT_V1);
        assert!(!sealed.windows(9).any(|w| w == b"row bytes"));
        // Random nonces: sealing twice gives different bytes.
        assert_ne!(sealed, sb.seal("AKID", b"row bytes"));
        // Reopened from the file: the same key.
        let again = SecretBox::open(tmp.path(), false).unwrap();
        assert_eq!(again.unseal("AKID", &sealed).unwrap(), b"row bytes");
        // Another id, a flipped bit, another format or another key: refused.
        assert!(sb.unseal("OTHER", &sealed).is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(sb.unseal("AKID", &flipped).is_err());
        let mut v2 = sealed.clone();
        v2[0] = 2;
        assert!(sb.unseal("AKID", &v2).is_err());
        let other = tempfile::tempdir().unwrap();
        let other = SecretBox::open(other.path(), true).unwrap();
        assert!(other.unseal("AKID", &sealed).is_err());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(tmp.path().join(KEY_FILE))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }
}
