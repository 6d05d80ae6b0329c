#!/usr/bin/env bash
# The instruction table of BENCHMARKS.md: user-space instructions per
# echoed message of every echo server of bench/servers (and raw TCP),
# counted by callgrind with bench/instructions.sh (exact message counts, so
# a rerun agrees within about 0.1 %), at 16 B, 1 KiB and 16 KiB, binary, 100
# connections at depth 1. Installs valgrind with apt-get if it is missing.
#
#   bench/instructions-table.sh          # ~30 minutes (tokio-tungstenite is slow under valgrind)
#   SIZES="16 1KiB" SERVERS="rws raw" REPORT=0 bench/instructions-table.sh
#
# The table replaces the part of BENCHMARKS.md between the instructions
# markers (REPORT=0: it is only printed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZES=${SIZES:-"16 1KiB 16KiB"}
SERVERS=${SERVERS:-"raw fastwebsockets tokio-websockets tungstenite yawc rws"}

if ! command -v valgrind >/dev/null; then
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends valgrind \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends valgrind; }
fi
cargo build --release --locked -p rws-cli
cargo build --release --manifest-path bench/servers/Cargo.toml

ROWS=$(mktemp -t rws-instructions.XXXXXX)
trap 'rm -f "$ROWS"' EXIT
for size in $SIZES; do
  for server in $SERVERS; do
    line=$(bench/instructions.sh "bench/servers/target/release/echo-$server" -c 100 -s "$size" --binary | tail -1)
    count=$(echo "$line" | grep -oE '^[0-9,]+' | tr -d ,)
    echo "$size $server $count" | tee -a "$ROWS"
  done
done

python3 - "$ROWS" "${REPORT:-1}" "$(git rev-parse --short HEAD)" "$SERVERS" "$SIZES" <<'EOF'
import sys
rows_path, report, commit, servers, sizes = sys.argv[1:]
servers, sizes = servers.split(), sizes.split()
names = {"raw": "raw TCP echo", "fastwebsockets": "fastwebsockets",
         "tokio-websockets": "tokio-websockets", "tungstenite": "tokio-tungstenite",
         "yawc": "yawc", "rws": "rws"}
counts = {}
for line in open(rows_path):
    size, server, n = line.split()
    counts[(size, server)] = int(n)
peers = [s for s in servers if s not in ("raw", "rws")]
head = "| payload | " + " | ".join(names.get(s, s) for s in servers) + " | rws / leanest peer |"
rule = "|---|" + "--:|" * (len(servers) + 1)
lines = [head, rule]
for size in sizes:
    cells = [f"{counts[(size, s)]:,}" for s in servers]
    ratio = ""
    if "rws" in servers and peers:
        lean = min(peers, key=lambda s: counts[(size, s)])
        ratio = f"{counts[(size, 'rws')] / counts[(size, lean)]:.2f}× ({names.get(lean, lean)})"
    label = size.replace("KiB", " KiB") if "KiB" in size else f"{size} B"
    lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
text = (
    "<!-- instructions:begin (bench/instructions-table.sh writes this part) -->\n"
    "## Instructions per message (callgrind)\n\n"
    f"`bench/instructions-table.sh` at `{commit}`: user-space instructions per echoed message "
    "of each echo server under valgrind's callgrind, 100 connections at depth 1, binary; "
    "`rws bench --messages` sends exactly 200 and then 1,000 messages on each connection and the "
    "two counts are subtracted, so that start-up, handshakes and ends cancel out (a rerun agrees "
    "within about 0.1 %). On loopback the kernel's share, which callgrind does not count, is the "
    "same for every server; this is the part a library controls.\n\n"
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
