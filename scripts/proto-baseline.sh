#!/usr/bin/env bash
# Records the current contract as the breaking-change baseline (`npm run proto:baseline`). Run it only when a
# release freezes the API (see docs/api.md, "Versioning"): buf breaking compares every later change with it.
set -euo pipefail
cd "$(dirname "$0")/.."
buf build --exclude-source-info -o proto-baseline/v1.binpb
echo "wrote proto-baseline/v1.binpb"
