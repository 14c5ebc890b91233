#!/usr/bin/env python3
"""Renders benches/compare.sh results (one JSON per run) as a Markdown table.

Usage: compare_table.py OUT_DIR LIST_KEYS
Each figure is the median of the runs, with the spread (min-max) after it.
"""

import glob
import json
import os
import statistics
import sys

out, list_keys = sys.argv[1], int(sys.argv[2])


def values(name, server, field):
    vals = []
    for path in sorted(glob.glob(os.path.join(out, f"{name}.{server}.*.json"))):
        if path.endswith(".0.json"):  # preparation runs
            continue
        with open(path) as f:
            j = json.load(f)
        if field == "disk_seq":
            vals.append(j["bytes"] / j["secs"] / 2**20)
        elif field == "disk_fsync":
            vals.append(j["jobs"][0]["write"]["iops"])
        elif j.get("error_count", 0) > 0 and j.get("ops", 1) == 0:
            vals.append(0.0)
        else:
            vals.append(j[field])
    return vals


def med(vals):
    return statistics.median(vals) if vals else None


def fmt(vals, unit=""):
    if not vals:
        return "n/a"
    m = med(vals)
    digits = 0 if m >= 100 else 1
    s = f"{m:,.{digits}f}{unit}"
    if len(vals) > 1:
        s += f" ({min(vals):,.{digits}f}–{max(vals):,.{digits}f})"
    return s


def ratio(a, b):
    if not a or not b or med(b) == 0:
        return None
    return med(a) / med(b)


def fr(r):
    return "n/a" if r is None else f"{r:.2f}×"


def yes(ok):
    return "n/a" if ok is None else ("**yes**" if ok else "**no**")


disk_seq = values("disk_seq", "disk", "disk_seq")
disk_fsync = values("disk_fsync", "disk", "disk_fsync")
errors = []
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    with open(path) as f:
        j = json.load(f)
    if j.get("error_count"):
        errors.append(f"{os.path.basename(path)}: {j['errors']}")

rows = []


def row(label, name, field, unit, limit_vals, limit_label, target, peer=True):
    kura = values(name, "kura", field)
    s3s = values(name, "s3s", field) if peer else []
    r_limit = ratio(kura, limit_vals)
    r_peer = ratio(kura, s3s) if peer else None
    rows.append(
        [
            label,
            fmt(kura, unit),
            f"{limit_label}: {fmt(limit_vals, unit)}" if limit_vals else "n/a",
            fmt(s3s, unit) if peer else "n/a",
            fr(r_limit),
            f"≥ {target:g}×",
            yes(None if r_limit is None else r_limit >= target),
            fr(r_peer),
            yes(None if r_peer is None else r_peer >= 1.0),
        ]
    )


row("GET 1 MiB, 16 streams", "get1m", "mib_per_sec", " MiB/s",
    values("get1m", "nginx", "mib_per_sec"), "nginx", 0.7)
row("GET 1 GiB, 1 stream", "get1g", "mib_per_sec", " MiB/s",
    values("get1g", "nginx", "mib_per_sec"), "nginx", 0.7)
row("GET 4 KiB, 64 streams", "get4k", "ops_per_sec", " req/s",
    values("get4k", "nginx", "ops_per_sec"), "nginx", 0.5)
row("PUT 1 GiB, 1 stream, durable", "put1g", "mib_per_sec", " MiB/s",
    disk_seq, "disk seq. write+fsync", 0.6)
row("PUT 4 KiB, 64 streams, durable", "put4k", "ops_per_sec", " req/s",
    disk_fsync, "disk 4 KiB fsync'd writes/s", 10)
row("LIST 1000-key page, bucket of 1,000 keys", "list1k", "ops_per_sec", " pages/s",
    [], "", 0)
rows[-1][5:7] = ["", ""]
row(f"LIST 1000-key page, bucket of {list_keys:,} keys", "listbig", "ops_per_sec", " pages/s",
    values("list1k", "kura", "ops_per_sec"), "kura, 1,000 keys", 0.5, peer=False)

mem_put = values("mem_put", "kura", "rss_mib")
mem_get = values("mem_get", "kura", "rss_mib")

print("| workload | kura | limit | s3s-fs (peer, no fsync) | kura / limit | target | met | kura / peer | ≥ 1.0× |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
for label, vals, cap in [
    ("kura peak RSS, 64 concurrent 256 MiB uploads", mem_put, 150),
    ("kura peak RSS, 64 concurrent 1 GiB downloads", mem_get, 100),
]:
    ok = None if not vals else max(vals) < cap
    print(f"| {label} | {fmt(vals, ' MiB')} | | | | < {cap} MiB | {yes(ok)} | | |")
print()
print(
    "Median of the runs, (min–max) after it. Client (kura-bench) and servers share the "
    "machine's cores on loopback. s3s-fs does not fsync: its PUTs end in the page cache, "
    "kura's are on disk before the 200. nginx serves the same objects as static files "
    "(sendfile), with the same client: it is the HTTP ceiling of this machine and of kura-bench."
)
if errors:
    print()
    print("Errors during the runs:")
    for e in errors:
        print(f"- {e}")
