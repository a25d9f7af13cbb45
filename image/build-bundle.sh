#!/usr/bin/env bash
# Makes a signed RAUC update bundle (verity format) of a board from the same root file system, kernel,
# initramfs and command line as its image (image/build-image.sh's output): image class "rootfs" is the
# squashfs written whole into the other root slot, class "boot" a tar of the slot's boot files that the
# bundle's hook (image/bundle-hook) unpacks into its folder on the boot partition. The compatible string is
# the board's UPDATE_COMPATIBLE (board/NAME/meta), the version the image's VERSION_ID (/etc/os-release).
# Signing: the key and certificate given, else the development ones of image/update-keys.sh (build/update-keys,
# the CA that images built here trust); never a committed key. docs/update.md says how to sign a release.
#
# usage: image/build-bundle.sh [--board NAME] [--image DIR] [--version V] [--out FILE]
#                              [--key FILE --cert FILE [--keyring CA_FILE]]
#   --board NAME     board/NAME (default x86_64)
#   --image DIR      the image build to take (default build/images/NAME, built when missing or stale)
#   --version V      a bundle of version V: builds the image at that version (ORBITAL_VERSION=V) into
#                    build/images/NAME-V first (how the tests make N+1); not with --image
#   --out FILE       default build/bundles/orbital-NAME-VERSION.raucb
#   --key, --cert    the signing key (PEM file or PKCS#11 URI) and its certificate (extendedKeyUsage codeSigning)
#   --keyring FILE   the CA certificate the signature is checked against after signing (default: the
#                    development CA when signing with the development key; with --key, checked only if given)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

board=x86_64 image= version= out= key= cert= keyring=
while [ $# -gt 0 ]; do
  case "$1" in
    --board) board=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --cert) cert=$2; shift 2 ;;
    --keyring) keyring=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-bundle: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
die() { echo "build-bundle: $*" >&2; exit 1; }
[ -f "board/$board/meta" ] || die "no board $board (board/$board/meta)"
# shellcheck source=../board/x86_64/meta
. "board/$board/meta"
for tool in rauc unsquashfs tar; do
  command -v "$tool" >/dev/null || die "$tool is missing: bash scripts/install-deps.sh installs it"
done
[ -z "$image" ] || [ -z "$version" ] || die "--image and --version: one or the other"
{ [ -n "$key" ] && [ -n "$cert" ]; } || { [ -z "$key" ] && [ -z "$cert" ]; } || die "--key and --cert go together"
if [ -z "$key" ]; then
  keys=$(bash image/update-keys.sh)
  key=$keys/signer.key.pem cert=$keys/signer.cert.pem keyring=${keyring:-$keys/ca.cert.pem}
fi

if [ -z "$image" ]; then
  if [ -n "$version" ]; then
    image=build/images/$board-$version
    ORBITAL_VERSION=$version bash image/build-image.sh --board "$board" --out "$image" --work "build/work/$board-$version" >&2
  else
    image=build/images/$board
    bash image/build-image.sh --board "$board" --out "$image" >&2
  fi
fi
for f in rootfs.squashfs vmlinuz initrd.img cmdline.txt; do
  [ -s "$image/$f" ] || die "$image has no $f (image/build-image.sh --board $board --out $image)"
done
image_version=$(unsquashfs -cat "$image/rootfs.squashfs" etc/os-release | sed -n 's/^VERSION_ID=//p')
[ -n "$image_version" ] || die "$image/rootfs.squashfs has no VERSION_ID in /etc/os-release"
[ -z "$version" ] || [ "$version" = "$image_version" ] || die "$image is version $image_version, not $version"
version=$image_version
out=${out:-build/bundles/orbital-$board-$version.raucb}
mkdir -p "$(dirname "$out")"

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1700000000)}
stage=$(mktemp -d "${TMPDIR:-/tmp}/orbital-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/content" "$stage/boot"
ln "$image/rootfs.squashfs" "$stage/content/rootfs.squashfs" 2>/dev/null || cp "$image/rootfs.squashfs" "$stage/content/"
cp "$image/vmlinuz" "$image/initrd.img" "$image/cmdline.txt" "$stage/boot/"
echo "$version" >"$stage/boot/version"
tar -c -f "$stage/content/boot.tar" -C "$stage/boot" --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  --sort=name vmlinuz initrd.img cmdline.txt version
install -m 0755 image/bundle-hook "$stage/content/hook"
cat >"$stage/content/manifest.raucm" <<MANIFEST
[update]
compatible=$UPDATE_COMPATIBLE
version=$version
description=Orbital OS $version ($BOARD_NAME)
build=$SOURCE_DATE_EPOCH

[bundle]
format=verity

[hooks]
filename=hook

[image.rootfs]
filename=rootfs.squashfs

[image.boot]
filename=boot.tar
hooks=install
MANIFEST

# rauc on this machine needs a system.conf of its own: the keyring to check the signature against, and the
# code-signing purpose the leaf certificate has.
{
  printf '[system]\ncompatible=%s\nbootloader=noop\n' "$UPDATE_COMPATIBLE"
  [ -z "$keyring" ] || printf '[keyring]\npath=%s\ncheck-purpose=codesign\n' "$(realpath "$keyring")"
} >"$stage/system.conf"
rm -f "$out"
signing=(--cert "$cert" --key "$key")
[ -z "$keyring" ] || signing+=(--keyring "$keyring")
rauc -c "$stage/system.conf" "${signing[@]}" bundle "$stage/content" "$out" >/dev/null
[ -z "$keyring" ] || rauc -c "$stage/system.conf" info "$out" >/dev/null
echo "$out"
