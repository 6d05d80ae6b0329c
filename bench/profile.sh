#!/usr/bin/env bash
# Where a server's CPU time goes under load: the kernel, the server's own
# binary, libc. It is what bounds the "server CPU per message" goal: where
# the kernel's share is near 90 %, no library can use much less CPU per
# message than another.
#
#   bench/profile.sh                          # rws, the default configurations
#   bench/profile.sh fastwebsockets "100 16 1 binary"
#
# Arguments: a server of bench/servers (default rws), then configurations
# "connections size depth kind" (default: the rows where every server sits
# at the kernel's ceiling, one latency-bound row, and handshakes as
# "idle"). Needs perf (Debian: linux-perf) and the binaries bench/run.sh
# builds (run it once, or `cargo build --release -p rws-cli` and
# `cargo build --release --manifest-path bench/servers/Cargo.toml`).
# Prints one line per configuration: the share of samples per object
# (kernel, server, libc...); with JSON=1, one JSON object per line instead.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
SERVER=${1:-rws}
shift || true
CONFIGS=("$@")
if ((${#CONFIGS[@]} == 0)); then
    CONFIGS=("100 16 1 binary" "100 16384 1 binary" "1 16384 16 binary" "1 1048576 1 binary" "idle")
fi
BIN=bench/servers/target/release/echo-$SERVER
RWS_BIN=${RWS_BIN:-target/release/rws}
command -v perf >/dev/null || { echo "bench/profile.sh needs perf (apt-get install linux-perf)" >&2; exit 1; }
[[ -x "$BIN" && -x "$RWS_BIN" ]] || { echo "build $BIN and $RWS_BIN first" >&2; exit 1; }
ulimit -n 20000 2>/dev/null || true

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

for config in "${CONFIGS[@]}"; do
    taskset -c 0 "$BIN" 127.0.0.1:0 >"$WORK/out" 2>"$WORK/err" &
    pid=$!
    for _ in $(seq 100); do
        grep -q '^listening on ' "$WORK/out" && break
        sleep 0.05
    done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/out")
    if [[ "$config" == idle ]]; then
        load=(--idle 10000 --hold 0.1)
    else
        read -r conns size depth kind <<<"$config"
        load=(-c "$conns" -s "$size" -d "$depth" "--$kind" --duration 3 --warmup 0.5)
    fi
    # Samples are taken only while the server runs: 2 s of perf cover the
    # handshakes of an idle run, or the start of a load run.
    perf record -q -F 4999 -p "$pid" -o "$WORK/perf.data" -- sleep 2 >/dev/null 2>&1 &
    perf=$!
    sleep 0.2
    taskset -c 1 "$RWS_BIN" bench "ws://127.0.0.1:$port/" "${load[@]}" --json >"$WORK/bench"
    wait "$perf"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    shares=$(perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
        awk '/^ +[0-9.]+%/ { sub(/%/, "", $1); name = $2; gsub(/[\[\]]/, "", name)
                             if (name == "kernel.kallsyms") name = "kernel"
                             else if (name ~ /^echo-/) name = "server"
                             else sub(/\.so.*/, "", name)
                             printf "%s %.1f\n", name, $1 }')
    if [[ "${JSON:-0}" == 1 ]]; then
        jq -cn --arg server "$SERVER" --arg config "$config" --arg shares "$shares" \
            '{mode: "profile", server: $server, config: $config,
              shares: ($shares | split("\n") | map(select(. != "") | split(" ")
                       | {key: .[0], value: (.[1] | tonumber)}) | from_entries)}'
    else
        echo "$SERVER, $config: $(awk '{ printf "%s %s%%  ", $1, $2 }' <<<"$shares")"
    fi
done
