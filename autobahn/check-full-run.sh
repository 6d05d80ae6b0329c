#!/usr/bin/env bash
# Fails when the code that decides protocol behaviour (the core, the
# adapters, the Autobahn examples, their manifests) changed after the commit
# autobahn/FULL_RUN.md was measured on, so that the full-run figures README
# quotes are always those of the code in the tree: rerun
# autobahn/full-run.sh and commit its FULL_RUN.md. Test-only files of the
# core (crates/rws-proto/src/connection/tests/) do not count.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() {
  echo "check-full-run.sh: $*" >&2
  exit 1
}
COMMIT=$(sed -n 's/^Commit: `\([0-9a-f]\{40\}\)`$/\1/p' autobahn/FULL_RUN.md | head -n 1)
[ -n "$COMMIT" ] || die "autobahn/FULL_RUN.md has no 'Commit: \`<40 hex digits>\`' line (write it with autobahn/full-run.sh)"
grep -q "verdict: every case OK or INFORMATIONAL in both roles" autobahn/FULL_RUN.md ||
  die "autobahn/FULL_RUN.md does not record every case passing"
if ! git cat-file -e "$COMMIT^{commit}" 2>/dev/null; then
  if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    echo "check-full-run.sh: WARNING: $COMMIT is not in this shallow clone's history; not checked" >&2
    exit 0
  fi
  die "autobahn/FULL_RUN.md names commit $COMMIT, which is not in this repository"
fi
CHANGED=$(git diff --name-only "$COMMIT" -- \
  crates/rws-proto/src crates/rws-proto/Cargo.toml \
  crates/rws/src crates/rws/Cargo.toml \
  crates/rws/examples/autobahn_server.rs crates/rws/examples/autobahn_client.rs \
  ':(exclude)crates/rws-proto/src/connection/tests')
if [ -n "$CHANGED" ]; then
  echo "check-full-run.sh: changed since the full Autobahn run (${COMMIT:0:12}):" >&2
  echo "$CHANGED" | sed 's/^/  /' >&2
  die "run autobahn/full-run.sh (about 45 minutes) and commit autobahn/FULL_RUN.md"
fi
echo "check-full-run.sh: autobahn/FULL_RUN.md is for ${COMMIT:0:12}; the protocol code has not changed since"
