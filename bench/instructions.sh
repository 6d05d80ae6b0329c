#!/usr/bin/env bash
# Instructions per echoed message of an echo server, counted by valgrind's
# callgrind (user space, exact whatever the machine is doing): two runs of
# `rws bench --messages` against the server under callgrind, SHORT and LONG
# messages on each connection, and
# (Ir(LONG) - Ir(SHORT)) / (messages(LONG) - messages(SHORT)), so that
# start-up, handshakes and the ends of connections cancel out. The counts
# of messages are exact (no time window), so what varies from run to run is
# only how the server's reads happen to batch.
#
#   bench/instructions.sh SERVER_BINARY [rws bench options...]
#   bench/instructions.sh bench/servers/target/release/echo-rws -c 100 -s 1KiB
#   SERVER_ARGS="serve --listen 127.0.0.1:0" WS_PATH=/echo \
#     bench/instructions.sh target/release/rws -c 100 -s 1KiB     # rws serve
#
# Environment: SHORT (200), LONG (1000) messages per connection; RWS_BIN
# (target/release/rws); SERVER_ARGS (127.0.0.1:0), the server's arguments:
# it must print the address it listens on (stdout or stderr); WS_PATH (/),
# the echo endpoint; OUT (target/instructions) keeps the callgrind files
# for callgrind_annotate.
set -euo pipefail
SERVER=$1
shift
SHORT=${SHORT:-200}
LONG=${LONG:-1000}
RWS_BIN=${RWS_BIN:-target/release/rws}
OUT=${OUT:-target/instructions}
SERVER_ARGS=${SERVER_ARGS:-127.0.0.1:0}
WS_PATH=${WS_PATH:-/}
mkdir -p "$OUT"
run() { # run MESSAGES [bench options]: prints "instructions messages"
  local count=$1
  shift
  local tag="$(basename "$SERVER")-${count}" log
  log="$OUT/$tag.log"
  rm -f "$OUT/$tag.cg"
  # shellcheck disable=SC2086 # SERVER_ARGS is a list of arguments
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$tag.cg" --log-file="$OUT/$tag.valgrind" \
    "$SERVER" $SERVER_ARGS >"$log" 2>&1 &
  local pid=$! addr=
  # The server goes when this measurement ends, even on a failure.
  # shellcheck disable=SC2064 # the pid is expanded now, on purpose
  trap "kill $pid 2>/dev/null || true" EXIT
  for _ in $(seq 100); do
    addr=$(grep -oE '127\.0\.0\.1:[0-9]+' "$log" | head -1 || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "the server did not start" >&2; kill "$pid"; exit 1; }
  local messages
  messages=$("$RWS_BIN" bench "ws://$addr$WS_PATH" --messages "$count" --json "$@" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  local ir
  ir=$(grep -E '^(summary|totals):' "$OUT/$tag.cg" | head -1 | awk '{print $2}')
  echo "$ir $messages"
}
read -r ir1 m1 < <(run "$SHORT" "$@")
read -r ir2 m2 < <(run "$LONG" "$@")
python3 -c "
ir1, m1, ir2, m2 = $ir1, $m1, $ir2, $m2
print(f'{(ir2 - ir1) / (m2 - m1):,.0f} instructions per message ({m2 - m1} messages)')"
