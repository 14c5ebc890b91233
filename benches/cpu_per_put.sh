#!/usr/bin/env bash
# Server CPU time per PUT of two kura binaries: the same kura-bench PUT run
# (a fixed number of operations) against each, alternating for ROUNDS
# rounds, each on a fresh data directory; CPU is the server's user + system
# time from /proc over the run. On a machine shared with other work this
# is steadier than throughput (which swings with everyone's load), so it
# isolates a small CPU cost such as one more write in each commit.
#
#   benches/cpu_per_put.sh /tmp/kura-old /tmp/kura-new
#   ROUNDS=4 OPS=20000 SIZE=4KiB CONCURRENCY=64 benches/cpu_per_put.sh OLD NEW
#
# A binary may be a wrapper script that sets an environment switch and
# `exec`s kura (so the measured process is kura itself).
set -euo pipefail

[ $# -eq 2 ] || { sed -n 2,13p "$0" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2")
ROUNDS=${ROUNDS:-4}
OPS=${OPS:-20000}
SIZE=${SIZE:-4KiB}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-19240}
WORK=${WORK:-/tmp/kura-cpu}
cd "$(dirname "$0")/.."
cargo build --release -q -p kura-bench
BENCH=${CARGO_TARGET_DIR:-$PWD/target}/release/kura-bench
AK=cpuaccesskey00000001
SK=cpusecretkey0000000000000000000000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
TICK=$(getconf CLK_TCK)

pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# cpu_ticks PID: user + system time of PID so far, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

declare -A all
for round in $(seq "$ROUNDS"); do
  # Which goes first alternates: a run pays for the writeback and the
  # directory removal of the one before it.
  order="old new"
  [ $((round % 2)) -eq 0 ] && order="new old"
  for label in $order; do
    bin=$OLD
    [ "$label" = new ] && bin=$NEW
    rm -rf "$WORK"
    mkdir -p "$WORK"
    KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
      "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/$label.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
      sleep 0.1
    done
    t0=$(cpu_ticks "$pid")
    rate=$("$BENCH" put --endpoint "http://127.0.0.1:$PORT" --bucket bench --prefix p/ \
      --size "$SIZE" --concurrency "$CONCURRENCY" --ops "$OPS" --json 2>/dev/null \
      | python3 -c "import json,sys; print(round(json.load(sys.stdin)['ops_per_sec']))")
    t1=$(cpu_ticks "$pid")
    us=$(( (t1 - t0) * 1000000 / TICK / OPS ))
    all[$label]+="$us "
    echo "round $round $label: cpu_us_per_put=$us put_per_s=$rate"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
  done
done
python3 - "${all[old]}" "${all[new]}" <<'PY'
import statistics, sys
old, new = ([int(x) for x in a.split()] for a in sys.argv[1:3])
ratios = [n / o for o, n in zip(old, new)]
print(f"median CPU µs per PUT: old {statistics.median(old)}, new {statistics.median(new)} "
      f"({statistics.median(new) / statistics.median(old):.3f}x); "
      f"per-round new/old {', '.join(f'{r:.3f}' for r in ratios)}, median {statistics.median(ratios):.3f}")
PY
