#!/usr/bin/env bash
# Shared post-build step of every board, for the offline assembler (image/build-image.sh) and for Buildroot
# (BR2_ROOTFS_POST_BUILD_SCRIPT, which calls it with TARGET_DIR): fills a staged root file system with the
# overlay/ folder, the Orbital binaries when given, and what the board's meta says (module list, console,
# release). It reads data only; it downloads nothing and touches nothing outside TARGET_DIR.
#
# usage: board/common/post-build.sh TARGET_DIR [BOARD_DIR]
#   BOARD_DIR               default $BOARD_DIR, then board/x86_64
#   ORBITAL_SEA_DIR         the single-executable tree (bin/orbital, lib/orbital/*.node); unset: skip
#                           (Buildroot's orbital package installs it)
#   ORBITAL_SUPERVISE       the orbital-supervise executable; unset: skip
#   ORBITAL_PACKAGE_KEYS    a directory of package signing public keys (*.pem; *.key.pem, private halves,
#                           are never taken) for /etc/orbital/package-keys; unset: none
#   ORBITAL_VERSION         version written to /etc/os-release (default: package.json's)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target=${1:?usage: post-build.sh TARGET_DIR [BOARD_DIR]}
board_dir=${2:-${BOARD_DIR:-$repo/board/x86_64}}
[ -d "$target" ] || { echo "post-build: no directory $target" >&2; exit 1; }
# shellcheck source=../x86_64/meta
. "$board_dir/meta"

# 1. The overlay (one for all boards). Buildroot copies BR2_ROOTFS_OVERLAY itself; copying again is harmless.
cp -a "$repo/overlay/." "$target/"

# 2. Mount points and the places that live on the data partition.
mkdir -p "$target"/{proc,sys,dev,run,tmp,var,data,boot,mnt,etc/orbital}
# (a folder of that name, e.g. Buildroot's skeleton /root, would otherwise get the link inside it)
rm -rf "${target:?}/root" "${target:?}/home"
ln -sfn /data/root "$target/root"
ln -sfn /data/home "$target/home"
chmod 0600 "$target/usr/lib/orbital/factory/shadow"

# 3. Orbital's executables: the multi-call binary, its names, its addons, the supervisor.
if [ -n "${ORBITAL_SEA_DIR:-}" ]; then
  install -D -m 0755 "$ORBITAL_SEA_DIR/bin/orbital" "$target/usr/bin/orbital"
  ln -sfn orbital "$target/usr/bin/orbitald"
  ln -sfn orbital "$target/usr/bin/orbctl"
  mkdir -p "$target/usr/lib/orbital"
  cp -a "$ORBITAL_SEA_DIR/lib/orbital/." "$target/usr/lib/orbital/"
  # Node.js's licence, which ships with the runtime inside the executable
  [ ! -d "$ORBITAL_SEA_DIR/share" ] || { mkdir -p "$target/usr/share"; cp -a "$ORBITAL_SEA_DIR/share/." "$target/usr/share/"; }
fi
if [ -n "${ORBITAL_SUPERVISE:-}" ]; then
  install -D -m 0755 "$ORBITAL_SUPERVISE" "$target/usr/sbin/orbital-supervise"
fi

# 3b. The package signing keys the image trusts (docs/packages.md): public halves only.
if [ -n "${ORBITAL_PACKAGE_KEYS:-}" ]; then
  mkdir -p "$target/etc/orbital/package-keys"
  for key in "$ORBITAL_PACKAGE_KEYS"/*.pem; do
    case "$key" in *.key.pem) continue ;; esac
    [ -e "$key" ] && install -m 0644 "$key" "$target/etc/orbital/package-keys/$(basename "$key")"
  done
fi

# 4. Modules rcS loads whatever the hardware: the names (not the path globs) of board/common/modules. The
#    board's BOARD_MODULES (drivers) load when their device is there, through its modalias.
{
  echo "# Loaded at boot by /etc/init.d/rcS; written by board/common/post-build.sh from board/common/modules."
  grep -v -e '^#' -e '^kernel/' -e '^[[:space:]]*$' "$repo/board/common/modules"
} >"$target/etc/orbital/modules"

# 5. Release information.
version=${ORBITAL_VERSION:-$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo/package.json")}
cat >"$target/etc/os-release" <<EOF
NAME="Orbital OS"
ID=orbital
PRETTY_NAME="Orbital OS $version ($BOARD_NAME)"
VERSION_ID=$version
VARIANT_ID=$BOARD_ID
EOF
