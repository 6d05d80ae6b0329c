#!/usr/bin/env bash
# Chat fan-out of `rws serve`: lines delivered per second to MEMBERS members
# in ROOMS rooms, and the servers' CPU per delivered line (user + system,
# from /proc, nodes and Redis added), in these setups, interleaved REPS
# times (this machine's speed swings; medians are reported):
#
#   1 node      one `rws serve`, rooms in process (no Redis)
#   1 node+R    one `rws serve --redis` (lines published to Redis too)
#   3 nodes+R   three `rws serve --redis` on one Redis, members spread
#               over them (each room has members on every node)
#
# each without and with permessage-deflate (the members offer it; the
# servers compress each line, once for all members with `PreparedMessage`).
# With BASELINE_REV=<commit> the 1-node setups also run the `rws serve`
# of that commit (built once in target/fanout-baseline), to compare the
# CPU per delivered line before and after a change (this session: the
# commit before compress-once broadcasts).
#
# Servers and Redis run on CPU 0, `rws bench --rooms` on CPU 1 (taskset).
# Installs Debian's redis-server when missing (scale-out/install-redis.sh).
#
#   bench/fanout.sh                       # MEMBERS=1000 ROOMS=10 SIZE=256 REPS=3
#   BASELINE_REV=abc123 bench/fanout.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MEMBERS=${MEMBERS:-1000}
ROOMS=${ROOMS:-10}
SIZE=${SIZE:-256}
DEPTH=${DEPTH:-4}
REPS=${REPS:-3}
SECONDS_EACH=${SECONDS_EACH:-3}
OUT=${OUT:-target/fanout}
RWS=target/release/rws
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl

scale-out/install-redis.sh
cargo build --release --locked -q -p rws-cli
BASE_RWS=
if [ -n "${BASELINE_REV:-}" ]; then
  BASE_DIR=target/fanout-baseline
  if [ ! -x "$BASE_DIR/bin/rws" ] || [ "$(cat "$BASE_DIR/rev" 2>/dev/null)" != "$BASELINE_REV" ]; then
    rm -rf "$BASE_DIR/src"
    mkdir -p "$BASE_DIR/bin"
    git worktree add -f --detach "$BASE_DIR/src" "$BASELINE_REV" >/dev/null
    (cd "$BASE_DIR/src" && CARGO_TARGET_DIR=../target cargo build --release --locked -q -p rws-cli)
    cp "$BASE_DIR/target/release/rws" "$BASE_DIR/bin/rws"
    echo "$BASELINE_REV" >"$BASE_DIR/rev"
    git worktree remove --force "$BASE_DIR/src"
  fi
  BASE_RWS=$BASE_DIR/bin/rws
fi

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_node BIN PORT [ARGS...]: a server on CPU 0; sets NODE_PID.
start_node() {
  local bin=$1 port=$2
  shift 2
  RUST_LOG=warn taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" --chat-queue 1024 "$@" \
    >>"$OUT/servers.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "fanout: a server did not start on $port" >&2
  exit 1
}

stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

# run SETUP DEFLATE: one measurement, appended to $OUT/SETUP.jsonl.
run() {
  local setup=$1 deflate=$2 bin=$RWS nodes=1 redis=
  case $setup in
    base-1) bin=$BASE_RWS ;;
    1-redis) redis=yes ;;
    3-redis) redis=yes nodes=3 ;;
  esac
  local pids=() urls=() args=()
  if [ -n "$redis" ]; then
    local rport
    rport=$(free_port)
    taskset -c 0 redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
      --loglevel warning >>"$OUT/redis.log" 2>&1 &
    PIDS+=("$!")
    pids+=("$!")
    for _ in $(seq 100); do
      redis-cli -p "$rport" ping >/dev/null 2>&1 && break
      sleep 0.05
    done
    args=(--redis "redis://127.0.0.1:$rport")
  fi
  for _ in $(seq "$nodes"); do
    local port
    port=$(free_port)
    start_node "$bin" "$port" "${args[@]}"
    pids+=("$NODE_PID")
    urls+=("ws://127.0.0.1:$port/chat")
  done
  local bench=(taskset -c 1 "$RWS" bench --rooms "$ROOMS" -c "$MEMBERS" -s "$SIZE" -d "$DEPTH"
    --duration "$SECONDS_EACH" --warmup 1 --json "${urls[0]}")
  for url in "${urls[@]:1}"; do bench+=(--node "$url"); done
  for pid in "${pids[@]}"; do bench+=(--server-pid "$pid"); done
  [ "$deflate" = deflate ] && bench+=(--deflate)
  "${bench[@]}" >>"$OUT/$setup-$deflate.jsonl"
  stop_all
}

SETUPS=(1 1-redis 3-redis)
[ -n "$BASE_RWS" ] && SETUPS=(base-1 "${SETUPS[@]}")
for rep in $(seq "$REPS"); do
  for deflate in plain deflate; do
    for setup in "${SETUPS[@]}"; do
      echo "rep $rep: $setup $deflate" >&2
      run "$setup" "$deflate"
    done
  done
done

python3 - "$OUT" "$MEMBERS" "$ROOMS" "$SIZE" "$DEPTH" "${SETUPS[@]}" <<'EOF'
import json, statistics, sys, glob, os
out, members, rooms, size, depth, *setups = sys.argv[1:]
names = {"base-1": "1 node, baseline", "1": "1 node", "1-redis": "1 node + Redis",
         "3-redis": "3 nodes + Redis"}
print(f"{members} members in {rooms} rooms, {size} B text lines, depth {depth}; medians")
print("| setup | deflate | delivered lines/s | server CPU µs per delivered line | errors |")
print("|---|---|--:|--:|---|")
for deflate in ["plain", "deflate"]:
    for setup in setups:
        runs = [json.loads(l) for l in open(os.path.join(out, f"{setup}-{deflate}.jsonl"))]
        rate = statistics.median(r["delivered_per_s"] for r in runs)
        cpu = [r["server_cpu_us_per_delivered"] for r in runs if r["server_cpu_us_per_delivered"]]
        cpu = statistics.median(cpu) if cpu else float("nan")
        errors = sum(sum(r["errors"].values()) for r in runs)
        print(f"| {names[setup]} | {'yes' if deflate == 'deflate' else 'no'} | {rate:,.0f} | {cpu:.2f} | {errors} |")
EOF
