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

# 6. A/B updates (docs/update.md), when RAUC is in the image: its system.conf for this board (compatible
#    string, the two slots with their boot files, the boot-slots backend, the status file on /data), the
#    keyring (the CA certificate bundles must chain to: ORBITAL_UPDATE_KEYRING, default the development CA of
#    image/update-keys.sh) and the /usr/bin/rauc wrapper that finds RAUC's private bus.
if [ -e "$target/usr/bin/rauc" ] || [ -e "$target/usr/lib/rauc/rauc" ]; then
  keyring=${ORBITAL_UPDATE_KEYRING:-$(bash "$repo/image/update-keys.sh")/ca.cert.pem}
  [ -s "$keyring" ] || { echo "post-build: no update keyring $keyring" >&2; exit 1; }
  if [ -e "$target/usr/bin/rauc" ] && head -c4 "$target/usr/bin/rauc" | grep -q ELF; then
    mkdir -p "$target/usr/lib/rauc"
    mv "$target/usr/bin/rauc" "$target/usr/lib/rauc/rauc"
  fi
  install -m 0755 "$repo/board/common/rauc-wrapper" "$target/usr/bin/rauc"
  install -D -m 0644 "$keyring" "$target/etc/rauc/keyring.pem"
  cat >"$target/etc/rauc/system.conf" <<EOF2
# RAUC's view of this board (board/common/post-build.sh writes it from board/$BOARD_ID/meta; docs/update.md).
[system]
compatible=$UPDATE_COMPATIBLE
bootloader=custom
bundle-formats=verity
statusfile=/data/rauc/status.raucs
mountprefix=/run/rauc/mnt

[handlers]
bootloader-custom-backend=/usr/lib/orbital/update/boot-slots

[keyring]
path=/etc/rauc/keyring.pem
check-purpose=codesign

# The root file system slots (squashfs written whole) and, as their children, the slots' folders on the boot
# partition (kernel, initramfs, command line), written by the bundle's install hook (image/bundle-hook).
[slot.rootfs.0]
device=/dev/disk/by-partlabel/rootfs-a
type=raw
bootname=a

[slot.rootfs.1]
device=/dev/disk/by-partlabel/rootfs-b
type=raw
bootname=b

[slot.boot.0]
parent=rootfs.0
device=/boot/a
type=raw

[slot.boot.1]
parent=rootfs.1
device=/boot/b
type=raw
EOF2
fi
