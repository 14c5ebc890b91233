#!/usr/bin/env bash
# kura on the S3 chunk backend (`--blobs s3://…`): a front end whose chunks
# go to a second kura (the endpoint), both on this machine, and kura-bench
# PUT / GET 1 MiB against the front end. Each chunk is one PUT to the
# endpoint, each 1 MiB frame of a download one ranged GET.
#
#   benches/s3_backend.sh                          # DUR=10s, the release build
#   DUR=5s RUNS=3 benches/s3_backend.sh
#   KURA=/path/to/kura BENCH=/path/to/kura-bench benches/s3_backend.sh   # (A/B of two builds)
#   TLS=1 benches/s3_backend.sh                    # the endpoint on https (a self-signed
#                                                  # certificate, KURA_BLOBS_CA_BUNDLE)
#
# Prints one line per run and workload: ops/s, p50 and p99 in ms. The
# machine's load (`uptime`) is printed first: on a shared machine compare
# ranges over several runs, not single numbers.
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${DUR:-10s}
RUNS=${RUNS:-1}
CONC=${CONC:-16}
WORK=${WORK:-/tmp/kura-s3-backend}
AK=benchaccesskey000001
SK=benchsecretkey0000000000000000000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK

if [ -z "${KURA:-}" ] || [ -z "${BENCH:-}" ]; then
  cargo build --release -q -p kura-server -p kura-bench
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release
  KURA=${KURA:-$BIN/kura} BENCH=${BENCH:-$BIN/kura-bench}
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; exit 1; }

scheme=http tls_args=()
if [ "${TLS:-0}" = 1 ]; then
  mkdir -p "$WORK.tls"
  t=$WORK.tls
  # A CA and a certificate it signs (rustls refuses a CA certificate as the server's).
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca \
    -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$t/key.pem" -out "$t/req.pem" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$t/ext"
  openssl x509 -req -in "$t/req.pem" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 2 -extfile "$t/ext" -out "$t/cert.pem" 2>/dev/null
  scheme=https tls_args=(--tls-cert "$t/cert.pem" --tls-key "$t/key.pem")
  export KURA_BLOBS_CA_BUNDLE=$t/ca.pem
fi

echo "load: $(uptime)"
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK"; mkdir -p "$WORK"
  backend=$(free_port) front=$(free_port)
  KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
    "$KURA" serve --listen "127.0.0.1:$backend" --data-dir "$WORK/backend" "${tls_args[@]}" \
    >"$WORK/backend.log" 2>&1 &
  pids+=($!)
  wait_port "$backend"
  # The bucket that holds the chunks.
  curl -sf --cacert "${KURA_BLOBS_CA_BUNDLE:-/dev/null}" --aws-sigv4 aws:amz:us-east-1:s3 \
    --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$scheme://127.0.0.1:$backend/chunks" >/dev/null
  KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
    KURA_BLOBS_ACCESS_KEY_ID=$AK KURA_BLOBS_SECRET_ACCESS_KEY=$SK \
    "$KURA" serve --listen "127.0.0.1:$front" --data-dir "$WORK/front" \
    --blobs "s3://chunks/kura@$scheme://127.0.0.1:$backend" >"$WORK/front.log" 2>&1 &
  pids+=($!)
  wait_port "$front"
  ep=http://127.0.0.1:$front
  for w in put get; do
    if [ "$w" = get ]; then
      "$BENCH" get --endpoint "$ep" --bucket bench --prefix g/ --size 1MiB --concurrency "$CONC" \
        --objects "$CONC" --ops 1 --no-cleanup --json >/dev/null
      extra=(--skip-prepare --objects "$CONC")
    else
      extra=()
    fi
    "$BENCH" "$w" --endpoint "$ep" --bucket bench --prefix g/ --size 1MiB --concurrency "$CONC" \
      --no-cleanup --duration "$DUR" "${extra[@]}" --json >"$WORK/$w.json"
    python3 - "$WORK/$w.json" "$run" "$w" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = r.get("latency_ms", {})
print(f"run {sys.argv[2]} {sys.argv[3].upper()} 1 MiB: {r['ops_per_sec']:.0f} ops/s, "
      f"p50 {lat.get('p50', float('nan')):.1f} ms, p99 {lat.get('p99', float('nan')):.1f} ms, "
      f"errors {r.get('error_count', 0)}")
PY
  done
  cleanup; pids=()
done
