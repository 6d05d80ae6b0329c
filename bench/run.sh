#!/usr/bin/env bash
# The benchmark of issue 6: rws against its peers and a raw-TCP echo.
#
#   bench/run.sh                      # everything, ~12 minutes on 2 cores
#   QUICK=1 bench/run.sh              # smoke test: 0.5 s per run, 1 rep
#   SERVERS="rws raw" REPS=5 bench/run.sh
#
# A configuration marked "deflate" is run with `rws bench --deflate`
# (permessage-deflate, no context takeover either way) against the servers
# that implement it (DEFLATE_SERVERS) only.
#
# Every configuration of MATRIX below is run against every server of
# SERVERS, REPS times, then the idle-connection test IDLE_REPS times per
# server. The servers (bench/servers, tokio current-thread runtime) all run
# at once, idle but one, pinned to CPU 0; the load generator (`rws bench`,
# one thread) to CPU 1. The runs are interleaved: for each configuration,
# each rep runs every server in turn (the order rotating with the rep), so
# that a slow phase of the machine (a VM's neighbours, frequency changes)
# falls on all servers alike rather than on one. The runs are short and
# many (10 x 0.5 s rather than 3 x 2 s) for the same reason: on the VM
# the committed figures come from, the speed of the whole machine swings by
# up to 40 % for several seconds at a time, and with 3 long runs one server
# could get two slow phases and another none. Results go to
# bench/results/<timestamp>.jsonl (a "meta" line first, then one line per
# run: the bench's JSON plus "server", "rep" and "command", or an "error"),
# and bench/report.py turns that file into BENCHMARKS.md at the repo root.
#
# Environment:
#   DURATION (0.5)  WARMUP (0.2)  REPS (10)  seconds measured / of warmup, reps
#   IDLE (10000)  IDLE_REPS (3)            idle connections held per server, reps
#   SERVERS ("rws tungstenite fastwebsockets tokio-websockets yawc raw")
#   QUICK=1       DURATION=0.3 WARMUP=0.1 REPS=1 IDLE_REPS=1 (unless set):
#                 a smoke test of the whole pipeline in about a minute
#   BUILD=0       skip the release builds (use the binaries already built)
#   RWS_BIN       the load generator (default target/release/rws)
#   REPORT=0      do not write BENCHMARKS.md (else the tree must have no
#                 uncommitted changes, unless ALLOW_DIRTY=1)
#   PROFILE=0     skip the CPU profiles (bench/profile.sh, needs perf) of
#                 PROFILE_SERVERS ("rws fastwebsockets")
set -uo pipefail

# The matrix: "connections size depth kind [deflate]" (size in bytes). Not
# the full cross product (connections 1/100/500 x size 16/1Ki/16Ki/1Mi x
# depth 1/16 x binary/text x deflate would take hours): one or two depths
# per point, text at 1 KiB and 16 KiB, and those text rows again with
# permessage-deflate.
MATRIX=(
    "1 16 1 binary"
    "1 1024 1 binary"
    "1 16384 16 binary"
    "1 1048576 1 binary"
    "100 16 1 binary"
    "100 1024 1 binary"
    "100 16384 1 binary"
    "100 1048576 1 binary"
    "500 16 1 binary"
    "500 1024 16 binary"
    "500 16384 1 binary"
    "100 1024 1 text"
    "1 16384 16 text"
    "100 1024 1 text deflate"
    "1 16384 16 text deflate"
)

ALL_SERVERS="rws tungstenite fastwebsockets tokio-websockets yawc raw"
# The servers that implement permessage-deflate (RFC 7692).
DEFLATE_SERVERS="rws yawc"
if [[ "${QUICK:-0}" == 1 ]]; then
    DURATION=${DURATION:-0.3}
    REPS=${REPS:-1}
    WARMUP=${WARMUP:-0.1}
    IDLE_REPS=${IDLE_REPS:-1}
fi
DURATION=${DURATION:-0.5}
WARMUP=${WARMUP:-0.2}
REPS=${REPS:-10}
IDLE=${IDLE:-10000}
IDLE_REPS=${IDLE_REPS:-3}
SERVERS=${SERVERS:-$ALL_SERVERS}
SERVER_CPU=0
CLIENT_CPU=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# BENCHMARKS.md names the commit its figures are for: code with
# uncommitted changes has none (the results file then says "+dirty" and
# the page says it is not for publication). What is built and run counts;
# documents (BENCHMARKS.md itself) do not.
CODE_PATHS=(crates bench/servers bench/run.sh Cargo.toml Cargo.lock)
code_changed() {
    [[ -n "$(git status --porcelain --untracked-files=no -- "${CODE_PATHS[@]}" 2>/dev/null)" ]]
}
if [[ "${REPORT:-1}" != 0 && "${ALLOW_DIRTY:-0}" != 1 ]] && code_changed; then
    echo "bench/run.sh: the tree has uncommitted changes; commit them first (or REPORT=0, or ALLOW_DIRTY=1 for a trial)" >&2
    exit 2
fi
RWS_BIN=${RWS_BIN:-target/release/rws}
SERVER_DIR=bench/servers/target/release
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=bench/results
OUT=$RESULTS_DIR/$STAMP.jsonl
LOGS=$RESULTS_DIR/$STAMP.logs
mkdir -p "$RESULTS_DIR" "$LOGS"

declare -A PID PORT  # by server name: the running server's process and port
SERVER_PID=          # the server of the current run
cleanup() {
    local pid
    for pid in "${PID[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in $(jobs -p); do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

for server in $SERVERS; do
    case " $ALL_SERVERS " in
    *" $server "*) ;;
    *) echo "unknown server $server (known: $ALL_SERVERS)" >&2; exit 2 ;;
    esac
done

for tool in jq taskset timeout python3; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool" >&2; exit 1; }
done

# ---------------------------------------------------------------- estimate
deflate_count=0
for server in $SERVERS; do
    [[ " $DEFLATE_SERVERS " == *" $server "* ]] && deflate_count=$((deflate_count + 1))
done
load_runs=0
for config in "${MATRIX[@]}"; do
    if [[ "$config" == *deflate ]]; then
        load_runs=$((load_runs + deflate_count * REPS))
    else
        load_runs=$((load_runs + $(wc -w <<<"$SERVERS") * REPS))
    fi
done
idle_runs=$(( $(wc -w <<<"$SERVERS") * IDLE_REPS ))
# Per load run: warmup + duration + ~0.3 s to connect and report; per idle
# run ~2.5 s for 10000 handshakes, the 1 s hold, starting and stopping.
estimate=$(awk -v n="$load_runs" -v d="$DURATION" -v w="$WARMUP" -v i="$idle_runs" -v c="$IDLE" \
    'BEGIN { s = n * (d + w + 0.3) + i * (1.5 + c / 10000); printf "%d min %02d s", s / 60, s % 60 }')
echo "== $load_runs load runs (${#MATRIX[@]} configurations x up to $(wc -w <<<"$SERVERS") servers x $REPS reps," \
    "${DURATION}s + ${WARMUP}s warmup) + $idle_runs idle runs of $IDLE connections"
echo "== estimated time: $estimate (plus the builds)"

# ---------------------------------------------------------------- builds
if [[ "${BUILD:-1}" != 0 ]]; then
    echo "== building"
    flock /tmp/rws-cargo.lock cargo build --release --locked -p rws-cli || exit 1
    flock /tmp/rws-cargo.lock cargo build --release --locked \
        --manifest-path bench/servers/Cargo.toml || exit 1
fi
[[ -x "$RWS_BIN" ]] || { echo "no load generator at $RWS_BIN" >&2; exit 1; }
for server in $SERVERS; do
    [[ -x "$SERVER_DIR/echo-$server" ]] || { echo "no $SERVER_DIR/echo-$server" >&2; exit 1; }
done

# A build running beside the benchmark would make its figures meaningless.
if pgrep -f 'cargo |rustc ' >/dev/null; then
    echo "== waiting for the cargo/rustc processes running on this machine to end:"
    pgrep -fa 'cargo |rustc ' | head -5
    while pgrep -f 'cargo |rustc ' >/dev/null; do sleep 5; done
fi

# Both the servers and the load generator hold up to IDLE sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---------------------------------------------------------------- versions
lock_version() { # crate -> its version in bench/servers/Cargo.lock
    awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
        bench/servers/Cargo.lock
}
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rustc_version=$(rustc -V)
kernel=$(uname -sr)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
code_changed && commit="$commit+dirty"
rws_version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)

echo "== machine: $cpu_model, $(nproc) CPUs, $kernel, $(ulimit -n) fds"
echo "== $rustc_version"
echo "== rws $rws_version ($commit)"
for crate in tokio-tungstenite tungstenite fastwebsockets tokio-websockets yawc tokio; do
    echo "== $crate $(lock_version "$crate")"
done
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== results: $OUT"

jq -cn \
    --arg stamp "$STAMP" --arg cpu "$cpu_model" --argjson cores "$(nproc)" \
    --arg kernel "$kernel" --arg rustc "$rustc_version" --arg commit "$commit" \
    --arg rws "$rws_version" --arg ttung "$(lock_version tokio-tungstenite)" \
    --arg tung "$(lock_version tungstenite)" --arg fws "$(lock_version fastwebsockets)" \
    --arg tws "$(lock_version tokio-websockets)" --arg yawc "$(lock_version yawc)" \
    --arg tokio "$(lock_version tokio)" --arg deflate_servers "$DEFLATE_SERVERS" \
    --argjson duration "$DURATION" --argjson warmup "$WARMUP" --argjson reps "$REPS" \
    --argjson idle "$IDLE" --argjson idle_reps "$IDLE_REPS" --arg servers "$SERVERS" \
    --arg matrix "$(printf '%s\n' "${MATRIX[@]}")" --arg loadavg "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --argjson server_cpu "$SERVER_CPU" --argjson client_cpu "$CLIENT_CPU" \
    '{mode: "meta", timestamp: $stamp, cpu_model: $cpu, cores: $cores, kernel: $kernel,
      rustc: $rustc, commit: $commit, loadavg: $loadavg,
      versions: {rws: $rws, "tokio-tungstenite": $ttung, tungstenite: $tung,
                 fastwebsockets: $fws, "tokio-websockets": $tws, yawc: $yawc,
                 tokio: $tokio},
      duration_s: $duration, warmup_s: $warmup, reps: $reps,
      idle_connections: $idle, idle_reps: $idle_reps,
      servers: ($servers | split(" ") | map(select(. != ""))),
      deflate_servers: ($deflate_servers | split(" ") | map(select(. != ""))),
      matrix: ($matrix | split("\n") | map(select(. != "") | split(" ")
               | {connections: (.[0] | tonumber), size: (.[1] | tonumber),
                  depth: (.[2] | tonumber), kind: .[3], deflate: (.[4] == "deflate")})),
      server_cpu: $server_cpu, client_cpu: $client_cpu}' >"$OUT"

# ---------------------------------------------------------------- helpers
start_server() { # name -> sets PID[name] and PORT[name], or returns 1
    local name=$1 log=$LOGS/$1.log out=$LOGS/$1.stdout pid i
    : >"$out"
    taskset -c "$SERVER_CPU" "$SERVER_DIR/echo-$name" 127.0.0.1:0 >"$out" 2>>"$log" &
    pid=$!
    PID[$name]=$pid
    for i in $(seq 100); do
        if grep -q '^listening on ' "$out"; then
            PORT[$name]=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "   $name did not start (see $log)" >&2
    stop_server "$name"
    return 1
}

stop_server() { # name
    local pid=${PID[$1]:-}
    [[ -n "$pid" ]] || return 0
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "PID[$1]" "PORT[$1]"
}

# Waits while a build runs on the machine (one would make the figures
# meaningless); returns at once when none does.
wait_quiet() {
    pgrep -f 'cargo |rustc ' >/dev/null || return 0
    echo "   waiting for cargo/rustc processes to end" >&2
    while pgrep -f 'cargo |rustc ' >/dev/null; do sleep 2; done
}

# CPU time used on the machine by others than the server and the load
# generator during one bench run, in percent of one CPU: a disturbed run
# shows here. Busy ticks of the machine (/proc/stat) minus the server's
# (/proc/PID/stat) and the load generator's (this shell's `times` for its
# children).
CLK_TCK=$(getconf CLK_TCK)
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
process_cpu() { # pid -> user + system ticks
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    awk '{ print $12 + $13 }' <<<"${stat##*) }"
}
TIMES=$LOGS/times
children_cpu() { # user + system seconds of this shell's waited-for children
    # `times` must run in this shell, not in a $(...) subshell.
    times >"$TIMES"
    awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); n += t[1] * 60 + t[2] } print n }' \
        "$TIMES"
}
MEASURE=
measure_start() {
    children_cpu >"$TIMES.start"
    MEASURE="$(date +%s.%N) $(machine_busy) $(process_cpu "$SERVER_PID") $(<"$TIMES.start")"
}
measure_end() { # -> other CPU in percent of one CPU
    local now busy server children
    children_cpu >"$TIMES.end"
    now=$(date +%s.%N) busy=$(machine_busy) server=$(process_cpu "$SERVER_PID") children=$(<"$TIMES.end")
    awk -v m="$MEASURE" -v now="$now" -v busy="$busy" -v server="$server" -v children="$children" \
        -v hz="$CLK_TCK" 'BEGIN {
            split(m, a, " "); wall = now - a[1]
            other = (busy - a[2] - (server - a[3])) / hz - (children - a[4])
            if (other < 0) other = 0
            printf "%.1f", (wall > 0 ? 100 * other / wall : 0) }'
}

# Appends one line to $OUT: the bench's JSON plus server, rep and command,
# or, if the bench failed, the configuration plus "error".
record() { # server rep command-string config-json output rc [other-cpu-%]
    local server=$1 rep=$2 cmd=$3 config=$4 output=$5 rc=$6 other=${7:-null}
    local error=
    if [[ $rc == nostart ]]; then
        error="server did not start"
    elif [[ $rc != 0 ]]; then
        error="bench exited with $rc"
    elif ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$output"; then
        error="bench printed no JSON object"
    fi
    if [[ -z "$error" && $rc != nostart ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
        error="server died"
    fi
    if [[ -z "$error" ]]; then
        jq -c --arg server "$server" --argjson rep "$rep" --arg cmd "$cmd" --argjson other "$other" \
            '. + {server: $server, rep: $rep, command: $cmd, other_cpu_pct: $other}' \
            <<<"$output" >>"$OUT"
        return 0
    fi
    local tail=
    [[ $rc == nostart ]] || tail=$(tail -c 600 "$LOGS/bench.stderr" 2>/dev/null)
    jq -cn --argjson config "$config" --arg server "$server" --argjson rep "$rep" \
        --arg cmd "$cmd" --arg error "$error" --arg stderr "$tail" --arg stdout "${output:0:600}" \
        '$config + {server: $server, rep: $rep, command: $cmd, error: $error,
                    stderr: $stderr, stdout: $stdout}' >>"$OUT"
    echo "   ERROR: $error" >&2
    return 1
}

ensure_server() { # name: (re)starts the server if it is not running; returns 1 if it cannot
    local pid=${PID[$1]:-}
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        return 0
    fi
    if [[ -n "$pid" ]]; then
        echo "   $1 died; restarting it (see $LOGS/$1.log)" >&2
        stop_server "$1"
    fi
    start_server "$1"
}

# The servers of list $2 in the order of rep $1: rotated by rep - 1.
rotated() {
    local -a list=($2)
    ((${#list[@]})) || return 0
    local n=${#list[@]} shift=$(( ($1 - 1) % ${#list[@]} )) i
    for ((i = 0; i < n; i++)); do
        printf '%s ' "${list[(i + shift) % n]}"
    done
}

# ---------------------------------------------------------------- runs
started=$(date +%s)
for server in $SERVERS; do
    start_server "$server"
done
for config in "${MATRIX[@]}"; do
    read -r conns size depth kind flags <<<"$config"
    deflate=false row_servers=$SERVERS extra=()
    if [[ "${flags:-}" == deflate ]]; then
        deflate=true extra=(--deflate) row_servers=
        for server in $SERVERS; do
            [[ " $DEFLATE_SERVERS " == *" $server "* ]] && row_servers+="$server "
        done
    fi
    echo "== $conns connections, $size bytes, depth $depth, $kind${flags:+, $flags}"
    config_json=$(jq -cn --argjson c "$conns" --argjson s "$size" --argjson d "$depth" \
        --arg k "$kind" --argjson deflate "$deflate" \
        '{mode: "load", connections: $c, size: $s, depth: $d, kind: $k, deflate_offered: $deflate}')
    for rep in $(seq "$REPS"); do
        for server in $(rotated "$rep" "$row_servers"); do
            if ! ensure_server "$server"; then
                SERVER_PID=
                record "$server" "$rep" "" "$config_json" "" nostart
                continue
            fi
            SERVER_PID=${PID[$server]}
            args=(bench "ws://127.0.0.1:${PORT[$server]}/" -c "$conns" -s "$size" -d "$depth"
                --duration "$DURATION" --warmup "$WARMUP" "--$kind" --threads 1 --json
                --server-pid "$SERVER_PID" "${extra[@]}")
            cmd="taskset -c $CLIENT_CPU $RWS_BIN ${args[*]}"
            limit=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", d + w + 60 }')
            wait_quiet
            measure_start
            output=$(timeout -k 5 "$limit" taskset -c "$CLIENT_CPU" "$RWS_BIN" "${args[@]}" \
                2>"$LOGS/bench.stderr")
            rc=$?
            measure_end >"$LOGS/other"
            other=$(<"$LOGS/other")
            if record "$server" "$rep" "$cmd" "$config_json" "$output" "$rc" "$other"; then
                jq -r 'def r: if type == "number" then . * 100 | round / 100 else "?" end;
                       "   rep \(.rep) \(.server): \(.messages_per_sec | floor) msg/s, " +
                       "p99 \(.latency_us.p99 | r) us, server \(.server_cpu_us_per_msg | r) us/msg, " +
                       "saturated \(.saturated), others \(.other_cpu_pct)% CPU"' \
                    <<<"$(tail -1 "$OUT")"
            fi
            cat "$LOGS/bench.stderr" >>"$LOGS/$server.bench.log" 2>/dev/null
        done
    done
done
for server in $SERVERS; do
    stop_server "$server"
done

# Idle connections last, each run on a freshly started server: its memory
# is then not inflated by the load runs' buffers.
echo "== $IDLE idle connections"
config_json=$(jq -cn --argjson c "$IDLE" '{mode: "idle", connections: $c}')
for rep in $(seq "$IDLE_REPS"); do
    for server in $(rotated "$rep" "$SERVERS"); do
        if ! start_server "$server"; then
            SERVER_PID=
            record "$server" "$rep" "" "$config_json" "" nostart
            continue
        fi
        SERVER_PID=${PID[$server]}
        args=(bench "ws://127.0.0.1:${PORT[$server]}/" --idle "$IDLE" --server-pid "$SERVER_PID"
            --json)
        cmd="taskset -c $CLIENT_CPU $RWS_BIN ${args[*]}"
        wait_quiet
        measure_start
        output=$(timeout -k 5 120 taskset -c "$CLIENT_CPU" "$RWS_BIN" "${args[@]}" \
            2>"$LOGS/bench.stderr")
        rc=$?
        measure_end >"$LOGS/other"
        other=$(<"$LOGS/other")
        if record "$server" "$rep" "$cmd" "$config_json" "$output" "$rc" "$other"; then
            jq -r '"   rep \(.rep) \(.server): \(.opened) opened, " +
                   "\(.kib_per_connection * 100 | round / 100) KiB/conn, " +
                   "\(.handshakes_per_sec | floor) handshakes/s, others \(.other_cpu_pct)% CPU"' \
                <<<"$(tail -1 "$OUT")"
        fi
        cat "$LOGS/bench.stderr" >>"$LOGS/$server.bench.log" 2>/dev/null
        stop_server "$server"
    done
done
# Where the servers' CPU time goes (bench/profile.sh): kernel, own code,
# libc. Skipped without perf or with PROFILE=0.
if [[ "${PROFILE:-1}" != 0 ]] && command -v perf >/dev/null; then
    echo "== profiles: ${PROFILE_SERVERS:=rws fastwebsockets}"
    for server in $PROFILE_SERVERS; do
        wait_quiet
        JSON=1 RWS_BIN=$RWS_BIN bench/profile.sh "$server" | tee -a "$OUT" |
            jq -r '"   \(.server), \(.config): " + (.shares | to_entries | map("\(.key) \(.value)%") | join(", "))'
    done
fi
elapsed=$(( $(date +%s) - started ))
echo "== runs took $((elapsed / 60)) min $((elapsed % 60)) s; results in $OUT"

if [[ "${REPORT:-1}" != 0 ]]; then
    python3 bench/report.py "$OUT" -o BENCHMARKS.md && echo "== wrote BENCHMARKS.md"
fi
