// Picks the data plane backend named by --dataplane: the Linux kernel (rtnetlink + nftables), or the
// simulation that exists for unit tests only.
import type { Logger } from "../../common/logger.js";
import type { DataplaneBackend } from "../options.js";
import type { Dataplane } from "./dataplane.js";
import { LinuxDataplane } from "./linux-dataplane.js";
import { openRtnetlink } from "./netlink/rtnetlink.js";
import { NftablesFirewall } from "./nftables/nft-apply.js";
import { SimDataplane } from "./sim-dataplane.js";

export function createDataplane(backend: DataplaneBackend, log: Logger): Dataplane {
  if (backend === "sim") return new SimDataplane();
  return new LinuxDataplane(openRtnetlink(), new NftablesFirewall(), log);
}
