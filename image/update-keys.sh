#!/usr/bin/env bash
# The development signing keys of update bundles (docs/update.md): a CA and a code-signing certificate it
# issued, generated with openssl into build/update-keys/ (never committed) the first time they are asked for,
# and kept: images built here trust that CA (their RAUC keyring) and image/build-bundle.sh signs with it
# unless given a release key. Prints the directory. Release builds give their own CA certificate
# (ORBITAL_UPDATE_KEYRING) and signing key and certificate (build-bundle.sh --key/--cert) instead.
#
# usage: image/update-keys.sh [DIR]     (default build/update-keys; DIR/ca.cert.pem, signer.{key,cert}.pem)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$repo/build/update-keys}
mkdir -p "$dir"
exec 8>"$dir/.lock"
flock 8
if [ ! -s "$dir/signer.cert.pem" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cat >"$tmp/ext.cnf" <<'CNF'
[signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  name=$(basename "$dir")
  openssl req -x509 -newkey rsa:3072 -nodes -keyout "$tmp/ca.key.pem" -out "$tmp/ca.cert.pem" -days 3650 \
    -subj "/O=Orbital OS development/CN=$name update CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -new -newkey rsa:3072 -nodes -keyout "$tmp/signer.key.pem" -out "$tmp/signer.csr" \
    -subj "/O=Orbital OS development/CN=$name bundle signer" 2>/dev/null
  openssl x509 -req -in "$tmp/signer.csr" -CA "$tmp/ca.cert.pem" -CAkey "$tmp/ca.key.pem" -CAcreateserial \
    -days 3650 -extfile "$tmp/ext.cnf" -extensions signer -out "$tmp/signer.cert.pem" 2>/dev/null
  chmod 0600 "$tmp"/*.key.pem
  mv "$tmp/ca.key.pem" "$tmp/ca.cert.pem" "$tmp/signer.key.pem" "$dir/"
  mv "$tmp/signer.cert.pem" "$dir/signer.cert.pem" # last: its presence says the set is complete
fi
echo "$dir"
