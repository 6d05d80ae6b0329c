#!/usr/bin/env bash
# Mutation testing of the whole core (rws-proto) with its own tests (unit
# and integration, not the doctests): every mutant cargo-mutants makes of
# crates/rws-proto/src, each built and tested, two at a time. Takes about an
# hour on 2 cores; record the result in MUTANTS.md (counts, time, and each
# missed mutant killed by a new test or explained) and commit mutants/base,
# which this script writes: CI (mutants/in-diff.sh) mutates what changed in
# the core since that commit.
#
#   mutants/whole-run.sh               # rws-proto (the default)
#   PACKAGE=rws mutants/whole-run.sh   # the adapters, with their tests
#
# Refuses a tree with uncommitted changes (ALLOW_DIRTY=1 for trials: then
# mutants/base is not written), so that the run is of a commit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PACKAGE=${PACKAGE:-rws-proto}
OUT=${OUT:-target/mutants/$PACKAGE}
if [ -n "$(git status --porcelain --untracked-files=no)" ] && [ "${ALLOW_DIRTY:-0}" != 1 ]; then
  echo "whole-run.sh: the tree has uncommitted changes; commit them (or ALLOW_DIRTY=1 for a trial)" >&2
  exit 2
fi
mutants/install.sh
COMMIT=$(git rev-parse HEAD)
START=$SECONDS
status=0
cargo mutants -p "$PACKAGE" --output "$OUT" --timeout 30 -j 2 -- --lib --tests || status=$?
echo "whole-run.sh: $PACKAGE at $COMMIT: $((SECONDS - START)) s, cargo-mutants exit status $status"
echo "whole-run.sh: outcomes in $OUT/mutants.out (missed.txt, caught.txt, unviable.txt, timeout.txt)"
if [ "$PACKAGE" = rws-proto ] && [ -z "$(git status --porcelain --untracked-files=no)" ]; then
  echo "$COMMIT" > mutants/base
  echo "whole-run.sh: wrote mutants/base ($COMMIT); commit it with MUTANTS.md"
fi
