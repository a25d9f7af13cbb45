// The simulated data plane, for unit tests only: a fixed set of links (lo, eth0, eth1) plus the configured
// VLANs, "installs" what it is asked to apply, and refuses on request (ORBITAL_SIM_FAIL_ITEM names an item
// path of the interfaces, routes or firewall; any configuration holding that item gets it refused), so that
// the config engine's apply-failure and restore paths can be exercised without a kernel.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { diffConfigurations, emptyConfiguration } from "../config/collections.js";
import { parseInterfaceAddress } from "../validation/ip.js";
import { kernelRouteKey, routeSpecOf } from "./kernel-routes.js";
import { BACKENDS, backendsOfSections, DataplaneError, type ApplyOptions, type ApplyReport, type BackendName, type Dataplane, type RouteOp, type RuleCounters } from "./dataplane.js";
import { type AddressInfo, type LinkInfo, type NetlinkEvent, type OpResult, type RouteInfo } from "./netlink/rtnetlink-types.js";
import { interfaceLists } from "./xdp/fast-path-lists.js";
import type { FastPathCounterValues, FastPathInterfaceStatus } from "./xdp/xdp-fast-path.js";

const zeroStats = { rxBytes: 0n, rxPackets: 0n, rxErrors: 0n, rxDropped: 0n, txBytes: 0n, txPackets: 0n, txErrors: 0n, txDropped: 0n };
const physical = (ifindex: number, name: string, loopback = false): LinkInfo => ({
  ifindex,
  name,
  kind: "",
  loopback,
  up: true,
  operState: loopback ? 0 : 6,
  mtu: loopback ? 65536 : 1500,
  mac: loopback ? "00:00:00:00:00:00" : `52:54:00:00:00:0${ifindex}`,
  alias: "",
  stats: zeroStats,
});

/** The backend that applies a configuration item (a prefix set's first backend: nftables). */
function backendOfItem(item: string): BackendName {
  const [backend = "nftables"] = backendsOfSections([item.split("[")[0]!]);
  return backend;
}

export class SimDataplane implements Dataplane {
  readonly name = "sim";
  private current: Configuration = emptyConfiguration();
  /** Routes of the dynamic route sets, by kernel key (table, destination, metric). */
  private readonly dynamic = new Map<string, RouteInfo>();

  constructor(private readonly failItem = process.env.ORBITAL_SIM_FAIL_ITEM ?? "") {}

  async apply(config: Configuration, options: ApplyOptions = {}): Promise<ApplyReport> {
    const backends = options.backends ?? new Set(BACKENDS);
    const failures: DataplaneError[] = [];
    if (this.failItem && this.holds(config, options)) {
      failures.push(new DataplaneError(`simulated kernel refusal of ${this.failItem}`, this.failItem, "apply", "EINVAL", { backend: backendOfItem(this.failItem) }));
    }
    this.current = config;
    return { backends, failures };
  }

  /** Whether the configuration applied holds the item to refuse (route changes: one they put). */
  private holds(config: Configuration, options: ApplyOptions): boolean {
    // Route changes come on top of the configuration it holds, which the engine then updates in place.
    if (options.routeChanges) return [...options.routeChanges].some(([key, c]) => c.after && `routes[${key}]` === this.failItem);
    return diffConfigurations(emptyConfiguration(), config).some((c) => c.path === this.failItem);
  }

  async links(): Promise<LinkInfo[]> {
    const links = [physical(1, "lo", true), physical(2, "eth0"), physical(3, "eth1")];
    for (const i of this.current.interfaces) {
      const parent = links.find((l) => l.name === i.vlan?.parent);
      if (i.vlan && parent) links.push({ ...physical(links.length + 1, i.name), kind: "vlan", parentIndex: parent.ifindex, vlanId: i.vlan.vlanId });
    }
    for (const l of links) {
      const c = this.current.interfaces.find((i) => i.name === l.name);
      if (c?.mtu) l.mtu = c.mtu;
      if (c?.description) l.alias = c.description;
      if (c?.adminState === 2) l.up = false;
    }
    return links;
  }

  async addresses(): Promise<AddressInfo[]> {
    const links = await this.links();
    return this.current.interfaces.flatMap((i) =>
      i.addresses.flatMap((a) => {
        const p = parseInterfaceAddress(a.cidr);
        const link = links.find((l) => l.name === i.name);
        return typeof p === "string" || !link ? [] : [{ ifindex: link.ifindex, family: p.family, address: p.address, prefixLength: p.prefixLength, scope: 0 }];
      }),
    );
  }

  async routes(): Promise<RouteInfo[]> {
    const links = await this.links();
    const configured = this.current.routes.map((r) => ({ ...routeSpecOf(r, (name) => links.find((l) => l.name === name)?.ifindex), scope: 0 }));
    return [...configured, ...this.dynamic.values()];
  }

  async scanRoutes(protocol: number | undefined, each: (r: RouteInfo) => void): Promise<void> {
    for (const r of await this.routes()) if (protocol === undefined || r.protocol === protocol) each(r);
  }

  /** As the kernel answers: EEXIST for an add over a held key, ESRCH for removing what is not there. */
  async changeRoutes(ops: RouteOp[]): Promise<OpResult[]> {
    return ops.map((o): OpResult => {
      const key = kernelRouteKey(o.route);
      if (o.op === "routeDel") return this.dynamic.delete(key) ? { errno: 0, message: "Success" } : { errno: 3, message: "No such process" };
      if (o.op === "routeAdd" && this.dynamic.has(key)) return { errno: 17, message: "File exists" };
      this.dynamic.set(key, { ...o.route, scope: 0 });
      return { errno: 0, message: "Success" };
    });
  }

  async ruleCounters(): Promise<Map<string, RuleCounters>> {
    return new Map(this.current.firewallRules.filter((r) => r.counter).map((r) => [r.name, { packets: 0n, bytes: 0n }]));
  }

  /** The simulation has no XDP: every configured fast-path interface shows as not attached. */
  async fastPathStatus(): Promise<FastPathInterfaceStatus[]> {
    return interfaceLists(this.current).map((l) => ({ name: l.name, ifindex: undefined, mode: "not attached", counters: undefined, prefixSets: l.sets, ipv4Entries: l.v4.count, ipv6Entries: l.v6.count, notInForce: "simulated data plane" }));
  }

  fastPathCounters(): Map<string, FastPathCounterValues> {
    return new Map();
  }

  async probe(): Promise<void> {}

  subscribe(_listener: (e: NetlinkEvent) => void): () => void {
    return () => undefined;
  }

  close(): void {}
}
