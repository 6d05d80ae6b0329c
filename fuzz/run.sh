#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), starting from the
# committed seeds in seeds/<target>/ and growing corpus/<target>/ (ignored
# by git). Installs cargo-fuzz first if it is missing.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# TOOLCHAIN picks the rustup toolchain: nightly when it is installed,
# otherwise the default one with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs
# nightly-only flags such as -Zsanitizer; RUSTC_BOOTSTRAP is the documented
# way to allow them on a stable compiler). Crashing inputs are saved under
# artifacts/<target>/ (kept by CI as the reproducer); the script goes on
# with the other targets and exits non-zero if any target failed.
set -euo pipefail

seconds="${1:-60}"
shift || true
cd "$(dirname "$0")"
if [ -z "${TOOLCHAIN:-}" ]; then
    if cargo +nightly --version >/dev/null 2>&1; then
        TOOLCHAIN=nightly
    else
        TOOLCHAIN="$(rustup default | cut -d' ' -f1)"
        export RUSTC_BOOTSTRAP=1
    fi
fi
toolchain="$TOOLCHAIN"
echo "fuzzing with the $toolchain toolchain${RUSTC_BOOTSTRAP:+ (RUSTC_BOOTSTRAP=1)}"

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
