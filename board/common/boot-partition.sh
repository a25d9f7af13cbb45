#!/usr/bin/env bash
# Lays out the files of the boot partition (the EFI system partition, genimage's boot.vfat) in a folder, for
# the offline assembler (image/build-image.sh) and a Buildroot post-image step alike:
#   EFI/BOOT/<BOOTLOADER_NAME>   the boot loader (systemd-boot) on the removable-media path, which UEFI
#                                firmware starts without a boot entry of its own
#   loader/loader.conf           default entry: slot A; no menu unless a key is held; no command line editor
#   loader/entries/a.conf        slot A: a/vmlinuz, a/initrd.img, the board's command line (root=PARTLABEL=rootfs-a)
#   a/vmlinuz a/initrd.img a/cmdline.txt
# Slot B (b/ and entries/b.conf, root=PARTLABEL=rootfs-b) is written by the update that fills rootfs-b.
#
# usage: board/common/boot-partition.sh OUT_DIR BOARD_DIR BOOTLOADER_EFI KERNEL INITRD [VERSION]
set -euo pipefail

out=${1:?usage: boot-partition.sh OUT_DIR BOARD_DIR BOOTLOADER_EFI KERNEL INITRD [VERSION]}
board_dir=${2:?} loader=${3:?} kernel=${4:?} initrd=${5:?} version=${6:-}
# shellcheck source=../x86_64/meta
. "$board_dir/meta"
cmdline=$(cat "$board_dir/cmdline.txt")

rm -rf "$out"
mkdir -p "$out/EFI/BOOT" "$out/loader/entries" "$out/a"
install -m 0644 "$loader" "$out/EFI/BOOT/$BOOTLOADER_NAME"
install -m 0644 "$kernel" "$out/a/vmlinuz"
install -m 0644 "$initrd" "$out/a/initrd.img"
echo "$cmdline" >"$out/a/cmdline.txt"
# timeout 0: straight to the default; holding a key at power-on shows the menu (slot B, firmware setup).
# editor no: the console cannot change the kernel command line (init=/bin/sh would bypass every login).
cat >"$out/loader/loader.conf" <<EOF
default a.conf
timeout 0
editor no
console-mode keep
EOF
cat >"$out/loader/entries/a.conf" <<EOF
title Orbital OS${version:+ $version} (slot A)
linux /a/vmlinuz
initrd /a/initrd.img
options $cmdline
EOF
