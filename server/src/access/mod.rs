//! Who may do what, from where: access keys, per-bucket permissions and
//! IP allow-lists.
//!
//! A request is authenticated into a [`Principal`] (the root key or one of
//! the run-time keys of the [`KeyRegistry`]), then [`policy::authorize`]
//! checks the permissions its operation needs — the one place that maps
//! operations to permissions.

pub mod grants;
pub mod ip;
pub mod policy;
pub mod registry;

use std::sync::Arc;

pub use grants::Permission;
pub use registry::{KeyEntry, KeyRegistry};

/// The authenticated caller.
#[derive(Clone)]
pub enum Principal {
    /// The root key: everything, from anywhere.
    Root {
        /// Its access key id.
        access_key_id: String,
    },
    /// A key created at run time.
    Key(Arc<KeyEntry>),
}

impl Principal {
    /// The caller's access key id.
    pub fn access_key_id(&self) -> &str {
        match self {
            Principal::Root { access_key_id } => access_key_id,
            Principal::Key(k) => &k.id,
        }
    }

    /// Whether the caller holds `perm` on `bucket`.
    pub fn allows(&self, bucket: &str, perm: Permission) -> bool {
        match self {
            Principal::Root { .. } => true,
            Principal::Key(k) => k.grants.iter().any(|g| grants::allows(g, bucket, perm)),
        }
    }

    /// Whether the caller may see `bucket` at all (ListBuckets).
    pub fn sees(&self, bucket: &str) -> bool {
        match self {
            Principal::Root { .. } => true,
            Principal::Key(k) => k
                .grants
                .iter()
                .any(|g| grants::matches(g, bucket) && (g.read || g.write || g.admin)),
        }
    }

    /// Admin rights on every bucket: what the admin API requires.
    pub fn is_global_admin(&self) -> bool {
        match self {
            Principal::Root { .. } => true,
            Principal::Key(k) => k.grants.iter().any(|g| g.bucket == "*" && g.admin),
        }
    }
}
