#!/usr/bin/env bash
# Installs Debian's redis-server (with redis-tools: redis-cli) with apt-get
# when either is missing; used by scale-out/run.sh, bridge/run.sh and
# bench/fanout.sh. Does nothing when both are there.
set -uo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  exit 0
fi
echo "installing redis-server (Debian package)"
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
{ $SUDO apt-get install -y -qq redis-server ||
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq redis-server; }; } >/dev/null || {
  echo "cannot install redis-server" >&2
  exit 1
}
