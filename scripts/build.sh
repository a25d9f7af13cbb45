#!/usr/bin/env bash
# `npm run build`: type-checks, builds the native addons (explicitly: dependency install scripts may be
# skipped by npm), generates the OpenAPI document of the REST API (dist/openapi.json), and bundles the
# executables with esbuild into dist/ (the daemon embeds the OpenAPI document).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "build: typecheck"
tsc -p tsconfig.json

echo "build: native addons"
make -s -C native
mkdir -p dist/native
# Copy then rename: overwriting a .node in place would crash any daemon that has it mapped.
# (with the BPF object the xdp addon loads)
for addon in native/build/"$(uname -m)"/*.node native/build/"$(uname -m)"/*.bpf.o; do
  cp "$addon" "dist/native/.$(basename "$addon").tmp" && mv "dist/native/.$(basename "$addon").tmp" "dist/native/$(basename "$addon")"
done

echo "build: openapi"
tsx scripts/gen-openapi.ts

echo "build: bundle"
node scripts/bundle.mjs

# The example package, signed with the development key (generated into build/package-keys/ when missing).
echo "build: example package"
tsx scripts/build-package.ts examples/blocklist-sync --bundle examples/blocklist-sync/src/main.ts
