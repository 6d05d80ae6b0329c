#!/usr/bin/env bash
# Makes the certificates of a test run in DIR, with openssl: a CA (ca.pem,
# ca.key) and a server certificate for localhost and 127.0.0.1 signed by it
# (server.pem, server.key), valid for two days, P-256 keys. Used by
# interop/run.sh, proxy/run.sh and browser/run.sh; nothing is committed.
#
#   interop/make-certs.sh DIR
set -euo pipefail
DIR=$1
mkdir -p "$DIR"
command -v openssl >/dev/null || { echo "make-certs: openssl is needed" >&2; exit 1; }
LOG="$DIR/openssl.log"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=rws test CA" -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>"$LOG"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>>"$LOG"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$DIR/server.ext"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
  -CAcreateserial -days 2 -extfile "$DIR/server.ext" -out "$DIR/server.pem" 2>>"$LOG"
