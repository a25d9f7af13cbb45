#!/usr/bin/env bash
# Buildroot's second post-build script, after board/common/post-build.sh (BR2_ROOTFS_POST_BUILD_SCRIPT):
# turns the account links into files for Buildroot's user creation, then checks that BusyBox kept every line
# of board/busybox.fragment.
#
# overlay/ and board/common/post-build.sh make /etc/passwd, /etc/shadow, /home and /root links into /data.
# Buildroot adds the packages' users (ORBITAL_USERS) after the post-build scripts with
# support/scripts/mkusers, which edits those files with sed --follow-symlinks and creates home folders:
# through the links it would write the BUILD MACHINE's /data. So until then they are regular files (the
# factory copies) and folders; the orbital package's ORBITAL_ACCOUNTS_TO_DATA (orbital.mk) puts the links
# back in the file system image.
#
# usage: post-build.sh TARGET_DIR [BOARD_DIR]
set -euo pipefail

target=${1:?usage: post-build.sh TARGET_DIR [BOARD_DIR]}
factory=$target/usr/lib/orbital/factory

for f in passwd shadow; do
  if [ -L "$target/etc/$f" ]; then
    rm "$target/etc/$f"
    cp -p "$factory/$f" "$target/etc/$f"
  fi
done
# /home and /root: folders while Buildroot's makedevs (system/device_table.txt: /root 700) and mkusers (home
# folders) run.
for d in home root; do
  if [ -L "$target/$d" ]; then
    rm "$target/$d"
  fi
  mkdir -p "$target/$d"
done

# BusyBox's kconfig drops a fragment's line without a word when the symbol does not exist or its dependencies
# are not met: the overlay would then miss an applet or an option on this image only
# (scripts/check-busybox-usage.py checks that the fragment covers the overlay; this, that the build has what
# the fragment says). Last, so that a failure leaves the account files as Buildroot needs them for the next
# `make`. BUILD_DIR: Buildroot passes it to post-build scripts; BusyBox's final configuration is in its build
# folder.
fragment=$(dirname "${BASH_SOURCE[0]}")/busybox.fragment
busybox_config=$(ls -d "${BUILD_DIR:-/nonexistent}"/busybox-*/.config 2>/dev/null | head -1)
if [ -n "$busybox_config" ]; then
  lost=$(grep -E '^CONFIG_[A-Za-z0-9_]+=' "$fragment" | grep -vxF -f "$busybox_config" || true)
  if [ -n "$lost" ]; then
    echo "post-build: BusyBox's configuration ($busybox_config) lacks these lines of $fragment (their dependencies?):" >&2
    echo "$lost" >&2
    exit 1
  fi
fi
