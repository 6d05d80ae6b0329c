#!/usr/bin/env bash
# `rws serve --redis`: the tests of chat rooms shared by several nodes
# (crates/rws-cli/tests/scale_out.rs), which start Debian's redis-server
# and three `rws serve` nodes on loopback ports of their own. `cargo test`
# skips them (#[ignore]: they need redis-server); this installs Redis when
# it is missing (scale-out/install-redis.sh) and runs them.
#
#   scale-out/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scale-out/install-redis.sh
cargo test --locked -p rws-cli --test scale_out -- --ignored
