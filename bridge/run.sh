#!/usr/bin/env bash
# `rws bridge` with real programs: Debian's redis-server behind
# `rws bridge --listen ws://.../redis --to tcp://REDIS`, reached by a Python
# `websockets` client (bridge/client.py: PING, SET, GET, a 1 MiB value,
# binary messages, the `binary` subprotocol), and by redis-cli through a
# second bridge the other way (`--listen tcp://... --to ws://.../redis`):
# redis-cli -> TCP -> rws bridge -> WebSocket -> rws bridge -> TCP -> Redis.
#
# Installs redis-server (with redis-tools) the first time
# (scale-out/install-redis.sh), and
# websockets into the venv of interop/run.sh (target/interop-venv) when
# missing. Builds target/debug/rws. Everything on 127.0.0.1, stopped on exit.
#
#   bridge/run.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WEBSOCKETS='websockets>=13,<16'
VENV=target/interop-venv
PY="$VENV/bin/python"
LOGS=target/bridge-logs
RWS=target/debug/rws
export PYTHONDONTWRITEBYTECODE=1
PASSED=0
FAILED=0
PIDS=()

die() {
  echo "bridge: $*" >&2
  exit 1
}
check() { # check ok|fail TEXT
  if [ "$1" = ok ]; then
    PASSED=$((PASSED + 1))
    echo "PASS $2"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $2"
  fi
}
finish() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap finish EXIT
trap 'exit 130' INT TERM

# wait_for FILE REGEX: the first match of REGEX in FILE, within 10 s.
wait_for() {
  local found=
  for _ in $(seq 100); do
    found=$(grep -m1 -oE "$2" "$1" 2>/dev/null) && { echo "$found"; return 0; }
    sleep 0.1
  done
  return 1
}

rm -rf "$LOGS"
mkdir -p "$LOGS"

scale-out/install-redis.sh || die "cannot install redis-server"
if [ ! -x "$PY" ]; then
  timeout 120 python3 -m venv "$VENV" || die "cannot create the venv $VENV"
fi
"$PY" -c 'import websockets' 2>/dev/null ||
  timeout 300 "$PY" -m pip install --quiet --disable-pip-version-check "$WEBSOCKETS" ||
  die "pip install \"$WEBSOCKETS\" into $VENV failed (no PyPI access?)"
timeout 3600 cargo build --locked -q -p rws-cli || die "cargo build failed"

# Redis on a free loopback port, saving nothing.
REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 300 redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
  >"$LOGS/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break
  sleep 0.1
done
[ "$(redis-cli -p "$REDIS_PORT" PING 2>&1)" = PONG ] || die "redis-server did not start (see $LOGS/redis.log)"
check ok "redis-server $(redis-server --version | grep -oE 'v=[0-9.]+') on 127.0.0.1:$REDIS_PORT"

# WebSocket clients to Redis.
timeout 300 "$RWS" bridge --listen ws://127.0.0.1:0/redis --to "tcp://127.0.0.1:$REDIS_PORT" \
  >"$LOGS/bridge-ws.log" 2>&1 &
PIDS+=($!)
WS=$(wait_for "$LOGS/bridge-ws.log" 'ws://127\.0\.0\.1:[0-9]+/redis') ||
  die "rws bridge did not say where it listens (see $LOGS/bridge-ws.log)"
check ok "rws bridge listening on $WS, bridged to tcp://127.0.0.1:$REDIS_PORT"
timeout 60 "$PY" bridge/client.py "$WS" 2>&1 | tee "$LOGS/client.log"
rc=${PIPESTATUS[0]}
PASSED=$((PASSED + $(grep -c '^PASS' "$LOGS/client.log")))
FAILED=$((FAILED + $(grep -c '^FAIL' "$LOGS/client.log")))
if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$LOGS/client.log"; then
  check fail "client.py exited with $rc (see $LOGS/client.log)"
fi

# redis-cli through both bridges: TCP -> WebSocket -> TCP.
timeout 300 "$RWS" bridge --listen tcp://127.0.0.1:0 --to "$WS" >"$LOGS/bridge-tcp.log" 2>&1 &
PIDS+=($!)
TCP=$(wait_for "$LOGS/bridge-tcp.log" 'tcp://127\.0\.0\.1:[0-9]+') ||
  die "rws bridge --listen tcp:// did not say where it listens (see $LOGS/bridge-tcp.log)"
TCP_PORT=${TCP##*:}
got=$(timeout 10 redis-cli -p "$TCP_PORT" PING 2>&1)
[ "$got" = PONG ] && check ok "redis-cli PING through $TCP and $WS: $got" ||
  check fail "redis-cli PING through the bridges: $got"
got=$(timeout 10 redis-cli -p "$TCP_PORT" GET rws:bridge 2>&1)
[ "$got" = "héllo ✓" ] && check ok "redis-cli GET of the value client.py set: $got" ||
  check fail "redis-cli GET through the bridges: $got"
got=$(timeout 10 redis-cli -p "$TCP_PORT" STRLEN rws:big 2>&1)
[ "$got" = 1048576 ] && check ok "redis-cli STRLEN of the 1 MiB value: $got" ||
  check fail "redis-cli STRLEN through the bridges: $got"

# One log line per session, with the bytes each way.
sleep 0.3
ended=$(grep -c 'session ended' "$LOGS/bridge-ws.log" || true)
if [ "$ended" -ge 4 ] && grep 'session ended' "$LOGS/bridge-ws.log" | grep -q 'to_target=[1-9]'; then
  check ok "the WebSocket bridge logged $ended sessions with their bytes: $(grep -m1 'session ended' "$LOGS/bridge-ws.log" | sed -E 's/^[^ ]+ +//')"
else
  check fail "the WebSocket bridge logged $ended sessions (see $LOGS/bridge-ws.log)"
fi

echo "bridge: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
