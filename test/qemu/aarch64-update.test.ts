// Proves: A/B updates of the aarch64 image under QEMU (TCG, virt, UEFI firmware, systemd-boot, i6300esb watchdog), driven by orbctl
// on the serial console: signed verity bundles made by image/build-bundle.sh are refused when signed by another CA, tampered with or
// made for another board, with both slots' bytes unchanged; a power cut in the middle of an install leaves the box booting slot A,
// its bytes untouched, and a new install works; the update to N+1 boots slot B on trial and is blessed by the guard once orbitald
// is healthy, configuration intact, A still good; bundles that fail their trial (orbitald never answers, a kernel panic, a root that
// does not mount, a hard hang) each end with the box back on the previous slot by itself, the other marked bad with the reason.
// Topology: one VM, eth0/eth1 on QEMU user networks, its own disk copy, a second virtio disk with the bundles. The scenario:
// ./update-scenario.ts (one VM at a time on the machine).
import { updateScenario } from "./update-scenario.js";

updateScenario({ name: "aarch64" });
