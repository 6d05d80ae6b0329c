#!/usr/bin/env bash
# Installs cargo-mutants (from crates.io, the version MUTANTS.md was
# measured with) unless that version is already on PATH.
set -euo pipefail
VERSION=27.1.0
if cargo mutants --version 2>/dev/null | grep -qF "$VERSION"; then
  exit 0
fi
echo "mutants/install.sh: installing cargo-mutants $VERSION (about 2 minutes)" >&2
cargo install --locked cargo-mutants --version "$VERSION"
