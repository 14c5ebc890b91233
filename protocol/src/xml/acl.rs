//! Access control lists: the GetBucketAcl/GetObjectAcl response and the
//! PutBucketAcl/PutObjectAcl request body.
//!
//! kura's permission model is "owner has FULL_CONTROL, optionally everyone
//! may READ"; this module carries the full S3 grant vocabulary so the caller
//! can see what a client asked for and refuse what it cannot honour.

use super::common::Owner;
use super::dom::{malformed, parse_document, Element};
use super::writer::XmlWriter;
use crate::error::S3Result;

/// URI of the group "everyone, including anonymous requests".
pub const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// URI of the group "any signed request".
pub const AUTHENTICATED_USERS_URI: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// S3 allows at most 100 grants per ACL.
const MAX_GRANTS: usize = 100;

const XSI_NS: &str = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";

/// A permission an ACL grant confers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `FULL_CONTROL`.
    FullControl,
    /// `READ`.
    Read,
    /// `WRITE`.
    Write,
    /// `READ_ACP`.
    ReadAcp,
    /// `WRITE_ACP`.
    WriteAcp,
}

impl Permission {
    /// The permission as S3 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
        }
    }

    /// Parses S3's spelling; `None` for anything else.
    pub fn from_s3(s: &str) -> Option<Self> {
        Some(match s {
            "FULL_CONTROL" => Permission::FullControl,
            "READ" => Permission::Read,
            "WRITE" => Permission::Write,
            "READ_ACP" => Permission::ReadAcp,
            "WRITE_ACP" => Permission::WriteAcp,
            _ => return None,
        })
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// `xsi:type="CanonicalUser"`: a user by canonical id.
    CanonicalUser {
        /// Canonical user id.
        id: String,
        /// Display name; emitted when present.
        display_name: Option<String>,
    },
    /// `xsi:type="Group"`: a predefined group such as [`ALL_USERS_URI`].
    Group {
        /// The group's URI.
        uri: String,
    },
    /// `xsi:type="AmazonCustomerByEmail"`: a user by e-mail address.
    Email {
        /// The e-mail address.
        address: String,
    },
}

/// One grant of an ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who receives the permission.
    pub grantee: Grantee,
    /// What they receive.
    pub permission: Permission,
}

impl Grant {
    fn write(&self, w: &mut XmlWriter) {
        w.open("Grant");
        match &self.grantee {
            Grantee::CanonicalUser { id, display_name } => {
                w.open_with_attrs("Grantee", &format!("{XSI_NS} xsi:type=\"CanonicalUser\""));
                w.text("ID", id);
                w.opt_text("DisplayName", display_name.as_deref());
            }
            Grantee::Group { uri } => {
                w.open_with_attrs("Grantee", &format!("{XSI_NS} xsi:type=\"Group\""));
                w.text("URI", uri);
            }
            Grantee::Email { address } => {
                w.open_with_attrs(
                    "Grantee",
                    &format!("{XSI_NS} xsi:type=\"AmazonCustomerByEmail\""),
                );
                w.text("EmailAddress", address);
            }
        }
        w.close("Grantee");
        w.text("Permission", self.permission.as_str());
        w.close("Grant");
    }

    fn from_element(el: &Element) -> S3Result<Self> {
        let g = el.required("Grantee")?;
        let token = |name: &str| -> S3Result<Option<String>> { g.opt_token(name) };
        // `xsi:type` is required by S3's schema; infer it from the children
        // when a lax client leaves it out.
        let kind = match g.attr("type") {
            Some(t) => t.to_owned(),
            None if g.child("URI")?.is_some() => "Group".to_owned(),
            None if g.child("EmailAddress")?.is_some() => "AmazonCustomerByEmail".to_owned(),
            None => "CanonicalUser".to_owned(),
        };
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty()).ok_or_else(malformed);
        let grantee = match kind.as_str() {
            "CanonicalUser" => Grantee::CanonicalUser {
                id: non_empty(token("ID")?)?,
                display_name: token("DisplayName")?,
            },
            "Group" => Grantee::Group {
                uri: non_empty(token("URI")?)?,
            },
            "AmazonCustomerByEmail" => Grantee::Email {
                address: non_empty(token("EmailAddress")?)?,
            },
            _ => return Err(malformed()),
        };
        let permission =
            Permission::from_s3(el.required("Permission")?.token()?).ok_or_else(malformed)?;
        Ok(Grant {
            grantee,
            permission,
        })
    }
}

/// An ACL: owner plus grants (`<AccessControlPolicy>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessControlPolicy {
    /// The resource owner (empty id/name when a PUT body omitted it).
    pub owner: Owner,
    /// The grants, in order.
    pub grants: Vec<Grant>,
}

impl AccessControlPolicy {
    /// The `private` ACL: the owner has FULL_CONTROL.
    pub fn private(owner: Owner) -> Self {
        let grants = vec![Grant {
            grantee: Grantee::CanonicalUser {
                id: owner.id.clone(),
                display_name: Some(owner.display_name.clone()),
            },
            permission: Permission::FullControl,
        }];
        AccessControlPolicy { owner, grants }
    }

    /// The `public-read` ACL: [`AccessControlPolicy::private`] plus READ for
    /// the AllUsers group.
    pub fn public_read(owner: Owner) -> Self {
        let mut acl = Self::private(owner);
        acl.grants.push(Grant {
            grantee: Grantee::Group {
                uri: ALL_USERS_URI.to_string(),
            },
            permission: Permission::Read,
        });
        acl
    }

    /// Whether anyone, anonymous included, may read: some grant gives the
    /// AllUsers group READ or FULL_CONTROL.
    pub fn grants_public_read(&self) -> bool {
        self.grants_all_users(|p| matches!(p, Permission::Read | Permission::FullControl))
    }

    /// Whether the AllUsers group gets anything beyond READ (WRITE,
    /// READ_ACP, WRITE_ACP or FULL_CONTROL), which kura cannot honour.
    pub fn grants_public_beyond_read(&self) -> bool {
        self.grants_all_users(|p| p != Permission::Read)
    }

    fn grants_all_users(&self, f: impl Fn(Permission) -> bool) -> bool {
        self.grants.iter().any(|g| {
            matches!(&g.grantee, Grantee::Group { uri } if uri == ALL_USERS_URI) && f(g.permission)
        })
    }

    /// Renders the `<AccessControlPolicy>` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("AccessControlPolicy");
        self.owner.write(&mut w, "Owner");
        w.open("AccessControlList");
        for g in &self.grants {
            g.write(&mut w);
        }
        w.close("AccessControlList");
        w.finish()
    }

    /// Parses a PutBucketAcl/PutObjectAcl body. `MalformedXML` when it is
    /// not well-formed, has more than 100 grants, or a grant has an unknown
    /// grantee type or permission or lacks the grantee's identifier. A
    /// missing `Owner` or `AccessControlList` is accepted (empty owner, no
    /// grants); checking the owner is the caller's job.
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = parse_document(body, "AccessControlPolicy")?;
        let owner = match root.child("Owner")? {
            Some(o) => Owner::from_element(o)?,
            None => Owner::default(),
        };
        let mut grants = Vec::new();
        if let Some(list) = root.child("AccessControlList")? {
            for g in list.children_named("Grant") {
                if grants.len() == MAX_GRANTS {
                    return Err(malformed());
                }
                grants.push(Grant::from_element(g)?);
            }
        }
        Ok(AccessControlPolicy { owner, grants })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::S3ErrorCode;

    fn owner() -> Owner {
        Owner {
            id: "75aa57f0".into(),
            display_name: "kura".into(),
        }
    }

    #[test]
    fn public_read_golden() {
        assert_eq!(
            AccessControlPolicy::public_read(owner()).to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Owner><ID>75aa57f0</ID><DisplayName>kura</DisplayName></Owner><AccessControlList>\
             <Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">\
             <ID>75aa57f0</ID><DisplayName>kura</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>\
             <Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">\
             <URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>\
             </AccessControlList></AccessControlPolicy>"
        );
    }

    #[test]
    fn round_trips_and_detects_public_read() {
        let private = AccessControlPolicy::private(owner());
        let public = AccessControlPolicy::public_read(owner());
        let mut email = private.clone();
        email.grants.push(Grant {
            grantee: Grantee::Email {
                address: "a@b.c".into(),
            },
            permission: Permission::WriteAcp,
        });
        for acl in [&private, &public, &email] {
            assert_eq!(
                &AccessControlPolicy::parse(acl.to_xml().as_bytes()).unwrap(),
                acl
            );
        }
        assert!(!private.grants_public_read());
        assert!(public.grants_public_read());
        assert!(!public.grants_public_beyond_read());
    }

    #[test]
    fn parse_client_bodies() {
        // As botocore sends it: prefixed xsi attributes, whitespace, no
        // DisplayName on the user grant.
        let body = br#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <AccessControlList>
            <Grant>
              <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc</ID></Grantee>
              <Permission>FULL_CONTROL</Permission>
            </Grant>
            <Grant>
              <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">
                <URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>
              </Grantee>
              <Permission>READ</Permission>
            </Grant>
          </AccessControlList>
          <Owner><ID>abc</ID></Owner>
        </AccessControlPolicy>"#;
        let acl = AccessControlPolicy::parse(body).unwrap();
        assert_eq!(acl.owner.id, "abc");
        assert_eq!(acl.grants.len(), 2);
        assert!(acl.grants_public_read());

        // No xsi:type: inferred from the child element.
        let body = b"<AccessControlPolicy><AccessControlList><Grant><Grantee>\
            <URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>\
            <Permission>WRITE</Permission></Grant></AccessControlList></AccessControlPolicy>";
        let acl = AccessControlPolicy::parse(body).unwrap();
        assert!(!acl.grants_public_read());
        assert!(acl.grants_public_beyond_read());
        assert_eq!(acl.owner, Owner::default());

        let body = b"<AccessControlPolicy><AccessControlList><Grant><Grantee>\
            <URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI></Grantee>\
            <Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>";
        assert!(!AccessControlPolicy::parse(body)
            .unwrap()
            .grants_public_read());
    }

    #[test]
    fn parse_rejects_bad_acls() {
        let grant = |grantee: &str, perm: &str| {
            format!(
                "<AccessControlPolicy><AccessControlList><Grant>{grantee}<Permission>{perm}</Permission>\
                 </Grant></AccessControlList></AccessControlPolicy>"
            )
        };
        let user = "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>a</ID></Grantee>";
        assert!(AccessControlPolicy::parse(grant(user, "READ").as_bytes()).is_ok());
        let too_many = format!(
            "<AccessControlPolicy><AccessControlList>{}</AccessControlList></AccessControlPolicy>",
            format!("<Grant>{user}<Permission>READ</Permission></Grant>").repeat(101)
        );
        for body in [
            grant(user, "EVERYTHING"),
            grant(user, ""),
            grant("", "READ"),
            grant("<Grantee xmlns:xsi=\"x\" xsi:type=\"Robot\"><ID>a</ID></Grantee>", "READ"),
            grant("<Grantee xmlns:xsi=\"x\" xsi:type=\"Group\"><ID>a</ID></Grantee>", "READ"),
            grant("<Grantee><ID></ID></Grantee>", "READ"),
            "<AccessControlPolicy><Owner><DisplayName>x</DisplayName></Owner></AccessControlPolicy>".into(),
            "<AccessControlList/>".into(),
            too_many,
        ] {
            let err = AccessControlPolicy::parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{body}");
        }
    }
}
