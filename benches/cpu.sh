#!/usr/bin/env bash
# Server CPU per request: runs a fixed number of requests of each workload
# against one kura binary and prints the server's CPU time (utime+stime from
# /proc/PID/stat) and minor page faults per request, and its peak RSS. On a
# machine shared with other work, CPU per request moves far less than
# throughput does; interleave the binaries you compare and run a few rounds.
#
#   benches/cpu.sh LABEL BINARY
#   ONLY_GET4K=1 benches/cpu.sh LABEL BINARY     # GET 4 KiB x64 only, 60,000 requests
#   for r in 1 2; do for b in old new; do benches/cpu.sh "$r $b" /tmp/kura-$b; done; done
set -euo pipefail

[ $# -eq 2 ] || { sed -n 2,11p "$0" >&2; exit 2; }
LABEL=$1 BIN=$(realpath "$2")
PORT=${PORT:-19771}
WORK=${WORK:-/tmp/kura-cpu}
cd "$(dirname "$0")/.."
cargo build --release -q -p kura-bench
BENCH=${CARGO_TARGET_DIR:-$PWD/target}/release/kura-bench
AK=abaccesskey000000001
SK=absecretkey00000000000000000000000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
EP=http://127.0.0.1:$PORT

rm -rf "$WORK"
mkdir -p "$WORK"
KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

# CPU clock ticks (utime+stime) and minor faults of the server so far.
stat() { awk '{print $14+$15, $10}' "/proc/$pid/stat"; }
# measure NAME N ARGS...: one kura-bench run of N requests.
measure() {
  local name=$1 n=$2 c0 f0 c1 f1
  shift 2
  read -r c0 f0 < <(stat)
  "$BENCH" "$@" --endpoint "$EP" --bucket bench --json >/dev/null 2>&1
  read -r c1 f1 < <(stat)
  python3 -c "t=$(getconf CLK_TCK); print(f'$name {($c1-$c0)*1e6/t/$n:.1f} us/req {($f1-$f0)/$n:.2f} faults/req')"
}
prep() { "$BENCH" get "$@" --concurrency 16 --ops 1 --no-cleanup --endpoint "$EP" --bucket bench >/dev/null 2>&1; }
prep --prefix g4k/ --size 4KiB --objects 64
line="$LABEL"
if [ -n "${ONLY_GET4K:-}" ]; then
  line+=" | $(measure get4k 60000 get --prefix g4k/ --size 4KiB --objects 64 --concurrency 64 --ops 60000 --skip-prepare)"
else
  prep --prefix g1m/ --size 1MiB --objects 16
  line+=" | $(measure get4k 30000 get --prefix g4k/ --size 4KiB --objects 64 --concurrency 64 --ops 30000 --skip-prepare)"
  line+=" | $(measure put4k 20000 put --prefix p4k/ --size 4KiB --concurrency 64 --ops 20000 --no-cleanup)"
  line+=" | $(measure get1m 2000 get --prefix g1m/ --size 1MiB --objects 16 --concurrency 16 --ops 2000 --skip-prepare)"
  line+=" | $(measure put1m 500 put --prefix p1m/ --size 1MiB --concurrency 16 --ops 500 --no-cleanup)"
fi
echo "$line | hwm=$(($(awk '/^VmHWM/ {print $2}' "/proc/$pid/status") / 1024))MiB"
