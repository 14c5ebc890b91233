//! Permissions and their text form, `bucket:rw`, shared by the admin API and CLI.

use kura_storage::Grant;

/// What an operation needs on a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// GetObject, HeadObject, listings, reading a copy source.
    Read,
    /// PutObject, DeleteObject, multipart, being the target of a copy.
    Write,
    /// Everything, including bucket creation and deletion.
    Admin,
}

/// Whether grant `g` names `bucket` (whatever its prefix).
pub fn matches(g: &Grant, bucket: &str) -> bool {
    g.bucket == "*" || g.bucket == bucket
}

/// Whether `g` carries `perm` at all. `admin` implies read and write; a
/// prefix grant never gives `admin` (it is refused when stored, and ignored
/// here should one exist), because admin changes the bucket itself.
fn gives(g: &Grant, perm: Permission) -> bool {
    match perm {
        Permission::Read => g.read || g.admin,
        Permission::Write => g.write || g.admin,
        Permission::Admin => g.admin && g.prefix.is_empty(),
    }
}

/// Whether grant `g` gives `perm` on the whole of `bucket` (a bucket-wide grant).
pub fn allows(g: &Grant, bucket: &str, perm: Permission) -> bool {
    matches(g, bucket) && g.prefix.is_empty() && gives(g, perm)
}

/// Whether grant `g` gives `perm` on every key of `bucket` beginning with
/// `key`: on that object for an object key, on a whole listing for a
/// listing's `prefix`. True when `key` lies under the grant's prefix
/// (`reports/2026/` covers `reports/2026/q1.pdf` and the listing prefix
/// `reports/2026/q`, not `reports/` nor `reports/2025/x`).
pub fn allows_under(g: &Grant, bucket: &str, key: &str, perm: Permission) -> bool {
    matches(g, bucket) && key.starts_with(&g.prefix) && gives(g, perm)
}

/// Whether grant `g` gives `perm` on some key beginning with `prefix`
/// (the grant's folder is inside `prefix`, or `prefix` inside it).
pub fn overlaps(g: &Grant, bucket: &str, prefix: &str, perm: Permission) -> bool {
    matches(g, bucket)
        && (prefix.starts_with(&g.prefix) || g.prefix.starts_with(prefix))
        && gives(g, perm)
}

/// Parses `bucket:r`, `bucket:w`, `bucket:rw`, `bucket:admin` (`*` for every
/// bucket), and per-folder grants `bucket/prefix:r` or `bucket/prefix:rw`:
/// everything after the first `/` up to the last `:` is the key prefix,
/// taken literally (`incoming/` is a folder; `incoming` would also cover
/// `incoming-old/…`). `bucket/:rw` is the whole bucket.
pub fn parse(spec: &str) -> Result<Grant, String> {
    let (target, perms) = spec.rsplit_once(':').ok_or_else(|| {
        format!("permission {spec:?}: expected BUCKET:r, BUCKET/PREFIX:rw or BUCKET:admin")
    })?;
    let (bucket, prefix) = target.split_once('/').unwrap_or((target, ""));
    if bucket.is_empty() {
        return Err(format!("permission {spec:?}: empty bucket name"));
    }
    if bucket != "*" {
        kura_protocol::names::validate_bucket_name(bucket)
            .map_err(|_| format!("permission {spec:?}: invalid bucket name"))?;
    }
    if !prefix.is_empty() {
        kura_protocol::names::validate_object_key(prefix)
            .map_err(|_| format!("permission {spec:?}: invalid key prefix"))?;
    }
    let mut g = Grant {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        read: false,
        write: false,
        admin: false,
    };
    if perms == "admin" {
        g.admin = true;
    } else {
        for c in perms.chars() {
            match c {
                'r' => g.read = true,
                'w' => g.write = true,
                'a' => g.admin = true,
                _ => return Err(format!("permission {spec:?}: use r, w, rw or admin")),
            }
        }
        if perms.is_empty() {
            return Err(format!("permission {spec:?}: no permission given"));
        }
    }
    if g.admin && !g.prefix.is_empty() {
        return Err(format!(
            "permission {spec:?}: admin covers a whole bucket; a folder takes r, w or rw"
        ));
    }
    Ok(g)
}

/// The text form of a grant, as [`parse`] reads it.
pub fn format(g: &Grant) -> String {
    let perms = if g.admin {
        "admin".to_string()
    } else {
        format!(
            "{}{}",
            if g.read { "r" } else { "" },
            if g.write { "w" } else { "" }
        )
    };
    if g.prefix.is_empty() {
        format!("{}:{perms}", g.bucket)
    } else {
        format!("{}/{}:{perms}", g.bucket, g.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_check() {
        let g = parse("bucket-a:rw").unwrap();
        assert!(allows(&g, "bucket-a", Permission::Read));
        assert!(allows(&g, "bucket-a", Permission::Write));
        assert!(!allows(&g, "bucket-a", Permission::Admin));
        assert!(!allows(&g, "bucket-b", Permission::Read));
        let r = parse("reports:r").unwrap();
        assert!(!allows(&r, "reports", Permission::Write));
        let all = parse("*:admin").unwrap();
        assert!(allows(&all, "anything", Permission::Admin));
        assert_eq!(format(&g), "bucket-a:rw");
        assert_eq!(format(&all), "*:admin");
        assert!(parse("nocolon").is_err());
        assert!(parse("b:x").is_err());
        assert!(parse("Bad_Name:r").is_err());
        assert!(parse("abc:").is_err());
    }

    #[test]
    fn prefix_grants() {
        let g = parse("acme-inbox/incoming/:rw").unwrap();
        assert_eq!(
            (g.bucket.as_str(), g.prefix.as_str()),
            ("acme-inbox", "incoming/")
        );
        assert_eq!(format(&g), "acme-inbox/incoming/:rw");
        // Not bucket-wide.
        assert!(!allows(&g, "acme-inbox", Permission::Read));
        assert!(allows_under(
            &g,
            "acme-inbox",
            "incoming/a.csv",
            Permission::Read
        ));
        assert!(allows_under(
            &g,
            "acme-inbox",
            "incoming/",
            Permission::Write
        ));
        assert!(allows_under(
            &g,
            "acme-inbox",
            "incoming/x/",
            Permission::Read
        ));
        assert!(!allows_under(
            &g,
            "acme-inbox",
            "incoming",
            Permission::Read
        ));
        assert!(!allows_under(
            &g,
            "acme-inbox",
            "outgoing/a",
            Permission::Read
        ));
        assert!(!allows_under(&g, "acme-inbox", "", Permission::Read));
        assert!(!allows_under(&g, "other", "incoming/a", Permission::Read));
        assert!(!allows_under(
            &g,
            "acme-inbox",
            "incoming/a",
            Permission::Admin
        ));
        assert!(overlaps(&g, "acme-inbox", "", Permission::Read));
        assert!(overlaps(&g, "acme-inbox", "inc", Permission::Read));
        assert!(overlaps(&g, "acme-inbox", "incoming/x", Permission::Read));
        assert!(!overlaps(&g, "acme-inbox", "out", Permission::Read));
        let r = parse("reports/2026/:r").unwrap();
        assert!(allows_under(&r, "reports", "2026/q1.pdf", Permission::Read));
        assert!(!allows_under(
            &r,
            "reports",
            "2026/q1.pdf",
            Permission::Write
        ));
        // Keys may hold colons: the permission is after the last one.
        let c = parse("bkt/a:b/:w").unwrap();
        assert_eq!(c.prefix, "a:b/");
        // A trailing slash alone is the whole bucket; admin is bucket-wide only.
        assert_eq!(parse("bkt/:rw").unwrap(), parse("bkt:rw").unwrap());
        assert!(parse("bkt/x/:admin").is_err());
        assert!(parse("bkt/x/:ra").is_err());
        assert_eq!(format(&parse("*/shared/:r").unwrap()), "*/shared/:r");
        // Whole-bucket grants behave as before.
        let w = parse("bkt:rw").unwrap();
        assert!(allows_under(&w, "bkt", "", Permission::Read));
        assert!(allows_under(&w, "bkt", "any/key", Permission::Write));
    }
}
