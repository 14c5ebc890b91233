#!/usr/bin/env python3
"""Replication lag of `kura replicate` under one kura-bench PUT run.

Starts a source kura and a target kura on fresh data directories, lets
`kura replicate` follow the source bucket into the target, runs one
kura-bench PUT run of OBJECTS small objects against the source, and reports:

- catch-up lag: time from the last acknowledged source PUT (the end of the
  kura-bench run) until the target lists every object;
- max lag during the run: the largest `lag_ms` the replicator reported
  (age of the newest change of a page when that page was applied);
- the source's write rate and the replicator's average apply rate;
- CPU time per object of the source, the target and the replicator over
  the run (from /proc: what each copy costs, whoever waits for whom);
- backlog: a second bucket gets OBJECTS PUTs with no replicator running
  (the source's write rate alone), then `kura replicate --once` copies them
  all: the replicator's own drain rate.

    cargo build --release -p kura-server -p kura-bench
    benches/replication_lag.py                       # 10,000 x 4 KiB, 16 writers
    OBJECTS=10000 SIZE=4KiB CONCURRENCY=16 PORT=19300 WORK=/tmp/kura-lag benches/replication_lag.py
    REPLICATE_ARGS="--concurrency 64" KURA=/tmp/kura-old benches/replication_lag.py

Binaries are taken from $CARGO_TARGET_DIR (or ./target)/release.
"""
import json
import resource
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
KURA = os.environ.get("KURA", os.path.join(TARGET_DIR, "release", "kura"))
BENCH = os.environ.get("BENCH", os.path.join(TARGET_DIR, "release", "kura-bench"))
OBJECTS = int(os.environ.get("OBJECTS", "10000"))
SIZE = os.environ.get("SIZE", "4KiB")
CONCURRENCY = os.environ.get("CONCURRENCY", "16")
PORT = int(os.environ.get("PORT", "19300"))
WORK = os.environ.get("WORK", "/tmp/kura-lag")
# Extra `kura replicate` arguments, e.g. "--concurrency 64".
REPLICATE_ARGS = os.environ.get("REPLICATE_ARGS", "").split()
AK, SK = "lagaccesskey00000001", "lagsecretkey000000000000000000000000001"
CREDS = {"KURA_ACCESS_KEY_ID": AK, "KURA_SECRET_ACCESS_KEY": SK,
         "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK, "KURA_LOG": "warn"}


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"kura on port {port} did not start")


def s3(port):
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}",
                        aws_access_key_id=AK, aws_secret_access_key=SK,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


def cpu(pid):
    """User + system CPU seconds of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def put_run(bucket, env):
    """One kura-bench PUT run of OBJECTS objects into `bucket`; its report."""
    bench = subprocess.run(
        [BENCH, "put", "--endpoint", f"http://127.0.0.1:{PORT}", "--bucket", bucket,
         "--prefix", "lag/", "--size", SIZE, "--concurrency", CONCURRENCY,
         "--ops", str(OBJECTS), "--no-cleanup", "--json"],
        env=env, check=True, capture_output=True, text=True)
    return json.loads(bench.stdout)


def count(client, bucket, prefix):
    n = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        n += page.get("KeyCount", 0)
    return n


def main():
    # Killed (timeout, Ctrl-C): still stop both servers and the replicator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    env = dict(os.environ, **CREDS)
    procs = []
    try:
        for i, name in enumerate(["source", "target"]):
            log = open(os.path.join(WORK, f"{name}.log"), "w")
            procs.append(subprocess.Popen(
                [KURA, "serve", "--listen", f"127.0.0.1:{PORT + i}",
                 "--data-dir", os.path.join(WORK, name)], env=env, stdout=log, stderr=log))
            wait_port(PORT + i)
        src, dst = s3(PORT), s3(PORT + 1)
        src.create_bucket(Bucket="lag")
        dst.create_bucket(Bucket="lag")
        repl_out = open(os.path.join(WORK, "replicate.jsonl"), "w")
        procs.append(subprocess.Popen(
            [KURA, "replicate", "--source", f"http://127.0.0.1:{PORT}/lag",
             "--target", f"s3://lag@http://127.0.0.1:{PORT + 1}",
             "--state", os.path.join(WORK, "replicate.state"), "--json", *REPLICATE_ARGS],
            env=env, stdout=repl_out, stderr=subprocess.DEVNULL))
        servers = procs[:2]
        cpu0 = [cpu(p.pid) for p in procs]
        start = time.time()
        report = put_run("lag", env)
        acked = time.time()
        while count(dst, "lag", "lag/") < OBJECTS:
            time.sleep(0.1)
            if time.time() - acked > 600:
                sys.exit("the target did not catch up within 10 minutes")
        caught_up = time.time()
        cpu1 = [cpu(p.pid) for p in procs]
        repl_out.flush()
        lags = []
        with open(os.path.join(WORK, "replicate.jsonl")) as f:
            for line in f:
                v = json.loads(line)
                if v.get("applied"):
                    lags.append(v.get("max_lag_ms", v["lag_ms"]))
        per = [f"{n} {(b - a) * 1e6 / OBJECTS:.0f}" for n, a, b in
               zip(["source", "target", "replicator"], cpu0, cpu1)]
        print(f"source: {OBJECTS} PUTs of {SIZE} x{CONCURRENCY} in {acked - start:.1f} s "
              f"({report.get('ops_per_sec', OBJECTS / (acked - start)):.0f} PUT/s)")
        print(f"replicator: {OBJECTS / (caught_up - start):.0f} objects/s on average, "
              f"{len(lags)} progress lines")
        print(f"catch-up lag after the last source ack: {caught_up - acked:.2f} s")
        print(f"max lag during the run: {max(lags, default=0) / 1000:.2f} s")
        print(f"CPU µs per object: {', '.join(per)}")

        # Backlog: the source's write rate alone, then the replicator's own rate.
        src.create_bucket(Bucket="lag2")
        dst.create_bucket(Bucket="lag2")
        t0 = time.time()
        solo = put_run("lag2", env)
        solo_s = time.time() - t0
        cpu0 = [cpu(p.pid) for p in servers]
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        subprocess.run(
            [KURA, "replicate", "--once", "--source", f"http://127.0.0.1:{PORT}/lag2",
             "--target", f"s3://lag2@http://127.0.0.1:{PORT + 1}",
             "--state", os.path.join(WORK, "backlog.state"), *REPLICATE_ARGS],
            env=env, check=True, stdout=subprocess.DEVNULL)
        drain_s = time.time() - t0
        cpu1 = [cpu(p.pid) for p in servers]
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        repl_cpu = (children1.ru_utime + children1.ru_stime
                    - children0.ru_utime - children0.ru_stime)
        copied = count(dst, "lag2", "lag/")
        if copied != OBJECTS:
            sys.exit(f"backlog: the target has {copied} of {OBJECTS} objects")
        print(f"backlog: source alone {solo.get('ops_per_sec', OBJECTS / solo_s):.0f} PUT/s; "
              f"replicate --once copied {OBJECTS} in {drain_s:.1f} s "
              f"({OBJECTS / drain_s:.0f} objects/s; CPU µs per object: source "
              f"{(cpu1[0] - cpu0[0]) * 1e6 / OBJECTS:.0f}, target "
              f"{(cpu1[1] - cpu0[1]) * 1e6 / OBJECTS:.0f}, replicator "
              f"{repl_cpu * 1e6 / OBJECTS:.0f})")
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
