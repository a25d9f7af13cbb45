#!/usr/bin/env bash
# Installs the build and test dependencies that are missing: Debian packages (as root, through apt-get) and
# the npm tree (npm ci, re-run when package-lock.json changed). Nothing is downloaded from outside the Debian
# archive and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build and the tests use. python3-grpcio and python3-protobuf: the standard-client interop
# test (test/interop) runs Debian's grpcio against the daemon through reflection, from /usr/bin/python3.
# nftables: the firewall data plane runs `nft`; test/dataplane/nftables.test.ts runs it in network namespaces
# made with iproute2 and sends traffic with ping (iputils-ping).
# libmnl-dev: the rtnetlink addon (native/rtnetlink) links libmnl; test/dataplane/rtnetlink.test.ts and
# bench/route-install.mjs drive network namespaces with iproute2.
# tmux: test/cli/orbctl-shell.test.ts drives `orbctl shell` through a real pseudo-terminal.
# clang + libbpf-dev: the XDP fast path (native/xdp: the BPF program, compiled with clang -target bpf, and the
# addon that links libbpf); bpftool: test/dataplane/xdp-fast-path.test.ts and bench/xdp-fast-path.mjs read
# the pinned maps and links with it, independently of the daemon.
packages=(python3 make g++ git python3-grpcio python3-protobuf nftables iproute2 iputils-ping libmnl-dev tmux clang libbpf-dev bpftool)
# qemu-user-static and the arm64 cross runtime (libc, libstdc++, libgcc in /usr/aarch64-linux-gnu, no multiarch):
# `npm run build:sea -- --arch aarch64` makes the aarch64 executable's code cache with the arm64 node under qemu-user
# (docs/build.md), and test/sea runs that executable under qemu-user.
packages+=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)
# The offline image (image/build-image.sh, docs/image.md): squashfs-tools (root file system), genimage (the
# GPT disk from board/common/genimage.cfg), dosfstools + mtools (its FAT boot partition), e2fsprogs (its ext4
# data partition), kmod (depmod), cpio + xz-utils (initramfs), zstd, binutils (readelf: the shared-library
# check). qemu-system-x86: qemu/run-x86_64.sh, test/qemu and bench/image.mjs boot it (TCG).
packages+=(squashfs-tools genimage dosfstools mtools e2fsprogs kmod cpio xz-utils zstd binutils qemu-system-x86)
# The aarch64 image (board/aarch64): its addons and supervisor cross-compiled (gcc/g++-aarch64-linux-gnu),
# qemu-system-arm boots it (qemu/run-aarch64.sh, test/qemu). Its arm64 packages, and the arm64 libmnl the
# rtnetlink addon links, are only downloaded (apt-get download pkg:arm64, image/build-image.sh), which needs
# arm64 in apt's lists: the multiarch setup below. Nothing of arm64 is installed, on purpose: libmnl-dev:arm64
# would pull in libc6:arm64, whose /usr/lib/aarch64-linux-gnu/libc.so.6 qemu-aarch64-static -L
# /usr/aarch64-linux-gnu then loads with the cross ld.so of another glibc build: the arm64 node hangs.
packages+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-system-arm)
# UEFI firmware with which qemu/run.sh boots the images the way a board does (firmware, then the boot
# loader on the disk): ovmf (x86_64), qemu-efi-aarch64 (aarch64).
packages+=(ovmf qemu-efi-aarch64)
# rauc + dbus + openssl: image/build-bundle.sh signs update bundles with rauc (verity format; openssl makes
# the development CA); test/update drives Debian's RAUC 1.8 (its D-Bus service on a private dbus-daemon,
# loop devices through util-linux's losetup).
packages+=(rauc dbus openssl util-linux)
# runit: the package service supervises add-on packages with runsvdir, runsv, chpst, sv and svlogd (the image has
# BusyBox's applets of the same names); test/packages runs them for real, with util-linux's setpriv.
packages+=(runit)
# python3-kconfiglib: Buildroot-tree checks of the kernel and package configuration (docs/buildroot.md).
packages+=(python3-kconfiglib)
missing=()
arm64_added=
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "install-deps: dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
  arm64_added=1
fi
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the build tools; the image and the daemon use Node 24 from the npm tree. A machine may carry
# its own Node.js outside dpkg, which is fine.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ] || [ -n "$arm64_added" ]; then
  echo "install-deps: apt-get update${missing[*]:+, apt-get install ${missing[*]}}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

stamp=node_modules/.orbital-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi
