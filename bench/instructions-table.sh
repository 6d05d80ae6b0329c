#!/usr/bin/env bash
# The instruction table of BENCHMARKS.md: user-space instructions per
# echoed message of every echo server of bench/servers (and raw TCP), and
# of `rws serve`'s /echo (on every core, and on one thread), counted by callgrind with bench/instructions.sh
# (exact message counts, so a rerun agrees within about 0.1 %), 100
# connections at depth 1: binary at 16 B, 1 KiB and 16 KiB, text (UTF-8
# validated) at 1 KiB, and text at 1 KiB with permessage-deflate (the
# servers that implement it). Installs valgrind with apt-get if it is
# missing.
#
#   bench/instructions-table.sh          # ~80 minutes (the deflate row: ~17 per server)
#   ROWS="16:binary 1KiB:text" SERVERS="rws rws-serve raw" REPORT=0 bench/instructions-table.sh
#
# ROWS: "SIZE:KIND[:deflate]" entries. SERVERS: names of bench/servers
# binaries (echo-NAME), rws-serve for `rws serve` and rws-serve-1 for
# `rws serve --threads 1` (tokio's current-thread runtime, as the
# bench/servers programs). tokio-tungstenite
# (tungstenite) is not in the default list: under valgrind one row of it
# takes about 12 minutes, and it is not the leanest peer. The table replaces
# the part of BENCHMARKS.md between the instructions markers (REPORT=0: it
# is only printed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROWS=${ROWS:-"16:binary 1KiB:binary 16KiB:binary 1KiB:text 1KiB:text:deflate"}
SERVERS=${SERVERS:-"raw fastwebsockets tokio-websockets yawc rws rws-serve rws-serve-1"}
# The servers that implement permessage-deflate (RFC 7692).
DEFLATE_SERVERS="yawc rws rws-serve rws-serve-1"

if ! command -v valgrind >/dev/null; then
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends valgrind \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends valgrind; }
fi
# The table names the commit it measured: a clean one, recorded before the
# build (later commits while it runs do not rename it).
if [ -n "$(git status --porcelain --untracked-files=no)" ] && [ "${ALLOW_DIRTY:-0}" != 1 ]; then
  echo "instructions-table: the tree has uncommitted changes; commit them (or ALLOW_DIRTY=1 for a trial)" >&2
  exit 1
fi
COMMIT=$(git rev-parse --short HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || COMMIT="$COMMIT (uncommitted changes)"
cargo build --release --locked -p rws-cli
cargo build --release --manifest-path bench/servers/Cargo.toml

COUNTS=$(mktemp -t rws-instructions.XXXXXX)
trap 'rm -f "$COUNTS"' EXIT
for row in $ROWS; do
  IFS=: read -r size kind deflate <<<"$row"
  options=(-c 100 -s "$size" "--$kind")
  [ "${deflate:-}" = deflate ] && options+=(--deflate)
  for server in $SERVERS; do
    if [ "${deflate:-}" = deflate ] && [[ " $DEFLATE_SERVERS " != *" $server "* ]]; then
      continue
    fi
    if [ "$server" = rws-serve ]; then
      line=$(SERVER_ARGS="serve --listen 127.0.0.1:0" WS_PATH=/echo \
        bench/instructions.sh target/release/rws "${options[@]}" | tail -1)
    elif [ "$server" = rws-serve-1 ]; then
      line=$(SERVER_ARGS="serve --listen 127.0.0.1:0 --threads 1" WS_PATH=/echo \
        bench/instructions.sh target/release/rws "${options[@]}" | tail -1)
    else
      line=$(bench/instructions.sh "bench/servers/target/release/echo-$server" "${options[@]}" | tail -1)
    fi
    count=$(echo "$line" | grep -oE '^[0-9,]+' | tr -d ,)
    echo "$row $server $count" | tee -a "$COUNTS"
  done
done

python3 - "$COUNTS" "${REPORT:-1}" "$COMMIT" "$SERVERS" "$ROWS" <<'EOF'
import sys
counts_path, report, commit, servers, rows = sys.argv[1:]
servers, rows = servers.split(), rows.split()
names = {"raw": "raw TCP echo", "fastwebsockets": "fastwebsockets",
         "tokio-websockets": "tokio-websockets", "tungstenite": "tokio-tungstenite",
         "yawc": "yawc", "rws": "rws", "rws-serve": "`rws serve`",
         "rws-serve-1": "`rws serve --threads 1`"}
counts = {}
for line in open(counts_path):
    row, server, n = line.split()
    counts[(row, server)] = int(n)
ours = ("raw", "rws", "rws-serve", "rws-serve-1")
head = ("| message | " + " | ".join(names.get(s, s) for s in servers)
        + " | rws / leanest peer | `rws serve` / rws | `--threads 1` / rws |")
rule = "|---|" + "--:|" * (len(servers) + 3)
lines = [head, rule]
for row in rows:
    size, kind, *flags = row.split(":")
    cells = [f"{counts[(row, s)]:,}" if (row, s) in counts else "–" for s in servers]
    peers = [s for s in servers if s not in ours and (row, s) in counts]
    ratio = serve = serve1 = ""
    if (row, "rws") in counts and peers:
        lean = min(peers, key=lambda s: counts[(row, s)])
        ratio = f"{counts[(row, 'rws')] / counts[(row, lean)]:.2f}× ({names.get(lean, lean)})"
    if (row, "rws") in counts and (row, "rws-serve") in counts:
        serve = f"{counts[(row, 'rws-serve')] / counts[(row, 'rws')]:.2f}×"
    if (row, "rws") in counts and (row, "rws-serve-1") in counts:
        serve1 = f"{counts[(row, 'rws-serve-1')] / counts[(row, 'rws')]:.2f}×"
    label = size.replace("KiB", " KiB") if "KiB" in size else f"{size} B"
    label += f" {kind}" + (", deflate" if flags else "")
    lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {serve} | {serve1} |")
text = (
    "<!-- instructions:begin (bench/instructions-table.sh writes this part) -->\n"
    "## Instructions per message (callgrind)\n\n"
    f"`bench/instructions-table.sh` at `{commit}`: user-space instructions per echoed message "
    "of each echo server under valgrind's callgrind, 100 connections at depth 1; "
    "`rws bench --messages` sends exactly 200 and then 1,000 messages on each connection and the "
    "two counts are subtracted, so that start-up, handshakes and ends cancel out (a rerun agrees "
    "within about 0.1 %). On loopback the kernel's share, which callgrind does not count, is the "
    "same for every server; this is the part a library controls. `rws serve` is the command's "
    "/echo (connection logging, shutdown handling, limits) on tokio's multi-thread runtime, a "
    "thread per core; `rws serve --threads 1` the same on tokio's current-thread runtime, like "
    "the programs of bench/servers, so that its ratio to rws is what the command adds to the "
    "library (the multi-thread runtime's scheduling, and glibc's cancellation points in every "
    "`recv` and `send` of a process with threads, add about 200 instructions more). Deflate rows: "
    "`rws bench --deflate` (no context takeover either way), servers that implement RFC 7692 "
    "only.\n\n"
    + "\n".join(lines)
    + "\n<!-- instructions:end -->"
)
print(text)
if report == "1":
    path = "BENCHMARKS.md"
    doc = open(path).read()
    begin, end = "<!-- instructions:begin", "<!-- instructions:end -->"
    if begin in doc:
        a = doc.index(begin)
        b = doc.index(end) + len(end)
        doc = doc[:a] + text + doc[b:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    open(path, "w").write(doc)
    print(f"instructions-table: {path} updated", file=sys.stderr)
EOF
