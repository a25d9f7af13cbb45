#!/usr/bin/env bash
# `npm run build`: type-checks, builds the native addons (explicitly: dependency install scripts may be
# skipped by npm), and bundles the executables with esbuild into dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "build: typecheck"
tsc -p tsconfig.json

echo "build: native addons"
make -s -C native
mkdir -p dist/native
cp native/build/"$(uname -m)"/*.node dist/native/

echo "build: bundle"
node scripts/bundle.mjs
