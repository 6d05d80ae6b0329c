#!/usr/bin/env bash
# `rws connect` through real proxies from Debian's packages, for ws:// and
# wss://: tinyproxy (HTTP CONNECT, without and with Basic auth) and dante
# (SOCKS5, names resolved here and at the proxy). The same session through
# each must give the same messages as the direct one, dante also with a
# username and password (a system user the script adds); a proxy that refuses
# must be named with what it answered; the environment's proxy variables
# are read as curl reads them, and --no-proxy ignores them.
#
# Installs tinyproxy and dante-server with apt-get the first time. Certificates
# (a CA and a server certificate for localhost) are made at run time by
# interop/make-certs.sh. Only 127.0.0.1 is used; every process runs under `timeout` and
# is stopped on exit. Logs go to target/proxy-logs/. Builds honour
# CARGO_BUILD_JOBS.
#
#   proxy/run.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LOGS=target/proxy-logs
PASSED=0
FAILED=0
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT
die() {
  echo "proxy: $*" >&2
  echo "proxy: $PASSED passed, $((FAILED + 1)) failed"
  exit 1
}
check() { # check ok|fail WHAT
  if [ "$1" = ok ]; then
    PASSED=$((PASSED + 1))
    echo "PASS $2"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $2"
  fi
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() { # wait_port PORT: until something listens on it, at most 10 s
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

if ! command -v tinyproxy >/dev/null || ! command -v danted >/dev/null; then
  echo "proxy: installing tinyproxy and dante-server (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq tinyproxy dante-server; } >/dev/null ||
    die "cannot install tinyproxy and dante-server"
fi

rm -rf "$LOGS"
mkdir -p "$LOGS"
cargo build -q --locked -p rws-cli || die "build failed"
RWS=target/debug/rws

# A CA and a certificate for localhost and 127.0.0.1, made now.
interop/make-certs.sh "$LOGS" || die "cannot make the test certificates"

# The servers: plain and TLS.
WS_PORT=$(free_port)
timeout 300 "$RWS" serve --listen "127.0.0.1:$WS_PORT" >"$LOGS/serve-ws.log" 2>&1 &
PIDS+=($!)
WSS_PORT=$(free_port)
timeout 300 "$RWS" serve --listen "127.0.0.1:$WSS_PORT" \
  --tls-cert "$LOGS/server.pem" --tls-key "$LOGS/server.key" >"$LOGS/serve-wss.log" 2>&1 &
PIDS+=($!)

# tinyproxy: one open, one with Basic auth. No ConnectPort line: CONNECT to
# any port (the default allows only 443 and 563 once one is given).
HTTP_PORT=$(free_port)
AUTH_PORT=$(free_port)
for which in open auth; do
  port=$HTTP_PORT
  [ "$which" = auth ] && port=$AUTH_PORT
  {
    echo "Port $port"
    echo "Listen 127.0.0.1"
    echo "Timeout 60"
    echo "MaxClients 20"
    echo "Allow 127.0.0.1"
    echo "LogLevel Info"
    [ "$which" = auth ] && echo "BasicAuth rws s3cret"
  } >"$LOGS/tinyproxy-$which.conf"
  timeout 300 tinyproxy -d -c "$LOGS/tinyproxy-$which.conf" >"$LOGS/tinyproxy-$which.log" 2>&1 &
  PIDS+=($!)
done

# start_dante NAME PORT METHOD: SOCKS5 on PORT with the socks METHOD (none
# or username), CONNECT to loopback only, logging each tunnel.
start_dante() {
  cat >"$LOGS/$1.conf" <<EOF
logoutput: stderr
internal: 127.0.0.1 port = $2
external: 127.0.0.1
clientmethod: none
socksmethod: $3
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.1/32 to: 0.0.0.0/0 }
socks pass {
  from: 127.0.0.1/32 to: 127.0.0.1/32
  command: connect
  log: connect
}
EOF
  timeout 300 danted -f "$LOGS/$1.conf" -N 1 >"$LOGS/$1.log" 2>&1 &
  PIDS+=($!)
}

SOCKS_PORT=$(free_port)
start_dante danted "$SOCKS_PORT" none

# dante with the username method (RFC 1929), checked against the system's
# users: a user of the test's own, made once (CI runs as root).
SOCKS_USER=rws-proxy-test
if ! id "$SOCKS_USER" >/dev/null 2>&1; then
  useradd --no-create-home --shell /usr/sbin/nologin "$SOCKS_USER" ||
    die "cannot add the system user $SOCKS_USER for dante's username method"
fi
echo "$SOCKS_USER:s3cret" | chpasswd || die "cannot set $SOCKS_USER's password"
SOCKS_AUTH_PORT=$(free_port)
start_dante danted-auth "$SOCKS_AUTH_PORT" username

for port in "$WS_PORT" "$WSS_PORT" "$HTTP_PORT" "$AUTH_PORT" "$SOCKS_PORT" "$SOCKS_AUTH_PORT"; do
  wait_port "$port" || die "nothing listens on $port (see $LOGS)"
done

SESSION=$'first line\nsecond line\n{"json": [1, 2, 3]}'
# session NAME ARGS...: `rws connect` with the session on stdin and no proxy
# variables but those given with env; stdout and stderr to the logs.
session() {
  local name="$1"
  shift
  printf '%s\n' "$SESSION" |
    timeout 20 env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY \
      -u all_proxy -u ALL_PROXY -u no_proxy -u NO_PROXY "$@" \
      >"$LOGS/$name.out" 2>"$LOGS/$name.err"
}
same() { # same NAME ARGS...: the session gives the messages sent, exit 0
  local name="$1"
  shift
  if session "$name" "$@" && [ "$(cat "$LOGS/$name.out")" = "$SESSION" ]; then
    check ok "$name"
  else
    check fail "$name (see $LOGS/$name.out and .err)"
  fi
}
refused() { # refused NAME PATTERN ARGS...: exit 3 (cannot connect), one stderr line matching
  local name="$1" pattern="$2"
  shift 2
  session "$name" "$@"
  local status=$?
  if [ "$status" = 3 ] && grep -qE "$pattern" "$LOGS/$name.err"; then
    check ok "$name: $(head -1 "$LOGS/$name.err")"
  else
    check fail "$name (exit $status, see $LOGS/$name.err)"
  fi
}

WS="ws://127.0.0.1:$WS_PORT/echo"
WSS="wss://localhost:$WSS_PORT/echo"
CA=(--cacert "$LOGS/ca.pem")

same "direct ws" "$RWS" connect "$WS"
same "direct wss" "$RWS" connect "${CA[@]}" "$WSS"
same "ws through tinyproxy (CONNECT)" "$RWS" connect --proxy "http://127.0.0.1:$HTTP_PORT" "$WS"
same "wss through tinyproxy (CONNECT)" "$RWS" connect "${CA[@]}" \
  --proxy "http://127.0.0.1:$HTTP_PORT" "$WSS"
same "wss through tinyproxy with Basic auth" "$RWS" connect "${CA[@]}" \
  --proxy "http://rws:s3cret@127.0.0.1:$AUTH_PORT" "$WSS"
refused "tinyproxy without credentials" "proxy http://127.0.0.1:$AUTH_PORT refused the tunnel: 407" \
  "$RWS" connect --proxy "http://127.0.0.1:$AUTH_PORT" "$WS"
# tinyproxy answers a wrong password with 401; the password is never shown.
refused "tinyproxy with a wrong password" "proxy http://rws@127.0.0.1:$AUTH_PORT refused the tunnel: 40[17]" \
  "$RWS" connect --proxy "http://rws:wrong@127.0.0.1:$AUTH_PORT" "$WS"
same "ws through dante (socks5, resolved here)" "$RWS" connect \
  --proxy "socks5://127.0.0.1:$SOCKS_PORT" "$WS"
same "wss through dante (socks5h, resolved by the proxy)" "$RWS" connect "${CA[@]}" \
  --proxy "socks5h://127.0.0.1:$SOCKS_PORT" "$WSS"
same "wss through dante with a username and password (RFC 1929)" "$RWS" connect "${CA[@]}" \
  --proxy "socks5h://$SOCKS_USER:s3cret@127.0.0.1:$SOCKS_AUTH_PORT" "$WSS"
refused "dante with a wrong password" "SOCKS5 proxy socks5://$SOCKS_USER@127.0.0.1:$SOCKS_AUTH_PORT refused the username and password" \
  "$RWS" connect --proxy "socks5://$SOCKS_USER:wrong@127.0.0.1:$SOCKS_AUTH_PORT" "$WS"
refused "dante without credentials" "SOCKS5 proxy socks5://127.0.0.1:$SOCKS_AUTH_PORT wants credentials" \
  "$RWS" connect --proxy "socks5://127.0.0.1:$SOCKS_AUTH_PORT" "$WS"
# dante's rules allow loopback destinations only: 10.255.255.1 is refused
# with a SOCKS reply code.
refused "dante refusing a destination" "SOCKS5 proxy socks5://127.0.0.1:$SOCKS_PORT refused" \
  "$RWS" connect --proxy "socks5://127.0.0.1:$SOCKS_PORT" "ws://10.255.255.1:9/"
# The environment, as curl reads it.
same "http_proxy from the environment" env "http_proxy=http://127.0.0.1:$HTTP_PORT" \
  "$RWS" connect "$WS"
same "HTTPS_PROXY (socks5h) from the environment" env \
  "HTTPS_PROXY=socks5h://127.0.0.1:$SOCKS_PORT" "$RWS" connect "${CA[@]}" "$WSS"
same "no_proxy skips the environment's proxy" env "http_proxy=http://127.0.0.1:9" \
  "no_proxy=127.0.0.1" "$RWS" connect "$WS"
same "--no-proxy ignores the environment" env "all_proxy=http://127.0.0.1:9" \
  "$RWS" connect --no-proxy "$WS"
refused "a proxy that is down is named" "cannot connect to the proxy http://127.0.0.1:9" \
  env "all_proxy=http://127.0.0.1:9" "$RWS" connect "$WS"

# The proxies saw the tunnels (not a direct connection that bypassed them).
if grep -q "CONNECT" "$LOGS/tinyproxy-open.log" && grep -q "CONNECT" "$LOGS/tinyproxy-auth.log"; then
  check ok "tinyproxy logged the CONNECT tunnels"
else
  check fail "tinyproxy logged no CONNECT (see $LOGS/tinyproxy-*.log)"
fi
if grep -q "tcp/connect" "$LOGS/danted.log"; then
  check ok "dante logged the SOCKS tunnels"
else
  check fail "dante logged no tunnel (see $LOGS/danted.log)"
fi

echo "proxy: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
