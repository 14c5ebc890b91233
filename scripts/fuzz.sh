#!/usr/bin/env bash
# Long fuzzing runs (not in CI; CI runs the same targets as proptest
# properties with 256 cases each, in `cargo test`). Two drivers, one set of
# targets (protocol/tests/fuzz/targets.rs: router, SigV4 header and query,
# SigV2, aws-chunked, Range, dates, conditions, XML bodies, names, copy
# source, metadata), one seed corpus (protocol/tests/fuzz/corpus/<target>/):
#
#   scripts/fuzz.sh afl [SECONDS] [TARGET...]
#       coverage-guided, AFL++ through cargo-afl (stable toolchain; `cargo
#       install cargo-afl` builds AFL++ itself). Each target runs SECONDS
#       (default 3600), or until FUZZ_EXECS executions when that is set
#       (the issue's budget: 10,000,000 or an hour, whichever comes first);
#       findings go to fuzz/out/<target>/ and the script fails if any
#       target saved a crash.
#   scripts/fuzz.sh proptest [CASES] [FILTER]
#       the proptest properties with CASES cases each (default 10,000,000),
#       including the SigV4 round trip against aws-sigv4.
#
# A crash becomes a regression test: copy its input from
# fuzz/out/<target>/default/crashes/ into protocol/tests/fuzz/corpus/<target>/
# (the corpus replay test runs every file there), then fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-afl}"
shift || true

case "$mode" in
afl)
  seconds="${1:-3600}"
  shift || true
  targets=("$@")
  if [ ${#targets[@]} -eq 0 ]; then
    targets=(router sigv4_header sigv4_query sigv2_query aws_chunked range dates conditions xml names copy_source metadata)
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
  if ! cargo afl --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo install cargo-afl (builds AFL++, a few minutes)"
    cargo install --locked cargo-afl
  fi
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/afl"
  (cd fuzz && cargo afl build --release)
  bin="$CARGO_TARGET_DIR/release/kura-fuzz"
  export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
  failed=0
  mkdir -p fuzz/out
  for t in "${targets[@]}"; do
    out="fuzz/out/$t"
    # Resume where a previous run stopped, else start from the seed corpus.
    input="protocol/tests/fuzz/corpus/$t"
    [ -d "$out/default/queue" ] && input=-
    KURA_FUZZ_TARGET="$t" cargo afl fuzz -V "$seconds" ${FUZZ_EXECS:+-E "$FUZZ_EXECS"} -i "$input" -o "$out" "$bin" >"$out.log" 2>&1 || true
    stats="$out/default/fuzzer_stats"
    if [ ! -f "$stats" ]; then
      echo "$t: AFL++ did not start; see $out.log"; failed=1; continue
    fi
    execs=$(awk -F' *: *' '$1=="execs_done"{print $2}' "$stats")
    rate=$(awk -F' *: *' '$1=="execs_per_sec"{print $2}' "$stats")
    edges=$(awk -F' *: *' '$1=="edges_found"{print $2}' "$stats")
    crashes=$(awk -F' *: *' '$1=="saved_crashes"{print $2}' "$stats")
    echo "$t: $execs executions ($rate/s), $edges edges, $crashes crashes"
    [ "${crashes:-0}" = "0" ] || failed=1
  done
  exit "$failed"
  ;;
proptest)
  cases="${1:-10000000}"
  filter="${2:-}"
  export PROPTEST_CASES="$cases"
  # Shrinking a failure can take long at these counts; keep it bounded.
  export PROPTEST_MAX_SHRINK_ITERS="${PROPTEST_MAX_SHRINK_ITERS:-100000}"
  start=$(date +%s)
  cargo test --release -p kura-protocol --test fuzz -- --test-threads="$(nproc)" $filter
  echo "fuzz.sh: $cases cases per property, $(( $(date +%s) - start )) s"
  ;;
*)
  echo "usage: fuzz.sh afl [SECONDS] [TARGET...] | fuzz.sh proptest [CASES] [FILTER]" >&2
  exit 2
  ;;
esac
