// The Linux data plane. Interfaces, routes and firewall rules reach the kernel through rtnetlink and
// nftables once their services exist; until then no API can configure them, and this backend refuses any
// configuration that holds them rather than pretending to apply it.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { DataplaneError, type Dataplane } from "./dataplane.js";

export class LinuxDataplane implements Dataplane {
  readonly name = "linux";

  async apply(config: Configuration): Promise<void> {
    const first =
      config.interfaces[0] ? `interfaces[${config.interfaces[0].name}]` :
      config.routes[0] ? "routes" :
      config.firewallRules[0] ? "firewall_rules" :
      config.prefixSets[0] ? "prefix_sets" : undefined;
    if (first) throw new DataplaneError("the linux backend of this build cannot apply network configuration yet", first, "apply", "ENOTSUP");
  }
}
