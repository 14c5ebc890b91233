#!/usr/bin/env bash
# The long fuzzing run (not in CI): every target in protocol/tests/fuzz.rs
# (router, SigV4 header/query, SigV2, aws-chunked, Range, dates, conditions,
# XML bodies, names, copy source, metadata) plus the SigV4 round trip and the
# aws-chunked round trip, each for $1 cases (default 10,000,000), optimised.
# CI runs the same properties with proptest's default 256 cases.
#
#   scripts/fuzz.sh                 # 10M cases per property (hours)
#   scripts/fuzz.sh 100000          # a quicker pass
#   scripts/fuzz.sh 1000000 router  # one target
#
# A failure prints the minimal input and is saved by proptest under
# protocol/tests/fuzz.proptest-regressions (commit it); add the input to
# protocol/tests/fuzz/corpus/<target>/ too, so the replay test keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-10000000}"
filter="${2:-}"
export PROPTEST_CASES="$cases"
# Shrinking a failure can take long at these counts; keep it bounded.
export PROPTEST_MAX_SHRINK_ITERS="${PROPTEST_MAX_SHRINK_ITERS:-100000}"
start=$(date +%s)
cargo test --release -p kura-protocol --test fuzz -- --test-threads="$(nproc)" $filter
echo "fuzz.sh: $cases cases per property, $(( $(date +%s) - start )) s"
