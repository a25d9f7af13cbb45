// The Linux data plane: makes the kernel match the configuration through rtnetlink (VLANs, link state, MTU,
// alias, addresses, routes with orbitald's protocol number), nftables (one table of our own) and XDP (the
// fast-path lists, xdp/xdp-fast-path.ts), in batches,
// idempotently: the same apply serves commits, restores and reconcile. It applies every item it can and
// reports each one the kernel refused. It only removes or overwrites what it owns: routes of its protocol
// (never a route of someone else's at the same key: that is a refused item), and the VLANs and addresses it
// created; a link that leaves the configuration gets back the state it had before orbitald first touched it.
import { constants as osConstants } from "node:os";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { AdminState, InterfaceKind } from "../../gen/orbital/interface/v1/interface_pb.js";
import type { Logger } from "../../common/logger.js";
import { routeKey, rulePrefixSets } from "../config/collections.js";
import { parseInterfaceAddress } from "../validation/ip.js";
import {
  BACKENDS,
  BackendFault,
  DataplaneError,
  withDeadline,
  type ApplyOptions,
  type ApplyReport,
  type BackendName,
  type Dataplane,
  type ForeignRoute,
  type RouteChange,
  type RouteOp,
  type RuleCounters,
} from "./dataplane.js";
import { KernelOwnership, type LinkOriginal } from "./kernel-ownership.js";
import type { FastPathCounterValues, FastPathInterfaceStatus, XdpFastPath } from "./xdp/xdp-fast-path.js";
import { fastPathItem } from "./xdp/fast-path-lists.js";
import { kernelRouteKey, routeSpecOf } from "./kernel-routes.js";
import {
  ORBITAL_ROUTE_PROTOCOL,
  RouteType,
  type AddressInfo,
  type LinkInfo,
  type NetlinkEvent,
  type NetlinkOp,
  type OpResult,
  type RouteInfo,
  type RtnetlinkSocket,
} from "./netlink/rtnetlink-types.js";

/** The firewall half of the data plane (nftables): throws DataplaneError for a refused item, BackendFault otherwise. */
export interface FirewallBackend {
  apply(config: Configuration): Promise<void>;
  counters(): Promise<Map<string, RuleCounters>>;
  /** Throws BackendFault unless nft runs and answers sensibly. */
  probe(): Promise<void>;
}

export interface LinuxDataplaneOptions {
  /** What orbitald owns in the kernel; in memory only when not given. */
  ownership?: KernelOwnership;
  /** Deadline of one netlink request or batch, plus `perOpMs` per operation of the batch. */
  netlinkTimeoutMs?: number;
  /** The XDP fast path; without it, fast-path lists are refused as unsupported. */
  fastPath?: XdpFastPath;
}

const IPV6_LINK_LOCAL = /^fe[89ab][0-9a-f]:/;
/** Errnos that say the backend itself is failing (no permission, lost acks, closed socket), not one item. */
const BACKEND_ERRNOS = new Set(["EPERM", "EACCES", "ENOBUFS", "EBADF", "ETIMEDOUT"]);
const PER_OP_MS = 0.05;
const errnoNames = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
const routeTypeNames = new Map<number, string>(Object.entries(RouteType).map(([name, n]) => [n, name.toLowerCase()]));

/**
 * The configuration as nftables needs it: without the prefix sets that only fast-path lists use (no rule
 * refers to them), which XDP alone enforces. nft 1.0.6 takes ~40 s to load a million-prefix interval set and
 * minutes to list anything after, for sets no rule could match.
 */
function withoutFastPathOnlySets(config: Configuration): Configuration {
  if (config.fastPathLists.length === 0) return config;
  const ruleSets = new Set(config.firewallRules.flatMap(rulePrefixSets));
  const fastOnly = new Set(config.fastPathLists.map((l) => l.prefixSet).filter((name) => !ruleSets.has(name)));
  return fastOnly.size === 0 ? config : { ...config, prefixSets: config.prefixSets.filter((s) => !fastOnly.has(s.name)) };
}

function sameRoute(a: RouteInfo, b: ReturnType<typeof routeSpecOf>): boolean {
  return a.type === b.type && (a.gateway ?? "") === (b.gateway ?? "") && (a.oif ?? 0) === (b.oif ?? 0);
}

export class LinuxDataplane implements Dataplane {
  readonly name = "linux";
  private readonly ownership: KernelOwnership;
  private readonly timeoutMs: number;
  /** Whether the first apply may adopt configured addresses already present (see KernelOwnership.fresh). */
  private adoptPresent: boolean;

  constructor(
    private readonly nl: RtnetlinkSocket,
    private readonly firewall: FirewallBackend,
    private readonly log: Logger,
    options: LinuxDataplaneOptions = {},
  ) {
    this.ownership = options.ownership ?? new KernelOwnership(undefined);
    this.adoptPresent = this.ownership.fresh;
    this.timeoutMs = options.netlinkTimeoutMs ?? 10_000;
    this.fastPath = options.fastPath;
  }

  private readonly fastPath: XdpFastPath | undefined;

  async fastPathStatus(): Promise<FastPathInterfaceStatus[]> {
    // Interface reads ask for it too: no extra dump of the links while there is no fast path.
    if (!this.fastPath || this.fastPath.idle()) return [];
    const links = await this.links();
    return this.fastPath.status(new Map(links.map((l) => [l.name, l])));
  }

  fastPathCounters(): Map<string, FastPathCounterValues> {
    return this.fastPath?.counters() ?? new Map();
  }

  links(): Promise<LinkInfo[]> {
    return this.netlink(this.nl.listLinks(), "listing links");
  }

  addresses(): Promise<AddressInfo[]> {
    return this.netlink(this.nl.listAddresses(), "listing addresses");
  }

  routes(): Promise<RouteInfo[]> {
    return this.netlink(this.nl.listRoutes(), "listing routes");
  }

  scanRoutes(protocol: number | undefined, each: (r: RouteInfo) => void): Promise<void> {
    return this.netlink(this.nl.scanRoutes(protocol === undefined ? {} : { protocol }, each), `listing routes${protocol === undefined ? "" : ` of protocol ${protocol}`}`);
  }

  async changeRoutes(ops: RouteOp[]): Promise<OpResult[]> {
    if (ops.length === 0) return [];
    const results = await this.netlink(this.nl.execute(ops), `route batch of ${ops.length}`, ops.length);
    const fault = results.find((r) => BACKEND_ERRNOS.has(errnoNames.get(r.errno) ?? ""));
    if (fault) throw new BackendFault("rtnetlink", `route batch of ${ops.length} failed: ${fault.message}`, errnoNames.get(fault.errno));
    return results;
  }

  ruleCounters(): Promise<Map<string, RuleCounters>> {
    return this.firewall.counters();
  }

  subscribe(listener: (e: NetlinkEvent) => void, onOverrun?: () => void): () => void {
    return this.nl.subscribe(listener, onOverrun);
  }

  /**
   * rtnetlink: a dump and a change that changes nothing (RTM_NEWLINK of a link with no attribute: it still
   * needs CAP_NET_ADMIN and an answer), so that a backend that reads but cannot write is not taken as healthy.
   */
  async probe(backend: BackendName): Promise<void> {
    if (backend === "nftables") return this.firewall.probe();
    if (backend === "xdp") return this.fastPath?.probe();
    const links = await this.links();
    const any = links.find((l) => l.loopback) ?? links[0];
    if (any) await this.run([{ op: "linkSet", ifindex: any.ifindex }], [`interfaces[${any.name}]`], "probe", []);
  }

  close(): void {
    this.nl.close();
    this.fastPath?.close();
  }

  /** A netlink request within its deadline; a socket error is a BackendFault. */
  private async netlink<T>(work: Promise<T>, what: string, ops = 0): Promise<T> {
    try {
      return await withDeadline(work, this.timeoutMs + ops * PER_OP_MS, "rtnetlink", what);
    } catch (err) {
      if (err instanceof BackendFault) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new BackendFault("rtnetlink", `${what} failed: ${e.message}`, e.code);
    }
  }

  /**
   * Runs a batch and adds every refused item to `failures`. Throws BackendFault when the refusal is the
   * backend's own (EPERM, ENOBUFS, ...): then no single item is to blame.
   */
  private async run(ops: NetlinkOp[], items: string[], operation: string, failures: DataplaneError[]): Promise<boolean[]> {
    if (ops.length === 0) return [];
    const results = await this.netlink(this.nl.execute(ops), `${operation} batch of ${ops.length}`, ops.length);
    const ok: boolean[] = [];
    for (const [i, r] of results.entries()) {
      ok.push(r.errno === 0);
      if (r.errno === 0) continue;
      const errno = errnoNames.get(r.errno) ?? String(r.errno);
      if (BACKEND_ERRNOS.has(errno)) throw new BackendFault("rtnetlink", `${operation} of ${items[i]} failed: ${r.message}`, errno);
      failures.push(new DataplaneError(`${operation} of ${items[i]} failed: ${r.message}`, items[i]!, operation, errno));
    }
    return ok;
  }

  async apply(config: Configuration, options: ApplyOptions = {}): Promise<ApplyReport> {
    const backends = options.backends ?? new Set<BackendName>(BACKENDS);
    const started = Date.now();
    const failures: DataplaneError[] = [];
    if (backends.has("rtnetlink") && options.routeChanges) {
      const links = await this.links();
      await this.applyRouteChanges(options.routeChanges, new Map(links.map((l) => [l.name, l])), failures);
    } else if (backends.has("rtnetlink")) {
      try {
        await this.applyVlans(config, failures);
        const links = await this.links();
        const byName = new Map(links.map((l) => [l.name, l]));
        await this.applyLinks(config, byName, failures);
        await this.applyAddresses(config, byName, failures);
        await this.applyRoutes(config, byName, failures);
        this.adoptPresent = false;
      } finally {
        this.ownership.flush();
      }
    }
    if (backends.has("nftables")) {
      try {
        await this.firewall.apply(withoutFastPathOnlySets(config));
      } catch (err) {
        if (!(err instanceof DataplaneError)) throw err;
        failures.push(err);
      }
    }
    if (backends.has("xdp")) await this.applyFastPath(config, failures);
    this.log.debug({ ms: Date.now() - started, backends: [...backends], failures: failures.length }, "data plane applied");
    return { backends, failures };
  }

  private async applyFastPath(config: Configuration, failures: DataplaneError[]): Promise<void> {
    if (!this.fastPath) {
      for (const l of config.fastPathLists) failures.push(new DataplaneError("this data plane has no XDP fast path", fastPathItem(l.prefixSet), "xdp", "EOPNOTSUPP", { backend: "xdp" }));
      return;
    }
    failures.push(...(await this.fastPath.apply(config, async () => new Map((await this.links()).map((l) => [l.name, l])))));
  }

  private async applyVlans(config: Configuration, failures: DataplaneError[]): Promise<void> {
    const links = await this.links();
    const byName = new Map(links.map((l) => [l.name, l]));
    const wanted = config.interfaces.filter((i) => i.kind === InterfaceKind.VLAN && i.vlan);
    const ops: NetlinkOp[] = [];
    const items: string[] = [];
    const removing: string[] = [];
    for (const name of this.ownership.vlans) {
      if (wanted.some((w) => w.name === name)) continue;
      const link = byName.get(name);
      if (link) {
        ops.push({ op: "linkDel", ifindex: link.ifindex });
        items.push(`interfaces[${name}]`);
      }
      removing.push(name);
    }
    for (const i of wanted) {
      const existing = byName.get(i.name);
      const parent = byName.get(i.vlan!.parent);
      if (existing && existing.vlanId === i.vlan!.vlanId && existing.parentIndex === parent?.ifindex) {
        this.ownership.vlans.add(i.name);
        continue;
      }
      if (!parent) {
        failures.push(new DataplaneError(`parent ${i.vlan!.parent} of ${i.name} is not in the kernel`, `interfaces[${i.name}]`, "vlanAdd", "ENODEV", { waitsForLink: true }));
        continue;
      }
      if (existing && this.ownership.vlans.has(i.name)) {
        ops.push({ op: "linkDel", ifindex: existing.ifindex });
        items.push(`interfaces[${i.name}]`);
      } else if (existing) {
        failures.push(new DataplaneError(`a link named ${i.name} that orbitald did not create is in the way`, `interfaces[${i.name}]`, "vlanAdd", "EEXIST"));
        continue;
      }
      this.ownership.vlans.add(i.name);
      ops.push({ op: "vlanAdd", name: i.name, parentIndex: parent.ifindex, vlanId: i.vlan!.vlanId });
      items.push(`interfaces[${i.name}]`);
    }
    this.ownership.flush();
    const ok = await this.run(ops, items, "vlan", failures);
    for (const name of removing) {
      const i = ops.findIndex((o, n) => o.op === "linkDel" && items[n] === `interfaces[${name}]`);
      if (i < 0 || ok[i]) this.ownership.vlans.delete(name);
    }
  }

  /** What a link should look like: the configured value where one is set, else its state before orbitald. */
  private linkOp(link: LinkInfo, want: Partial<LinkOriginal>, original: LinkOriginal | undefined): Extract<NetlinkOp, { op: "linkSet" }> | undefined {
    const op: Extract<NetlinkOp, { op: "linkSet" }> = { op: "linkSet", ifindex: link.ifindex };
    const up = want.up ?? original?.up;
    const mtu = want.mtu ?? original?.mtu;
    const alias = want.alias ?? original?.alias;
    if (up !== undefined && up !== link.up) op.up = up;
    if (mtu !== undefined && mtu !== link.mtu) op.mtu = mtu;
    if (alias !== undefined && alias !== link.alias) op.alias = alias;
    return op.up !== undefined || op.mtu !== undefined || op.alias !== undefined ? op : undefined;
  }

  private async applyLinks(config: Configuration, byName: Map<string, LinkInfo>, failures: DataplaneError[]): Promise<void> {
    const ops: NetlinkOp[] = [];
    const items: string[] = [];
    const configured = new Set<string>();
    for (const i of config.interfaces) {
      configured.add(i.name);
      const link = byName.get(i.name);
      if (!link) {
        // Configured but absent (hot-plug, a renamed NIC): applied once it appears (link events).
        if (i.kind !== InterfaceKind.VLAN) failures.push(new DataplaneError(`${i.name} is not in the kernel`, `interfaces[${i.name}]`, "link", "ENODEV", { waitsForLink: true }));
        continue;
      }
      // VLANs orbitald created have no "before": they go away with their configuration.
      const own = this.ownership.vlans.has(i.name);
      if (!own) this.ownership.recordOriginal(i.name, { mtu: link.mtu, up: link.up, alias: link.alias });
      const want: Partial<LinkOriginal> = {};
      if (i.adminState !== AdminState.UNSPECIFIED) want.up = i.adminState === AdminState.UP;
      if (i.mtu) want.mtu = i.mtu;
      if (i.description) want.alias = i.description;
      else if (own) want.alias = "";
      const op = this.linkOp(link, want, own ? undefined : this.ownership.original(i.name));
      if (op) {
        ops.push(op);
        items.push(`interfaces[${i.name}]`);
      }
    }
    // Links that left the configuration (or a commit that configured them failed) get their state back.
    const restoring: string[] = [];
    for (const name of this.ownership.recordedLinks()) {
      if (configured.has(name)) continue;
      const link = byName.get(name);
      const op = link ? this.linkOp(link, {}, this.ownership.original(name)) : undefined;
      if (op) {
        ops.push(op);
        items.push(`interfaces[${name}]`);
      }
      restoring.push(name);
    }
    this.ownership.flush();
    const ok = await this.run(ops, items, "link", failures);
    for (const name of restoring) {
      const i = items.indexOf(`interfaces[${name}]`);
      if (i < 0 || ok[i]) this.ownership.forgetLink(name);
    }
  }

  private async applyAddresses(config: Configuration, byName: Map<string, LinkInfo>, failures: DataplaneError[]): Promise<void> {
    const kernel = await this.addresses();
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
    const keys: string[] = [];
    for (const owned of [...this.ownership.addresses]) {
      if (wanted.has(owned)) continue;
      const [ifname, cidr] = owned.split("|") as [string, string];
      const link = byName.get(ifname);
      const p = parseInterfaceAddress(cidr);
      if (link && typeof p !== "string" && present.has(`${link.ifindex}|${p.cidr}`)) {
        ops.push({ op: "addrDel", ifindex: link.ifindex, family: p.family, address: p.address, prefixLength: p.prefixLength });
        items.push(`interfaces[${ifname}]`);
        keys.push(owned);
      } else {
        this.ownership.addresses.delete(owned);
      }
    }
    for (const [key, a] of wanted) {
      const there = present.has(`${a.ifindex}|${a.address}/${a.prefixLength}`) || IPV6_LINK_LOCAL.test(a.address);
      // An address someone else put there stays theirs (it outlives our configuration), unless this is the
      // first start with a record and it was ours under the build that kept none.
      if (there) {
        if (this.adoptPresent) this.ownership.addresses.add(key);
        continue;
      }
      this.ownership.addresses.add(key);
      ops.push({ op: "addrAdd", ifindex: a.ifindex, family: a.family, address: a.address, prefixLength: a.prefixLength });
      items.push(a.item);
      keys.push(key);
    }
    this.ownership.flush();
    const ok = await this.run(ops, items, "address", failures);
    for (const [i, op] of ops.entries()) {
      if (op.op === "addrDel" && ok[i]) this.ownership.addresses.delete(keys[i]!);
      if (op.op === "addrAdd" && !ok[i]) this.ownership.addresses.delete(keys[i]!);
    }
  }

  /**
   * Installs missing or different routes of ours, deletes ours that are no longer configured. A route that is
   * not installed yet is added exclusively: if the kernel holds someone else's route at its key (table,
   * destination, metric), that one stays and ours is a refused item naming it.
   */
  private async applyRoutes(config: Configuration, byName: Map<string, LinkInfo>, failures: DataplaneError[]): Promise<void> {
    const kernel = await this.netlink(this.nl.listRoutes({ protocol: ORBITAL_ROUTE_PROTOCOL }), "listing routes");
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
      ops.push({ op: have ? "routeReplace" : "routeAdd", route: spec });
      items.push(`routes[${routeKey(r)}]`);
    }
    for (const [key, r] of installed) {
      if (wanted.has(key)) continue;
      ops.push({ op: "routeDel", route: r });
      items.push(`routes[table=${r.table},destination=${r.destination}]`);
    }
    await this.runRoutes(ops, items, failures);
  }

  /**
   * Only the routes a commit of single routes changes, the rest being in force already: a new one is added
   * exclusively (a foreign route at its key is a refused item, as in applyRoutes), a changed one replaced
   * (deleted and added when its kernel key changes), a removed one deleted.
   */
  private async applyRouteChanges(changes: ReadonlyMap<string, RouteChange>, byName: Map<string, LinkInfo>, failures: DataplaneError[]): Promise<void> {
    const dels: NetlinkOp[] = [];
    const delItems: string[] = [];
    const ops: NetlinkOp[] = [];
    const items: string[] = [];
    const ifindexOf = (name: string) => byName.get(name)?.ifindex;
    for (const [key, { before, after }] of changes) {
      const item = `routes[${key}]`;
      const was = before ? routeSpecOf(before, ifindexOf) : undefined;
      const spec = after ? routeSpecOf(after, ifindexOf) : undefined;
      const sameKey = was && spec && kernelRouteKey(was) === kernelRouteKey(spec);
      if (was && !sameKey) {
        dels.push({ op: "routeDel", route: was });
        delItems.push(item);
      }
      if (spec) {
        ops.push({ op: sameKey ? "routeReplace" : "routeAdd", route: spec });
        items.push(item);
      }
    }
    // A route that was not in force (refused, or removed outside orbitald) is gone already: not a refusal.
    const delFailures: DataplaneError[] = [];
    await this.run(dels, delItems, "route", delFailures);
    failures.push(...delFailures.filter((f) => f.errno !== "ESRCH" && f.errno !== "ENOENT"));
    await this.runRoutes(ops, items, failures);
  }

  /** Runs route operations; a refusal because someone else's route holds the key names that route. */
  private async runRoutes(ops: NetlinkOp[], items: string[], failures: DataplaneError[]): Promise<void> {
    const before = failures.length;
    await this.run(ops, items, "route", failures);
    const conflicts = failures.slice(before).filter((f) => f.errno === "EEXIST");
    if (conflicts.length === 0) return;
    // Name the route in the way: whose it is and what it does (a scan: the kernel may hold a full table).
    const keys = new Set(conflicts.map((f) => kernelRouteKey((ops[items.indexOf(f.item)] as Extract<NetlinkOp, { route: unknown }>).route)));
    const all: RouteInfo[] = [];
    await this.scanRoutes(undefined, (r) => {
      if (r.protocol !== ORBITAL_ROUTE_PROTOCOL && keys.has(kernelRouteKey(r))) all.push(r);
    });
    for (const f of conflicts) {
      const spec = (ops[items.indexOf(f.item)] as Extract<NetlinkOp, { route: unknown }>).route;
      const k = kernelRouteKey(spec);
      const theirs = all.find((x) => x.protocol !== ORBITAL_ROUTE_PROTOCOL && kernelRouteKey(x) === k);
      if (!theirs) continue;
      const foreign: ForeignRoute = { table: theirs.table, destination: theirs.destination, metric: theirs.priority, protocol: theirs.protocol, type: routeTypeNames.get(theirs.type) ?? String(theirs.type) };
      failures[failures.indexOf(f)] = new DataplaneError(
        `a route orbitald does not own holds ${f.item.slice("routes[".length, -1)} metric ${foreign.metric} (protocol ${foreign.protocol}, ${foreign.type}); it is left alone`,
        f.item,
        "route",
        "EEXIST",
        { foreignRoute: foreign },
      );
    }
  }
}
