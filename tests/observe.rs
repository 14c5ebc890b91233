//! Operating kura: `/metrics` (Prometheus text that moves with traffic),
//! `/health/*`, the access log and the audit file with `kura admin audit`,
//! and TLS certificate reload on SIGHUP.

use crate::common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use common::admin::{create_key, Key};
use common::raw::{Raw, RawResponse};
use common::{eventually, Server, ACCESS_KEY, SECRET_KEY};

/// An unsigned GET.
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut r = Raw::new("GET", path);
    r.signed = false;
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.send(addr)
}

/// A strict reading of the Prometheus/OpenMetrics text format: every line
/// is `# HELP`, `# TYPE`, `# UNIT`, `# EOF` or a sample `name{l="v",…} value`
/// of a declared family. Returns the samples by their series text.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut families: Vec<String> = Vec::new();
    let mut samples = HashMap::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            if kind == "EOF" {
                continue;
            }
            let name = parts
                .next()
                .unwrap_or_else(|| panic!("bad comment {line:?}"));
            assert!(valid_name(name), "bad family name in {line:?}");
            match kind {
                "HELP" | "UNIT" => {}
                "TYPE" => {
                    let t = parts.next().unwrap_or_default();
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "unknown"
                        ]
                        .contains(&t),
                        "bad type in {line:?}"
                    );
                    families.push(name.to_string());
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("bad labels in {line:?}"));
                for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label {pair:?} in {line:?}"));
                    assert!(valid_name(k), "bad label name in {line:?}");
                    assert!(!v.contains('\n'));
                }
                name
            }
            None => series,
        };
        assert!(valid_name(name), "bad metric name in {line:?}");
        assert!(
            families.iter().any(|f| name == f
                || ["_total", "_sum", "_count", "_bucket", "_created", "_info"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(f))),
            "sample of an undeclared family: {line:?}"
        );
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "duplicate {line:?}"
        );
    }
    samples
}

fn metric(m: &HashMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

/// The `--metrics-listen` address the server printed.
fn metrics_addr(server: &Server) -> String {
    server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("kura metrics on http://"))
        .expect("metrics address printed")
        .trim()
        .to_string()
}

fn scrape(addr: &str) -> HashMap<String, f64> {
    let r = get(addr, "/metrics", &[]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        r.header("content-type")
    );
    parse_metrics(&r.body_text())
}

#[tokio::test]
async fn metrics_parse_and_move_with_traffic() {
    let server = Server::start_with(&[
        "--metrics-listen",
        "127.0.0.1:0",
        "--metrics-token",
        "scrape-me",
    ]);
    let maddr = metrics_addr(&server);
    let s3 = server.client().await;
    s3.create_bucket().bucket("data").send().await.unwrap();

    let before = scrape(&maddr);
    let put_ok = r#"kura_requests_total{op="PutObject",status="200"}"#;
    let get_ok = r#"kura_requests_total{op="GetObject",status="200"}"#;
    let body = common::pattern(100_000, 1);
    s3.put_object()
        .bucket("data")
        .key("k")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("data")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().len(),
        body.len()
    );
    let missing = s3.get_object().bucket("data").key("nope").send().await;
    assert!(missing.is_err());

    // The download is recorded when its last byte is sent, right after the
    // client has it: poll for it rather than hope.
    let mut after = HashMap::new();
    eventually("the GET is counted", Duration::from_secs(10), || {
        after = scrape(&maddr);
        metric(&after, get_ok) == metric(&before, get_ok) + 1.0
    })
    .await;
    assert_eq!(metric(&after, put_ok), metric(&before, put_ok) + 1.0);
    assert_eq!(
        metric(
            &after,
            r#"kura_requests_total{op="GetObject",status="404"}"#
        ),
        1.0
    );
    assert!(
        metric(&after, r#"kura_request_body_bytes_total{op="PutObject"}"#) >= body.len() as f64
    );
    assert!(
        metric(&after, r#"kura_response_body_bytes_total{op="GetObject"}"#) >= body.len() as f64
    );
    assert_eq!(
        metric(
            &after,
            r#"kura_request_duration_seconds_count{op="PutObject"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &after,
            r#"kura_request_duration_seconds_bucket{le="+Inf",op="GetObject"}"#
        ),
        2.0
    );
    // The SDK keeps its connection open.
    assert!(metric(&after, "kura_open_connections") >= 1.0);
    assert_eq!(metric(&after, "kura_buckets"), 1.0);
    for gauge in [
        "kura_rocksdb_memtable_bytes",
        "kura_rocksdb_block_cache_usage_bytes",
        "kura_rocksdb_pending_compaction_bytes",
        "kura_rocksdb_write_stopped",
        "kura_purge_due",
        "kura_lifecycle_backlog",
        "kura_data_dir_free_bytes",
        "kura_in_flight_requests",
    ] {
        assert!(after.contains_key(gauge), "{gauge} missing");
    }
    if !common::engines::distributed() {
        // (On etcd there is no RocksDB: the gauge is there, at 0.)
        assert!(metric(&after, "kura_rocksdb_memtable_bytes") > 0.0);
    }
    assert!(metric(&after, "kura_data_dir_free_bytes") > 0.0);

    // A write in progress makes a concurrent read of its key a 409 lock conflict.
    let conflicts = metric(&after, "kura_lock_conflicts_total");
    let slow = common::slow::SlowPut::start(&server.addr, "/data/busy", vec![7u8; 1000], 10);
    let r = Raw::new("GET", "/data/busy").send(&server.addr);
    assert_eq!(r.status, 409, "{}", r.body_text());
    assert_eq!(slow.finish().status, 200);
    let after = scrape(&maddr);
    assert_eq!(metric(&after, "kura_lock_conflicts_total"), conflicts + 1.0);

    // On the main listener /metrics needs the token or an admin key.
    let r = get(&server.addr, "/metrics", &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "AccessDenied");
    let r = get(
        &server.addr,
        "/metrics",
        &[("authorization", "Bearer wrong")],
    );
    assert_eq!(r.status, 403);
    let r = get(
        &server.addr,
        "/metrics",
        &[("authorization", "Bearer scrape-me")],
    );
    assert_eq!(r.status, 200);
    parse_metrics(&r.body_text());
    let r = Raw::new("GET", "/metrics").send(&server.addr);
    assert_eq!(r.status, 200, "root's signed scrape: {}", r.body_text());
    let reader = create_key(&server, "reader", &["data:r"], &[]);
    let r = Raw::new("GET", "/metrics")
        .credentials(&reader.id, &reader.secret)
        .send(&server.addr);
    assert_eq!(r.status, 403);
    let admin = create_key(&server, "ops", &["*:admin"], &[]);
    let r = Raw::new("GET", "/metrics")
        .credentials(&admin.id, &admin.secret)
        .send(&server.addr);
    assert_eq!(r.status, 200);

    // The metrics listener serves nothing else.
    assert_eq!(get(&maddr, "/data/k", &[]).status, 404);

    // `metrics` and `health` are reserved bucket names; other requests on
    // those paths are still S3's.
    let err = s3
        .create_bucket()
        .bucket("metrics")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidBucketName")
    );
    let r = Raw::new("GET", "/metrics?list-type=2").send(&server.addr);
    assert_eq!(r.code(), "NoSuchBucket");
}

#[tokio::test]
async fn health_endpoints_answer_without_credentials() {
    let server = Server::start();
    let r = get(&server.addr, "/health/live", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body_text(), "ok\n");
    let r = get(&server.addr, "/health/ready", &[]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let v: serde_json::Value = serde_json::from_str(&r.body_text()).unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["metadata"], "ok");
    assert_eq!(v["data_dir_writable"], "ok");
    assert!(v["disk_free_bytes"].as_u64().unwrap() > 0);
    let mut head = Raw::new("HEAD", "/health/ready");
    head.signed = false;
    assert_eq!(head.send(&server.addr).status, 200);
    // Other methods on these paths are not probes.
    let mut post = Raw::new("POST", "/health/live");
    post.signed = false;
    assert_ne!(post.send(&server.addr).status, 200);
    // Probes do not fill the access log.
    assert!(!server.log().contains("op=HealthReady"), "{}", server.log());

    // SIGHUP (a service manager's "reload") does not end a server without TLS.
    hup(&server);
    eventually("the SIGHUP is logged", Duration::from_secs(10), || {
        server.log().contains("no TLS certificate to reload")
    })
    .await;
    assert_eq!(get(&server.addr, "/health/live", &[]).status, 200);
}

fn audit_records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
        .collect()
}

fn by_request(records: &[serde_json::Value], id: &str) -> serde_json::Value {
    records
        .iter()
        .find(|r| r["request_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no audit record for {id}"))
}

fn request_id(r: &RawResponse) -> String {
    r.header("x-amz-request-id")
        .expect("request id")
        .to_string()
}

#[tokio::test]
async fn audit_log_records_who_did_what_from_where() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let server = Server::start_with(&[
        "--audit-log",
        audit.to_str().unwrap(),
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    let s3 = server.client().await;
    s3.create_bucket().bucket("docs").send().await.unwrap();
    s3.create_bucket().bucket("private").send().await.unwrap();
    let partner: Key = create_key(&server, "acme-corp", &["docs:rw"], &[]);
    let body = b"the contract".to_vec();

    let up = Raw::new("PUT", "/docs/contract.pdf")
        .credentials(&partner.id, &partner.secret)
        .header("x-forwarded-for", "203.0.113.7")
        .header("user-agent", "partner-uploader/1.0")
        .body(body.clone())
        .send(&server.addr);
    assert_eq!(up.status, 200, "{}", up.body_text());
    let down = Raw::new("GET", "/docs/contract.pdf")
        .credentials(&partner.id, &partner.secret)
        .header("x-forwarded-for", "203.0.113.8")
        .send(&server.addr);
    assert_eq!(down.status, 200);
    assert_eq!(down.body, body);
    let denied = Raw::new("GET", "/private/payroll.xlsx")
        .credentials(&partner.id, &partner.secret)
        .header("x-forwarded-for", "203.0.113.9")
        .send(&server.addr);
    assert_eq!(denied.status, 403);

    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args([
            "publish",
            "docs/contract.pdf",
            "--endpoint",
            &server.endpoint,
        ])
        .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
        .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let link_path = link.strip_prefix(&server.endpoint).unwrap().to_string();
    let public = get(
        &server.addr,
        &link_path,
        &[("x-forwarded-for", "198.51.100.4")],
    );
    assert_eq!(public.status, 200);
    assert_eq!(public.body, body);

    let ids = [&up, &down, &denied, &public].map(request_id);
    let mut records = Vec::new();
    eventually("audit records written", Duration::from_secs(10), || {
        records = audit_records(&audit);
        ids.iter()
            .all(|id| records.iter().any(|r| r["request_id"] == *id))
    })
    .await;

    let r = by_request(&records, &ids[0]);
    assert_eq!(r["operation"], "PutObject");
    assert_eq!(r["access_key_id"], partner.id.as_str());
    assert_eq!(r["key_name"], "acme-corp");
    assert_eq!(r["client"], "203.0.113.7");
    assert_eq!(r["bucket"], "docs");
    assert_eq!(r["key"], "contract.pdf");
    assert_eq!(r["status"], 200);
    assert_eq!(r["bytes_in"], body.len());
    assert_eq!(r["user_agent"], "partner-uploader/1.0");
    assert!(r.get("secret").is_none() && !r.to_string().contains(&partner.secret));

    let r = by_request(&records, &ids[1]);
    assert_eq!(r["operation"], "GetObject");
    assert_eq!(r["access_key_id"], partner.id.as_str());
    assert_eq!(r["client"], "203.0.113.8");
    assert_eq!(r["status"], 200);
    assert_eq!(r["bytes_out"], body.len());
    assert_eq!(r["complete"], true);

    let r = by_request(&records, &ids[2]);
    assert_eq!(r["access_key_id"], partner.id.as_str());
    assert_eq!(r["client"], "203.0.113.9");
    assert_eq!(r["status"], 403);
    assert_eq!(r["error"], "AccessDenied");
    assert_eq!(r["bucket"], "private");

    let r = by_request(&records, &ids[3]);
    assert_eq!(r["operation"], "GetPublicObject");
    assert!(r.get("access_key_id").is_none(), "{r}");
    assert_eq!(r["public_link"], link_path.as_str());
    assert_eq!(r["client"], "198.51.100.4");
    assert_eq!(r["bucket"], "docs");
    assert_eq!(r["key"], "contract.pdf");
    assert_eq!(r["bytes_out"], body.len());

    // The same records go to the log, one line each.
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains(&ids[0]) && l.contains("request"))
        .unwrap_or_else(|| panic!("no access log line for the upload:\n{log}"));
    assert!(
        line.contains("key_name=\"acme-corp\"") || line.contains("key_name=acme-corp"),
        "{line}"
    );
    assert!(line.contains("client=203.0.113.7"), "{line}");

    // `kura admin audit` answers "who touched contract.pdf" without a server.
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["admin", "--json", "audit", "--file"])
        .arg(&audit)
        .args(["--bucket", "docs", "--key", "contract.pdf", "--since", "7d"])
        .env_remove("KURA_ACCESS_KEY_ID")
        .env_remove("KURA_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["request_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        found.contains(&ids[0]) && found.contains(&ids[1]) && found.contains(&ids[3]),
        "{found:?}"
    );
    assert!(
        !found.contains(&ids[2]),
        "the denied request was on another bucket"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["admin", "audit", "--file"])
        .arg(&audit)
        .args(["--key", "contract.pdf", "--operation", "GetPublicObject"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("198.51.100.4") && text.contains("public link"),
        "{text}"
    );
}

#[test]
fn json_log_format_gives_one_object_per_line() {
    let server = Server::start_with(&["--log-format", "json"]);
    let r = Raw::new("PUT", "/jsonlog").send(&server.addr);
    assert_eq!(r.status, 200);
    let id = request_id(&r);
    // The line is written when the response is finished: poll the log.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        if let Some(l) = server
            .log()
            .lines()
            .find(|l| l.contains(&id))
            .map(str::to_string)
        {
            break l;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log line:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(v["op"], "CreateBucket");
    assert_eq!(v["access_key_id"], ACCESS_KEY);
    assert_eq!(v["key_name"], "root");
    assert_eq!(v["status"], 200);
}

struct Pair {
    cert: String,
    key: String,
}

fn make_pair(name: &str) -> Pair {
    let c = rcgen::generate_simple_self_signed(vec![name.to_string(), "127.0.0.1".to_string()])
        .unwrap();
    Pair {
        cert: c.cert.pem(),
        key: c.key_pair.serialize_pem(),
    }
}

/// Python's ssl module: the PEM certificate a new handshake gets, and
/// whether a connection opened before keeps working (`KEEP` mode).
const PEER_CERT: &str = r#"
import ssl, sys, socket
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
host, port = sys.argv[1].rsplit(":", 1)
with socket.create_connection((host, int(port))) as s:
    with ctx.wrap_socket(s) as t:
        print(ssl.DER_cert_to_PEM_cert(t.getpeercert(binary_form=True)))
"#;

fn served_cert(addr: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PEER_CERT)
        .arg(addr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    normalize_pem(&String::from_utf8_lossy(&out.stdout))
}

fn normalize_pem(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("")
}

fn hup(server: &Server) {
    let ok = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_the_old_one_if_the_new_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let first = make_pair("first.test");
    std::fs::write(&cert, &first.cert).unwrap();
    std::fs::write(&key, &first.key).unwrap();
    let server = Server::start_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(served_cert(&server.addr), normalize_pem(&first.cert));

    // A keep-alive connection opened under the first certificate.
    let held = reqwest_like::KeepAlive::open(&server.addr);

    let second = make_pair("second.test");
    std::fs::write(&cert, &second.cert).unwrap();
    std::fs::write(&key, &second.key).unwrap();
    hup(&server);
    eventually(
        "the new certificate is served",
        Duration::from_secs(10),
        || served_cert(&server.addr) == normalize_pem(&second.cert),
    )
    .await;
    // The connection opened before the reload still works.
    assert_eq!(held.get("/health/live"), 200);

    // A certificate whose key does not match, then a file that is no
    // certificate: each is refused and the second pair stays in service.
    let third = make_pair("third.test");
    std::fs::write(&cert, &third.cert).unwrap();
    hup(&server);
    eventually("the mismatch is logged", Duration::from_secs(10), || {
        server
            .log()
            .matches("TLS certificate reload failed")
            .count()
            == 1
    })
    .await;
    assert_eq!(served_cert(&server.addr), normalize_pem(&second.cert));
    std::fs::write(&cert, "not a certificate").unwrap();
    hup(&server);
    eventually("the bad file is logged", Duration::from_secs(10), || {
        server
            .log()
            .matches("TLS certificate reload failed")
            .count()
            == 2
    })
    .await;
    assert_eq!(served_cert(&server.addr), normalize_pem(&second.cert));
    assert!(
        server.log().contains("do not fit together"),
        "{}",
        server.log()
    );
    assert_eq!(held.get("/health/live"), 200);
}

/// A TLS keep-alive connection driven by Python's http.client, kept open
/// across requests (a child process reading paths from stdin).
mod reqwest_like {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
    use std::sync::Mutex;

    const CLIENT: &str = r#"
import ssl, sys, http.client
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
host, port = sys.argv[1].rsplit(":", 1)
c = http.client.HTTPSConnection(host, int(port), context=ctx)
for line in sys.stdin:
    c.request("GET", line.strip())
    r = c.getresponse()
    r.read()
    # The same socket every time: a reconnect would be a new handshake.
    print(r.status, id(c.sock), flush=True)
"#;

    pub struct KeepAlive {
        child: Child,
        io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
        socket: Mutex<Option<String>>,
    }

    impl KeepAlive {
        pub fn open(addr: &str) -> KeepAlive {
            let mut child = Command::new("python3")
                .arg("-c")
                .arg(CLIENT)
                .arg(addr)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            let k = KeepAlive {
                child,
                io: Mutex::new((stdin, stdout)),
                socket: Mutex::new(None),
            };
            assert_eq!(k.get("/health/live"), 200);
            k
        }

        /// GETs `path` on the held connection; panics if it was reopened.
        pub fn get(&self, path: &str) -> u16 {
            let mut io = self.io.lock().unwrap();
            writeln!(io.0, "{path}").unwrap();
            let mut line = String::new();
            io.1.read_line(&mut line).unwrap();
            let (status, sock) = line.trim().split_once(' ').expect("status and socket");
            let mut known = self.socket.lock().unwrap();
            match known.as_deref() {
                None => *known = Some(sock.to_string()),
                Some(s) => assert_eq!(s, sock, "the connection was reopened"),
            }
            status.parse().unwrap()
        }
    }

    impl Drop for KeepAlive {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
