#!/usr/bin/env bash
# Boots a board's image in QEMU with the serial console on this terminal (Ctrl-A X quits QEMU; Ctrl-A C
# toggles the QEMU monitor). Builds what is missing first: Debian packages and the npm tree
# (scripts/install-deps.sh), the single executable, the supervisor and the image (image/build-image.sh,
# a no-op when its inputs did not change). Machine, CPU, memory and QEMU binary come from board/NAME/meta;
# qemu/run-x86_64.sh and qemu/run-aarch64.sh are this script with --board.
#
# usage: qemu/run.sh [--board NAME] [--smoke] [--fresh] [--snapshot] [--no-build] [--image DIR] [--disk FILE]
#                    [--rest-port N] [--boot firmware|kernel] [--append ARGS] [--accel tcg|kvm] [-- QEMU ARGS...]
#   --board NAME   board/NAME (default x86_64)
#   --smoke        boot, log in as admin on the console, run `orbctl system version`, power off; exit 0/1
#   --fresh        start from the built image again (the run disk keeps /data between runs otherwise)
#   --snapshot     write nothing to the disk file: changes live until QEMU exits (reboots keep them)
#   --no-build     boot what is there; do not install or build anything
#   --image DIR    the build output to boot (default build/images/NAME)
#   --disk FILE    the disk the VM writes (default build/run/NAME/orbital-NAME.img, a copy of the image)
#   --rest-port N  host port forwarded to the guest's REST port 8443 on 127.0.0.1 (default 18443; 0: none)
#   --boot HOW     firmware (default): UEFI firmware starts the disk's boot loader, which boots slot A, as on
#                  a real board; kernel: QEMU loads the image's vmlinuz and initrd.img itself (-kernel,
#                  -initrd, -append: no firmware or boot loader, a few seconds sooner under TCG)
#   --append ARGS  more kernel command line (e.g. orbital.data=tmpfs); implies --boot kernel
#   --accel A      tcg (default: nested KVM does not work on the CI machines; aarch64 on an x86 host is TCG
#                  anyway) or kvm
# Network: eth0 and eth1 are virtio NICs on QEMU user-mode networks (eth0 with the REST port forward, eth1
# isolated: restrict=on). Firmware boot keeps the firmware's variable store beside the disk (<disk>.efivars,
# from the meta's QEMU_FIRMWARE_VARS template).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

board=x86_64 smoke= fresh= snapshot= build=1 image_dir= disk= rest_port=${ORBITAL_QEMU_REST_PORT:-18443}
boot=firmware append= accel=${ORBITAL_QEMU_ACCEL:-tcg} extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --board) board=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --fresh) fresh=1; shift ;;
    --snapshot) snapshot=1; shift ;;
    --no-build) build=; shift ;;
    --image) image_dir=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    --rest-port) rest_port=$2; shift 2 ;;
    --boot) boot=$2; shift 2 ;;
    --append) append=$2; boot=kernel; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
[ -f "board/$board/meta" ] || { echo "run: no board $board (board/$board/meta)" >&2; exit 2; }
# shellcheck source=../board/x86_64/meta
. "board/$board/meta"
image_dir=${image_dir:-$repo/build/images/$BOARD_ID}

if [ -n "$build" ]; then
  bash scripts/install-deps.sh >&2
  bash image/build-image.sh --board "$BOARD_ID" --out "$image_dir" >&2
fi

if [ -n "$smoke" ]; then
  # The smoke check drives this same script (--no-build --snapshot) through the serial-console driver.
  exec node qemu/smoke.mjs --board "$BOARD_ID" --image "$image_dir" --accel "$accel"
fi

image=$image_dir/orbital-$BOARD_ID.img
case "$boot" in
  firmware) need=("$image" "$QEMU_FIRMWARE_CODE" "$QEMU_FIRMWARE_VARS") ;;
  kernel) need=("$image" "$image_dir/vmlinuz" "$image_dir/initrd.img" "$image_dir/cmdline.txt") ;;
  *) echo "run: --boot firmware or kernel, not $boot" >&2; exit 2 ;;
esac
for f in "${need[@]}"; do
  [ -f "$f" ] || { echo "run: $f is missing (run without --no-build, or image/build-image.sh --board $BOARD_ID)" >&2; exit 1; }
done

if [ -n "$snapshot" ]; then
  disk=${disk:-$image}
else
  # The VM writes its own copy: the built image stays pristine, /data survives from one run to the next.
  disk=${disk:-$repo/build/run/$BOARD_ID/orbital-$BOARD_ID.img}
  mkdir -p "$(dirname "$disk")"
  if [ -n "$fresh" ] || [ ! -f "$disk" ] || [ "$image" -nt "$disk" ]; then
    [ -f "$disk" ] && [ -z "$fresh" ] && echo "run: the image was rebuilt; starting from it again (/data is reset)" >&2
    cp --sparse=always "$image" "$disk"
    rm -f "$disk.efivars"
  fi
fi
if [ "$boot" = firmware ]; then
  # The firmware's variable store: a throw-away overlay of the template with --snapshot, else a copy that
  # lives as long as the disk copy does.
  if [ -n "$snapshot" ]; then
    vars=(-drive "if=pflash,format=raw,file=$QEMU_FIRMWARE_VARS,snapshot=on")
  else
    [ -f "$disk.efivars" ] || cp "$QEMU_FIRMWARE_VARS" "$disk.efivars"
    vars=(-drive "if=pflash,format=raw,file=$disk.efivars")
  fi
  boot_args=(-drive "if=pflash,format=raw,readonly=on,file=$QEMU_FIRMWARE_CODE" "${vars[@]}")
else
  boot_args=(-kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img" -append "$(cat "$image_dir/cmdline.txt") $append")
fi

wan=user,id=wan
[ "$rest_port" != 0 ] && wan+=",hostfwd=tcp:127.0.0.1:$rest_port-:8443"
# Every device is virtio on PCI(e): q35 and virt both have a PCIe host bridge, and the initramfs and
# BOARD_MODULES of both boards carry virtio_pci.
args=(
  -name "orbital-$BOARD_ID"
  -machine "$QEMU_MACHINE" -accel "$accel" -cpu "$QEMU_CPU" -smp "$QEMU_SMP" -m "$QEMU_MEMORY"
  -nodefaults -no-user-config -display none -serial mon:stdio
  "${boot_args[@]}"
  -drive "file=$disk,format=raw,if=none,id=disk,cache=unsafe${snapshot:+,snapshot=on}"
  -device virtio-blk-pci,drive=disk
  -netdev "$wan" -device virtio-net-pci,netdev=wan,mac=52:54:00:4f:52:01
  -netdev user,id=lan,restrict=on -device virtio-net-pci,netdev=lan,mac=52:54:00:4f:52:02
  -device virtio-rng-pci
)
# The board's watchdog (the meta's QEMU_WATCHDOG): when a trial boot after an update stops feeding it, QEMU
# resets the VM, as the board's watchdog would (docs/update.md).
[ -z "${QEMU_WATCHDOG:-}" ] || args+=(-device "$QEMU_WATCHDOG")
exec "$QEMU_SYSTEM" "${args[@]}" "${extra[@]}"
