#!/usr/bin/env bash
# The offline image assembler: builds a board's disk image from Debian 12 binary packages (apt-get download,
# dpkg-deb -x), the Orbital single executable and supervisor, overlay/ and the board's data, with no other
# download. It is what CI and QEMU boot; a release build uses Buildroot with the same overlay, post-build
# script and genimage config. SOURCE_DATE_EPOCH (default: the last commit's time) fixes every timestamp:
# the same inputs give the same bytes (image/check-reproducible.sh proves it).
#
# usage: image/build-image.sh [--board NAME] [--out DIR] [--work DIR] [--force]
#   --board NAME   board/NAME (default x86_64)
#   --out DIR      where the results go (default build/images/NAME)
#   --work DIR     scratch space (default build/work/NAME); package cache: build/cache/debs/<arch>
#   --force        rebuild even when the inputs did not change since the last build into --out
# ORBITAL_VERSION overrides package.json's version (image/build-bundle.sh --version builds N+1 that way).
# ORBITAL_ROOTFS_COMPRESSION overrides the meta's ROOTFS_COMPRESSION (mksquashfs -comp ...), for experiments.
# Inputs: ORBITAL_SEA_DIR (default dist/sea/<arch>, brought up to date with scripts/build-sea.mjs --if-stale)
# and ORBITAL_SUPERVISE (default native/build/<arch>/orbital-supervise, brought up to date with make -C native).
# ORBITAL_PACKAGE_KEYS: the package signing public keys the image trusts (default build/package-keys, the
# development key of npm run build).
# Results in --out: orbital-<board>.img (the disk), vmlinuz, initrd.img, cmdline.txt (direct kernel boot),
# rootfs.squashfs, packages.txt (the Debian packages and versions used), SHA256SUMS.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

args=("$@")
board=x86_64 out= work= force=
while [ $# -gt 0 ]; do
  case "$1" in
    --board) board=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

board_dir=$repo/board/$board
[ -f "$board_dir/meta" ] || { echo "build-image: no board $board (board/$board/meta)" >&2; exit 2; }
# shellcheck source=../board/x86_64/meta
. "$board_dir/meta"
out=$(mkdir -p "${out:-build/images/$board}" && cd "${out:-build/images/$board}" && pwd)
work=$(mkdir -p "${work:-build/work/$board}" && cd "${work:-build/work/$board}" && pwd)
cache=$repo/build/cache/debs/$DEBIAN_ARCH
mkdir -p "$cache"
# One build at a time on this machine (tests running in parallel may each ask for the image): the others
# wait here, then find it up to date.
exec 9>"$repo/build/.build-image.lock"
flock 9

started=$SECONDS
log() { echo "build-image: [$((SECONDS - started)) s] $*"; }
die() { echo "build-image: $*" >&2; exit 1; }

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 1700000000)}
export LC_ALL=C TZ=UTC
umask 022

# A foreign board (aarch64 on an amd64 host) takes its packages through dpkg multiarch (apt-get download
# pkg:arm64, nothing installed) and its binaries from the cross compilers; depmod, mksquashfs, genimage and
# readelf do not care about the target's architecture.
tools=(apt-get dpkg-deb mksquashfs genimage mkfs.vfat mcopy mke2fs depmod cpio xz readelf)
apt_arch= cross=
if [ "$(dpkg --print-architecture)" != "$DEBIAN_ARCH" ]; then
  dpkg --print-foreign-architectures | grep -qx "$DEBIAN_ARCH" ||
    die "board $board needs Debian $DEBIAN_ARCH packages: dpkg --add-architecture $DEBIAN_ARCH (bash scripts/install-deps.sh does it)"
  apt_arch=:$DEBIAN_ARCH
  cross=$ARCH-linux-gnu-
  tools+=("${cross}gcc" "${cross}g++")
fi
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || die "$tool is missing: bash scripts/install-deps.sh installs it"
done

# apt's lists must know the board's architecture (a fresh machine, or arm64 just added).
if ! apt-cache show --no-all-versions "busybox-static$apt_arch" >/dev/null 2>&1; then
  log "apt-get update"
  apt-get update -qq
fi

# ---- inputs: the Orbital binaries -------------------------------------------------------------------------
sea=${ORBITAL_SEA_DIR:-$repo/dist/sea/$ARCH}
supervise=${ORBITAL_SUPERVISE:-$repo/native/build/$ARCH/orbital-supervise}
# Package signing keys the image trusts: the development key npm run build made (docs/packages.md).
package_keys=${ORBITAL_PACKAGE_KEYS:-$repo/build/package-keys}
# The target's libmnl and libbpf for the cross build of the rtnetlink and xdp addons: libmnl0, libmnl-dev,
# libbpf1, libbpf-dev and libbpf's own libraries (libelf1, zlib1g) of DEBIAN_ARCH, downloaded and unpacked,
# not installed (scripts/install-deps.sh says why), into build/cross/<arch>/sysroot.
cross_sysroot() {
  local dir=$repo/build/cross/$DEBIAN_ARCH p v want= get=()
  for p in libmnl0 libmnl-dev libbpf1 libbpf-dev libelf1 zlib1g; do
    v=$(apt-cache show --no-all-versions "$p$apt_arch" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$v" ] || die "package $p$apt_arch is unknown to apt (apt-get update?)"
    want+="$p $v;" get+=("$p$apt_arch=$v")
  done
  if [ "$(cat "$dir/.packages" 2>/dev/null)" != "$want" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/debs" "$dir/sysroot"
    (cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root "${get[@]}" >/dev/null) || die "apt-get download ${get[*]} failed"
    for f in "$dir"/debs/*.deb; do dpkg-deb -x "$f" "$dir/sysroot"; done
    echo "$want" >"$dir/.packages"
  fi
  echo "$dir/sysroot"
}

# Our own outputs are brought up to date (each a no-op when its sources did not change); given ones are taken
# as is. make first: it also builds the addons (cross-compiled for a foreign board) that the SEA tree carries.
if [ -z "${ORBITAL_SUPERVISE:-}" ] || [ -z "${ORBITAL_SEA_DIR:-}" ]; then
  if [ -n "$cross" ]; then
    sysroot=$(cross_sysroot)
    make -s -C native CC="${cross}gcc" CXX="${cross}g++" OUT="build/$ARCH" \
      CXXFLAGS="-O2 -isystem $sysroot/usr/include" \
      LDFLAGS="-L$sysroot/usr/lib/$ARCH-linux-gnu -Wl,-rpath-link,$sysroot/usr/lib/$ARCH-linux-gnu -Wl,-rpath-link,$sysroot/lib/$ARCH-linux-gnu"
  else
    make -s -C native
  fi
fi
if [ -z "${ORBITAL_SEA_DIR:-}" ]; then
  node scripts/build-sea.mjs --if-stale --arch "$ARCH" >/dev/null
fi
[ -x "$sea/bin/orbital" ] || die "no single executable at $sea/bin/orbital"
[ -x "$supervise" ] || die "no supervisor at $supervise"

# ---- Debian packages: names and versions (apt's candidates on this host) -----------------------------------
kernel_pkg=$KERNEL_PACKAGE
# A metapackage (linux-image-amd64) names the versioned kernel package it depends on (foreign: name:arch).
dep=$(apt-cache depends "$kernel_pkg$apt_arch" 2>/dev/null | sed -n 's/^  Depends: \(linux-image-[0-9][^:]*\).*$/\1/p' | head -1)
[ -n "$dep" ] && kernel_pkg=$dep
mapfile -t pkg_lines < <(grep -v -e '^#' -e '^[[:space:]]*$' image/debian-packages | sed 's/[[:space:]]*#.*//')
# The kernel and the boot loader go to the boot partition, the listed packages into the root file system.
pkgs=("$kernel_pkg" "$BOOTLOADER_PACKAGE")
for line in "${pkg_lines[@]}"; do pkgs+=("${line%% *}"); done

manifest=$work/packages.txt
# One apt-cache call for all (each call reads the whole package cache).
declare -A version
while read -r p v; do version[$p]=$v; done < <(
  apt-cache show --no-all-versions "${pkgs[@]/%/$apt_arch}" 2>/dev/null | awk '/^Package: /{p=$2} /^Version: /{print p, $2}'
)
: >"$manifest.new"
need=()
for p in "${pkgs[@]}"; do
  v=${version[$p]:-}
  [ -n "$v" ] || die "package $p is unknown to apt (apt-get update?)"
  f="${p}_${v//:/%3a}_$DEBIAN_ARCH.deb"
  [ -f "$cache/$f" ] || f="${p}_${v//:/%3a}_all.deb"
  [ -f "$cache/$f" ] || need+=("$p$apt_arch=$v")
  echo "$p $v" >>"$manifest.new"
done
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get download ${need[*]}"
  if ! (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "${need[@]}" >/dev/null); then
    # The archive moved on since apt's lists were fetched (a security update replaced a version): refresh
    # them and start again, once.
    [ -z "${ORBITAL_APT_UPDATED:-}" ] || die "apt-get download failed"
    log "apt-get download failed: apt-get update, then again"
    apt-get update -qq
    exec env ORBITAL_APT_UPDATED=1 bash "$0" "${args[@]}"
  fi
fi
# Versions no longer used leave the cache.
for f in "$cache"/*.deb; do
  [ -e "$f" ] || continue
  b=$(basename "$f")
  grep -qxF "${b%%_*} $(echo "$b" | cut -d_ -f2 | sed 's/%3a/:/')" "$manifest.new" || rm -f "$f"
done
deb_of() { # package version -> cached .deb path
  local f="$cache/${1}_${2//:/%3a}_$DEBIAN_ARCH.deb"
  [ -f "$f" ] || f="$cache/${1}_${2//:/%3a}_all.deb"
  [ -f "$f" ] || die "download of $1 $2 failed"
  echo "$f"
}
while read -r p v; do
  echo "$p $v $(sha256sum "$(deb_of "$p" "$v")" | cut -d' ' -f1)"
done <"$manifest.new" >"$manifest"
rm -f "$manifest.new"

# The CA certificate update bundles must chain to (the image's RAUC keyring): given, or the development CA.
update_keyring=${ORBITAL_UPDATE_KEYRING:-$(bash image/update-keys.sh)/ca.cert.pem}
export ORBITAL_UPDATE_KEYRING=$update_keyring

# ---- up to date? -----------------------------------------------------------------------------------------
inputs_id=$(
  {
    echo "$SOURCE_DATE_EPOCH ${ORBITAL_ROOTFS_COMPRESSION:-} ${ORBITAL_VERSION:-}"
    cat "$manifest"
    (cd "$sea" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    sha256sum <"$supervise"
    cat "$package_keys"/*.pem 2>/dev/null | grep -v PRIVATE || true
    sha256sum <"$update_keyring"
    find overlay board/common "$board_dir" image -type f -print0 | sort -z | xargs -0 sha256sum
    find overlay -type l -printf '%p -> %l\n' | sort
  } | sed "s|$repo/||g" | sha256sum | cut -d' ' -f1
)
img=$out/orbital-$board.img
if [ -z "$force" ] && [ -f "$img" ] && [ "$(cat "$out/.inputs" 2>/dev/null)" = "$inputs_id" ]; then
  log "$img is up to date"
  exit 0
fi
rm -f "$out/.inputs"

# ---- unpack ----------------------------------------------------------------------------------------------
log "unpacking ${#pkgs[@]} packages"
rm -rf "$work/rootfs" "$work/initramfs" "$work/input" "$work/genimage"
mkdir -p "$work/debs"
# Each package is unpacked once per version (the kernel takes a while) into debs/<package>.
while read -r p v sum; do
  [ "$(cat "$work/debs/$p/.deb-sha256" 2>/dev/null)" = "$sum" ] && continue
  rm -rf "$work/debs/$p"
  mkdir -p "$work/debs/$p"
  dpkg-deb -x "$(deb_of "$p" "$v")" "$work/debs/$p"
  echo "$sum" >"$work/debs/$p/.deb-sha256"
done <"$manifest"
for d in "$work/debs"/*; do grep -q "^$(basename "$d") " "$manifest" || rm -rf "$d"; done

# ---- root file system: merged /usr, the listed paths of each package -------------------------------------
rootfs=$work/rootfs
mkdir -p "$rootfs"/usr/{bin,sbin,lib,lib64}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$rootfs/$d"; done

# Copies a package's path into the root, moving /bin, /sbin, /lib, /lib64 under /usr.
take() { # pkgdir path
  local src=$1/${2%\?} rel=${2%\?}
  if [ ! -e "$src" ] && [ ! -L "$src" ]; then
    case "$2" in *\?) return 0 ;; esac # optional: PATH? (lib64? of libc6: amd64 only)
    die "$(basename "$1") has no $2"
  fi
  case "$rel" in bin | bin/* | sbin | sbin/* | lib | lib/* | lib64 | lib64/*) rel=usr/$rel ;; esac
  mkdir -p "$rootfs/$(dirname "$rel")"
  if [ -d "$src" ] && [ ! -L "$src" ]; then
    mkdir -p "$rootfs/$rel"
    cp -a "$src/." "$rootfs/$rel/"
  else
    cp -a "$src" "$rootfs/$rel"
  fi
}
for line in "${pkg_lines[@]}"; do
  read -r p paths <<<"$line"
  if [ "$paths" = "*" ]; then
    for top in "$work/debs/$p"/*; do take "$work/debs/$p" "$(basename "$top")"; done  # the glob skips .deb-sha256
  else
    set -f # (PATH? is no glob)
    for path in $paths; do take "$work/debs/$p" "$path"; done
    set +f
  fi
done
# Nothing reads these at run time; of the documentation only the licences (copyright files) stay.
find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$rootfs"/usr/share/{man,info,locale,lintian,bug,gdb,gcc} "$rootfs"/usr/lib/*/gconv

# BusyBox applets: a link for each, where no real program (ip from iproute2, ...) took the name.
bb=$rootfs/usr/bin/busybox
# (Run it: natively, or a foreign one under qemu-user; else the host's BusyBox of the same Debian version.)
if "$bb" true 2>/dev/null; then applets=$("$bb" --list-full)
elif [ -n "$cross" ] && command -v "qemu-$ARCH-static" >/dev/null; then applets=$("qemu-$ARCH-static" "$bb" --list-full)
else applets=$(busybox --list-full); fi
for a in $applets; do
  a=${a#/}
  case "$a" in bin/* | sbin/*) a=usr/$a ;; esac
  [ "$a" = usr/bin/busybox ] && continue
  name=${a##*/}
  [ -e "$rootfs/$a" ] || [ -L "$rootfs/$a" ] || [ -e "$rootfs/usr/bin/$name" ] || [ -e "$rootfs/usr/sbin/$name" ] ||
    ln -s /usr/bin/busybox "$rootfs/$a"
done

# ---- kernel and modules ----------------------------------------------------------------------------------
kdir=$work/debs/$kernel_pkg
kver=$(basename "$(find "$kdir/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -1)")
[ -n "$kver" ] || die "no modules in $kernel_pkg"
[ -f "$kdir/lib/modules/$kver/modules.dep" ] || depmod -b "$kdir" "$kver"
mods_src=$kdir/lib/modules/$kver

# The files (relative to lib/modules/KVER) of the named modules, path globs, and everything they depend on.
module_closure() { # entries...
  local entry
  for entry in "$@"; do
    case "$entry" in
      kernel/*) (cd "$mods_src" && for f in $entry.ko; do [ -e "$f" ] && echo "$f"; done) || true ;;
      *)
        local n=${entry//-/_}
        awk -F: -v n="$n" '{ m = $1; sub(/.*\//, "", m); sub(/\.ko.*$/, "", m); gsub(/-/, "_", m); if (m == n) { print $1; found = 1 } }
          END { exit !found }' "$mods_src/modules.dep" \
          || grep -qE "/${n//_/[_-]}\.ko" "$mods_src/modules.builtin" \
          || echo "build-image: module $entry is neither in $kernel_pkg nor built in" >&2
        ;;
    esac
  done | sort -u | while read -r f; do
    echo "$f"
    sed -n "s|^$f: *||p" "$mods_src/modules.dep" | tr ' ' '\n'
  done | grep . | sort -u
}
install_modules() { # destination root, entries...
  local root=$1 dest=$1/lib/modules/$kver
  shift
  mkdir -p "$dest"
  module_closure "$@" | while read -r f; do
    mkdir -p "$dest/$(dirname "$f")"
    cp -a "$mods_src/$f" "$dest/$f"
  done
  cp -a "$mods_src"/modules.{order,builtin,builtin.modinfo} "$dest/"
  depmod -b "$root" "$kver"
}
mapfile -t common_modules < <(grep -v -e '^#' -e '^[[:space:]]*$' board/common/modules)
# shellcheck disable=SC2086
install_modules "$rootfs/usr" "${common_modules[@]}" $WATCHDOG_MODULES $BOARD_MODULES
# depmod -b wrote into usr/lib/modules; /lib is a link to it on the target.
log "kernel $kver: $(find "$rootfs/usr/lib/modules/$kver" -name '*.ko*' | wc -l) modules in the root file system"

# ---- the shared post-build step --------------------------------------------------------------------------
ORBITAL_SEA_DIR=$sea ORBITAL_SUPERVISE=$supervise ORBITAL_PACKAGE_KEYS=$package_keys bash board/common/post-build.sh "$rootfs" "$board_dir"

# ---- every shared library a program needs is in the image ------------------------------------------------
missing=$(
  find "$rootfs" -type f \( -perm -u+x -o -name '*.so*' -o -name '*.node' \) -print0 | while IFS= read -r -d '' f; do
    head -c4 "$f" | grep -q 'ELF' || continue
    readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r lib; do
      found=
      for d in usr/lib/x86_64-linux-gnu usr/lib usr/lib64 usr/lib/aarch64-linux-gnu; do
        if [ -e "$rootfs/$d/$lib" ]; then found=1; break; fi
      done
      [ -n "$found" ] || echo "${f#$rootfs/} needs $lib"
    done
  done
)
[ -z "$missing" ] || die "shared libraries missing from the image (add their packages to image/debian-packages):
$missing"

# ---- squashfs root ---------------------------------------------------------------------------------------
mkdir -p "$work/input"
find "$rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
# shellcheck disable=SC2206
squash_args=(-noappend -all-root -no-xattrs -mkfs-time "$SOURCE_DATE_EPOCH" -all-time "$SOURCE_DATE_EPOCH" -b 1M -no-progress -quiet
  -comp ${ORBITAL_ROOTFS_COMPRESSION:-$ROOTFS_COMPRESSION})
log "mksquashfs ($(du -sh "$rootfs" | cut -f1) staged)"
# (mksquashfs refuses SOURCE_DATE_EPOCH next to explicit times: the options say the same.)
env -u SOURCE_DATE_EPOCH mksquashfs "$rootfs" "$work/input/rootfs.squashfs" "${squash_args[@]}" >/dev/null

# ---- initramfs: BusyBox, the storage modules, /init, find-partition --------------------------------------
initramfs=$work/initramfs
mkdir -p "$initramfs"/{bin,sbin,etc,proc,sys,dev,newroot,lib}
cp -a "$rootfs/usr/bin/busybox" "$initramfs/bin/busybox"
for a in sh mount umount modprobe switch_root cat mkdir sleep usleep setsid cttyhack reboot tr grep watchdog; do
  ln -s busybox "$initramfs/bin/$a"
done
# shellcheck disable=SC2086
# (and the watchdog drivers, which a trial boot arms there)
install_modules "$initramfs" $INITRD_MODULES $WATCHDOG_MODULES
for m in $INITRD_MODULES $WATCHDOG_MODULES; do echo "$m"; done >"$initramfs/etc/modules"
install -m 0755 board/common/initramfs/init "$initramfs/init"
install -m 0755 overlay/usr/lib/orbital/find-partition "$initramfs/bin/find-partition"
find "$initramfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$initramfs" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
  xz --check=crc32 -9 -T1 >"$work/input/initrd.img"

# ---- boot files and the disk ------------------------------------------------------------------------------
cp "$kdir/boot/vmlinuz-$kver" "$work/input/vmlinuz"
cp "$board_dir/cmdline.txt" "$work/input/cmdline.txt"
# The boot partition's tree (boot loader, its entries, slot A's files): genimage.cfg copies input/boot/*.
bash board/common/boot-partition.sh "$work/input/boot" "$board_dir" "$work/debs/$BOOTLOADER_PACKAGE/$BOOTLOADER_FILE" \
  "$work/input/vmlinuz" "$work/input/initrd.img" "$(sed -n 's/^VERSION_ID=//p' "$rootfs/etc/os-release")"
find "$work/input" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$work/genimage/root" "$work/genimage/tmp" "$work/genimage/out"
log "genimage"
(
  export BOOT_SIZE ROOTFS_SIZE DATA_SIZE ROOTFS_PARTITION_TYPE E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
  genimage --config board/common/genimage.cfg --inputpath "$work/input" --outputpath "$work/genimage/out" \
    --rootpath "$work/genimage/root" --tmppath "$work/genimage/tmp" --loglevel 0
)

# ---- results ---------------------------------------------------------------------------------------------
rm -f "$out"/*.img "$out"/SHA256SUMS
mv "$work/genimage/out/orbital.img" "$img"
cp "$work/input"/{vmlinuz,initrd.img,cmdline.txt,rootfs.squashfs} "$out/"
cp "$manifest" "$out/packages.txt"
(cd "$out" && sha256sum "orbital-$board.img" vmlinuz initrd.img cmdline.txt rootfs.squashfs >SHA256SUMS)
echo "$inputs_id" >"$out/.inputs"
log "$img ($(du -h --apparent-size "$img" | cut -f1), squashfs $(du -h "$out/rootfs.squashfs" | cut -f1))"
