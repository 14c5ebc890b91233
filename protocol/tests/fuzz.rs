//! Fuzzing on the stable toolchain: every parser target in `fuzz/targets.rs`
//! is driven by proptest with random bytes and with mutations of its seed
//! corpus (`tests/fuzz/corpus/<target>/`), and the corpus itself is replayed
//! as regression tests (a crash found later goes there). Plus the SigV4
//! round trip: requests signed by AWS's own `aws-sigv4` always verify, and
//! any one-byte change to what was signed never does.
//!
//! CI runs proptest's default 256 cases per property; `scripts/fuzz.sh`
//! runs millions (PROPTEST_CASES). See README, "Fuzzing".

mod fuzz {
    pub mod targets;
}

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use fuzz::targets::{self, TARGETS};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use kura_protocol::sigv4::{parse_request_auth, RequestParts, SecretKey};
use proptest::prelude::*;
use time::OffsetDateTime;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target)
}

/// The seed inputs of a target, sorted by file name.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir(target))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn every_target_has_a_seed_corpus_that_replays_clean() {
    for (name, target) in TARGETS {
        let seeds = seeds(name);
        assert!(
            !seeds.is_empty(),
            "no seeds in {}",
            corpus_dir(name).display()
        );
        for s in seeds {
            target(&s);
        }
    }
}

/// Byte-level mutations of a seed, as a mutation fuzzer makes them.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                // Tokens that matter to these parsers.
                prop::sample::select(vec![
                    b"\n".to_vec(),
                    b"\r\n".to_vec(),
                    b"%".to_vec(),
                    b"%00".to_vec(),
                    b"/".to_vec(),
                    b"=".to_vec(),
                    b"&".to_vec(),
                    b",".to_vec(),
                    b";".to_vec(),
                    b"-".to_vec(),
                    b"\"".to_vec(),
                    b"<".to_vec(),
                    b">".to_vec(),
                    b"18446744073709551616".to_vec(),
                    b"ffffffffffffffff".to_vec(),
                    "é".as_bytes().to_vec(),
                ]),
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        (any::<usize>(), 1usize..32).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = data.len();
        let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
        match m {
            Mutation::Flip(i, b) if len > 0 => data[i % len] ^= b | 1,
            Mutation::Flip(..) => {}
            Mutation::Insert(i, b) => {
                let i = at(*i);
                data.splice(i..i, b.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let i = at(*i).min(len);
                data.drain(i..(i + n).min(len));
            }
            Mutation::Duplicate(i, n) => {
                let i = at(*i).min(len);
                let piece = data[i..(i + n).min(len)].to_vec();
                data.splice(i..i, piece);
            }
            Mutation::Truncate(i) => data.truncate(at(*i)),
        }
    }
    data
}

/// Inputs for `target`: random bytes, or a seed with a few mutations.
fn inputs(target: &'static str) -> BoxedStrategy<Vec<u8>> {
    let seeds = seeds(target);
    let random = prop::collection::vec(any::<u8>(), 0..600);
    if seeds.is_empty() {
        return random.boxed();
    }
    prop_oneof![
        1 => random,
        4 => (prop::sample::select(seeds), prop::collection::vec(mutation(), 1..6))
            .prop_map(|(s, m)| apply(s, &m)),
    ]
    .boxed()
}

macro_rules! fuzz_targets {
    ($($name:ident),* $(,)?) => {
        proptest! {
            $(
                #[test]
                fn $name(data in inputs(stringify!($name))) {
                    targets::$name(&data);
                }
            )*
        }
    };
}

fuzz_targets!(
    router,
    sigv4_header,
    sigv4_query,
    sigv2_query,
    aws_chunked,
    range,
    dates,
    conditions,
    xml,
    names,
    copy_source,
    metadata,
);

// ---- aws-chunked: what an encoder writes, the decoder gives back ----

proptest! {
    #[test]
    fn aws_chunked_round_trip(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..6),
        split in 1usize..64,
    ) {
        let mut body = Vec::new();
        for c in &chunks {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        let mut dec = kura_protocol::sigv4::ChunkedDecoder::new(None, false);
        let mut out = Vec::new();
        for piece in body.chunks(split) {
            dec.push(bytes::Bytes::copy_from_slice(piece));
            while let Some(b) = dec.next_payload().unwrap() {
                out.extend_from_slice(&b);
            }
        }
        prop_assert!(dec.is_done());
        dec.finish().unwrap();
        prop_assert_eq!(out, chunks.concat());
    }
}

// ---- SigV4: AWS's signer and kura's verifier agree ----

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST: &str = "127.0.0.1:9000";

/// S3's URI encoding: everything but unreserved characters (and `/` in paths).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Req {
    method: Method,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    time: SystemTime,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9]{1,12}",
        2 => "[ -~]{1,16}",
        1 => "[a-z0-9 éü€日本/+=&?#%]{1,12}",
    ]
}

fn request() -> impl Strategy<Value = Req> {
    let method = prop::sample::select(vec![
        Method::GET,
        Method::PUT,
        Method::POST,
        Method::DELETE,
        Method::HEAD,
    ]);
    let key = prop::collection::vec(text(), 0..4).prop_map(|segs| segs.join("/"));
    let bucket = "[a-z0-9][a-z0-9-]{2,20}";
    let query = prop::collection::vec(("[a-zA-Z-]{1,10}", prop::option::of(text())), 0..4);
    let header_value = "[!-~]([ -~]{0,20}[!-~])?";
    let headers = prop::collection::vec(
        (
            prop::sample::select(vec![
                "x-amz-meta-a",
                "x-amz-meta-name",
                "content-type",
                "x-amz-storage-class",
                "cache-control",
                "x-amz-meta-b",
            ]),
            header_value,
        ),
        0..5,
    );
    let body = prop::collection::vec(any::<u8>(), 0..64);
    let time =
        (0u64..20 * 365 * 86_400).prop_map(|s| UNIX_EPOCH + Duration::from_secs(1_400_000_000 + s));
    (method, bucket, key, query, headers, body, time).prop_map(
        |(method, bucket, key, query, headers, body, time)| {
            let path = format!("/{bucket}/{}", uri_encode(&key, true));
            let query = query
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{}={}", uri_encode(k, false), uri_encode(v, false)),
                    None => uri_encode(k, false),
                })
                .collect::<Vec<_>>()
                .join("&");
            // One value per header name (repeats are folded by clients).
            let mut seen = std::collections::BTreeMap::new();
            for (k, v) in headers {
                seen.entry(k.to_string()).or_insert(v);
            }
            Req {
                method,
                path,
                query,
                headers: seen.into_iter().collect(),
                body,
                time,
            }
        },
    )
}

/// The request's headers after signing it with `aws-sigv4` as S3 clients do.
fn sign_with_aws(r: &Req) -> Vec<(String, String)> {
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(r.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut headers = vec![("host".to_string(), HOST.to_string())];
    headers.extend(r.headers.iter().cloned());
    let uri = if r.query.is_empty() {
        format!("http://{HOST}{}", r.path)
    } else {
        format!("http://{HOST}{}?{}", r.path, r.query)
    };
    let signable = SignableRequest::new(
        r.method.as_str(),
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&r.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (added, _) = instructions.into_parts();
    for h in added {
        headers.push((h.name().to_string(), h.value().to_string()));
    }
    headers
}

fn verify(
    method: &Method,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    at: SystemTime,
) -> Result<(), String> {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?,
            HeaderValue::from_str(v).map_err(|e| e.to_string())?,
        );
    }
    let parts = RequestParts {
        method,
        raw_path: path,
        raw_query: query,
        headers: &h,
    };
    let now = OffsetDateTime::from(at);
    let signed = parse_request_auth(&parts)
        .map_err(|e| format!("{e:?}"))?
        .ok_or("not signed")?;
    signed
        .verify(&parts, &SecretKey::new(SECRET), "us-east-1", now)
        .map(drop)
        .map_err(|e| format!("{:?}", e.code))
}

/// Positions of characters that can be changed to another unreserved
/// character without the change being an equivalent encoding (so not in a
/// `%XX` escape, whose hex case is not significant).
fn changeable(s: &str) -> Vec<usize> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            i += 3;
            continue;
        }
        if b[i].is_ascii_alphanumeric() {
            out.push(i);
        }
        i += 1;
    }
    out
}

fn bump(c: u8) -> u8 {
    match c {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        c => c + 1,
    }
}

fn change_at(s: &str, positions: &[usize], pick: prop::sample::Index) -> Option<String> {
    if positions.is_empty() {
        return None;
    }
    let i = positions[pick.index(positions.len())];
    let mut b = s.as_bytes().to_vec();
    b[i] = bump(b[i]);
    String::from_utf8(b).ok()
}

proptest! {
    #[test]
    fn sigv4_signed_by_aws_always_verifies(r in request()) {
        let headers = sign_with_aws(&r);
        let got = verify(&r.method, &r.path, &r.query, &headers, r.time);
        prop_assert!(got.is_ok(), "{:?} for {:?} with {:?}", got, r, headers);
    }

    #[test]
    fn sigv4_any_one_byte_change_to_what_is_signed_fails(
        r in request(),
        what in 0u8..7,
        pick in any::<prop::sample::Index>(),
    ) {
        let headers = sign_with_aws(&r);
        let (mut method, mut path, mut query, mut hs) =
            (r.method.clone(), r.path.clone(), r.query.clone(), headers.clone());
        let changed = match what {
            0 => {
                method = if method == Method::PUT { Method::POST } else { Method::PUT };
                true
            }
            1 => change_at(&path, &changeable(&path), pick).map(|p| path = p).is_some(),
            2 => change_at(&query, &changeable(&query), pick).map(|q| query = q).is_some(),
            // A signed header's value, the date, the payload hash, the signature.
            3..=6 => {
                let name = match what {
                    3 => hs.iter().find(|(k, _)| k.starts_with("x-amz-meta-") || k == "content-type" || k == "cache-control" || k == "x-amz-storage-class").map(|(k, _)| k.clone()),
                    4 => Some("x-amz-date".to_string()),
                    5 => Some("x-amz-content-sha256".to_string()),
                    _ => Some("authorization".to_string()),
                };
                match name.and_then(|n| hs.iter().position(|(k, _)| *k == n)) {
                    Some(i) => {
                        let v = &hs[i].1;
                        let positions: Vec<usize> = if what == 6 {
                            // Only within the signature's hex digits.
                            let start = v.find("Signature=").unwrap() + "Signature=".len();
                            (start..v.len()).collect()
                        } else if what == 4 {
                            // Seconds digits: still within the allowed clock skew.
                            vec![v.len() - 2]
                        } else {
                            changeable(v)
                        };
                        match change_at(v, &positions, pick) {
                            Some(nv) => { hs[i].1 = nv; true }
                            None => false,
                        }
                    }
                    None => false,
                }
            }
            _ => unreachable!(),
        };
        prop_assume!(changed);
        let got = verify(&method, &path, &query, &hs, r.time);
        prop_assert!(got.is_err(), "change {} still verifies: {:?} {} ?{} {:?}", what, method, path, query, hs);
    }
}
