//! Who may do what, from where: access keys, per-bucket and per-folder
//! permissions, and IP allow-lists.
//!
//! A request is authenticated into a [`Principal`] (the root key or one of
//! the run-time keys of the [`KeyRegistry`]), then [`policy::authorize`]
//! checks the permissions its operation needs — the one place that maps
//! operations to permissions.
//!
//! Every decision about a key reduces to the questions answered here, so
//! that every operation (and later ones: search, lifecycle, a console)
//! asks them the same way:
//! - [`Principal::may`]: may P do `perm` on key K of bucket B?
//! - [`Principal::may_list`]: may P list bucket B under prefix X? (Only if
//!   every key under X is readable: X lies inside a granted folder.)
//! - [`Principal::key_filter`]: which keys of B may P see, as a predicate
//!   for answers that are filtered rather than refused (the change feed,
//!   search results).

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

    /// Whether the caller holds `perm` on the whole of `bucket` (root, or a
    /// bucket-wide grant): what bucket settings and `admin` actions need.
    pub fn allows(&self, bucket: &str, perm: Permission) -> bool {
        match self {
            Principal::Root { .. } => true,
            Principal::Key(k) => k.grants.iter().any(|g| grants::allows(g, bucket, perm)),
        }
    }

    /// May the caller do `perm` on object `key` of `bucket`: a bucket-wide
    /// grant, or a folder grant whose prefix `key` begins with.
    pub fn may(&self, bucket: &str, key: &str, perm: Permission) -> bool {
        match self {
            Principal::Root { .. } => true,
            Principal::Key(k) => k
                .grants
                .iter()
                .any(|g| grants::allows_under(g, bucket, key, perm)),
        }
    }

    /// May the caller list `bucket` under `prefix` (ListObjects v1/v2,
    /// ListObjectVersions, ListMultipartUploads): only when every key such a
    /// listing can show is readable, i.e. `prefix` lies inside a folder the
    /// caller may read. A listing outside its folders, above them or of the
    /// whole bucket is refused, as S3 refuses it under a policy that allows
    /// `s3:ListBucket` on condition of `s3:prefix`.
    pub fn may_list(&self, bucket: &str, prefix: &str) -> bool {
        self.may(bucket, prefix, Permission::Read)
    }

    /// Whether the caller holds `perm` on some keys of `bucket` (any grant,
    /// bucket-wide or per folder): enough to be let into an operation that
    /// then checks or filters each key itself.
    pub fn may_somewhere(&self, bucket: &str, perm: Permission) -> bool {
        self.may_overlapping(bucket, "", perm)
    }

    /// Whether the caller holds `perm` on some key beginning with `prefix`.
    pub fn may_overlapping(&self, bucket: &str, prefix: &str, perm: Permission) -> bool {
        match self {
            Principal::Root { .. } => true,
            Principal::Key(k) => k
                .grants
                .iter()
                .any(|g| grants::overlaps(g, bucket, prefix, perm)),
        }
    }

    /// The keys of `bucket` the caller may `perm`, as a filter.
    pub fn key_filter(&self, bucket: &str, perm: Permission) -> KeyFilter {
        let Principal::Key(k) = self else {
            return KeyFilter::All;
        };
        if k.grants.iter().any(|g| grants::allows(g, bucket, perm)) {
            return KeyFilter::All;
        }
        let prefixes: Vec<String> = k
            .grants
            .iter()
            .filter(|g| grants::allows_under(g, bucket, &g.prefix, perm))
            .map(|g| g.prefix.clone())
            .collect();
        KeyFilter::Prefixes(prefixes)
    }

    /// Whether the caller may see `bucket` at all (ListBuckets, HeadBucket,
    /// GetBucketLocation): any grant naming it, even one folder.
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
            Principal::Key(k) => k
                .grants
                .iter()
                .any(|g| g.bucket == "*" && g.prefix.is_empty() && g.admin),
        }
    }
}

/// Which keys of one bucket a caller may see or change: a predicate for
/// answers filtered per key rather than refused (the change feed, search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFilter {
    /// Every key (root, or a bucket-wide grant).
    All,
    /// Only keys beginning with one of these (none: no key at all).
    Prefixes(Vec<String>),
}

impl KeyFilter {
    /// Whether `key` passes.
    pub fn allows(&self, key: &str) -> bool {
        match self {
            KeyFilter::All => true,
            KeyFilter::Prefixes(p) => p.iter().any(|p| key.starts_with(p.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(specs: &[&str]) -> Principal {
        Principal::Key(Arc::new(KeyEntry {
            id: "K".into(),
            name: "partner".into(),
            secret: kura_protocol::sigv4::SecretKey::new("s"),
            enabled: true,
            grants: specs.iter().map(|s| grants::parse(s).unwrap()).collect(),
            allow: Vec::new(),
        }))
    }

    #[test]
    fn folder_questions() {
        let p = key(&["shared/acme/:rw", "shared/docs/:r", "own:r"]);
        assert!(p.may("shared", "acme/x", Permission::Write));
        assert!(!p.may("shared", "docs/x", Permission::Write));
        assert!(p.may("shared", "docs/x", Permission::Read));
        assert!(!p.may("shared", "beta/x", Permission::Read));
        assert!(!p.allows("shared", Permission::Read), "not bucket-wide");
        assert!(p.allows("own", Permission::Read));
        assert!(p.may_list("shared", "acme/"));
        assert!(p.may_list("shared", "docs/2026/"));
        assert!(!p.may_list("shared", ""));
        assert!(!p.may_list("shared", "acme"));
        assert!(p.may_list("own", ""));
        assert!(p.may_overlapping("shared", "", Permission::Read));
        assert!(!p.may_overlapping("shared", "b", Permission::Read));
        assert!(p.may_somewhere("shared", Permission::Write));
        assert!(!p.may_somewhere("own", Permission::Write));
        assert!(p.sees("shared") && !p.sees("other"));
        let f = p.key_filter("shared", Permission::Read);
        assert_eq!(f, KeyFilter::Prefixes(vec!["acme/".into(), "docs/".into()]));
        assert!(f.allows("docs/a") && !f.allows("beta/a"));
        let w = p.key_filter("shared", Permission::Write);
        assert_eq!(w, KeyFilter::Prefixes(vec!["acme/".into()]));
        assert_eq!(p.key_filter("own", Permission::Read), KeyFilter::All);
        assert!(!p.key_filter("other", Permission::Read).allows("x"));
        let root = Principal::Root {
            access_key_id: "R".into(),
        };
        assert_eq!(root.key_filter("any", Permission::Write), KeyFilter::All);
        // A folder grant never opens the admin API.
        assert!(!key(&["*/x/:rw"]).is_global_admin());
    }
}
