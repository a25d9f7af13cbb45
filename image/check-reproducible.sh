#!/usr/bin/env bash
# Proves the offline image build is reproducible: builds the board's image (or reuses the up-to-date build in
# build/images/<board>), builds it again from scratch in another work and output folder, and compares the
# sha256 of every result (squashfs root, initramfs, kernel, command line, whole disk). Exit 0 when all are
# equal; otherwise 1, naming the files that differ.
#
# usage: image/check-reproducible.sh [--board NAME]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
board=x86_64
[ "${1:-}" = --board ] && board=$2

bash image/build-image.sh --board "$board"
again=$(mktemp -d "$repo/build/reproducible.XXXXXX")
trap 'rm -rf "$again"' EXIT
# Later, elsewhere, from nothing but the package cache: another time, another work folder.
bash image/build-image.sh --board "$board" --force --out "$again/out" --work "$again/work"

first=build/images/$board/SHA256SUMS
second=$again/out/SHA256SUMS
echo "check-reproducible: first build"
cat "$first"
if diff -u "$first" "$second"; then
  echo "check-reproducible: the two builds are byte for byte the same"
else
  echo "check-reproducible: the two builds differ (above)" >&2
  exit 1
fi
