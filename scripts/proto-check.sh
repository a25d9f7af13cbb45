#!/usr/bin/env bash
# The API contract gate (`npm run proto:check`): lint, breaking-change check against the committed v1
# baseline, and freshness of the generated code in src/gen/. Works on the tree it is run from, so that the
# contract tests can run it on a mutated copy.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "proto:check: buf lint"
buf lint

echo "proto:check: buf breaking against proto-baseline/v1.binpb"
buf breaking --against proto-baseline/v1.binpb

echo "proto:check: src/gen/ matches buf generate"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
buf generate --output "$fresh"
if ! diff -r "$fresh/src/gen" src/gen >"$fresh/gen.diff"; then
  head -40 "$fresh/gen.diff" >&2
  echo "proto:check: src/gen/ is stale or was edited by hand; run 'npm run proto' and commit the result" >&2
  exit 1
fi
echo "proto:check: docs/api.md catalogues match the proto"
tsx scripts/gen-docs.ts --check
echo "proto:check: ok"
