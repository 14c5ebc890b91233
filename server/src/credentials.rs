//! Root credentials: from the environment, or generated once and kept in the
//! data directory (mode 0600).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use anyhow::Context;
use std::path::Path;

use kura_protocol::sigv4::SecretKey;
use rand::distributions::{Alphanumeric, Distribution, Uniform};
use serde::{Deserialize, Serialize};

/// An access key pair.
pub struct Credentials {
    /// 20 characters, uppercase letters and digits.
    pub access_key_id: String,
    /// The secret.
    pub secret: SecretKey,
}

#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    access_key_id: String,
    secret_access_key: String,
}

const FILE_NAME: &str = "root-credentials.json";

/// A new random access key ID: 20 uppercase letters and digits.
pub fn generate_access_key_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let dist = Uniform::from(0..CHARS.len());
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| CHARS[dist.sample(&mut rng)] as char)
        .collect()
}

/// A new random secret: 40 letters and digits.
pub fn generate_secret() -> String {
    Alphanumeric
        .sample_iter(rand::thread_rng())
        .take(40)
        .map(char::from)
        .collect()
}

/// Loads the root credentials. Environment variables win; otherwise the
/// stored file; otherwise new ones are generated, stored, and returned with
/// `true` so the caller prints them once.
pub fn load_or_create(
    data_dir: &Path,
    env_id: Option<String>,
    env_secret: Option<String>,
) -> anyhow::Result<(Credentials, bool)> {
    match (env_id, env_secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            return Ok((
                Credentials {
                    access_key_id: id,
                    secret: SecretKey::new(secret),
                },
                false,
            ));
        }
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("set both KURA_ACCESS_KEY_ID and KURA_SECRET_ACCESS_KEY, or neither");
        }
        _ => {}
    }
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        // Re-applied at every start: the file may predate this build or
        // come from a volume or restore that did not keep its mode.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", path.display()))?;
        let raw = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let stored: StoredCredentials =
            serde_json::from_slice(&raw).with_context(|| format!("parsing {}", path.display()))?;
        return Ok((
            Credentials {
                access_key_id: stored.access_key_id,
                secret: SecretKey::new(stored.secret_access_key),
            },
            false,
        ));
    }
    let stored = StoredCredentials {
        access_key_id: generate_access_key_id(),
        secret_access_key: generate_secret(),
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&serde_json::to_vec_pretty(&stored).expect("serializable"))
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((
        Credentials {
            access_key_id: stored.access_key_id,
            secret: SecretKey::new(stored.secret_access_key),
        },
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_right_shape() {
        let id = generate_access_key_id();
        assert_eq!(id.len(), 20);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        let secret = generate_secret();
        assert_eq!(secret.len(), 40);
        assert_ne!(generate_secret(), secret);
    }

    #[test]
    fn generated_once_then_reloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, created) = load_or_create(tmp.path(), None, None).unwrap();
        assert!(created);
        let mode = fs::metadata(tmp.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (b, created) = load_or_create(tmp.path(), None, None).unwrap();
        assert!(!created);
        assert_eq!(a.access_key_id, b.access_key_id);
        assert_eq!(a.secret.expose(), b.secret.expose());
        let (c, _) =
            load_or_create(tmp.path(), Some("ENVKEY".into()), Some("envsecret".into())).unwrap();
        assert_eq!(c.access_key_id, "ENVKEY");
        assert!(load_or_create(tmp.path(), Some("X".into()), None).is_err());
    }
}
