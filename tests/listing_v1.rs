//! ListObjects (v1) paging with markers, ListObjectsV2 fetch-owner and
//! KeyCount, and awkward keys with and without `encoding-type=url`.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;
use aws_sdk_s3::Client;
use common::raw::Raw;
use common::Server;
use percent_encoding::percent_decode_str;

async fn setup(keys: &[&str]) -> (Server, Client) {
    let server = Server::start();
    let s3 = server.client_no_retry().await;
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    for k in keys {
        s3.put_object()
            .bucket("bkt")
            .key(*k)
            .body(ByteStream::from(k.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }
    (server, s3)
}

/// Pages through ListObjects v1 as clients do: NextMarker when present,
/// otherwise the last key of the page. Returns keys, prefixes, page count.
async fn walk_v1(
    s3: &Client,
    delimiter: Option<&str>,
    max: i32,
) -> (Vec<String>, Vec<String>, usize) {
    let (mut keys, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut marker: Option<String> = None;
    loop {
        let page = s3
            .list_objects()
            .bucket("bkt")
            .set_delimiter(delimiter.map(String::from))
            .set_marker(marker.clone())
            .max_keys(max)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page.marker().unwrap_or(""), marker.as_deref().unwrap_or(""));
        let page_keys: Vec<String> = page
            .contents()
            .iter()
            .map(|o| o.key().unwrap().to_string())
            .collect();
        let page_prefixes: Vec<String> = page
            .common_prefixes()
            .iter()
            .map(|p| p.prefix().unwrap().to_string())
            .collect();
        assert!(page_keys.len() + page_prefixes.len() <= max as usize);
        // v1 always names the owner.
        assert!(page.contents().iter().all(|o| o.owner().is_some()));
        keys.extend(page_keys.iter().cloned());
        prefixes.extend(page_prefixes.iter().cloned());
        if !page.is_truncated().unwrap() {
            assert!(page.next_marker().is_none());
            return (keys, prefixes, pages);
        }
        marker = match delimiter {
            // S3 sends NextMarker only with a delimiter: the last key or prefix.
            Some(_) => {
                let next = page.next_marker().expect("NextMarker with a delimiter");
                let last = [page_keys.last(), page_prefixes.last()]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap();
                assert_eq!(next, last.as_str());
                Some(next.to_string())
            }
            None => {
                assert!(page.next_marker().is_none());
                Some(page_keys.last().unwrap().clone())
            }
        };
    }
}

#[tokio::test]
async fn list_objects_v1_markers() {
    let keys = [
        "a1", "a2", "d1/x", "d1/y", "d1/z", "d2/x", "d3/sub/x", "m", "z1", "z2",
    ];
    let (server, s3) = setup(&keys).await;

    let (got, prefixes, pages) = walk_v1(&s3, None, 3).await;
    assert_eq!(got, keys);
    assert!(prefixes.is_empty());
    assert_eq!(pages, 4);

    let (got, prefixes, pages) = walk_v1(&s3, Some("/"), 2).await;
    assert_eq!(got, ["a1", "a2", "m", "z1", "z2"]);
    assert_eq!(
        prefixes,
        ["d1/", "d2/", "d3/"],
        "each prefix once across pages"
    );
    assert_eq!(pages, 4);

    // A marker that is a common prefix resumes after all of its keys.
    let page = s3
        .list_objects()
        .bucket("bkt")
        .delimiter("/")
        .marker("d1/")
        .send()
        .await
        .unwrap();
    assert_eq!(page.common_prefixes()[0].prefix(), Some("d2/"));
    // A marker inside the bucket, not a key: listing starts after it.
    let page = s3
        .list_objects()
        .bucket("bkt")
        .marker("d1/xx")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.contents()[0].key(), Some("d1/y"));

    // The XML itself: Marker echoed, MaxKeys, IsTruncated, NextMarker.
    let r = Raw::new("GET", "/bkt?delimiter=%2F&max-keys=2&marker=a1").send(&server.addr);
    let xml = r.body_text();
    for part in [
        "<Marker>a1</Marker>",
        "<NextMarker>d1/</NextMarker>",
        "<MaxKeys>2</MaxKeys>",
        "<IsTruncated>true</IsTruncated>",
        "<Delimiter>/</Delimiter>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
}

#[tokio::test]
async fn list_objects_v2_fetch_owner_and_key_count() {
    let (server, s3) = setup(&["a", "b/1", "b/2", "c"]).await;
    let page = s3
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.key_count(),
        Some(3),
        "KeyCount counts keys and prefixes"
    );
    assert!(page.contents().iter().all(|o| o.owner().is_none()));
    let page = s3
        .list_objects_v2()
        .bucket("bkt")
        .fetch_owner(true)
        .max_keys(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page.key_count(), Some(2));
    let owner = page.contents()[0].owner().expect("fetch-owner");
    assert!(owner.id().is_some_and(|id| !id.is_empty()));
    assert_eq!(owner.display_name(), Some(common::ACCESS_KEY));
    let page = s3
        .list_objects_v2()
        .bucket("bkt")
        .prefix("zzz")
        .send()
        .await
        .unwrap();
    assert_eq!(page.key_count(), Some(0));
    let r = Raw::new("GET", "/bkt?list-type=2&prefix=zzz").send(&server.addr);
    assert!(r.body_text().contains("<KeyCount>0</KeyCount>"));
}

const AWKWARD: [&str; 8] = [
    "with space/a b",
    "plus+sign/c+d",
    "unicode/日本語 ファイル",
    "percent/100%",
    "percent/%41",
    "newline/line\nbreak",
    "xml/<&>'\"",
    "tab/a\tb",
];

#[tokio::test]
async fn awkward_keys_plain_and_url_encoded() {
    let (server, s3) = setup(&AWKWARD).await;
    let mut want: Vec<&str> = AWKWARD.to_vec();
    want.sort();

    // Plain: the SDK gets every key back exactly, through XML escaping.
    let page = s3.list_objects_v2().bucket("bkt").send().await.unwrap();
    let got: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got, want);
    let page = s3.list_objects().bucket("bkt").send().await.unwrap();
    let got: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got, want);

    // url: every key-bearing field is percent-encoded; decoding restores it.
    let decode = |s: &str| percent_decode_str(s).decode_utf8().unwrap().into_owned();
    for v2 in [false, true] {
        let mut keys = Vec::new();
        let mut prefixes = Vec::new();
        if v2 {
            let p = s3
                .list_objects_v2()
                .bucket("bkt")
                .encoding_type(EncodingType::Url)
                .delimiter("/")
                .start_after("newline/")
                .send()
                .await
                .unwrap();
            assert_eq!(p.start_after(), Some("newline/"));
            assert_eq!(p.delimiter(), Some("/"));
            prefixes.extend(
                p.common_prefixes()
                    .iter()
                    .map(|c| c.prefix().unwrap().to_string()),
            );
            keys.extend(p.contents().iter().map(|o| o.key().unwrap().to_string()));
        } else {
            let p = s3
                .list_objects()
                .bucket("bkt")
                .encoding_type(EncodingType::Url)
                .delimiter("/")
                .marker("newline/")
                .send()
                .await
                .unwrap();
            assert_eq!(p.marker(), Some("newline/"));
            prefixes.extend(
                p.common_prefixes()
                    .iter()
                    .map(|c| c.prefix().unwrap().to_string()),
            );
            keys.extend(p.contents().iter().map(|o| o.key().unwrap().to_string()));
        }
        assert!(keys.is_empty(), "every key is below a prefix");
        assert!(
            prefixes
                .iter()
                .all(|p| !p.contains(' ') && !p.contains('+')),
            "{prefixes:?}"
        );
        let decoded: Vec<String> = prefixes.iter().map(|p| decode(p)).collect();
        assert_eq!(
            decoded,
            [
                "newline/",
                "percent/",
                "plus+sign/",
                "tab/",
                "unicode/",
                "with space/",
                "xml/"
            ]
            .map(String::from)
            .to_vec()
            .into_iter()
            // v1: a marker ending in the delimiter is a previous page's
            // NextMarker, so that prefix was already listed. v2's
            // start-after is only a key.
            .filter(|p| p.as_str() > "newline/" || (v2 && p.as_str() == "newline/"))
            .collect::<Vec<_>>(),
            "v2={v2}"
        );
    }
    // Keys themselves, url-encoded, in both versions.
    for path in [
        "/bkt?encoding-type=url",
        "/bkt?list-type=2&encoding-type=url",
    ] {
        let xml = Raw::new("GET", path).send(&server.addr).body_text();
        assert!(xml.contains("<EncodingType>url</EncodingType>"));
        for (key, encoded) in [
            ("plus+sign/c+d", "plus%2Bsign/c%2Bd"),
            ("percent/100%", "percent/100%25"),
            ("percent/%41", "percent/%2541"),
            ("with space/a b", "with%20space/a%20b"),
            ("newline/line\nbreak", "newline/line%0Abreak"),
            ("xml/<&>'\"", "xml/%3C%26%3E%27%22"),
        ] {
            assert!(
                xml.contains(&format!("<Key>{encoded}</Key>")),
                "{key:?} in {xml}"
            );
            assert_eq!(decode(encoded), key);
        }
    }
    // Without it, XML escaping only.
    let xml = Raw::new("GET", "/bkt?prefix=xml")
        .send(&server.addr)
        .body_text();
    assert!(
        xml.contains("<Key>xml/&lt;&amp;&gt;&apos;&quot;</Key>")
            || xml.contains("<Key>xml/&lt;&amp;&gt;'\"</Key>"),
        "{xml}"
    );
}
