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
echo "== image"
# The x86_64 disk image that test/qemu boots (also builds the single executable and the supervisor when
# stale); a no-op when nothing it is made from changed.
bash image/build-image.sh --board x86_64
echo "== tests"
npx vitest run "$@"
