// Picks the data plane backend named by --dataplane: the Linux kernel (rtnetlink + nftables + XDP, with the
// record of what orbitald owns in the kernel under the data dir and, for XDP, its pins under bpffs), or the
// simulation that exists for unit tests only. ORBITAL_BACKEND_TIMEOUT_MS shortens the backends' deadlines
// (fault tests); ORBITAL_BPF_DIR moves the XDP pins (default /sys/fs/bpf/orbital; tests give each daemon its own).
import type { Logger } from "../../common/logger.js";
import type { Failpoints } from "../failpoints.js";
import type { DataplaneBackend } from "../options.js";
import type { Dataplane } from "./dataplane.js";
import { KernelOwnership } from "./kernel-ownership.js";
import { LinuxDataplane } from "./linux-dataplane.js";
import { withNetlinkFaults } from "./netlink/faulty-rtnetlink.js";
import { openRtnetlink } from "./netlink/rtnetlink.js";
import { NftablesFirewall } from "./nftables/nft-apply.js";
import { SimDataplane } from "./sim-dataplane.js";
import { XdpFastPath } from "./xdp/xdp-fast-path.js";

export interface DataplaneContext {
  dataDir: string;
  log: Logger;
  failpoints?: Failpoints | undefined;
  env?: NodeJS.ProcessEnv;
}

export function createDataplane(backend: DataplaneBackend, ctx: DataplaneContext): Dataplane {
  if (backend === "sim") return new SimDataplane();
  const ms = Number(ctx.env?.ORBITAL_BACKEND_TIMEOUT_MS);
  const timeoutMs = Number.isInteger(ms) && ms > 0 ? ms : undefined;
  const socket = openRtnetlink();
  return new LinuxDataplane(ctx.failpoints ? withNetlinkFaults(socket, ctx.failpoints) : socket, new NftablesFirewall(timeoutMs ? { timeoutMs } : {}), ctx.log, {
    ownership: KernelOwnership.inDataDir(ctx.dataDir, ctx.log),
    fastPath: new XdpFastPath({ log: ctx.log, failpoints: ctx.failpoints, ...(ctx.env?.ORBITAL_BPF_DIR ? { pinRoot: ctx.env.ORBITAL_BPF_DIR } : {}) }),
    ...(timeoutMs ? { netlinkTimeoutMs: timeoutMs } : {}),
  });
}
