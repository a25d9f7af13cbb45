// Proves: the x86_64 image boots under QEMU (TCG, q35) to a serial login on ttyS0; admin's orbctl shell reports x86_64 and sees two virtio
// NICs and commits an address and a route that the kernel then has (ip as root); after kill -9 the supervisor restarts orbitald, which
// re-applies the route deleted behind its back; a fast-path drop list on eth0 drops in XDP (counters move) and detaching unpins it; the
// configuration survives a reboot (data partition, found by its GPT name); with that partition's file system wiped, the next boot says so
// on the console, at login and in `orbctl system health`; poweroff ends QEMU with status 0.
// Topology: one VM, eth0/eth1 on QEMU user networks, throw-away disk. The scenario: ./boot-scenario.ts (one VM at a time on the machine).
import { bootScenario } from "./boot-scenario.js";

bootScenario({ name: "x86_64", architecture: /x86_64/ });
