#!/usr/bin/env bash
# The one test command (`npm test`, README): installs what is missing on a fresh Debian 12 machine (root),
# builds, runs the contract gate, then every test suite. Safe to run again: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== build"
npm run --silent build
echo "== proto:check"
npm run --silent proto:check
echo "== images"
# The disk images that test/qemu boots, x86_64 and aarch64 (each also builds its single executable, addons and
# supervisor when stale: aarch64's cross-compiled, its code cache made by the arm64 node under qemu-user); a
# no-op when nothing they are made from changed. Timed: the aarch64 path's share of a CI run shows in the log.
for board in x86_64 aarch64; do
  t=$SECONDS
  bash image/build-image.sh --board "$board"
  echo "image $board: $((SECONDS - t)) s"
done
echo "== tests"
npx vitest run "$@"
