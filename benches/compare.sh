#!/usr/bin/env bash
# Side-by-side benchmark, in one run, on loopback:
#   kura (release build, durable), nginx serving the same objects as static
#   files (this machine's HTTP limit), s3s-fs (a small Rust S3 server over a
#   directory; the peer), and the disk's own limits (dd, fio).
# Every workload runs RUNS times (interleaved across servers); the table
# shows the median and the spread (min-max) and the ratios kura/limit and
# kura/peer. Takes about 15 minutes with the defaults.
#
#   benches/compare.sh                 # from the repository root
#   RUNS=3 DUR=5s LIST_KEYS=1000000 WORK=/tmp/kura-compare benches/compare.sh
#
# Needs: scripts/install-deps --bench (nginx, fio); s3s-fs is installed with
# cargo into ~/.cache/kura-bench on first use.
set -euo pipefail

RUNS=${RUNS:-3}
DUR=${DUR:-5s}
LIST_KEYS=${LIST_KEYS:-1000000}
WORK=${WORK:-/tmp/kura-compare}
CACHE=${CACHE:-$HOME/.cache/kura-bench}
S3S_VERSION=${S3S_VERSION:-0.14.1}
PORT_KURA=${PORT_KURA:-19100}
PORT_S3S=${PORT_S3S:-19101}
PORT_NGINX=${PORT_NGINX:-19102}
AK=compareaccesskey01
SK=comparesecretkey0000000000000000000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK

cd "$(dirname "$0")/.."
log() { echo "compare: $*" >&2; }

# --- tools -------------------------------------------------------------------
command -v nginx >/dev/null && command -v fio >/dev/null || scripts/install-deps --bench
log "building kura and kura-bench (release)"
cargo build --release -q -p kura-server -p kura-bench
KURA=$PWD/target/release/kura
BENCH=$PWD/target/release/kura-bench
S3S=$CACHE/s3s-fs/bin/s3s-fs
if [ ! -x "$S3S" ]; then
  log "installing s3s-fs $S3S_VERSION into $CACHE/s3s-fs"
  cargo install -q s3s-fs --version "$S3S_VERSION" --locked --features binary --root "$CACHE/s3s-fs"
fi
NGINX=$(command -v nginx)

# --- servers -------------------------------------------------------------------
rm -rf "$WORK"
mkdir -p "$WORK"/{kura,s3s,nginx/bench,out,nginx-tmp}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # The servers' data (several GiB: 1 GiB objects, a million keys) goes;
  # the per-run JSON in out/ and table.md stay.
  rm -rf "$WORK"/{kura,s3s,nginx,nginx-tmp}
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on port $1"; exit 1
}

# Default retention (24 h): deleted objects are not purged during the run,
# so purging never competes with the measured workloads.
start_kura() {
  KURA_ACCESS_KEY_ID=$AK KURA_SECRET_ACCESS_KEY=$SK KURA_LOG=warn \
    "$KURA" serve --listen "127.0.0.1:$PORT_KURA" --data-dir "$WORK/kura" \
    >"$WORK/kura.log" 2>&1 &
  KURA_PID=$!
  pids+=("$KURA_PID")
  wait_port "$PORT_KURA"
}
start_kura
"$S3S" --host 127.0.0.1 --port "$PORT_S3S" --access-key "$AK" --secret-key "$SK" "$WORK/s3s" \
  >"$WORK/s3s.log" 2>&1 &
pids+=($!)
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$PORT_NGINX;
    root $WORK/nginx;
  }
}
EOF
[ "$(id -u)" = 0 ] && sed -i '1i user root;' "$WORK/nginx.conf"
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
pids+=($!)
wait_port "$PORT_S3S"
wait_port "$PORT_NGINX"

declare -A EP=(
  [kura]=http://127.0.0.1:$PORT_KURA
  [s3s]=http://127.0.0.1:$PORT_S3S
  [nginx]=http://127.0.0.1:$PORT_NGINX
)

# bench NAME SERVER RUN ARGS...: one kura-bench run, JSON kept in out/.
bench() {
  local name=$1 server=$2 run=$3
  shift 3
  local out="$WORK/out/$name.$server.$run.json"
  # A failed run is reported and left out of the table, not fatal.
  if ! "$BENCH" "$@" --endpoint "${EP[$server]}" --bucket bench --json >"$out" 2>"$out.err"; then
    log "kura-bench $name against $server failed: $(tail -1 "$out.err")"
    rm -f "$out"
  fi
}

# --- disk limits -------------------------------------------------------------------
log "disk: sequential write with fsync, 4 KiB fsync'd writes"
for run in $(seq 1 "$RUNS"); do
  dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=512 conv=fsync 2>&1 | tail -1 \
    | awk '{print "{\"bytes\":" $1 ",\"secs\":" $(NF-3) "}"}' >"$WORK/out/disk_seq.disk.$run.json"
  rm -f "$WORK/dd.tmp"
  fio --name=fsync4k --directory="$WORK" --rw=write --bs=4k --size=64m --fsync=1 \
    --ioengine=sync --runtime=4 --time_based --output-format=json \
    >"$WORK/out/disk_fsync.disk.$run.json" 2>/dev/null
  rm -f "$WORK"/fsync4k*
done

# --- objects ----------------------------------------------------------------------
log "preparing objects (kura, s3s-fs: PUT; nginx: files)"
mkdir -p "$WORK/nginx/bench/"{g1m,g4k,g1g}
for i in $(seq 0 15); do head -c 1M /dev/urandom >"$WORK/nginx/bench/g1m/obj-$(printf %08d "$i")"; done
for i in $(seq 0 63); do head -c 4K /dev/urandom >"$WORK/nginx/bench/g4k/obj-$(printf %08d "$i")"; done
head -c 1G /dev/urandom >"$WORK/nginx/bench/g1g/obj-00000000"
for s in kura s3s; do
  bench prep-g1m "$s" 0 get --prefix g1m/ --size 1MiB --objects 16 --concurrency 16 --ops 1 --no-cleanup
  bench prep-g4k "$s" 0 get --prefix g4k/ --size 4KiB --objects 64 --concurrency 64 --ops 1 --no-cleanup
  bench prep-g1g "$s" 0 get --prefix g1g/ --size 1GiB --objects 1 --concurrency 1 --ops 1 --no-cleanup
done

# --- workloads ----------------------------------------------------------------------
for run in $(seq 1 "$RUNS"); do
  log "run $run/$RUNS: GETs"
  for s in kura nginx s3s; do
    bench get1m "$s" "$run" get --prefix g1m/ --size 1MiB --objects 16 --concurrency 16 --duration "$DUR" --skip-prepare
    bench get4k "$s" "$run" get --prefix g4k/ --size 4KiB --objects 64 --concurrency 64 --duration "$DUR" --skip-prepare
    bench get1g "$s" "$run" get --prefix g1g/ --size 1GiB --objects 1 --concurrency 1 --duration "$DUR" --skip-prepare
  done
  log "run $run/$RUNS: PUTs"
  for s in kura s3s; do
    bench put1g "$s" "$run" put --prefix "p1g$run/" --size 1GiB --concurrency 1 --ops 1
    bench put4k "$s" "$run" put --prefix "p4k$run/" --size 4KiB --concurrency 64 --duration "$DUR"
  done
done

log "LIST: a 1000-key page from 1000 keys and from $LIST_KEYS keys"
for s in kura s3s; do
  bench prep-l1k "$s" 0 list --prefix l1k/ --size 0 --objects 1000 --concurrency 64 --ops 1 --no-cleanup
done
bench prep-lbig kura 0 list --prefix lbig/ --size 0 --objects "$LIST_KEYS" --concurrency 64 --ops 1 --no-cleanup
for run in $(seq 1 "$RUNS"); do
  for s in kura s3s; do
    bench list1k "$s" "$run" list --prefix l1k/ --concurrency 1 --duration 3s --skip-prepare
  done
  bench listbig kura "$run" list --prefix lbig/ --concurrency 1 --duration 3s --skip-prepare
done

# Peak resident memory of kura while the load runs for SECS seconds, in MiB.
peak_rss() {
  local secs=$1 peak=0 rss
  for _ in $(seq 1 $((secs * 10))); do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$KURA_PID/status")
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.1
  done
  echo $((peak / 1024))
}
# Each memory phase on a freshly started kura: freed memory that the
# allocator keeps would otherwise carry over from one phase to the next.
restart_kura() {
  kill "$KURA_PID"
  wait "$KURA_PID" 2>/dev/null || true
  start_kura
}
log "memory: 64 concurrent 1 GiB downloads, then 64 concurrent 256 MiB uploads (10 s each)"
restart_kura
"$BENCH" get --endpoint "${EP[kura]}" --bucket bench --prefix g1g/ --size 1GiB --objects 1 \
  --concurrency 64 --ops 64 --skip-prepare >/dev/null 2>&1 &
load=$!
echo "{\"rss_mib\": $(peak_rss 10)}" >"$WORK/out/mem_get.kura.1.json"
kill "$load" 2>/dev/null || true
wait "$load" 2>/dev/null || true
restart_kura
"$BENCH" put --endpoint "${EP[kura]}" --bucket bench --prefix mem/ --size 256MiB --concurrency 64 \
  --ops 64 --no-cleanup >/dev/null 2>&1 &
load=$!
echo "{\"rss_mib\": $(peak_rss 10)}" >"$WORK/out/mem_put.kura.1.json"
kill "$load" 2>/dev/null || true
wait "$load" 2>/dev/null || true

# --- table ---------------------------------------------------------------------------
python3 "$PWD/benches/compare_table.py" "$WORK/out" "$LIST_KEYS" | tee "$WORK/table.md"
