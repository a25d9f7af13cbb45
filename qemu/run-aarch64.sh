#!/usr/bin/env bash
# Boots the aarch64 image in QEMU: qemu/run.sh --board aarch64 (--help there: --smoke, --fresh, --snapshot, ...).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" --board aarch64 "$@"
