#!/usr/bin/env bash
# Runs ALL 517 Autobahn cases (1.* to 13.*, including the slow
# permessage-deflate cases that CI leaves out) against the library in both
# roles, and writes the summary to autobahn/FULL_RUN.md.
#
#   autobahn/full-run.sh            (takes about an hour on 2 cores)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${RWS_SHARED:-$ROOT/../shared}"
RUN="$SHARED/autobahn/run.sh"
OUT="$ROOT/target/autobahn-full"
SUMMARY="$ROOT/autobahn/FULL_RUN.md"
cd "$ROOT"
cargo build --release --locked -p rws --example autobahn_server --example autobahn_client
BUILT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo ' + uncommitted changes')"
"$SHARED/autobahn/install.sh" >&2
mkdir -p "$OUT"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
target/release/examples/autobahn_server "127.0.0.1:$PORT" 2>"$OUT/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT

status=0
START=$SECONDS
"$RUN" server "ws://127.0.0.1:$PORT" --cases '*' --timeout 5000 --agent rws-server --out "$OUT/server" >"$OUT/server.txt" 2>&1 || status=1
SERVER_TIME=$((SECONDS - START))
START=$SECONDS
"$RUN" client --cases '*' --timeout 5000 --agent rws-client --out "$OUT/client" -- target/release/examples/autobahn_client >"$OUT/client.txt" 2>&1 || status=1
CLIENT_TIME=$((SECONDS - START))

{
  echo "# Autobahn TestSuite: full run, all cases, both roles"
  echo
  echo "Produced by \`autobahn/full-run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), examples built at commit $BUILT"
  echo "($(nproc) cores). CI runs groups 1-10 and the fast deflate cases; this run has every case."
  echo
  echo "| role | time |"
  echo "| --- | ---: |"
  echo "| server (examples/autobahn_server.rs) | ${SERVER_TIME} s |"
  echo "| client (examples/autobahn_client.rs) | ${CLIENT_TIME} s |"
  for role in server client; do
    echo
    echo "## $role"
    echo
    echo '```'
    grep -E '^(==|--|  [0-9a-z]|autobahn:|note|FAIL|MISSING)' "$OUT/$role.txt" || true
    echo '```'
  done
} >"$SUMMARY"
cat "$SUMMARY"
exit $status
