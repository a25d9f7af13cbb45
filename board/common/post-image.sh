#!/usr/bin/env bash
# Buildroot's post-image step of every board (BR2_ROOTFS_POST_IMAGE_SCRIPT, with BR2_ROOTFS_POST_SCRIPT_ARGS
# = the board folder): the disk image from the same genimage config as the offline assembler
# (board/common/genimage.cfg, sizes and root partition type from the board's meta; the boot partition laid
# out by board/common/boot-partition.sh), named orbital-<board>.img.
#
# usage: post-image.sh BINARIES_DIR BOARD_DIR
# Inputs in BINARIES_DIR: the kernel (bzImage or Image), rootfs.squashfs and the UEFI boot loader (the meta's
# BOOTLOADER_NAME, any case, in efi-part/EFI/BOOT/, where Buildroot's boot loaders put it; or the file named
# by ORBITAL_BOOTLOADER_EFI). Results there: orbital-<board>.img, and vmlinuz, initrd.img, cmdline.txt for a
# direct kernel boot (QEMU), as the offline assembler leaves them.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
images=${1:?usage: post-image.sh BINARIES_DIR BOARD_DIR}
board_dir=${2:?usage: post-image.sh BINARIES_DIR BOARD_DIR}
# shellcheck source=../x86_64/meta
. "$board_dir/meta"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 1700000000)}
die() { echo "post-image: $*" >&2; exit 1; }

kernel=
for k in bzImage Image; do
  if [ -f "$images/$k" ]; then kernel=$images/$k; break; fi
done
[ -n "$kernel" ] || die "no kernel (bzImage, Image) in $images"
loader=${ORBITAL_BOOTLOADER_EFI:-$(find "$images/efi-part/EFI/BOOT" -maxdepth 1 -iname "$BOOTLOADER_NAME" 2>/dev/null | head -1)}
[ -f "$loader" ] || die "no boot loader: neither $images/efi-part/EFI/BOOT/$BOOTLOADER_NAME nor ORBITAL_BOOTLOADER_EFI (docs/buildroot.md)"

input=$images/genimage-input
rm -rf "$input" "$images/genimage.tmp" "$images/genimage.root"
mkdir -p "$input" "$images/genimage.root"
cp "$images/rootfs.squashfs" "$input/rootfs.squashfs"
# The kernel has the boot drivers built in (board/*/linux.fragment), so the initramfs is empty: a cpio with no
# /init makes the kernel mount root= (PARTLABEL=rootfs-a) itself. The file stays because a slot is
# vmlinuz + initrd.img + cmdline.txt on every build (the boot loader entries and the updates use them).
printf '' | cpio -o -H newc -R 0:0 --reproducible --quiet >"$images/initrd.img"
cp "$kernel" "$images/vmlinuz"
cp "$board_dir/cmdline.txt" "$images/cmdline.txt"
version=$(sed -n 's/^VERSION_ID=//p' "$images/../target/usr/lib/os-release" 2>/dev/null || true)
bash "$repo/board/common/boot-partition.sh" "$input/boot" "$board_dir" "$loader" "$images/vmlinuz" "$images/initrd.img" "$version"
find "$input" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

export BOOT_SIZE ROOTFS_SIZE DATA_SIZE ROOTFS_PARTITION_TYPE E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
genimage --config "$repo/board/common/genimage.cfg" --inputpath "$input" --outputpath "$images" \
  --rootpath "$images/genimage.root" --tmppath "$images/genimage.tmp"
mv "$images/orbital.img" "$images/orbital-$BOARD_ID.img"
rm -rf "$images/genimage.tmp" "$images/genimage.root"
