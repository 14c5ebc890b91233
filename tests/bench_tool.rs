//! kura-bench against a real kura: every workload runs briefly and its JSON
//! report says what happened, which the server's own state confirms.

use crate::common;

use common::{Server, ACCESS_KEY, SECRET_KEY};
use serde_json::Value;

/// Runs kura-bench in-process (the binary is a thin wrapper around the same
/// function) and parses the JSON it would print.
fn bench(server: &Server, args: &[&str]) -> Value {
    let mut argv = vec!["kura-bench"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&[
        "--endpoint",
        &server.endpoint,
        "--access-key",
        ACCESS_KEY,
        "--secret-key",
        SECRET_KEY,
        "--bucket",
        "bench",
        "--json",
    ]);
    let (cli, report) = kura_bench::run_cli(argv).expect("kura-bench runs");
    serde_json::from_str(&kura_bench::render(&cli, &report)).expect("JSON output")
}

fn ops(v: &Value) -> u64 {
    v["ops"].as_u64().expect("ops")
}

fn assert_clean(v: &Value) {
    assert_eq!(v["error_count"], 0, "errors: {v:#}");
    for q in ["p50", "p90", "p99", "max"] {
        assert!(v["latency_ms"][q].as_f64().unwrap() > 0.0, "{q}: {v:#}");
    }
    assert!(v["ops_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn put_get_mixed_list_delete_report_json() {
    let server = Server::start();

    let put = bench(
        &server,
        &[
            "put",
            "--size",
            "4KiB",
            "--concurrency",
            "4",
            "--ops",
            "40",
            "--prefix",
            "p/",
            "--no-cleanup",
        ],
    );
    assert_eq!(put["workload"], "put");
    assert_eq!(put["size"], 4096);
    assert_eq!(ops(&put), 40);
    assert_eq!(put["bytes"], 40 * 4096);
    assert_clean(&put);
    // The objects really are there.
    let listed = bench(
        &server,
        &["list", "--prefix", "p/", "--skip-prepare", "--ops", "1"],
    );
    assert_clean(&listed);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let count = rt.block_on(async {
        let client = server.client().await;
        let out = client
            .list_objects_v2()
            .bucket("bench")
            .prefix("p/")
            .send()
            .await
            .unwrap();
        out.key_count().unwrap()
    });
    assert_eq!(count, 40);

    let get = bench(
        &server,
        &[
            "get",
            "--size",
            "300KiB",
            "--concurrency",
            "4",
            "--objects",
            "6",
            "--ops",
            "30",
            "--verify",
        ],
    );
    assert_eq!(ops(&get), 30);
    assert_eq!(get["bytes"], 30 * 300 * 1024);
    assert_eq!(get["verified"], true);
    assert_clean(&get);

    let mixed = bench(
        &server,
        &[
            "mixed",
            "--size",
            "8KiB",
            "--concurrency",
            "4",
            "--ops",
            "60",
            "--ratio",
            "50:30:20",
            "--verify",
        ],
    );
    assert_eq!(ops(&mixed), 60);
    assert_clean(&mixed);
    let by_op = mixed["by_op"].as_object().unwrap();
    let kinds: u64 = by_op.values().map(ops).sum();
    assert_eq!(kinds, 60);
    assert!(
        by_op.contains_key("get") && by_op.contains_key("put"),
        "{mixed:#}"
    );

    let list = bench(
        &server,
        &[
            "list",
            "--objects",
            "25",
            "--size",
            "0",
            "--max-keys",
            "10",
            "--ops",
            "6",
        ],
    );
    assert_eq!(ops(&list), 6);
    assert_clean(&list);

    let delete = bench(
        &server,
        &[
            "delete",
            "--objects",
            "20",
            "--size",
            "1KiB",
            "--concurrency",
            "4",
        ],
    );
    assert_eq!(
        ops(&delete),
        20,
        "the delete workload ends when its objects are gone"
    );
    assert_clean(&delete);
}

#[test]
fn errors_are_counted_by_s3_code() {
    let server = Server::start();
    // A bucket exists but the objects were never uploaded.
    bench(
        &server,
        &["put", "--size", "1", "--ops", "1", "--prefix", "other/"],
    );
    let get = bench(
        &server,
        &[
            "get",
            "--size",
            "1KiB",
            "--objects",
            "3",
            "--ops",
            "5",
            "--skip-prepare",
            "--concurrency",
            "1",
        ],
    );
    assert_eq!(ops(&get), 0);
    assert_eq!(get["error_count"], 5);
    assert_eq!(get["errors"]["NoSuchKey"], 5, "{get:#}");
}

#[test]
fn multipart_uploads_complete() {
    let server = Server::start();
    let mp = bench(
        &server,
        &[
            "multipart",
            "--size",
            "11MiB",
            "--part-size",
            "5MiB",
            "--concurrency",
            "2",
            "--ops",
            "2",
            "--prefix",
            "mp/",
            "--no-cleanup",
        ],
    );
    assert_eq!(ops(&mp), 2);
    assert_eq!(mp["bytes"], 2 * 11 * 1024 * 1024);
    assert_clean(&mp);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = server.client().await;
        let listed = client
            .list_objects_v2()
            .bucket("bench")
            .prefix("mp/")
            .send()
            .await
            .unwrap();
        let objects = listed.contents();
        assert_eq!(objects.len(), 2);
        for o in objects {
            assert_eq!(o.size(), Some(11 * 1024 * 1024));
            // A multipart ETag: MD5 of the part MD5s, then the part count.
            assert!(o.e_tag().unwrap().ends_with("-3\""), "{:?}", o.e_tag());
        }
    });
}
