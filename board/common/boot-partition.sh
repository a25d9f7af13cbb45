#!/usr/bin/env bash
# Lays out the files of the boot partition (the EFI system partition, genimage's boot.vfat) in a folder, for
# the offline assembler (image/build-image.sh) and a Buildroot post-image step alike:
#   EFI/BOOT/<BOOTLOADER_NAME>   the boot loader (systemd-boot) on the removable-media path, which UEFI
#                                firmware starts without a boot entry of its own
#   loader/loader.conf           no `default` line (systemd-boot boots the first entry in its order: the
#                                primary slot, overlay/usr/lib/orbital/update/boot-slots says how); no menu
#                                unless a key is held; no command line editor
#   loader/entries/a.conf        slot A, good, generation 1 (written by boot-slots init: a/vmlinuz,
#                                a/initrd.img, a/cmdline.txt with root=PARTLABEL=rootfs-a rauc.slot=a)
#   a/vmlinuz a/initrd.img a/cmdline.txt a/version
# Slot B (b/, empty here, and its entry, root=PARTLABEL=rootfs-b) is written by the first update (docs/update.md).
#
# usage: board/common/boot-partition.sh OUT_DIR BOARD_DIR BOOTLOADER_EFI KERNEL INITRD [VERSION]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

out=${1:?usage: boot-partition.sh OUT_DIR BOARD_DIR BOOTLOADER_EFI KERNEL INITRD [VERSION]}
board_dir=${2:?} loader=${3:?} kernel=${4:?} initrd=${5:?} version=${6:-}
# shellcheck source=../x86_64/meta
. "$board_dir/meta"
cmdline=$(cat "$board_dir/cmdline.txt")

rm -rf "$out"
# (b/ stays empty until an update fills it: RAUC wants its slot's folder to exist.)
mkdir -p "$out/EFI/BOOT" "$out/loader/entries" "$out/a" "$out/b"
install -m 0644 "$loader" "$out/EFI/BOOT/$BOOTLOADER_NAME"
install -m 0644 "$kernel" "$out/a/vmlinuz"
install -m 0644 "$initrd" "$out/a/initrd.img"
echo "$cmdline" >"$out/a/cmdline.txt"
echo "$version" >"$out/a/version"
# No `default`: a default line makes systemd-boot boot an entry with no tries left (systemd issue 31215).
# timeout 0: straight to the first entry; holding a key at power-on shows the menu (the other slot, firmware
# setup). editor no: the console cannot change the kernel command line (init=/bin/sh would bypass every login).
cat >"$out/loader/loader.conf" <<EOF
timeout 0
editor no
console-mode keep
EOF
ORBITAL_ESP=$out sh "$repo/overlay/usr/lib/orbital/update/boot-slots" init a

# An update writes the other slot's folder while this one stays (image/bundle-hook): the partition must hold
# two slots' files. With a quarter to spare (FAT clusters, a bigger kernel in a later release).
slot_kib=$(du -sk "$out/a" | cut -f1)
rest_kib=$(($(du -sk "$out" | cut -f1) - slot_kib))
size_kib=$(numfmt --from=iec "$BOOT_SIZE")
size_kib=$((size_kib / 1024))
need_kib=$(((rest_kib + 2 * slot_kib) * 5 / 4))
if [ "$need_kib" -gt "$size_kib" ]; then
  echo "boot-partition: BOOT_SIZE=$BOOT_SIZE ($size_kib KiB) cannot hold two slots' boot files ($slot_kib KiB each) with room: $need_kib KiB needed" >&2
  exit 1
fi
