//! The operation table's edges: every sub-resource on the not-implemented
//! list answers 501 over HTTP, and the bucket ACL calls (routed and
//! permission-checked) have real handlers.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketCannedAcl, Permission};
use common::raw::Raw;
use common::Server;
use kura_protocol::router::{Scope, NOT_IMPLEMENTED};

#[tokio::test]
async fn not_implemented_list_answers_501() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object().bucket("bkt").key("k").send().await.unwrap();
    for n in NOT_IMPLEMENTED {
        let path = match n.scope {
            Scope::Bucket => format!("/bkt?{}", n.subresource),
            Scope::Object => format!("/bkt/k?{}", n.subresource),
        };
        let r = Raw::new("GET", &path).send(&server.addr);
        assert_eq!(
            (r.status, r.code().as_str()),
            (501, "NotImplemented"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn bucket_acl_is_private_to_the_owner() {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();

    let acl = s3.get_bucket_acl().bucket("bkt").send().await.unwrap();
    let grants = acl.grants();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].permission(), Some(&Permission::FullControl));
    let owner = acl.owner().and_then(|o| o.id()).unwrap();
    assert_eq!(grants[0].grantee().and_then(|g| g.id()), Some(owner));

    s3.put_bucket_acl()
        .bucket("bkt")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let e = s3
        .put_bucket_acl()
        .bucket("bkt")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NotImplemented"));

    let r = Raw::new("GET", "/nope?acl").send(&server.addr);
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchBucket"));
}
