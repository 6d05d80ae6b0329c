#!/usr/bin/env bash
# The chat page of `rws serve` (crates/rws-cli/src/serve/page.html) in a real
# browser: Debian's chromium, headless, driven by playwright-core from npm
# (browser/chat.test.mjs: opening the page joins the lobby or the room its
# address names, two pages in one room see each other's lines, a page in
# another room does not, the nickname is remembered, and after the server
# is stopped and started again the pages reconnect by themselves), over
# http:// and ws://, then again over
# https:// and wss:// (`rws serve --tls-cert`, a certificate made by
# interop/make-certs.sh, trusted by Chromium through its key's hash), where
# Chromium loads the page over HTTP/2 and opens the WebSockets as HTTP/2
# streams (RFC 8441), as the server's log shows; then two `rws serve
# --redis` nodes on a redis-server (browser/nodes.test.mjs: a page on each
# node, one room, through a Redis restart).
#
# Installs chromium with apt-get if /usr/bin/chromium is missing, and
# playwright-core with `npm ci` (never a browser download of Playwright's
# own). Builds target/debug/rws (the profile of `cargo test`), serves on a
# free port of 127.0.0.1, and stops the server on exit.
#
#   browser/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x /usr/bin/chromium ]; then
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends chromium \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends chromium; }
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -f browser/node_modules/.package-lock.json ] \
  || [ browser/package-lock.json -nt browser/node_modules/.package-lock.json ]; then
  (cd browser && timeout 300 npm ci --no-audit --no-fund)
fi

timeout 3600 cargo build --locked -p rws-cli

LOG=$(mktemp -t rws-browser-serve.XXXXXX.log)
SERVER=
finish() {
  local rc=$?
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ]; then
    echo "browser: rws serve's log ($LOG):" >&2
    tail -n 30 "$LOG" >&2 || true
  else
    rm -f "$LOG"
  fi
}
trap finish EXIT
trap 'exit 130' INT TERM

timeout 300 target/debug/rws serve --listen 127.0.0.1:0 2>"$LOG" &
SERVER=$!
ADDR=
for _ in $(seq 100); do
  ADDR=$(grep -m1 -oE 'listening on ws://[^/ ]+/echo' "$LOG" | sed -E 's#.*ws://([^/]+)/echo#\1#') || true
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ADDR" ]; then
  echo "browser: rws serve did not print 'listening on ws://ADDR/echo' within 10 s" >&2
  exit 1
fi

# The test also stops this server and starts it again on the same address,
# to see the pages reconnect by themselves.
RWS_SERVER_PID=$SERVER RWS_RESTART="target/debug/rws serve --listen $ADDR" \
  timeout 120 node browser/chat.test.mjs "$ADDR"

# Again over TLS: the page over https://, its WebSockets over wss://, with a
# certificate made now; Chromium trusts that key only (its SPKI hash).
CERTS=$(mktemp -d -t rws-browser-certs.XXXXXX)
interop/make-certs.sh "$CERTS"
SPKI=$(openssl x509 -pubkey -noout -in "$CERTS/server.pem" | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)
kill "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
timeout 300 target/debug/rws serve --listen 127.0.0.1:0 \
  --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" 2>"$LOG" &
SERVER=$!
PORT=
for _ in $(seq 100); do
  PORT=$(grep -m1 -oE 'listening on wss://[^/ ]+/echo' "$LOG" | sed -E 's#.*:([0-9]+)/echo#\1#') || true
  [ -n "$PORT" ] && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "browser: rws serve --tls-cert did not print 'listening on wss://ADDR/echo' within 10 s" >&2
  exit 1
fi
timeout 120 node browser/chat.test.mjs "https://localhost:$PORT" "$SPKI"
rm -rf "$CERTS"
# Over TLS, Chromium loads the page over HTTP/2 and, since the server
# allows extended CONNECT, opens the chat's WebSockets as streams of that
# connection (RFC 8441): the server's log says which HTTP version carried
# each one, and none may have come over HTTP/1.1.
H2=$(grep -c 'connected on chat.*http="HTTP/2"' "$LOG" || true)
H1=$(grep -c 'connected on chat.*http="HTTP/1.1"' "$LOG" || true)
if [ "$H2" -lt 3 ] || [ "$H1" != 0 ]; then
  echo "browser: over https://, $H2 chat WebSockets came over HTTP/2 and $H1 over HTTP/1.1;" \
    "expected the 3 pages' over HTTP/2" >&2
  exit 1
fi
echo "browser: Chromium's $H2 chat WebSockets over https:// came as HTTP/2 streams (RFC 8441):"
grep -m1 'connected on chat.*http="HTTP/2"' "$LOG" | sed -E 's/^[^ ]+ +//'

# Two nodes on one Redis (`rws serve --redis`): a page on each, in one
# room, see each other's lines; through a Redis restart both pages are told
# the link is lost and back, keep their connections, and chat again.
scale-out/install-redis.sh
kill "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
SERVER=
RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REDIS_CMD="redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no --loglevel warning"
sh -c "exec $REDIS_CMD" >/dev/null &
REDIS=$!
NODES=()
stop_nodes() {
  for pid in "${NODES[@]}" "$REDIS"; do kill "$pid" 2>/dev/null || true; done
  redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
}
trap 'stop_nodes; finish' EXIT
ADDRS=()
for node in 1 2; do
  NODE_LOG=$LOG.node$node
  timeout 300 target/debug/rws serve --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$RPORT" \
    2>"$NODE_LOG" &
  NODES+=("$!")
  NODE_ADDR=
  for _ in $(seq 100); do
    if grep -q 'rooms shared through Redis' "$NODE_LOG"; then
      NODE_ADDR=$(grep -m1 -oE 'listening on ws://[^/ ]+/echo' "$NODE_LOG" | sed -E 's#.*ws://([^/]+)/echo#\1#')
      break
    fi
    sleep 0.1
  done
  if [ -z "$NODE_ADDR" ]; then
    echo "browser: rws serve --redis (node $node) did not link to Redis within 10 s:" >&2
    cat "$NODE_LOG" >&2
    exit 1
  fi
  ADDRS+=("$NODE_ADDR")
done
REDIS_STOP="redis-cli -p $RPORT shutdown nosave" REDIS_START="$REDIS_CMD" \
  timeout 120 node browser/nodes.test.mjs "${ADDRS[@]}"
rm -f "$LOG".node1 "$LOG".node2
