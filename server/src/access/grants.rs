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

/// Whether grant `g` names `bucket`.
pub fn matches(g: &Grant, bucket: &str) -> bool {
    g.bucket == "*" || g.bucket == bucket
}

/// Whether grant `g` gives `perm` on `bucket`. `admin` implies read and write.
pub fn allows(g: &Grant, bucket: &str, perm: Permission) -> bool {
    matches(g, bucket)
        && (g.admin
            || match perm {
                Permission::Read => g.read,
                Permission::Write => g.write,
                Permission::Admin => false,
            })
}

/// Parses `bucket:r`, `bucket:w`, `bucket:rw`, `bucket:admin` (`*` for every bucket).
pub fn parse(spec: &str) -> Result<Grant, String> {
    let (bucket, perms) = spec.rsplit_once(':').ok_or_else(|| {
        format!("permission {spec:?}: expected BUCKET:r, BUCKET:rw or BUCKET:admin")
    })?;
    if bucket.is_empty() {
        return Err(format!("permission {spec:?}: empty bucket name"));
    }
    if bucket != "*" {
        kura_protocol::names::validate_bucket_name(bucket)
            .map_err(|_| format!("permission {spec:?}: invalid bucket name"))?;
    }
    let mut g = Grant {
        bucket: bucket.to_string(),
        read: false,
        write: false,
        admin: false,
    };
    if perms == "admin" {
        g.admin = true;
        return Ok(g);
    }
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
    format!("{}:{perms}", g.bucket)
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
}
