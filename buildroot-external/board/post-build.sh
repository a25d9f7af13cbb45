#!/usr/bin/env bash
# Buildroot's second post-build script, after board/common/post-build.sh (BR2_ROOTFS_POST_BUILD_SCRIPT).
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
