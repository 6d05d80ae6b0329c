#!/usr/bin/env bash
# CI: mutation testing of what changed in the core since its last whole
# run. Every mutant cargo-mutants makes of the lines of crates/rws-proto/src
# that differ from the commit in mutants/base (written by
# mutants/whole-run.sh, whose result MUTANTS.md records) is built and
# tested with the core's tests; a mutant the tests miss fails CI, unless
# mutants/equivalent.txt names it (each entry explained in MUTANTS.md). So
# every new line of the core comes with a test that notices when it breaks.
#
# Bounded in time: at most MAX_MUTANTS (150, about 6 minutes) mutants.
# When the core has changed more than that since mutants/base, run
# mutants/whole-run.sh, record it in MUTANTS.md and commit mutants/base.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MAX_MUTANTS=${MAX_MUTANTS:-150}
die() {
  echo "in-diff.sh: $*" >&2
  exit 1
}
BASE=$(tr -d '[:space:]' < mutants/base)
[[ $BASE =~ ^[0-9a-f]{40}$ ]] || die "mutants/base does not hold a commit"
if ! git cat-file -e "$BASE^{commit}" 2>/dev/null; then
  if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    echo "in-diff.sh: WARNING: $BASE is not in this shallow clone's history; nothing mutated" >&2
    exit 0
  fi
  die "mutants/base names $BASE, which is not in this repository"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Against the working tree: uncommitted changes are mutated too. The
# core's test directory is left out (cargo-mutants never mutates tests).
git diff "$BASE" -- crates/rws-proto/src ':(exclude)crates/rws-proto/src/connection/tests' > "$TMP/core.diff"
if [ ! -s "$TMP/core.diff" ]; then
  echo "in-diff.sh: crates/rws-proto/src is as at ${BASE:0:12} (the whole run of MUTANTS.md): nothing to mutate"
  exit 0
fi
mutants/install.sh
EXCLUDE=()
while IFS= read -r line; do
  case "$line" in '#'* | '') continue ;; esac
  EXCLUDE+=(--exclude-re "$line")
done < mutants/equivalent.txt
ARGS=(-p rws-proto --in-diff "$TMP/core.diff" "${EXCLUDE[@]}")
cargo mutants "${ARGS[@]}" --list > "$TMP/list"
COUNT=$(grep -c . "$TMP/list" || true)
echo "in-diff.sh: $COUNT mutants in the core's lines changed since ${BASE:0:12}"
if [ "$COUNT" -eq 0 ]; then
  exit 0
fi
if [ "$COUNT" -gt "$MAX_MUTANTS" ]; then
  die "more than $MAX_MUTANTS: run mutants/whole-run.sh (about an hour), record it in MUTANTS.md and commit mutants/base"
fi
status=0
cargo mutants "${ARGS[@]}" --output "$TMP" --timeout 30 -j 2 -- --lib --tests || status=$?
# cargo-mutants exits with 3 when any mutant timed out, even if others were
# missed, and with 2 for missed ones alone: the outcome files decide. A
# mutant that makes the tests hang is noticed (as in MUTANTS.md's runs).
if [ -s "$TMP/mutants.out/timeout.txt" ]; then
  echo "in-diff.sh: timed out (the tests hung: noticed):"
  sed 's/^/  /' "$TMP/mutants.out/timeout.txt"
fi
if [ -s "$TMP/mutants.out/missed.txt" ]; then
  echo "in-diff.sh: missed:" >&2
  sed 's/^/  /' "$TMP/mutants.out/missed.txt" >&2
  die "a test must catch each missed mutant, or, if it is equivalent, mutants/equivalent.txt names it and MUTANTS.md explains why"
fi
case "$status" in
  0 | 3) ;;
  *) die "cargo-mutants failed with exit status $status (4: the tests fail without any mutant)" ;;
esac
echo "in-diff.sh: every mutant of the changed lines caught, timed out or unviable"
