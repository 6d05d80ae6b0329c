#!/usr/bin/env bash
# Interoperability with an independent permessage-deflate peer: Python's
# `websockets` package (PyPI), in both roles.
#
#   1. Python client (interop/client.py) -> `rws serve`, in several deflate
#      variants (defaults; no context takeover with 10-bit windows; 9-bit
#      windows; server_max_window_bits=8, which must be declined; no
#      compression).
#   2. rws client (crates/rws/examples/interop_client.rs) -> Python echo
#      server (interop/server.py), with websockets' default deflate settings
#      and with no context takeover and server_max_window_bits=11.
#   3. Over TLS (certificates made by interop/make-certs.sh): the Python
#      client, and Node's `ws` client (npm, interop/node), -> `rws serve
#      --tls-cert`.
#   4. Over TLS: the rws client (the library's interop_client, and `rws
#      connect wss://`) -> the Python server with TLS; and refused under
#      another CA.
#   5. The Python client and Node's `ws` client -> the axum example's /echo
#      (crates/rws/examples/axum_app.rs: rws::extract in axum::serve).
#
# Needs python3 with venv and pip, and PyPI access the first time: websockets
# goes into the venv target/interop-venv, which later runs reuse. Only
# 127.0.0.1 is used; every process runs under `timeout`; all are stopped on
# exit. Logs go to target/interop-logs/. Builds honour CARGO_BUILD_JOBS.
#
#   interop/run.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WEBSOCKETS='websockets>=13,<16'
VENV=target/interop-venv
LOGS=target/interop-logs
PY="$VENV/bin/python"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in interop/
PASSED=0
FAILED=0
PIDS=()

die() {
  echo "interop: $*" >&2
  echo "interop: $PASSED passed, $((FAILED + 1)) failed"
  exit 1
}
check() { # check OK|FAIL WHAT
  if [ "$1" = ok ]; then
    PASSED=$((PASSED + 1))
    echo "PASS $2"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $2"
  fi
}
cond() { # cond WHAT COMMAND...: one check, passed if COMMAND succeeds
  local what="$1"
  shift
  if "$@"; then check ok "$what"; else check fail "$what"; fi
}
count_checks() { # adds the PASS/FAIL lines a program printed to the totals
  local p f
  p=$(grep -c '^PASS ' "$1")
  f=$(grep -c '^FAIL ' "$1")
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
}
stop() { # stop PID: ends a background process started here, and waits for it
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_for() { # wait_for FILE REGEX PID [SECONDS]: the first match, once it appears
  local deadline=$((SECONDS + ${4:-10})) line
  while [ "$SECONDS" -le "$deadline" ]; do
    line=$(grep -m1 -oE "$2" "$1" 2>/dev/null)
    if [ -n "$line" ]; then
      echo "$line"
      return 0
    fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

rm -rf "$LOGS"
mkdir -p "$LOGS"

echo "=== setup"
if [ ! -x "$PY" ]; then
  timeout 120 python3 -m venv "$VENV" || die "cannot create the venv $VENV (python3 -m venv failed; is python3-venv installed?)"
fi
timeout 300 "$PY" -m pip install --quiet --disable-pip-version-check "$WEBSOCKETS" \
  || die "pip install \"$WEBSOCKETS\" into $VENV failed (no PyPI access?)"
VERSION=$(timeout 60 "$PY" -c 'import websockets; print(websockets.__version__)') \
  || die "websockets does not import in $VENV"
echo "websockets $VERSION (from \"$WEBSOCKETS\")"

timeout 3600 cargo build --release --locked -p rws-cli \
  || die "cargo build --release -p rws-cli failed"
timeout 3600 cargo build --release --locked -p rws --features rustls --example interop_client \
  || die "cargo build --release -p rws --features rustls --example interop_client failed"
timeout 3600 cargo build --release --locked -p rws --features axum --example axum_app \
  || die "cargo build --release -p rws --features axum --example axum_app failed"

echo
echo "=== 1. Python websockets client -> rws serve"
timeout 60 target/release/rws serve --listen 127.0.0.1:0 2>"$LOGS/rws-serve.log" &
SERVE=$!
PIDS+=("$SERVE")
if URL=$(wait_for "$LOGS/rws-serve.log" 'ws://127\.0\.0\.1:[0-9]+/echo' "$SERVE"); then
  check ok "rws serve listening on $URL"
  timeout 60 "$PY" interop/client.py "$URL" 2>&1 | tee "$LOGS/client.py.log"
  rc=${PIPESTATUS[0]}
  count_checks "$LOGS/client.py.log"
  cond "client.py exited 0 (got $rc)" test "$rc" = 0
  cond "rws serve still running after the client" kill -0 "$SERVE"
  cond "rws serve logged no warnings or errors" \
    sh -c "! grep -E ' (WARN|ERROR) ' '$LOGS/rws-serve.log'"
else
  check fail "rws serve did not announce its address (see $LOGS/rws-serve.log)"
fi
stop "$SERVE"

echo
echo "=== 2. rws client -> Python websockets server"
for variant in default lean; do
  echo "--- server variant: $variant"
  out="$LOGS/server-$variant.out"
  timeout 60 "$PY" interop/server.py "$variant" >"$out" 2>"$LOGS/server-$variant.err" &
  SERVER=$!
  PIDS+=("$SERVER")
  if ! PORT=$(wait_for "$out" '^port: [0-9]+' "$SERVER"); then
    check fail "[$variant] server.py did not announce its port (see $LOGS/server-$variant.err)"
    stop "$SERVER"
    continue
  fi
  PORT=${PORT#port: }
  timeout 60 target/release/examples/interop_client "ws://127.0.0.1:$PORT/" 2>&1 \
    | tee "$LOGS/interop_client-$variant.log"
  rc=${PIPESTATUS[0]}
  count_checks "$LOGS/interop_client-$variant.log"
  cond "[$variant] interop_client exited 0 (got $rc)" test "$rc" = 0
  ours=$(grep -m1 '^deflate: ' "$LOGS/interop_client-$variant.log")
  cond "[$variant] rws client agreed deflate (${ours:-no deflate: line})" \
    test -n "$ours" -a "$ours" != "deflate: none"
  theirs=$(wait_for "$out" '^deflate: .*' "$SERVER" 5)
  cond "[$variant] both ends agree on the parameters (websockets: ${theirs#deflate: })" \
    test -n "$ours" -a "$ours" = "$theirs"
  if [ "$variant" = lean ]; then
    want='deflate: server_no_context_takeover=true client_no_context_takeover=true server_max_window_bits=11 client_max_window_bits=15'
    cond "[$variant] rws client honours no context takeover and server_max_window_bits=11" \
      test "$ours" = "$want"
  fi
  if done_line=$(wait_for "$out" '^done: .*' "$SERVER" 5); then
    echo "server: $done_line"
    field() { sed -nE "s/.* $1=([^ ]*).*/\1/p" <<<"$done_line"; }
    cond "[$variant] rws client sent compressed messages ($(field compressed))" \
      test "$(field compressed)" -gt 0
    cond "[$variant] they inflate within the agreed client window ($(field window_checked) checked, $(field window_errors) errors)" \
      test "$(field window_errors)" = 0 -a "$(field window_checked)" = "$(field compressed)"
    cond "[$variant] server received close 1000 ($(field close))" test "$(field close)" = 1000
  else
    check fail "[$variant] server.py did not report the connection's end (see $out)"
  fi
  stop "$SERVER"
done

echo
echo "=== 3. over TLS: Python websockets and Node ws clients -> rws serve --tls-cert"
interop/make-certs.sh "$LOGS/certs" || die "cannot make the test certificates"
timeout 120 target/release/rws serve --listen 127.0.0.1:0 \
  --tls-cert "$LOGS/certs/server.pem" --tls-key "$LOGS/certs/server.key" 2>"$LOGS/rws-serve-tls.log" &
SERVE=$!
PIDS+=("$SERVE")
if URL=$(wait_for "$LOGS/rws-serve-tls.log" 'wss://127\.0\.0\.1:[0-9]+/echo' "$SERVE"); then
  # By name: the certificate is for localhost (and 127.0.0.1).
  URL=${URL/127.0.0.1/localhost}
  check ok "rws serve --tls-cert listening on $URL"
  timeout 60 "$PY" interop/client.py "$URL" "$LOGS/certs/ca.pem" 2>&1 | tee "$LOGS/client.py-tls.log"
  rc=${PIPESTATUS[0]}
  count_checks "$LOGS/client.py-tls.log"
  cond "client.py over TLS exited 0 (got $rc)" test "$rc" = 0
  if [ ! -f interop/node/node_modules/.package-lock.json ] \
    || [ interop/node/package-lock.json -nt interop/node/node_modules/.package-lock.json ]; then
    (cd interop/node && timeout 300 npm ci --no-audit --no-fund) >"$LOGS/npm.log" 2>&1 \
      || die "npm ci in interop/node failed (see $LOGS/npm.log)"
  fi
  timeout 60 node interop/node/client.mjs "$URL" "$LOGS/certs/ca.pem" 2>&1 | tee "$LOGS/node-client.log"
  rc=${PIPESTATUS[0]}
  count_checks "$LOGS/node-client.log"
  cond "Node ws client over TLS exited 0 (got $rc)" test "$rc" = 0
  cond "rws serve --tls-cert logged no warnings or errors" \
    sh -c "! grep -E ' (WARN|ERROR) ' '$LOGS/rws-serve-tls.log'"
else
  check fail "rws serve --tls-cert did not announce its address (see $LOGS/rws-serve-tls.log)"
fi
stop "$SERVE"

echo
echo "=== 4. over TLS: rws client -> Python websockets server"
out="$LOGS/server-tls.out"
timeout 60 "$PY" interop/server.py default "$LOGS/certs/server.pem" "$LOGS/certs/server.key" \
  >"$out" 2>"$LOGS/server-tls.err" &
SERVER=$!
PIDS+=("$SERVER")
if PORT=$(wait_for "$out" '^port: [0-9]+' "$SERVER"); then
  PORT=${PORT#port: }
  timeout 60 target/release/examples/interop_client "wss://localhost:$PORT/" "$LOGS/certs/ca.pem" 2>&1 \
    | tee "$LOGS/interop_client-tls.log"
  rc=${PIPESTATUS[0]}
  count_checks "$LOGS/interop_client-tls.log"
  cond "interop_client over TLS exited 0 (got $rc)" test "$rc" = 0
  cond "interop_client ran over TLS" grep -qx 'tls: true' "$LOGS/interop_client-tls.log"
  done_line=$(wait_for "$out" '^done: .*' "$SERVER" 5)
  cond "Python server over TLS received close 1000 (${done_line:-no done: line})" \
    grep -q ' close=1000' <<<"$done_line"
  # The command line client too: `rws connect wss://` with --cacert, lines
  # in, echoes out.
  lines=$'over TLS\nto Python websockets\nhéllo ✓'
  got=$(printf '%s\n' "$lines" | timeout 30 target/release/rws connect --no-proxy \
    --cacert "$LOGS/certs/ca.pem" "wss://localhost:$PORT/" 2>"$LOGS/rws-connect-tls.err")
  rc=$?
  cond "rws connect wss:// to the Python server echoed every line (exit $rc)" \
    test "$rc" = 0 -a "$got" = "$lines"
  # rws's connect checks the CA: under another CA (of the same name, so
  # rustls reports the signature) the server is refused.
  interop/make-certs.sh "$LOGS/other-ca" >/dev/null
  timeout 30 target/release/examples/interop_client "wss://localhost:$PORT/" "$LOGS/other-ca/ca.pem" \
    >"$LOGS/interop_client-wrong-ca.log" 2>&1
  cond "interop_client refuses the server under another CA ($(cat "$LOGS/interop_client-wrong-ca.log"))" \
    grep -q "FAIL connection: TLS with the server localhost failed: its certificate" \
    "$LOGS/interop_client-wrong-ca.log"
else
  check fail "server.py over TLS did not announce its port (see $LOGS/server-tls.err)"
fi
stop "$SERVER"

echo
echo "=== 5. Python websockets and Node ws clients -> the axum example (rws::extract)"
timeout 120 target/release/examples/axum_app 127.0.0.1:0 2>"$LOGS/axum_app.log" &
AXUM=$!
PIDS+=("$AXUM")
if ADDR=$(wait_for "$LOGS/axum_app.log" 'http://127\.0\.0\.1:[0-9]+' "$AXUM"); then
  URL="ws://${ADDR#http://}/echo"
  check ok "axum_app listening, its echo route on $URL"
  timeout 60 "$PY" interop/client.py "$URL" 2>&1 | tee "$LOGS/client.py-axum.log"
  rc=${PIPESTATUS[0]}
  count_checks "$LOGS/client.py-axum.log"
  cond "client.py against axum_app exited 0 (got $rc)" test "$rc" = 0
  timeout 60 node interop/node/client.mjs "$URL" 2>&1 | tee "$LOGS/node-client-axum.log"
  rc=${PIPESTATUS[0]}
  count_checks "$LOGS/node-client-axum.log"
  cond "Node ws client against axum_app exited 0 (got $rc)" test "$rc" = 0
  cond "axum_app still running after the clients" kill -0 "$AXUM"
else
  check fail "axum_app did not announce its address (see $LOGS/axum_app.log)"
fi
stop "$AXUM"

echo
echo "interop: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
