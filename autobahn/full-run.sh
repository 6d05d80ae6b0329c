#!/usr/bin/env bash
# Runs ALL 517 Autobahn cases (1.* to 13.*, including the slow
# permessage-deflate cases that CI leaves out) against the library in both
# roles, the two roles side by side, and writes autobahn/FULL_RUN.md: the
# commit it built (in full, on a line `Commit: ...` that
# autobahn/check-full-run.sh reads), the counts taken from the reports, and
# the suite's summaries. Nothing in that file is written by hand.
#
#   autobahn/full-run.sh            (about 45 minutes on 2 cores)
#
# Refuses a tree with uncommitted changes, whose results would belong to no
# commit (ALLOW_DIRTY=1 for a trial; the file then says so).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${RWS_SHARED:-$ROOT/../shared}"
RUN="$SHARED/autobahn/run.sh"
OUT="$ROOT/target/autobahn-full"
SUMMARY="$ROOT/autobahn/FULL_RUN.md"
cd "$ROOT"
COMMIT="$(git rev-parse HEAD)"
DIRTY=
if ! git diff --quiet HEAD || [ -n "$(git ls-files --others --exclude-standard)" ]; then
  if [ "${ALLOW_DIRTY:-}" != 1 ]; then
    echo "full-run.sh: the tree has uncommitted changes: commit them (or ALLOW_DIRTY=1 for a trial)" >&2
    exit 2
  fi
  DIRTY=" (with uncommitted changes: a trial, not a result)"
fi
cargo build --release --locked -p rws --example autobahn_server --example autobahn_client
"$SHARED/autobahn/install.sh" >&2
rm -rf "$OUT"
mkdir -p "$OUT"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
target/release/examples/autobahn_server "127.0.0.1:$PORT" 2>"$OUT/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT

START=$SECONDS
( status=0
  "$RUN" server "ws://127.0.0.1:$PORT" --cases '*' --timeout 5000 --agent rws-server \
    --out "$OUT/server" >"$OUT/server.txt" 2>&1 || status=$?
  echo "$status" >"$OUT/server.status"
  echo $((SECONDS - START)) >"$OUT/server.time" ) &
SERVER_ROLE=$!
( status=0
  "$RUN" client --cases '*' --timeout 5000 --agent rws-client --out "$OUT/client" \
    -- target/release/examples/autobahn_client >"$OUT/client.txt" 2>&1 || status=$?
  echo "$status" >"$OUT/client.status"
  echo $((SECONDS - START)) >"$OUT/client.time" ) &
CLIENT_ROLE=$!
wait "$SERVER_ROLE" "$CLIENT_ROLE"

# The counts, from the reports themselves.
python3 - "$OUT" >"$OUT/counts.txt" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
total_ok = True
for role in ("server", "client"):
    index = json.loads((out / role / "index.json").read_text())
    (cases,) = index.values()
    counts = {}
    for r in cases.values():
        counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
    closes_bad = sum(r["behaviorClose"] in ("FAILED", "UNCLEAN") for r in cases.values())
    passed = counts.get("OK", 0) + counts.get("INFORMATIONAL", 0)
    total_ok &= passed == len(cases) and closes_bad == 0
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"- {role}: {len(cases)} cases, {passed} OK or INFORMATIONAL ({detail}); "
          f"{closes_bad} FAILED/UNCLEAN closes")
print("- verdict: " + ("every case OK or INFORMATIONAL in both roles" if total_ok else "NOT all passed"))
PY

{
  echo "# Autobahn TestSuite: full run, all cases, both roles"
  echo
  echo "Written by \`autobahn/full-run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, both roles at once."
  echo "The examples were built at this commit$DIRTY:"
  echo
  echo "Commit: \`$COMMIT\`"
  echo
  echo "CI runs groups 1-10 and part of 12-13 on every commit; this run has every case."
  echo "\`autobahn/check-full-run.sh\` (in CI) fails when the code that decides protocol"
  echo "behaviour changed after this commit."
  echo
  cat "$OUT/counts.txt"
  echo
  echo "| role | time |"
  echo "| --- | ---: |"
  echo "| server (examples/autobahn_server.rs) | $(cat "$OUT/server.time") s |"
  echo "| client (examples/autobahn_client.rs) | $(cat "$OUT/client.time") s |"
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
[ "$(cat "$OUT/server.status")" = 0 ] && [ "$(cat "$OUT/client.status")" = 0 ] &&
  grep -q "verdict: every case" "$OUT/counts.txt"
