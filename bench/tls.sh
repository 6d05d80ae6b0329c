#!/usr/bin/env bash
# The TLS rows of BENCHMARKS.md: rws against tokio-tungstenite over wss://,
# both behind the same TLS (rustls with ring, the harness's serve_tls), so
# that what differs is the WebSocket layer and how it drives the TLS stream.
#
#   bench/tls.sh                 # ~2 minutes: REPS x 0.5 s per server and row
#   REPS=3 BUILD=0 bench/tls.sh
#
# As bench/run.sh: the server pinned to CPU 0, `rws bench` to CPU 1, the
# runs interleaved (each rep runs both servers in turn, the order rotating),
# short runs because this VM's speed swings for seconds at a time. Results
# go to bench/results/tls-<stamp>.jsonl, and the table replaces the part of
# BENCHMARKS.md between the tls markers (REPORT=0: not).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPS=${REPS:-10}
DURATION=${DURATION:-0.5}
WARMUP=${WARMUP:-0.2}
SERVERS=(rws-tls tungstenite-tls)
# connections size depth
ROWS=("1 16 1" "100 1024 1" "1 16384 16")
RWS_BIN=target/release/rws
SERVER_DIR=bench/servers/target/release
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/results/tls-$STAMP.jsonl
CERTS=$(mktemp -d -t rws-bench-tls.XXXXXX)
mkdir -p bench/results

if [[ "${BUILD:-1}" == 1 ]]; then
  cargo build --release --locked -p rws-cli
  cargo build --release --locked --manifest-path bench/servers/Cargo.toml \
    --bin echo-rws-tls --bin echo-tungstenite-tls
fi
interop/make-certs.sh "$CERTS"

declare -A PID PORT
cleanup() {
  for pid in "${PID[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$CERTS"
}
trap cleanup EXIT
for server in "${SERVERS[@]}"; do
  out="$CERTS/$server.out"
  taskset -c 0 "$SERVER_DIR/echo-$server" 127.0.0.1:0 "$CERTS/server.pem" "$CERTS/server.key" \
    >"$out" 2>"$CERTS/$server.err" &
  PID[$server]=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$out" && break
    sleep 0.05
  done
  PORT[$server]=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
  [[ -n "${PORT[$server]}" ]] || { echo "tls: $server did not start" >&2; exit 1; }
done

for row in "${ROWS[@]}"; do
  read -r conns size depth <<<"$row"
  echo "== c=$conns ${size} B d=$depth"
  for rep in $(seq "$REPS"); do
    order=("${SERVERS[@]}")
    ((rep % 2 == 0)) && order=("${SERVERS[1]}" "${SERVERS[0]}")
    for server in "${order[@]}"; do
      json=$(taskset -c 1 "$RWS_BIN" bench "wss://localhost:${PORT[$server]}/" \
        --cacert "$CERTS/ca.pem" -c "$conns" -s "$size" -d "$depth" \
        --duration "$DURATION" --warmup "$WARMUP" --server-pid "${PID[$server]}" --json)
      jq -c --arg server "$server" --argjson rep "$rep" '. + {server: $server, rep: $rep}' \
        <<<"$json" >>"$OUT"
      jq -r --arg s "$server" '"   \($s): \(.messages_per_sec | floor) msg/s, server \(.server_cpu_us_per_msg) us/msg"' <<<"$json"
    done
  done
done

python3 - "$OUT" "${REPORT:-1}" <<'EOF'
import json, statistics, sys, subprocess
path, report = sys.argv[1], sys.argv[2] == "1"
runs = [json.loads(line) for line in open(path)]
rows = []
keys = sorted({(r["connections"], r["size"], r["depth"]) for r in runs},
              key=lambda k: [(1, 16, 1), (100, 1024, 1), (1, 16384, 16)].index(k)
              if k in [(1, 16, 1), (100, 1024, 1), (1, 16384, 16)] else 9)
def med(server, key, field):
    values = [r[field] for r in runs if r["server"] == server
              and (r["connections"], r["size"], r["depth"]) == key and r.get(field) is not None]
    return statistics.median(values) if values else None
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip()
lines = [
    "<!-- tls:begin (bench/tls.sh writes this part) -->",
    "## TLS (wss://)",
    "",
    f"`bench/tls.sh` at `{commit}` (results `{path}`): rws and tokio-tungstenite behind the "
    "same TLS (rustls 0.23 with ring, the harness's `serve_tls`, ALPN http/1.1), binary "
    f"messages, medians of {max(r['rep'] for r in runs)} interleaved runs of 0.5 s; server "
    "pinned to CPU 0, `rws bench wss://… --cacert` to CPU 1. CPU per message is the "
    "server's (user + system, from /proc).",
    "",
    "| configuration | rws msg/s | tokio-tungstenite msg/s | rws / tungstenite | rws CPU µs/msg | tungstenite CPU µs/msg | CPU rws / tungstenite |",
    "|---|--:|--:|--:|--:|--:|--:|",
]
for key in keys:
    c, s, d = key
    a, b = med("rws-tls", key, "messages_per_sec"), med("tungstenite-tls", key, "messages_per_sec")
    ca, cb = (med("rws-tls", key, "server_cpu_us_per_msg"),
              med("tungstenite-tls", key, "server_cpu_us_per_msg"))
    size = f"{s // 1024} KiB" if s >= 1024 else f"{s} B"
    lines.append(f"| c={c} {size} d={d} | {a:,.0f} | {b:,.0f} | {a / b:.2f}× | "
                 f"{ca:.2f} | {cb:.2f} | {ca / cb:.2f}× |")
lines.append("<!-- tls:end -->")
table = "\n".join(lines)
print(table)
if report:
    text = open("BENCHMARKS.md").read()
    begin, end = text.find("<!-- tls:begin"), text.find("<!-- tls:end -->")
    if begin >= 0 and end >= 0:
        text = text[:begin] + table + text[end + len("<!-- tls:end -->"):]
    else:
        text = text.rstrip("\n") + "\n\n" + table + "\n"
    open("BENCHMARKS.md", "w").write(text)
EOF
