#!/usr/bin/env bash
# kura on the distributed engines beside the embedded default (issue 15):
# one etcd member and a one-node Ceph (scripts/ceph-cluster, memstore) on
# this machine, then the same kura-bench workloads against
#   embedded   one kura, RocksDB + chunk files (the default)
#   1fe        one kura on etcd + RADOS
#   2fe, 3fe   two / three kura on the same etcd prefix and RADOS namespace,
#              the clients spread evenly, each front end on keys of its own
# plus what one PUT and one GET cost there: etcd requests per operation and
# their server-side time (etcd's own metrics, --metrics=extensive), and one
# RADOS write / read (rados bench, one op in flight).
#
#   benches/scale_out.sh                       # DUR=10s per workload
#   DUR=5s WORKLOADS="put4k get4k" benches/scale_out.sh
#
# Workloads: put4k (PUT 4 KiB, 64 in flight), get4k (GET 4 KiB, 64),
# put1m (PUT 1 MiB, 16), get1m (GET 1 MiB, 16). Prints a Markdown table.
# Everything runs on this machine: the front ends, etcd, the Ceph daemons
# and the load generator share its cores (note `nproc` and `uptime`).
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${DUR:-10s}
WORKLOADS=${WORKLOADS:-put4k get4k put1m get1m}
CONFIGS=${CONFIGS:-embedded 1fe 2fe 3fe}
WORK=${WORK:-/tmp/kura-scale-out}
AK=benchaccesskey000001
SK=benchsecretkey0000000000000000000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK

cargo build --release -q -p kura-server -p kura-bench
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release

rm -rf "$WORK"
mkdir -p "$WORK/out"
pids=()
etcd_pid=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/ceph-cluster stop "$WORK/ceph" 2>/dev/null || true
  [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# etcd: one member, its data on this machine's disk (a quorum commit is a
# WAL fsync there).
client=$(free_port) peer=$(free_port)
ETCD=127.0.0.1:$client
etcd --name bench --data-dir "$WORK/etcd" --metrics extensive \
  --listen-client-urls "http://$ETCD" --advertise-client-urls "http://$ETCD" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "bench=http://127.0.0.1:$peer" --quota-backend-bytes $((8 << 30)) \
  >"$WORK/etcd.log" 2>&1 &
etcd_pid=$!
until ETCDCTL_API=3 etcdctl --endpoints "http://$ETCD" --dial-timeout=200ms endpoint health >/dev/null 2>&1; do sleep 0.1; done
CEPH_MEMSTORE_BYTES=$((4 << 30)) scripts/ceph-cluster start "$WORK/ceph" kura >/dev/null 2>&1
CONF=$WORK/ceph/ceph.conf

# etcd_metrics: the counters this script reads, one "name value" a line.
etcd_metrics() {
  python3 - "http://$ETCD/metrics" <<'PY'
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1]).read().decode()
want = {}
for line in text.splitlines():
    m = re.match(r'grpc_server_handled_total\{grpc_code="OK",grpc_method="(Range|Txn)",grpc_service="etcdserverpb.KV"', line)
    if m: want[m.group(1) + "_n"] = float(line.split()[-1])
    m = re.match(r'grpc_server_handling_seconds_(sum|count)\{grpc_method="(Range|Txn)",grpc_service="etcdserverpb.KV"', line)
    if m: want[m.group(2) + "_s_" + m.group(1)] = float(line.split()[-1])
    m = re.match(r'etcd_disk_wal_fsync_duration_seconds_(sum|count) ', line)
    if m: want["fsync_" + m.group(1)] = float(line.split()[-1])
for k, v in sorted(want.items()): print(k, v)
PY
}

# One RADOS op in flight: what a chunk write / read costs by itself.
rados_lat() { # SIZE MODE -> average latency in ms
  local out
  if [ "$2" = write ]; then
    out=$(rados -c "$CONF" -p kura bench 5 write -b "$1" -t 1 --no-cleanup 2>/dev/null)
  else
    out=$(rados -c "$CONF" -p kura bench 5 seq -t 1 2>/dev/null)
  fi
  echo "$out" | awk '/^Average Latency\(s\)/ {printf "%.2f", $3 * 1000}'
}
r4w=$(rados_lat 4096 write); r4r=$(rados_lat 4096 seq)
rados -c "$CONF" -p kura cleanup >/dev/null 2>&1
r1w=$(rados_lat 1048576 write); r1r=$(rados_lat 1048576 seq)
rados -c "$CONF" -p kura cleanup >/dev/null 2>&1

# start_fronts CONFIG: starts its kura(s); sets EPS (their endpoints).
EPS=()
start_fronts() {
  local n=1 args=() i port
  case $1 in
    embedded) ;;
    *fe) n=${1%fe}
         args=(--meta "etcd://$ETCD/bench-$1" --blobs "rados://kura?conf=$CONF&namespace=bench-$1") ;;
  esac
  EPS=() pids=()
  for i in $(seq 1 "$n"); do
    port=$(free_port)
    # The access keys in the shared metadata are sealed with the first front
    # end's key file: every front end needs the same one.
    if [ "$i" -gt 1 ]; then
      mkdir -p "$WORK/$1-$i"
      cp "$WORK/$1-1/access-keys.key" "$WORK/$1-$i/"
    fi
    KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
      "$BIN/kura" serve --listen "127.0.0.1:$port" --data-dir "$WORK/$1-$i" "${args[@]}" \
      >"$WORK/$1-$i.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 300); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
    EPS+=("http://127.0.0.1:$port")
  done
}

# run WORKLOAD: the workload against every front end at once (total
# concurrency split evenly), one JSON report per front end in $WORK/out.
run() {
  local w=$1 n=${#EPS[@]} verb size conc i
  case $w in
    put4k) verb=put size=4KiB conc=64 ;;
    get4k) verb=get size=4KiB conc=64 ;;
    put1m) verb=put size=1MiB conc=16 ;;
    get1m) verb=get size=1MiB conc=16 ;;
  esac
  local c=$((conc / n))
  rm -rf "$WORK/out"; mkdir -p "$WORK/out"
  if [ "$verb" = get ]; then
    for i in $(seq 0 $((n - 1))); do
      # Uploads the objects, reads one, leaves them in place.
      "$BIN/kura-bench" get --endpoint "${EPS[$i]}" --bucket bench --prefix "g$w/fe$i/" \
        --size "$size" --concurrency "$c" --objects "$c" --ops 1 --no-cleanup --json >/dev/null
    done
  fi
  etcd_metrics >"$WORK/before"
  for i in $(seq 0 $((n - 1))); do
    if [ "$verb" = get ]; then
      "$BIN/kura-bench" get --endpoint "${EPS[$i]}" --bucket bench --prefix "g$w/fe$i/" \
        --size "$size" --concurrency "$c" --objects "$c" --skip-prepare --no-cleanup \
        --duration "$DUR" --json >"$WORK/out/$i.json" &
    else
      "$BIN/kura-bench" put --endpoint "${EPS[$i]}" --bucket bench --prefix "p$w/fe$i/" \
        --size "$size" --concurrency "$c" --no-cleanup --duration "$DUR" --json >"$WORK/out/$i.json" &
    fi
  done
  wait # (a subshell: only its load generators)
  etcd_metrics >"$WORK/after"
  python3 - "$WORK/out" <<'PY'
import json, os, sys
d = sys.argv[1]
rs = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d))]
ops = sum(r["ops_per_sec"] for r in rs)
mib = sum(r["mib_per_sec"] for r in rs)
p50 = sum(r["latency_ms"]["p50"] for r in rs) / len(rs)
p99 = max(r["latency_ms"]["p99"] for r in rs)
err = sum(r["error_count"] for r in rs)
total = sum(r["ops"] for r in rs)
print(f"{ops:.0f} {mib:.1f} {p50:.2f} {p99:.2f} {err} {total}")
PY
}

echo "# kura scale-out benchmark: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg), DUR=$DUR"
echo
echo "| config | workload | ops/s | MiB/s | p50 ms | p99 ms | errors | etcd Range/op | etcd Txn/op |"
echo "|---|---|---|---|---|---|---|---|---|"
for cfg in $CONFIGS; do
  start_fronts "$cfg"
  "$BIN/kura-bench" put --endpoint "${EPS[0]}" --bucket bench --prefix warm/ --size 4KiB \
    --concurrency 1 --ops 1 --no-cleanup --json >/dev/null
  for w in $WORKLOADS; do
    read -r ops mib p50 p99 err total < <(run "$w")
    per=$(python3 - "$WORK/before" "$WORK/after" "$total" <<'PY'
import sys
b = dict(l.split() for l in open(sys.argv[1]))
a = dict(l.split() for l in open(sys.argv[2]))
total = float(sys.argv[3])
d = lambda k: float(a.get(k, 0)) - float(b.get(k, 0))
if total < 1 or d("Txn_n") + d("Range_n") < 1:
    print("- -")
else:
    print(f"{d('Range_n') / total:.1f} {d('Txn_n') / total:.2f}")
PY
)
    echo "| $cfg | $w | $ops | $mib | $p50 | $p99 | $err | ${per% *} | ${per#* } |"
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
done

# What one request costs inside etcd over the whole run, and RADOS alone.
python3 - "$(etcd_metrics)" <<PY
import sys
m = dict(l.split() for l in sys.argv[1].splitlines())
f = lambda k: float(m.get(k, 0))
avg = lambda s: 1000 * f(s + "_sum") / max(f(s + "_count"), 1)
print()
print(f"etcd, server side, whole run: Txn {avg('Txn_s'):.2f} ms avg over {f('Txn_s_count'):.0f}, "
      f"Range {avg('Range_s'):.2f} ms avg over {f('Range_s_count'):.0f}, "
      f"WAL fsync {avg('fsync'):.2f} ms avg over {f('fsync_count'):.0f}")
print("RADOS alone (rados bench, 1 op in flight, memstore OSD): "
      "4 KiB write $r4w ms, read $r4r ms; 1 MiB write $r1w ms, read $r1r ms")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
