#!/usr/bin/env bash
# The long model-checked history run (tests/history.rs): concurrent
# overwrites, deletes, restores and reads of a few keys, checked against
# the change feed's commit order and the clients' observations, then a
# restart. scripts/test runs it with 800 writes; this runs $1 (default
# 4000) per round for $2 rounds (default 5), each with a fresh seed, and
# prints the seed of any failure so it can be replayed:
#
#   scripts/history.sh                    # 5 rounds of 4000 writes
#   KURA_HISTORY_SEED=42 scripts/history.sh 4000 1   # replay one seed
set -euo pipefail
cd "$(dirname "$0")/.."

ops="${1:-4000}"
rounds="${2:-5}"
export KURA_HISTORY_OPS="$ops"
for round in $(seq 1 "$rounds"); do
  echo "history.sh: round $round of $rounds, $ops writes"
  cargo test -p kura-server --test all history:: -- --nocapture 2>&1 \
    | grep -E '^(history|test result)|panicked|seed' || { echo "history.sh: round $round FAILED"; exit 1; }
done
echo "history.sh: $rounds rounds of $ops writes passed"
