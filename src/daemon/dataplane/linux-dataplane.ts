// The Linux data plane: makes the kernel match the configuration through rtnetlink (VLANs, link state, MTU,
// alias, addresses, routes with orbitald's protocol number) and nftables (one table of our own), in batches,
// idempotently: the same apply serves commits, restores and reconcile. It only removes what it owns: routes
// of its protocol, and VLANs and addresses it configured; everything else in the kernel is left alone.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { AdminState, InterfaceKind } from "../../gen/orbital/interface/v1/interface_pb.js";
import type { Logger } from "../../common/logger.js";
import { routeKey } from "../config/collections.js";
import { parseInterfaceAddress } from "../validation/ip.js";
import { DataplaneError, type Dataplane, type RuleCounters } from "./dataplane.js";
import { kernelRouteKey, routeSpecOf } from "./kernel-routes.js";
import { ORBITAL_ROUTE_PROTOCOL, type AddressInfo, type LinkInfo, type NetlinkEvent, type NetlinkOp, type RouteInfo, type RtnetlinkSocket } from "./netlink/rtnetlink-types.js";

/** The firewall half of the data plane (nftables). */
export interface FirewallBackend {
  apply(config: Configuration): Promise<void>;
  counters(): Promise<Map<string, RuleCounters>>;
}

const IPV6_LINK_LOCAL = /^fe[89ab][0-9a-f]:/;

function sameRoute(a: RouteInfo, b: ReturnType<typeof routeSpecOf>): boolean {
  return a.type === b.type && (a.gateway ?? "") === (b.gateway ?? "") && (a.oif ?? 0) === (b.oif ?? 0);
}

export class LinuxDataplane implements Dataplane {
  readonly name = "linux";
  /** VLAN names and "ifname|cidr" addresses this daemon configured (it removes only those). */
  private readonly ownedVlans = new Set<string>();
  private readonly ownedAddresses = new Set<string>();

  constructor(
    private readonly nl: RtnetlinkSocket,
    private readonly firewall: FirewallBackend,
    private readonly log: Logger,
  ) {}

  links(): Promise<LinkInfo[]> {
    return this.nl.listLinks();
  }

  addresses(): Promise<AddressInfo[]> {
    return this.nl.listAddresses();
  }

  routes(): Promise<RouteInfo[]> {
    return this.nl.listRoutes();
  }

  ruleCounters(): Promise<Map<string, RuleCounters>> {
    return this.firewall.counters();
  }

  subscribe(listener: (e: NetlinkEvent) => void): () => void {
    return this.nl.subscribe(listener);
  }

  close(): void {
    this.nl.close();
  }

  /** Runs a batch; throws DataplaneError naming the first failed item (the others were still attempted). */
  private async run(ops: NetlinkOp[], items: string[], operation: string): Promise<void> {
    if (ops.length === 0) return;
    const results = await this.nl.execute(ops);
    const failed = results.findIndex((r) => r.errno !== 0);
    if (failed >= 0) {
      const r = results[failed]!;
      const count = results.filter((x) => x.errno !== 0).length;
      throw new DataplaneError(`${operation} of ${items[failed]} failed: ${r.message}${count > 1 ? ` (and ${count - 1} more)` : ""}`, items[failed]!, operation, String(r.errno));
    }
  }

  async apply(config: Configuration): Promise<void> {
    const started = Date.now();
    await this.applyVlans(config);
    const links = await this.nl.listLinks();
    const byName = new Map(links.map((l) => [l.name, l]));
    await this.applyLinks(config, byName);
    await this.applyAddresses(config, byName);
    const routes = await this.applyRoutes(config, byName);
    await this.firewall.apply(config);
    this.log.debug({ ms: Date.now() - started, routes }, "data plane applied");
  }

  private async applyVlans(config: Configuration): Promise<void> {
    const links = await this.nl.listLinks();
    const byName = new Map(links.map((l) => [l.name, l]));
    const wanted = config.interfaces.filter((i) => i.kind === InterfaceKind.VLAN && i.vlan);
    const ops: NetlinkOp[] = [];
    const items: string[] = [];
    for (const name of this.ownedVlans) {
      const link = byName.get(name);
      if (link && !wanted.some((w) => w.name === name)) {
        ops.push({ op: "linkDel", ifindex: link.ifindex });
        items.push(`interfaces[${name}]`);
      }
    }
    for (const i of wanted) {
      this.ownedVlans.add(i.name);
      const existing = byName.get(i.name);
      const parent = byName.get(i.vlan!.parent);
      if (existing && existing.vlanId === i.vlan!.vlanId && existing.parentIndex === parent?.ifindex) continue;
      if (existing) {
        ops.push({ op: "linkDel", ifindex: existing.ifindex });
        items.push(`interfaces[${i.name}]`);
      }
      if (!parent) throw new DataplaneError(`parent ${i.vlan!.parent} of ${i.name} is not in the kernel`, `interfaces[${i.name}]`, "vlanAdd", "ENODEV");
      ops.push({ op: "vlanAdd", name: i.name, parentIndex: parent.ifindex, vlanId: i.vlan!.vlanId });
      items.push(`interfaces[${i.name}]`);
    }
    await this.run(ops, items, "vlan");
    for (const name of [...this.ownedVlans]) if (!wanted.some((w) => w.name === name)) this.ownedVlans.delete(name);
  }

  private async applyLinks(config: Configuration, byName: Map<string, LinkInfo>): Promise<void> {
    const ops: NetlinkOp[] = [];
    const items: string[] = [];
    for (const i of config.interfaces) {
      const link = byName.get(i.name);
      if (!link) continue; // configured but absent (hot-plug): applied when it appears and the next reconcile runs
      const op: Extract<NetlinkOp, { op: "linkSet" }> = { op: "linkSet", ifindex: link.ifindex };
      if (i.adminState !== AdminState.UNSPECIFIED && (i.adminState === AdminState.UP) !== link.up) op.up = i.adminState === AdminState.UP;
      if (i.mtu && i.mtu !== link.mtu) op.mtu = i.mtu;
      if (i.description !== link.alias) op.alias = i.description;
      if (op.up !== undefined || op.mtu !== undefined || op.alias !== undefined) {
        ops.push(op);
        items.push(`interfaces[${i.name}]`);
      }
    }
    await this.run(ops, items, "link");
  }

  private async applyAddresses(config: Configuration, byName: Map<string, LinkInfo>): Promise<void> {
    const kernel = await this.nl.listAddresses();
    const present = new Set(kernel.map((a) => `${a.ifindex}|${a.address}/${a.prefixLength}`));
    const wanted = new Map<string, { ifindex: number; family: 4 | 6; address: string; prefixLength: number; item: string }>();
    for (const i of config.interfaces) {
      const link = byName.get(i.name);
      if (!link) continue;
      for (const a of i.addresses) {
        const p = parseInterfaceAddress(a.cidr);
        if (typeof p === "string") continue; // validated at staging; never reached
        wanted.set(`${i.name}|${p.cidr}`, { ifindex: link.ifindex, family: p.family, address: p.address, prefixLength: p.prefixLength, item: `interfaces[${i.name}]` });
      }
    }
    const ops: NetlinkOp[] = [];
    const items: string[] = [];
    for (const owned of this.ownedAddresses) {
      if (wanted.has(owned)) continue;
      const [ifname, cidr] = owned.split("|") as [string, string];
      const link = byName.get(ifname);
      const p = parseInterfaceAddress(cidr);
      if (link && typeof p !== "string" && present.has(`${link.ifindex}|${p.cidr}`)) {
        ops.push({ op: "addrDel", ifindex: link.ifindex, family: p.family, address: p.address, prefixLength: p.prefixLength });
        items.push(`interfaces[${ifname}]`);
      }
      this.ownedAddresses.delete(owned);
    }
    for (const [key, a] of wanted) {
      this.ownedAddresses.add(key);
      if (present.has(`${a.ifindex}|${a.address}/${a.prefixLength}`) || IPV6_LINK_LOCAL.test(a.address)) continue;
      ops.push({ op: "addrAdd", ifindex: a.ifindex, family: a.family, address: a.address, prefixLength: a.prefixLength });
      items.push(a.item);
    }
    await this.run(ops, items, "address");
  }

  /** Replaces missing or different routes of ours, deletes ours that are no longer configured. */
  private async applyRoutes(config: Configuration, byName: Map<string, LinkInfo>): Promise<number> {
    const kernel = await this.nl.listRoutes({ protocol: ORBITAL_ROUTE_PROTOCOL });
    const installed = new Map(kernel.map((r) => [kernelRouteKey(r), r]));
    const ops: NetlinkOp[] = [];
    const items: string[] = [];
    const wanted = new Set<string>();
    for (const r of config.routes) {
      const spec = routeSpecOf(r, (name) => byName.get(name)?.ifindex);
      const key = kernelRouteKey(spec);
      wanted.add(key);
      const have = installed.get(key);
      if (have && sameRoute(have, spec)) continue;
      ops.push({ op: "routeReplace", route: spec });
      items.push(`routes[${routeKey(r)}]`);
    }
    for (const [key, r] of installed) {
      if (wanted.has(key)) continue;
      ops.push({ op: "routeDel", route: r });
      items.push(`routes[table=${r.table},destination=${r.destination}]`);
    }
    await this.run(ops, items, "route");
    return ops.length;
  }
}
