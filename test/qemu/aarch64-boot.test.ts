// Proves: the aarch64 image (Debian arm64 packages, the arm64 Node 24 single executable, cross-built addons and supervisor) boots under
// QEMU (TCG, virt) to a serial login on ttyAMA0; admin's orbctl shell reports aarch64 and sees two virtio NICs and commits an address and a
// route that the kernel then has (ip as root); after kill -9 the supervisor restarts orbitald, which re-applies the route deleted behind
// its back; a fast-path drop list on eth0 drops in XDP (counters move) and detaching unpins it; the configuration survives a reboot (data
// partition, found by its GPT name); with that partition's file system wiped, the next boot says so on the console, at login and in `orbctl
// system health`; poweroff (PSCI) ends QEMU with status 0.
// Topology: one VM, eth0/eth1 on QEMU user networks, throw-away disk. The scenario: ./boot-scenario.ts (one VM at a time on the machine).
import { bootScenario } from "./boot-scenario.js";

bootScenario({ name: "aarch64", architecture: /aarch64/ });
