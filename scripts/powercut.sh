#!/usr/bin/env bash
# The long power-loss run: 200 cycles (or $1) of concurrent writes, SIGKILL,
# simulated power cut on kura-powercut (tools/powercut), restart and check
# (tests/powercut.rs). scripts/test runs the same test with 20 cycles.
#
#   scripts/powercut.sh                 # 200 cycles, random seed
#   scripts/powercut.sh 50 12345        # 50 cycles, replaying seed 12345
#   KURA_TEST_SKIP_FSYNC=chunk-dir scripts/powercut.sh 20   # must FAIL
#
# Needs FUSE: /dev/fuse, and root or fusermount3 (scripts/install-deps --test).
set -euo pipefail
cd "$(dirname "$0")/.."

cycles="${1:-200}"
export KURA_POWERCUT_CYCLES="$cycles"
if [ -n "${2:-}" ]; then export KURA_POWERCUT_SEED="$2"; fi
start=$(date +%s)
log="${TMPDIR:-/tmp}/kura-powercut-$$.log"
set +e
cargo test -p kura-server --test powercut -- --nocapture 2>&1 | tee "$log" \
  | grep -E --line-buffered '^(power-loss test|cycle |SKIPPED|test result)'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  grep -v ' INFO request ' "$log" | grep -A40 'panicked' | head -60
fi
echo "powercut.sh: $cycles cycles, exit $status, $(( $(date +%s) - start )) s (full output: $log)"
exit "$status"
