// Proves: the rtnetlink addon and its wrapper (src/daemon/dataplane/netlink/rtnetlink.ts) against the real
// kernel. Dumps of links, addresses and routes equal what `ip` reports; linkSet, VLANs, addresses and routes
// (main table, tables > 255, blackhole/unreachable/prohibit) are applied as `ip` then shows them; a batch
// with invalid items installs the valid ones and reports each failure's errno; invalid arguments are JS
// errors before anything runs; kernel events arrive; 100,000 routes go in with one execute() while the event
// loop keeps ticking, and out again.
// Topology: each test gets a fresh network namespace with a veth pair v0/v1, driven from this process through
// a socket opened inside it (netnsPath) and checked with `ip netns exec`; the namespace is deleted after.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { canUseNetns, Netns } from "../support/netns.js";
import { encodeOps, loadRtnetlinkAddon, openRtnetlink } from "../../src/daemon/dataplane/netlink/rtnetlink.js";
import {
  MAIN_TABLE,
  ORBITAL_ROUTE_PROTOCOL,
  RouteType,
  type AddressInfo,
  type LinkInfo,
  type NetlinkEvent,
  type NetlinkOp,
  type RouteInfo,
  type RouteSpec,
  type RtnetlinkSocket,
} from "../../src/daemon/dataplane/netlink/rtnetlink-types.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const arch = os.machine?.() ?? process.arch;
const addonDirs = [path.join(repoRoot, "native", "build", arch), path.join(repoRoot, "dist", "native")];

const ENOENT = 2;
const ESRCH = 3;
const ENODEV = 19;
const EINVAL = 22;
const EEXIST = 17;
const EOPNOTSUPP = 95;
const ENOBUFS = 105;
const EBADF = 9;
const EADDRNOTAVAIL = 99;
const ENETUNREACH = 101;
const RT_SCOPE_LINK = 253;

/** Whether this kernel has 802.1Q (CONFIG_VLAN_8021Q): probed once in a namespace of its own. */
function probeVlan(): boolean {
  if (!canUseNetns) return false;
  const ns = Netns.create("rtnl-probe");
  try {
    ns.ip("link", "add", "p0", "type", "veth", "peer", "name", "p1");
    return ns.tryIp("link", "add", "link", "p0", "name", "p0.7", "type", "vlan", "id", "7").status === 0;
  } finally {
    ns.dispose();
  }
}
const vlanSupported = probeVlan();

const operStates: Record<string, number> = { UNKNOWN: 0, NOTPRESENT: 1, DOWN: 2, LOWERLAYERDOWN: 3, TESTING: 4, DORMANT: 5, UP: 6 };
const STAT_KEYS = ["rxBytes", "rxPackets", "rxErrors", "rxDropped", "txBytes", "txPackets", "txErrors", "txDropped"] as const;

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  ifalias?: string;
  link?: string | null;
  link_index?: number;
  linkinfo?: { info_kind?: string; info_data?: { id?: number } };
  stats64: { rx: Record<string, number>; tx: Record<string, number> };
}

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
}

/** Our LinkInfo as `ip -d -s link` shows it (stats compared separately). */
function linkFromIp(l: IpLink, ifindexOf: Map<string, number>): Omit<LinkInfo, "stats"> {
  const out: Omit<LinkInfo, "stats"> = {
    ifindex: l.ifindex,
    name: l.ifname,
    kind: l.linkinfo?.info_kind ?? "",
    loopback: l.flags.includes("LOOPBACK"),
    up: l.flags.includes("UP"),
    operState: operStates[l.operstate]!,
    mtu: l.mtu,
    mac: l.address ?? "",
    alias: l.ifalias ?? "",
  };
  const parent = l.link_index ?? (l.link ? ifindexOf.get(l.link) : undefined);
  if (parent !== undefined) out.parentIndex = parent;
  if (l.linkinfo?.info_kind === "vlan" && l.linkinfo.info_data?.id !== undefined) out.vlanId = l.linkinfo.info_data.id;
  return out;
}

function statsFromIp(l: IpLink): Record<(typeof STAT_KEYS)[number], bigint> {
  const { rx, tx } = l.stats64;
  return {
    rxBytes: BigInt(rx.bytes!),
    rxPackets: BigInt(rx.packets!),
    rxErrors: BigInt(rx.errors!),
    rxDropped: BigInt(rx.dropped!),
    txBytes: BigInt(tx.bytes!),
    txPackets: BigInt(tx.packets!),
    txErrors: BigInt(tx.errors!),
    txDropped: BigInt(tx.dropped!),
  };
}

const addrKey = (a: AddressInfo) => `${a.ifindex} ${a.family} ${a.address}/${a.prefixLength} scope ${a.scope}`;

function addrKeysFromIp(ns: Netns): string[] {
  const links = ns.ipJsonNumeric<{ ifindex: number; addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[]>("addr", "show");
  return links
    .flatMap((l) =>
      l.addr_info.map((a) =>
        addrKey({ ifindex: l.ifindex, family: a.family === "inet" ? 4 : 6, address: a.local, prefixLength: a.prefixlen, scope: Number(a.scope) }),
      ),
    )
    .sort();
}

const routeKey = (r: RouteInfo) =>
  [r.family, r.table, r.destination, r.gateway ?? "-", r.oif ?? "-", r.priority, r.protocol, r.type, r.scope].join(" ");

/** Routes of both families, all tables, as `ip -N -j route show table all` reports them. */
function routeKeysFromIp(ns: Netns, table = "all"): string[] {
  const ifindexOf = ns.ifindexes();
  const keys: string[] = [];
  for (const family of [4, 6] as const) {
    const shown = ns.tryIp("-j", "-N", `-${family}`, "route", "show", "table", table);
    if (shown.status !== 0 && /FIB table does not exist/.test(shown.stderr)) continue;
    if (shown.status !== 0) throw new Error(`ip route show table ${table}: ${shown.stderr}`);
    for (const r of JSON.parse(shown.stdout || "[]") as IpRoute[]) {
      const host = family === 4 ? "/32" : "/128";
      const route: RouteInfo = {
        family,
        table: Number(r.table ?? (table === "all" ? MAIN_TABLE : table)),
        destination: r.dst === "default" ? (family === 4 ? "0.0.0.0/0" : "::/0") : r.dst.includes("/") ? r.dst : r.dst + host,
        priority: r.metric ?? 0,
        protocol: Number(r.protocol ?? 3), // ip omits proto boot
        type: Number(r.type ?? RouteType.UNICAST) as RouteType,
        scope: Number(r.scope ?? 0),
      };
      if (r.gateway) route.gateway = r.gateway;
      if (r.dev) route.oif = ifindexOf.get(r.dev)!;
      keys.push(routeKey(route));
    }
  }
  return keys.sort();
}

/** Number of routes `ip route show table N` prints inside the namespace (one line each). */
function countRoutes(ns: Netns, table: number, family: 4 | 6 = 4): number {
  const r = ns.tryIp(`-${family}`, "route", "show", "table", String(table));
  if (r.status !== 0 && /FIB table does not exist/.test(r.stderr)) return 0; // never used yet
  if (r.status !== 0) throw new Error(`ip route show table ${table}: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l.trim() !== "").length;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const route = (destination: string, more: Partial<RouteSpec> = {}): RouteSpec => ({
  family: destination.includes(":") ? 6 : 4,
  table: MAIN_TABLE,
  destination,
  priority: 0,
  protocol: ORBITAL_ROUTE_PROTOCOL,
  type: RouteType.UNICAST,
  ...more,
});

/** /32 host routes 10.0.0.0, 10.0.0.1, … out of `oif`: `n` distinct destinations. */
function hostRoutes(n: number, table: number, oif: number, op: "routeReplace" | "routeDel"): NetlinkOp[] {
  const ops: NetlinkOp[] = new Array(n);
  for (let i = 0; i < n; i++) {
    ops[i] = { op, route: route(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`, { table, oif }) };
  }
  return ops;
}

describe.skipIf(!canUseNetns)("rtnetlink addon (real kernel, fresh namespace per test)", () => {
  let ns: Netns;
  let sock: RtnetlinkSocket;
  let v0: number;
  let v1: number;

  beforeAll(() => {
    const found = addonDirs.some((d) => existsSync(path.join(d, "rtnetlink.node")));
    if (!found) throw new Error(`rtnetlink.node is not built (looked in ${addonDirs.join(", ")}): run \`npm run build\``);
    loadRtnetlinkAddon(addonDirs);
  });

  beforeEach(() => {
    ns = Netns.create("rtnl");
    ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
    const ids = ns.ifindexes();
    v0 = ids.get("v0")!;
    v1 = ids.get("v1")!;
    sock = openRtnetlink({ netnsPath: ns.path });
  });

  afterEach(() => {
    sock.close();
    ns.dispose();
  });

  async function ok(ops: NetlinkOp[]): Promise<void> {
    const results = await sock.execute(ops);
    const failed = results.map((r, i) => ({ i, ...r })).filter((r) => r.errno !== 0);
    expect(failed).toEqual([]);
  }

  describe("dumps equal what ip reports", () => {
    beforeEach(() => {
      ns.ip("link", "set", "lo", "up");
      ns.ip("link", "set", "v0", "up");
      ns.ip("link", "set", "v1", "up", "mtu", "1400");
      ns.ip("link", "set", "v0", "alias", "uplink to the lab");
      ns.ip("addr", "add", "192.0.2.1/24", "dev", "v0");
      ns.ip("addr", "add", "198.51.100.7/25", "dev", "v1");
      ns.ip("addr", "add", "2001:db8:1::1/64", "dev", "v0", "nodad");
      ns.ip("route", "add", "default", "via", "192.0.2.254");
      ns.ip("route", "add", "10.1.0.0/16", "via", "192.0.2.2", "table", "1234", "proto", "77", "metric", "5");
      ns.ip("route", "add", "blackhole", "10.9.0.0/16", "table", "300");
      ns.ip("-6", "route", "add", "2001:db8:100::/48", "via", "2001:db8:1::2", "metric", "10");
      ns.ip("-6", "route", "add", "unreachable", "2001:db8:dead::/48", "table", "301");
    });

    it("lists links: names, indexes, kinds, flags, operstate, mtu, mac, alias, veth peers, 64-bit stats", async () => {
      const before = ns.ipJsonNumeric<IpLink[]>("-d", "-s", "-s", "link", "show");
      const ours = await sock.listLinks();
      const after = ns.ipJsonNumeric<IpLink[]>("-d", "-s", "-s", "link", "show");
      const ifindexOf = new Map(before.map((l) => [l.ifname, l.ifindex]));
      expect(ours.map(({ stats: _s, ...rest }) => rest)).toEqual(before.map((l) => linkFromIp(l, ifindexOf)));
      expect(ours.find((l) => l.name === "v0")).toMatchObject({ kind: "veth", up: true, alias: "uplink to the lab", parentIndex: v1 });
      expect(ours.find((l) => l.name === "lo")).toMatchObject({ loopback: true, kind: "" });
      // Counters move (IPv6 neighbour discovery on the veth pair): ip before ≤ ours ≤ ip after.
      for (const l of ours) {
        const lo = statsFromIp(before.find((b) => b.ifindex === l.ifindex)!);
        const hi = statsFromIp(after.find((b) => b.ifindex === l.ifindex)!);
        for (const k of STAT_KEYS) {
          expect(typeof l.stats[k]).toBe("bigint");
          expect(l.stats[k] >= lo[k] && l.stats[k] <= hi[k], `${l.name} ${k}: ${lo[k]} ≤ ${l.stats[k]} ≤ ${hi[k]}`).toBe(true);
        }
      }
    });

    it("lists IPv4 and IPv6 addresses with prefix length and scope", async () => {
      const before = addrKeysFromIp(ns);
      const ours = (await sock.listAddresses()).map(addrKey).sort();
      const after = addrKeysFromIp(ns);
      expect([before, after]).toContainEqual(ours);
      expect(ours).toContain(`${v0} 4 192.0.2.1/24 scope 0`);
      expect(ours).toContain(`${v0} 6 2001:db8:1::1/64 scope 0`);
      expect(ours.some((k) => k.startsWith(`${v0} 6 fe80:`) && k.endsWith(`scope ${RT_SCOPE_LINK}`))).toBe(true);
    });

    it("lists the routes of every table, both families, as ip does", async () => {
      const before = routeKeysFromIp(ns);
      const ours = (await sock.listRoutes()).map(routeKey).sort();
      const after = routeKeysFromIp(ns);
      expect([before, after]).toContainEqual(ours);
      const all = await sock.listRoutes();
      expect(all).toContainEqual({ family: 4, table: MAIN_TABLE, destination: "0.0.0.0/0", gateway: "192.0.2.254", oif: v0, priority: 0, protocol: 3, type: 1, scope: 0 });
      expect(all).toContainEqual({ family: 4, table: 1234, destination: "10.1.0.0/16", gateway: "192.0.2.2", oif: v0, priority: 5, protocol: 77, type: 1, scope: 0 });
      expect(all).toContainEqual({ family: 4, table: 300, destination: "10.9.0.0/16", priority: 0, protocol: 3, type: RouteType.BLACKHOLE, scope: 0 });
      expect(all).toContainEqual(expect.objectContaining({ family: 6, table: 301, destination: "2001:db8:dead::/48", type: RouteType.UNREACHABLE }));
      expect(all).toContainEqual(expect.objectContaining({ family: 4, table: MAIN_TABLE, destination: "192.0.2.0/24", oif: v0, scope: RT_SCOPE_LINK, protocol: 2 }));
    });

    it("filters routes by table and by protocol", async () => {
      expect((await sock.listRoutes({ table: 1234 })).map(routeKey).sort()).toEqual(routeKeysFromIp(ns, "1234"));
      expect(await sock.listRoutes({ protocol: 77 })).toEqual([
        { family: 4, table: 1234, destination: "10.1.0.0/16", gateway: "192.0.2.2", oif: v0, priority: 5, protocol: 77, type: 1, scope: 0 },
      ]);
      expect(await sock.listRoutes({ table: 1234, protocol: 3 })).toEqual([]);
      expect(await sock.listRoutes({ table: 4242 })).toEqual([]); // a table that does not exist
    });
  });

  it("sets links up and down, their MTU and alias, and reports a missing link per item", async () => {
    await ok([
      { op: "linkSet", ifindex: v0, up: true, mtu: 1400, alias: "uplink" },
      { op: "linkSet", ifindex: v1, up: true },
    ]);
    const [l0] = ns.ipJsonNumeric<IpLink[]>("link", "show", "dev", "v0");
    expect(l0).toMatchObject({ mtu: 1400, ifalias: "uplink" });
    expect(l0!.flags).toContain("UP");
    expect((await sock.listLinks()).find((l) => l.ifindex === v0)).toMatchObject({ up: true, mtu: 1400, alias: "uplink" });

    const results = await sock.execute([
      { op: "linkSet", ifindex: v0, up: false, alias: "" },
      { op: "linkSet", ifindex: 9999, up: true },
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, ENODEV]);
    expect(results[1]!.message).toMatch(/^No such device/);
    const [l1] = ns.ipJsonNumeric<IpLink[]>("link", "show", "dev", "v0");
    expect(l1!.flags).not.toContain("UP");
    expect(l1!.ifalias).toBeUndefined();
    expect((await sock.listLinks()).find((l) => l.ifindex === v0)).toMatchObject({ up: false, alias: "", mtu: 1400 });
  });

  it("deletes links (a veth pair goes as a whole)", async () => {
    await ok([{ op: "linkDel", ifindex: v1 }]);
    expect([...ns.ifindexes().keys()]).toEqual(["lo"]);
    expect((await sock.execute([{ op: "linkDel", ifindex: v1 }]))[0]!.errno).toBe(ENODEV);
  });

  it.runIf(vlanSupported)("creates and deletes a VLAN on a parent link", async () => {
    await ok([{ op: "vlanAdd", name: "v0.100", parentIndex: v0, vlanId: 100 }]);
    const [vlan] = ns.ipJsonNumeric<IpLink[]>("-d", "link", "show", "dev", "v0.100");
    expect(vlan!.linkinfo).toMatchObject({ info_kind: "vlan", info_data: { id: 100 } });
    const ours = (await sock.listLinks()).find((l) => l.name === "v0.100");
    expect(ours).toMatchObject({ ifindex: vlan!.ifindex, kind: "vlan", vlanId: 100, parentIndex: v0 });
    expect((await sock.execute([{ op: "vlanAdd", name: "v0.100", parentIndex: v0, vlanId: 100 }]))[0]!.errno).toBe(EEXIST);
    await ok([{ op: "linkDel", ifindex: vlan!.ifindex }]);
    expect(ns.ifindexes().has("v0.100")).toBe(false);
  });

  it.runIf(!vlanSupported)("reports EOPNOTSUPP for a VLAN on a kernel without 802.1Q, and goes on with the batch", async () => {
    const results = await sock.execute([
      { op: "vlanAdd", name: "v0.100", parentIndex: v0, vlanId: 100 },
      { op: "linkSet", ifindex: v0, mtu: 1450 },
    ]);
    expect(results[0]).toMatchObject({ errno: EOPNOTSUPP });
    expect(results[0]!.message).toMatch(/^Operation not supported: Unknown device type/);
    expect(results[1]).toEqual({ errno: 0, message: "Success" });
    expect(ns.ipJsonNumeric<IpLink[]>("link", "show", "dev", "v0")[0]!.mtu).toBe(1450);
  });

  it("adds (idempotently) and deletes IPv4 and IPv6 addresses", async () => {
    const add: NetlinkOp[] = [
      { op: "addrAdd", ifindex: v0, family: 4, address: "192.0.2.1", prefixLength: 24 },
      { op: "addrAdd", ifindex: v0, family: 6, address: "2001:db8:1::1", prefixLength: 64 },
    ];
    await ok(add);
    await ok(add); // again: replace, not EEXIST
    const shown = () => ns.ipJsonNumeric<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>("addr", "show", "dev", "v0")[0]!.addr_info;
    expect(shown()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ family: "inet", local: "192.0.2.1", prefixlen: 24 }),
        expect.objectContaining({ family: "inet6", local: "2001:db8:1::1", prefixlen: 64 }),
      ]),
    );
    const ours = await sock.listAddresses();
    expect(ours).toContainEqual({ ifindex: v0, family: 4, address: "192.0.2.1", prefixLength: 24, scope: 0 });
    expect(ours).toContainEqual({ ifindex: v0, family: 6, address: "2001:db8:1::1", prefixLength: 64, scope: 0 });

    const del: NetlinkOp[] = add.map((o) => ({ ...o, op: "addrDel" }) as NetlinkOp);
    await ok(del);
    expect(shown().filter((a) => a.local === "192.0.2.1" || a.local === "2001:db8:1::1")).toEqual([]);
    expect((await sock.execute(del)).map((r) => r.errno)).toEqual([EADDRNOTAVAIL, EADDRNOTAVAIL]);
  });

  describe("routes", () => {
    beforeEach(async () => {
      await ok([
        { op: "linkSet", ifindex: v0, up: true },
        { op: "linkSet", ifindex: v1, up: true },
        { op: "addrAdd", ifindex: v0, family: 4, address: "192.0.2.1", prefixLength: 24 },
        { op: "addrAdd", ifindex: v0, family: 6, address: "2001:db8:1::1", prefixLength: 64 },
      ]);
    });

    it("replaces and deletes routes in the main table and in a table > 255, both families", async () => {
      const specs: RouteSpec[] = [
        route("10.10.0.0/16", { gateway: "192.0.2.2", priority: 10 }),
        route("10.20.0.0/16", { table: 1000, oif: v0 }),
        route("0.0.0.0/0", { table: 1000, gateway: "192.0.2.254" }),
        route("2001:db8:100::/48", { gateway: "2001:db8:1::2", priority: 10 }),
        route("::/0", { table: 1000, gateway: "2001:db8:1::fe", priority: 1 }),
      ];
      await ok(specs.map((r) => ({ op: "routeReplace", route: r })));
      expect(routeKeysFromIp(ns, "1000")).toEqual(
        [
          routeKey({ ...specs[1]!, scope: RT_SCOPE_LINK }),
          routeKey({ ...specs[2]!, oif: v0, scope: 0 }),
          routeKey({ ...specs[4]!, oif: v0, scope: 0 }),
        ].sort(),
      );
      expect(ns.ipJsonNumeric<IpRoute[]>("-4", "route", "show", "10.10.0.0/16")).toEqual([
        expect.objectContaining({ dst: "10.10.0.0/16", gateway: "192.0.2.2", dev: "v0", protocol: "77", metric: 10 }),
      ]);
      expect(ns.ipJsonNumeric<IpRoute[]>("-6", "route", "show", "2001:db8:100::/48")).toEqual([
        expect.objectContaining({ dst: "2001:db8:100::/48", gateway: "2001:db8:1::2", protocol: "77", metric: 10 }),
      ]);
      const ours = await sock.listRoutes({ protocol: ORBITAL_ROUTE_PROTOCOL });
      expect(ours.map(routeKey).sort()).toEqual(
        routeKeysFromIp(ns)
          .filter((k) => k.split(" ")[6] === "77")
          .sort(),
      );
      expect(ours).toHaveLength(5);

      // Replace: the same destination/table/metric with another gateway is one route, updated.
      await ok([{ op: "routeReplace", route: route("10.10.0.0/16", { gateway: "192.0.2.3", priority: 10 }) }]);
      expect(ns.ipJsonNumeric<IpRoute[]>("-4", "route", "show", "10.10.0.0/16")).toEqual([expect.objectContaining({ gateway: "192.0.2.3" })]);

      const del: NetlinkOp[] = [...specs.slice(1), route("10.10.0.0/16", { gateway: "192.0.2.3", priority: 10 })].map((r) => ({ op: "routeDel", route: r }));
      await ok(del);
      expect(countRoutes(ns, 1000, 4) + countRoutes(ns, 1000, 6)).toBe(0);
      expect(await sock.listRoutes({ protocol: ORBITAL_ROUTE_PROTOCOL })).toEqual([]);
      expect((await sock.execute(del)).map((r) => r.errno)).toEqual(del.map(() => ESRCH));
    });

    it("installs blackhole, unreachable and prohibit routes", async () => {
      const specs = [
        route("10.30.0.0/16", { table: 1001, type: RouteType.BLACKHOLE }),
        route("10.31.0.0/16", { table: 1001, type: RouteType.UNREACHABLE }),
        route("10.32.0.0/16", { table: 1001, type: RouteType.PROHIBIT }),
        route("2001:db8:dead::/48", { table: 1001, type: RouteType.BLACKHOLE }),
        route("2001:db8:beef::/48", { table: 1001, type: RouteType.UNREACHABLE }),
      ];
      await ok(specs.map((r) => ({ op: "routeReplace", route: r })));
      const v4 = ns.ipJsonNumeric<IpRoute[]>("-4", "route", "show", "table", "1001");
      expect(v4.map((r) => [r.type, r.dst])).toEqual([
        ["6", "10.30.0.0/16"],
        ["7", "10.31.0.0/16"],
        ["8", "10.32.0.0/16"],
      ]);
      const v6 = ns.ipJsonNumeric<IpRoute[]>("-6", "route", "show", "table", "1001");
      expect(v6.map((r) => [r.type, r.dst]).sort()).toEqual([
        ["6", "2001:db8:dead::/48"],
        ["7", "2001:db8:beef::/48"],
      ].sort());
      const ours = await sock.listRoutes({ table: 1001 });
      expect(ours.map((r) => [r.type, r.destination])).toEqual(expect.arrayContaining(specs.map((s) => [s.type, s.destination])));
      await ok(specs.map((r) => ({ op: "routeDel", route: r })));
      expect(countRoutes(ns, 1001, 4) + countRoutes(ns, 1001, 6)).toBe(0);
    });

    it("executes a batch with invalid items: the valid ones are installed, each failure has its errno", async () => {
      const results = await sock.execute([
        { op: "routeReplace", route: route("10.40.0.0/16", { table: 1002, gateway: "192.0.2.2" }) },
        { op: "routeReplace", route: route("10.41.0.0/16", { table: 1002, gateway: "203.0.113.9" }) }, // no route to the gateway
        { op: "routeReplace", route: route("10.42.0.0/16", { table: 1002, oif: v0 }) },
        { op: "routeReplace", route: route("10.43.0.0/16", { table: 1002, oif: 9999 }) }, // no such link
        { op: "routeDel", route: route("10.44.0.0/16", { table: 1002, oif: v0 }) }, // no such route
        { op: "addrAdd", ifindex: 9999, family: 4, address: "192.0.2.9", prefixLength: 24 },
        { op: "routeReplace", route: route("2001:db8:45::/48", { table: 1002, gateway: "2001:db8:1::2" }) },
      ]);
      expect(results.map((r) => r.errno)).toEqual([0, ENETUNREACH, 0, ENODEV, ESRCH, ENODEV, 0]);
      expect(results[0]).toEqual({ errno: 0, message: "Success" });
      // strerror plus the kernel's extended ack text
      expect(results[1]!.message).toMatch(/^Network is unreachable: \S/);
      expect(results[3]!.message).toMatch(/^No such device/);
      expect(results[4]!.message).toMatch(/^No such process/);
      expect(ns.ipJsonNumeric<IpRoute[]>("-4", "route", "show", "table", "1002").map((r) => r.dst)).toEqual(["10.40.0.0/16", "10.42.0.0/16"]);
      expect(ns.ipJsonNumeric<IpRoute[]>("-6", "route", "show", "table", "1002").map((r) => r.dst)).toEqual(["2001:db8:45::/48"]);
    });

    it("refuses invalid arguments with a JS error before executing anything of the call", async () => {
      const good: NetlinkOp = { op: "routeReplace", route: route("10.50.0.0/16", { table: 1003, oif: v0 }) };
      const bad: [unknown, RegExp][] = [
        [{ op: "routeReplace", route: route("10.50.0.1/16") }, /ops\[1\]\.route\.destination: "10\.50\.0\.1\/16" has host bits set/],
        [{ op: "routeReplace", route: route("10.50.0.0/33") }, /route\.destination: .*is not an IPv4 prefix/],
        [{ op: "routeReplace", route: { ...route("::/0"), family: 4 } }, /route\.destination/],
        [{ op: "routeReplace", route: route("10.0.0.0/8", { gateway: "2001:db8::1" }) }, /route\.gateway: "2001:db8::1" is not an IPv4 address/],
        [{ op: "routeReplace", route: route("10.0.0.0/8", { gateway: "300.1.1.1" }) }, /route\.gateway/],
        [{ op: "routeReplace", route: { ...route("10.0.0.0/8"), family: 5 } }, /route\.family: must be 4 or 6/],
        [{ op: "routeReplace", route: { ...route("10.0.0.0/8"), table: -1 } }, /route\.table: must be an integer/],
        [{ op: "routeReplace", route: { ...route("10.0.0.0/8"), priority: 1.5 } }, /route\.priority/],
        [{ op: "routeReplace", route: { ...route("10.0.0.0/8"), protocol: 256 } }, /route\.protocol/],
        [{ op: "routeReplace", route: { ...route("10.0.0.0/8"), type: "unicast" } }, /route\.type/],
        [{ op: "routeReplace" }, /ops\[1\]\.route: must be a RouteSpec object/],
        [{ op: "addrAdd", ifindex: v0, family: 4, address: "192.0.2.1", prefixLength: 33 }, /prefixLength/],
        [{ op: "addrAdd", ifindex: v0, family: 6, address: "192.0.2.1", prefixLength: 64 }, /address: "192\.0\.2\.1" is not an IPv6 address/],
        [{ op: "addrAdd", ifindex: "1", family: 4, address: "192.0.2.1", prefixLength: 24 }, /ifindex: must be an integer/],
        [{ op: "linkSet", ifindex: v0, up: "yes" }, /up: must be a boolean/],
        [{ op: "linkSet", ifindex: v0, alias: "x".repeat(256) }, /alias: must be at most 255 bytes/],
        [{ op: "vlanAdd", name: "v0.4096", parentIndex: v0, vlanId: 4096 }, /vlanId/],
        [{ op: "vlanAdd", name: "a-name-longer-than-15", parentIndex: v0, vlanId: 5 }, /name: must be 1\.\.15 bytes/],
        [{ op: "linkDel", ifindex: 0 }, /ifindex/],
        [{ op: "frobnicate" }, /op: "frobnicate" is not one of/],
        [null, /ops\[1\]: must be a NetlinkOp object/],
      ];
      for (const [op, message] of bad) {
        const err = await sock.execute([good, op as NetlinkOp]).then(
          () => undefined,
          (e: unknown) => e as Error & { index?: number; errno?: number },
        );
        expect(err, JSON.stringify(op)).toBeInstanceOf(TypeError);
        expect(err!.message).toMatch(message);
        expect(err).toMatchObject({ index: 1, errno: EINVAL });
      }
      await expect(sock.execute("nope" as unknown as NetlinkOp[])).rejects.toThrow(TypeError);
      await expect(sock.listRoutes({ table: -5 })).rejects.toThrow(RangeError);
      expect(countRoutes(ns, 1003)).toBe(0); // nothing of those calls ran
      await ok([good]);
      expect(countRoutes(ns, 1003)).toBe(1);
    });
  });

  it("keeps calls in order: a dump issued right after an execute() sees its routes", async () => {
    await ok([{ op: "linkSet", ifindex: v0, up: true }]);
    const installing = sock.execute(hostRoutes(3000, 1500, v0, "routeReplace"));
    const listing = sock.listRoutes({ table: 1500 });
    const deleting = sock.execute(hostRoutes(1000, 1500, v0, "routeDel"));
    const listingAgain = sock.listRoutes({ table: 1500 });
    expect((await installing).every((r) => r.errno === 0)).toBe(true);
    expect(await listing).toHaveLength(3000);
    expect((await deleting).every((r) => r.errno === 0)).toBe(true);
    expect(await listingAgain).toHaveLength(2000);
  });

  it("completes what was called before close() and refuses what comes after", async () => {
    await ok([{ op: "linkSet", ifindex: v0, up: true }]);
    const pending = sock.execute(hostRoutes(500, 1600, v0, "routeReplace"));
    const listing = sock.listLinks();
    sock.close();
    expect((await pending).every((r) => r.errno === 0)).toBe(true);
    expect(await listing).toHaveLength(3);
    expect(countRoutes(ns, 1600)).toBe(500);
    await expect(sock.listRoutes()).rejects.toMatchObject({ errno: EBADF });
    await expect(sock.execute([])).rejects.toMatchObject({ errno: EBADF });
    expect(() => sock.subscribe(() => {})).toThrow(expect.objectContaining({ errno: EBADF }));
    sock.close(); // twice is fine
  });

  it("the addon's own entry points refuse bad arguments with JS errors, never a crash", async () => {
    const addon = loadRtnetlinkAddon() as unknown as Record<string, unknown> & {
      RtnetlinkSocket: new (...args: unknown[]) => Record<string, (...args: unknown[]) => unknown>;
      Subscription: new (...args: unknown[]) => unknown;
      prepare: (...args: unknown[]) => unknown;
    };
    expect(() => new addon.RtnetlinkSocket(5)).toThrow(TypeError);
    expect(() => new addon.RtnetlinkSocket({ netnsPath: 5 })).toThrow(TypeError);
    expect(() => new addon.RtnetlinkSocket({ netnsPath: "" })).toThrow(TypeError);
    expect(() => new addon.RtnetlinkSocket({ receiveBufferBytes: 10 })).toThrow(TypeError);
    expect(() => new addon.RtnetlinkSocket({ maxBatchMessages: 0.5 })).toThrow(TypeError);
    expect(() => new addon.Subscription()).toThrow(TypeError);
    expect(() => new addon.Subscription({})).toThrow(TypeError);
    expect(() => addon.prepare()).toThrow(TypeError);
    expect(() => addon.prepare(new Float64Array(15), "", 0)).toThrow(TypeError); // not whole ops
    expect(() => addon.prepare([1, 2, 3], "", 0)).toThrow(TypeError);
    expect(() => addon.prepare(new Float64Array(16), 7, 0)).toThrow(TypeError);
    expect(() => addon.prepare(new Float64Array(16), "", -1)).toThrow(RangeError);

    const raw = new addon.RtnetlinkSocket({ netnsPath: ns.path });
    try {
      expect(() => raw.listRoutes!("1")).toThrow(TypeError);
      expect(() => raw.listRoutes!(1.5)).toThrow(RangeError);
      expect(() => raw.listRoutes!(1, 256)).toThrow(RangeError);
      expect(() => raw.execute!()).toThrow(TypeError);
      expect(() => raw.execute!([{}])).toThrow(TypeError);
      expect(() => raw.execute!([new Float64Array(16)])).toThrow(TypeError);
      expect(() => raw.subscribe!()).toThrow(TypeError);
      expect(() => raw.subscribe!("x")).toThrow(TypeError);
      const { nums, strings } = encodeOps([{ op: "linkSet", ifindex: v0, mtu: 1500 }], 0, 1);
      const prepared = addon.prepare(nums, strings, 0);
      expect(((await raw.execute!([prepared])) as { errnos: Int32Array }).errnos).toEqual(Int32Array.from([0]));
      expect(() => raw.execute!([prepared])).toThrow(/can be executed once/);

      // Random encodings: each op is either serialized or refused with a TypeError naming it.
      let seed = 12345;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const values = [0, 1, 4, 6, -1, 2 ** 32, 2 ** 53, 0.5, NaN, -Infinity, Infinity, 255, 256, 4095, 33, 129, 1e300, -0];
      const text = "10.0.0.0/8\u0000192.0.2.1::1/128ffff:\ud800é/ 1.2.3.4/32 x".repeat(3);
      let refused = 0;
      for (let i = 0; i < 3000; i++) {
        const nums = new Float64Array(16).map(() => pick(values));
        nums[0] = pick([-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 1.5, NaN]);
        for (const slot of [4, 8, 10, 14]) {
          nums[slot] = Math.floor(rnd() * text.length);
          nums[slot + 1] = pick([0, 1, 5, 11, 40, text.length, NaN, -Infinity]);
        }
        nums[7] = pick([0, 1, NaN]);
        try {
          addon.prepare(nums, text, i);
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
          expect(err).toMatchObject({ index: i, errno: EINVAL });
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
    } finally {
      raw.close!();
    }
  });

  it("lets the process exit cleanly with a subscription and work in flight, on the main thread and in a worker", () => {
    const addonFile = [...addonDirs].map((d) => path.join(d, "rtnetlink.node")).find((f) => existsSync(f))!;
    // Routes out of v0 (up), a subscription left open, an execute() of 20,000 routes in flight at exit.
    const body = `
      const addon = require(process.env.ADDON);
      const s = new addon.RtnetlinkSocket({ netnsPath: process.env.NETNS });
      const sub = s.subscribe(() => {});
      const ops = [];
      for (let i = 0; i < 20000; i++) ops.push({ op: "routeReplace", route: { family: 4, table: 1700, destination: "10.8." + (i >> 8) + "." + (i & 255) + "/32", oif: Number(process.env.OIF), priority: 0, protocol: 77, type: 1 } });
      const nums = new Float64Array(ops.length * 16);
      let strings = "";
      ops.forEach((o, i) => { const b = i * 16; nums[b] = 5; nums.set([4, 1700, Number(process.env.OIF), 0, 77, 1, 1, strings.length, o.route.destination.length, 0, -Infinity], b + 1); strings += o.route.destination; });
      s.execute([addon.prepare(nums, strings, 0)]);
      s.listRoutes();
    `;
    const env = { ...process.env, ADDON: addonFile, NETNS: ns.path, OIF: String(v0) };
    ns.ip("link", "set", "v0", "up");
    const scripts: [string, string][] = [
      ["process.exit() with work in flight", `${body}; setTimeout(() => process.exit(0), 5);`],
      ["natural exit after stop() and close()", `${body}; sub.stop(); s.close();`],
      ["natural exit with an idle socket left open", `const addon = require(process.env.ADDON); new addon.RtnetlinkSocket({ netnsPath: process.env.NETNS });`],
      [
        "worker thread terminated with work in flight",
        `const { Worker } = require("node:worker_threads");
         const w = new Worker(${JSON.stringify(body)} + "; require('node:worker_threads').parentPort.postMessage('busy');", { eval: true, env: process.env });
         w.once("message", () => setTimeout(() => w.terminate().then(() => console.log("terminated")), 5));`,
      ],
    ];
    for (const [name, script] of scripts) {
      const r = spawnSync(process.execPath, ["-e", script], { env, encoding: "utf8", timeout: 20_000 });
      expect({ name, status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ name, status: 0, signal: null, stderr: "" });
      if (name.startsWith("worker")) expect(r.stdout).toBe("terminated\n");
    }
  });

  it("reports ENOBUFS 'outcome unknown' for acks lost to a receive-buffer overrun, then adapts its batches", async () => {
    // A tiny receive buffer and huge batches: the kernel drops acks; the items without one say so.
    const small = openRtnetlink({ netnsPath: ns.path, receiveBufferBytes: 4096, maxBatchMessages: 1000 });
    try {
      await ok([{ op: "linkSet", ifindex: v0, up: true }]);
      const results = await small.execute(hostRoutes(5000, 1800, v0, "routeReplace"));
      const lost = results.filter((r) => r.errno === ENOBUFS);
      expect(lost.length).toBeGreaterThan(0);
      expect(results.every((r) => r.errno === 0 || r.errno === ENOBUFS)).toBe(true);
      expect(lost[0]!.message).toBe("No buffer space available: no acknowledgement (netlink receive buffer overrun): outcome unknown");
      expect(results.slice(-500).every((r) => r.errno === 0)).toBe(true); // smaller batches after the overruns
      expect(countRoutes(ns, 1800)).toBe(5000); // the kernel did install them: only the acks were lost
      expect((await small.execute(hostRoutes(2000, 1801, v0, "routeReplace"))).every((r) => r.errno === 0)).toBe(true);
    } finally {
      small.close();
    }
  });

  it("refuses a bad namespace with the system error", () => {
    expect(() => openRtnetlink({ netnsPath: "/var/run/netns/does-not-exist-here" })).toThrow(expect.objectContaining({ errno: ENOENT, code: "ENOENT" }));
    expect(() => openRtnetlink({ netnsPath: "/etc/hostname" })).toThrow(expect.objectContaining({ errno: EINVAL, message: expect.stringContaining("setns(/etc/hostname)") }));
  });

  it("delivers link, address and route events until unsubscribed", async () => {
    const events: NetlinkEvent[] = [];
    const unsubscribe = sock.subscribe((e) => events.push(e));
    const seen = (pred: (e: NetlinkEvent) => boolean, what: string) => waitFor(what, () => events.find(pred));

    ns.ip("link", "set", "v0", "up");
    await seen((e) => e.type === "link" && e.action === "new" && e.link.ifindex === v0 && e.link.up, "v0 up");
    ns.ip("addr", "add", "192.0.2.1/24", "dev", "v0");
    await seen((e) => e.type === "address" && e.action === "new" && e.address.address === "192.0.2.1" && e.address.prefixLength === 24, "address added");
    ns.ip("route", "add", "10.77.0.0/16", "dev", "v0", "table", "1077");
    const added = await seen((e) => e.type === "route" && e.action === "new" && e.route.destination === "10.77.0.0/16", "route added");
    expect(added).toMatchObject({ route: { family: 4, table: 1077, oif: v0, protocol: 3, type: 1, scope: RT_SCOPE_LINK } });
    // Changes made through the addon itself are events too.
    await ok([{ op: "routeReplace", route: route("2001:db8:77::/48", { table: 1077, type: RouteType.BLACKHOLE }) }]);
    await seen((e) => e.type === "route" && e.route.destination === "2001:db8:77::/48" && e.route.protocol === ORBITAL_ROUTE_PROTOCOL, "v6 route by execute()");
    ns.ip("route", "del", "10.77.0.0/16", "dev", "v0", "table", "1077");
    await seen((e) => e.type === "route" && e.action === "del" && e.route.destination === "10.77.0.0/16", "route deleted");
    ns.ip("link", "set", "v0", "down");
    await seen((e) => e.type === "link" && e.link.ifindex === v0 && !e.link.up, "v0 down");

    // A second listener; the first one leaves; only the second hears what follows.
    const second: NetlinkEvent[] = [];
    const unsubscribeSecond = sock.subscribe((e) => second.push(e));
    unsubscribe();
    const count = events.length;
    ns.ip("link", "set", "v1", "mtu", "1300");
    await waitFor("second listener", () => second.find((e) => e.type === "link" && e.link.ifindex === v1 && e.link.mtu === 1300));
    expect(events.length).toBe(count);
    unsubscribeSecond();
    ns.ip("link", "set", "v1", "mtu", "1200");
    await new Promise((r) => setTimeout(r, 200));
    expect(second.some((e) => e.type === "link" && e.link.mtu === 1200)).toBe(false);
  });

  it("installs 100,000 routes with one execute(), lists and deletes them", async () => {
    await ok([{ op: "linkSet", ifindex: v0, up: true }]);
    const t0 = performance.now();
    const results = await sock.execute(hostRoutes(100_000, 2000, v0, "routeReplace"));
    const installMs = performance.now() - t0;
    expect(results).toHaveLength(100_000);
    expect(results.filter((r) => r.errno !== 0)).toEqual([]);
    expect(countRoutes(ns, 2000)).toBe(100_000);

    const t1 = performance.now();
    const listed = await sock.listRoutes({ table: 2000 });
    const listMs = performance.now() - t1;
    expect(listed).toHaveLength(100_000);
    expect(listed[0]).toEqual({ family: 4, table: 2000, destination: "10.0.0.0/32", oif: v0, priority: 0, protocol: 77, type: 1, scope: RT_SCOPE_LINK });

    const t2 = performance.now();
    const deleted = await sock.execute(hostRoutes(100_000, 2000, v0, "routeDel"));
    const deleteMs = performance.now() - t2;
    expect(deleted.filter((r) => r.errno !== 0)).toEqual([]);
    expect(countRoutes(ns, 2000)).toBe(0);
    console.log(`100k routes: install ${installMs.toFixed(0)} ms, list ${listMs.toFixed(0)} ms, delete ${deleteMs.toFixed(0)} ms`);
  });

  it("keeps the event loop responsive while 100,000 routes are installed", async () => {
    await ok([{ op: "linkSet", ifindex: v0, up: true }]);
    const ops = hostRoutes(100_000, 2001, v0, "routeReplace");
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 2);
    const t0 = performance.now();
    const results = await sock.execute(ops);
    const t1 = performance.now();
    clearInterval(timer);
    const elapsed = t1 - t0;
    const marks = [t0, ...ticks.filter((t) => t >= t0 && t <= t1), t1];
    const gaps = marks.slice(1).map((t, i) => t - marks[i]!);
    const maxGap = Math.max(...gaps);
    const sorted = [...gaps].sort((a, b) => a - b);
    const p90 = sorted[Math.floor(sorted.length * 0.9)]!;
    console.log(`100k execute: ${elapsed.toFixed(0)} ms, ${gaps.length - 1} ticks of a 2 ms interval, gaps p90 ${p90.toFixed(1)} ms, longest ${maxGap.toFixed(1)} ms`);
    expect(results.every((r) => r.errno === 0)).toBe(true);
    expect(countRoutes(ns, 2001)).toBe(100_000);
    // Blocking the loop for the install would show as one gap as long as the install (0.3-2 s here). A busy
    // 2-core machine adds scheduling and GC pauses, hence a generous bound on the longest gap.
    expect(maxGap).toBeLessThan(Math.max(250, elapsed / 3));
    expect(p90).toBeLessThan(50);
    for (let q = 0; q < 4; q++) {
      const [from, to] = [t0 + (elapsed * q) / 4, t0 + (elapsed * (q + 1)) / 4];
      expect(ticks.some((t) => t >= from && t <= to), `a tick in quarter ${q + 1} of the install`).toBe(true);
    }
  });
});
