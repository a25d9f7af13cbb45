#!/usr/bin/env bash
# Boots the x86_64 image in QEMU: qemu/run.sh --board x86_64 (--help there: --smoke, --fresh, --snapshot, ...).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" --board x86_64 "$@"
