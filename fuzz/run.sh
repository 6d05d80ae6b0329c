#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), starting from the
# committed seeds in seeds/<target>/ and growing corpus/<target>/ (ignored
# by git). Installs cargo-fuzz first if it is missing.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# TOOLCHAIN (default: nightly) picks the rustup toolchain. Crashing inputs
# are saved under artifacts/<target>/; the script goes on with the other
# targets and exits non-zero if any target failed.
set -euo pipefail

seconds="${1:-60}"
shift || true
toolchain="${TOOLCHAIN:-nightly}"
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

# Build every target once up front, so that a build error stops here.
cargo "+$toolchain" fuzz build

failed=()
for target in "${targets[@]}"; do
    echo "=== $target: ${seconds}s"
    mkdir -p "corpus/$target"
    if ! cargo "+$toolchain" fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs under artifacts/)" >&2
    exit 1
fi
echo "all targets ran ${seconds}s without a crash"
