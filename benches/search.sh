#!/usr/bin/env bash
# The search benchmark (README, "Files and metadata"): a bucket of N objects
# (1,000,000 by default) loaded once at the storage level, then kura's search
# for queries matching 100 of them against one plain ListObjectsV2 page of
# 1000 keys, each measured by kura-bench over DUR with one request at a time.
#
#   cargo build --release -p kura-server -p kura-bench
#   benches/search.sh [KURA_BINARY]        # N=1000000 DUR=10s WORK=/tmp/kura-search PORT=19300
#
# The load (about a minute for 1M) is kept in $WORK/data and reused by later
# runs; delete it to reload.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
KURA=$(realpath "${1:-$TARGET/release/kura}")
BENCH=${BENCH:-$TARGET/release/kura-bench}
N=${N:-1000000}
DUR=${DUR:-10s}
WORK=${WORK:-/tmp/kura-search}
PORT=${PORT:-19300}
AK=searchaccesskey00001
SK=searchsecretkey000000000000000000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
EP=http://127.0.0.1:$PORT

if [ ! -d "$WORK/data/meta" ]; then
  mkdir -p "$WORK"
  KURA_SEARCH_LOAD=$WORK/data KURA_SEARCH_OBJECTS=$N \
    cargo test --release -q -p kura-storage -- --ignored --exact \
    search::tests::load_search_benchmark_bucket --nocapture 2>&1 | grep loaded
fi

KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
  "$KURA" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

# run NAME ARGS...: one kura-bench run; prints its latencies.
run() {
  local name=$1
  shift
  "$BENCH" "$@" --endpoint "$EP" --bucket bench --concurrency 1 --duration "$DUR" \
    --skip-prepare --no-cleanup --json 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
l = r['latency_ms']
print(f\"$name: {r['ops']} requests, errors {r['error_count']}, p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms, max {l['max']:.2f} ms\")"
}

run "list   ListObjectsV2, 1000 keys" list --prefix obj/ --max-keys 1000
run "search tag.dst=0000000000042 (100)" search --query tag.dst=0000000000042
run "search tag.n in [500000,500099] (100)" search --query 'tag.n.gte=500000&tag.n.lte=500099'
run "search prefix+tag (100 of 1000)" search --query 'prefix=obj/00420&tag.n.gte=0'
