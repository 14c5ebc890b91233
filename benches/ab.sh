#!/usr/bin/env bash
# A/B of two kura binaries: the same kura-bench workloads against each,
# alternating old and new (and which goes first) for ROUNDS rounds so that
# drift of the machine
# (another VM, page cache, thermal) hits both alike. Each run starts the
# binary on a fresh data directory. Prints one line per run and the median
# of each workload per binary.
#
#   git stash; cargo build --release -p kura-server; cp target/release/kura /tmp/kura-old
#   git stash pop; cargo build --release -p kura-server -p kura-bench
#   benches/ab.sh /tmp/kura-old target/release/kura
#   ROUNDS=5 DUR=5s WORKLOADS="get1m get1g get4k put4k put1g" benches/ab.sh OLD NEW
#
# Workloads: get1m (GET 1 MiB x16, MiB/s), get1g (GET 1 GiB x1, MiB/s),
# get4k (GET 4 KiB x64, req/s), put4k (PUT 4 KiB x64, req/s), put1m
# (PUT 1 MiB x16, MiB/s), put1g
# (PUT 1 GiB x1, MiB/s); hwm is the server's peak RSS (MiB) over the run.
set -euo pipefail

[ $# -eq 2 ] || { sed -n 2,15p "$0" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2")
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5s}
WORKLOADS=${WORKLOADS:-get1m get1g}
PORT=${PORT:-19200}
WORK=${WORK:-/tmp/kura-ab}
cd "$(dirname "$0")/.."
cargo build --release -q -p kura-bench
BENCH=${CARGO_TARGET_DIR:-$PWD/target}/release/kura-bench
AK=abaccesskey000000001
SK=absecretkey00000000000000000000000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
EP=http://127.0.0.1:$PORT

rm -rf "$WORK"
mkdir -p "$WORK/out"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK/data"
}
trap cleanup EXIT

# bench FIELD ARGS...: one kura-bench run, prints FIELD of its JSON report.
bench() {
  local field=$1
  shift
  "$BENCH" "$@" --endpoint "$EP" --bucket bench --json 2>/dev/null \
    | python3 -c "import json,sys; print(round(json.load(sys.stdin)['$field']))"
}

# run LABEL BINARY ROUND: every workload on a fresh server.
run() {
  local label=$1 bin=$2 round=$3 line="" w v
  rm -rf "$WORK/data"
  KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
    "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/$label.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  for w in $WORKLOADS; do
    case $w in
      get1m)
        bench ops get --prefix g1m/ --size 1MiB --objects 16 --concurrency 16 --ops 1 --no-cleanup >/dev/null
        v=$(bench mib_per_sec get --prefix g1m/ --size 1MiB --objects 16 --concurrency 16 --duration "$DUR" --skip-prepare) ;;
      get1g)
        bench ops get --prefix g1g/ --size 1GiB --objects 1 --concurrency 1 --ops 1 --no-cleanup >/dev/null
        v=$(bench mib_per_sec get --prefix g1g/ --size 1GiB --objects 1 --concurrency 1 --duration "$DUR" --skip-prepare) ;;
      get4k)
        bench ops get --prefix g4k/ --size 4KiB --objects 64 --concurrency 64 --ops 1 --no-cleanup >/dev/null
        v=$(bench ops_per_sec get --prefix g4k/ --size 4KiB --objects 64 --concurrency 64 --duration "$DUR" --skip-prepare) ;;
      put4k)
        v=$(bench ops_per_sec put --prefix "p4k/" --size 4KiB --concurrency 64 --duration "$DUR") ;;
      put1m)
        v=$(bench mib_per_sec put --prefix "p1m/" --size 1MiB --concurrency 16 --duration "$DUR") ;;
      put1g)
        v=$(bench mib_per_sec put --prefix "p1g/" --size 1GiB --concurrency 1 --ops 1) ;;
      *) echo "ab: unknown workload $w" >&2; exit 2 ;;
    esac
    echo "$v" >>"$WORK/out/$label.$w"
    line+=" $w=$v"
  done
  v=$(( $(awk '/^VmHWM/ {print $2}' "/proc/$pid/status") / 1024 ))
  echo "$v" >>"$WORK/out/$label.hwm"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  echo "round $round $label:$line hwm=$v"
}

# Old first in odd rounds, new first in even ones: a run pays for what the
# one before it left behind (writeback of its data, the removal of its
# directory), which otherwise always falls on the same binary.
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    run old "$OLD" "$round"
    run new "$NEW" "$round"
  else
    run new "$NEW" "$round"
    run old "$OLD" "$round"
  fi
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians over $ROUNDS rounds:"
for w in $WORKLOADS hwm; do
  o=$(median "$WORK/out/old.$w") n=$(median "$WORK/out/new.$w")
  echo "  $w: old $o, new $n ($(python3 -c "print(f'{$n / $o:.2f}x')"))"
done
