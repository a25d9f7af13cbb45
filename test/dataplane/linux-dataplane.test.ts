// Proves: orbitald on the Linux data plane configures the real kernel through its API, checked with
// independent tools (ip -j, nft -j, ping): addresses, MTU, VLANs, routes (own protocol, foreign ones left
// alone), firewall rules that really drop traffic, reconcile after restart and meddling, 100,000 bulk routes.
// Topology: namespace "router" runs the daemon; namespace "host" is its neighbour over veth r0 <-> h0
// (10.50.0.1/24 <-> 10.50.0.2/24); "host" also owns 10.60.0.1/32 on its loopback, reachable only via a route.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action, Chain, FirewallService, Protocol } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { AdminState, InterfaceKind, InterfaceService } from "../../src/gen/orbital/interface/v1/interface_pb.js";
import { RouteOrigin, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { BulkUpdateRoutesRequestSchema, RouteSchema } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { canUseNetns, Netns, vethPair } from "../support/netns.js";

let router: Netns;
let host: Netns;
let d: RunningDaemon;

beforeAll(async () => {
  router = Netns.create("orb-router");
  host = Netns.create("orb-host");
  vethPair(router, "r0", host, "h0", undefined, "10.50.0.2/24");
  host.run("ip", "addr", "add", "10.60.0.1/32", "dev", "lo");
  d = await startDaemon({ netns: router.name });
});

afterAll(async () => {
  await d?.cleanup();
  router?.dispose();
  host?.dispose();
});

const ping = (ns: Netns, to: string) => ns.ok("ping", "-c", "1", "-W", "1", to);

/** Whether this kernel has 802.1Q (the CI kernel here lacks the 8021q module; the image's kernel has it). */
function kernelHasVlan(): boolean {
  if (!canUseNetns) return false;
  const probe = Netns.create("orb-vlanprobe");
  try {
    probe.run("ip", "link", "add", "p0", "type", "veth", "peer", "name", "p1");
    return probe.ok("ip", "link", "add", "link", "p0", "name", "p0.7", "type", "vlan", "id", "7");
  } finally {
    probe.dispose();
  }
}

describe.skipIf(!canUseNetns)("Linux data plane", () => {
  it("lists the kernel's links and configures address, MTU and description", async () => {
    const ifs = d.client(InterfaceService);
    const list = await ifs.listInterfaces({});
    expect(list.interfaces.map((i) => i.name)).toEqual(expect.arrayContaining(["lo", "r0"]));
    expect(list.interfaces.find((i) => i.name === "r0")).toMatchObject({ kind: InterfaceKind.ETHERNET, configured: false });
    await ifs.updateInterface({
      interface: { name: "r0", adminState: AdminState.UP, mtu: 1400, description: "to host", addresses: [{ cidr: "10.50.0.1/24" }] },
    });
    const [link] = router.ipJson<{ mtu: number; ifalias?: string; operstate: string }[]>("link", "show", "r0");
    expect(link).toMatchObject({ mtu: 1400, ifalias: "to host" });
    const addrs = router.ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>("addr", "show", "r0");
    expect(addrs[0]!.addr_info).toEqual(expect.arrayContaining([expect.objectContaining({ local: "10.50.0.1", prefixlen: 24 })]));
    expect(ping(router, "10.50.0.2")).toBe(true);
    const r0 = (await ifs.getInterface({ name: "r0" })).interface!;
    expect(r0).toMatchObject({ configured: true, kernelMtu: 1400 });
    expect(r0.counters!.txPackets).toBeGreaterThan(0n);
  });

  it.skipIf(!kernelHasVlan())("creates and deletes a VLAN subinterface", async () => {
    const ifs = d.client(InterfaceService);
    await ifs.createInterface({ interface: { kind: InterfaceKind.VLAN, vlan: { parent: "r0", vlanId: 100 } } });
    const [vlan] = router.ipJson<{ linkinfo: { info_kind: string; info_data: { id: number } } }[]>("-d", "link", "show", "r0.100");
    expect(vlan!.linkinfo).toMatchObject({ info_kind: "vlan", info_data: { id: 100 } });
    await ifs.deleteInterface({ name: "r0.100" });
    expect(router.ok("ip", "link", "show", "r0.100")).toBe(false);
  });

  it("makes an unreachable namespace reachable with a route, installed with orbitald's protocol", async () => {
    expect(ping(router, "10.60.0.1")).toBe(false);
    await d.client(RoutingService).createRoute({ route: { destination: { cidr: "10.60.0.0/24" }, gateway: { address: "10.50.0.2" } } });
    const [route] = router.ipJson<{ dst: string; gateway: string; protocol: string }[]>("-N", "route", "show", "10.60.0.0/24");
    expect(route).toMatchObject({ dst: "10.60.0.0/24", gateway: "10.50.0.2", protocol: "77" });
    expect(ping(router, "10.60.0.1")).toBe(true);
    const listed = await d.client(RoutingService).getRoute({ destination: { cidr: "10.60.0.0/24" } });
    expect(listed.route).toMatchObject({ installed: true, origin: RouteOrigin.STATIC });
  });

  it("restores the previous kernel state and persists nothing when the kernel refuses part of a commit", async () => {
    const config = d.client(ConfigService);
    const routing = d.client(RoutingService);
    const before = (await config.listRevisions({})).activeRevision;
    const { transaction } = await config.begin({});
    const tx = transaction!.id;
    await routing.createRoute({ route: { destination: { cidr: "10.81.0.0/24" }, gateway: { address: "10.50.0.2" } }, transactionId: tx });
    // Not on any connected subnet: the kernel answers ENETUNREACH for this one.
    await routing.createRoute({ route: { destination: { cidr: "10.82.0.0/24" }, gateway: { address: "192.0.2.99" } }, transactionId: tx });
    const err = await config.commit({ transactionId: tx }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 9, reason: "DATAPLANE_REJECTED", metadata: { item: "routes[table=254,destination=10.82.0.0/24]", operation: "route" } });
    expect(router.ipJson("route", "show", "10.81.0.0/24")).toHaveLength(0);
    expect(router.ipJson("route", "show", "10.82.0.0/24")).toHaveLength(0);
    expect(router.ipJson("route", "show", "10.60.0.0/24")).toHaveLength(1);
    expect((await config.listRevisions({})).activeRevision).toBe(before);
  });

  it("drops traffic with a committed firewall rule and lets it through again once the rule is removed", async () => {
    const fw = d.client(FirewallService);
    expect(ping(host, "10.50.0.1")).toBe(true);
    await fw.createRule({
      rule: { name: "no-ping-from-host", chain: Chain.INPUT, sequence: 10, action: Action.DROP, counter: true, match: { protocol: Protocol.ICMP, source: { match: { case: "prefix", value: { cidr: "10.50.0.2/32" } } } } },
    });
    const ruleset = JSON.parse(router.run("nft", "-j", "list", "table", "inet", "orbital")) as { nftables: { rule?: { comment?: string } }[] };
    expect(ruleset.nftables.some((x) => x.rule?.comment === "no-ping-from-host")).toBe(true);
    expect(ping(host, "10.50.0.1")).toBe(false);
    const counted = (await fw.getRule({ name: "no-ping-from-host" })).rule!.counters!;
    expect(counted.packets).toBeGreaterThan(0n);
    await fw.deleteRule({ name: "no-ping-from-host" });
    expect(ping(host, "10.50.0.1")).toBe(true);
  });

  it("reconciles after a restart: restores owned routes deleted behind its back, leaves foreign ones alone", async () => {
    router.run("ip", "route", "add", "10.70.0.0/24", "via", "10.50.0.2"); // foreign (proto boot)
    router.run("nft", "add", "table", "inet", "foreign");
    router.run("ip", "route", "del", "10.60.0.0/24");
    const unowned = await d.client(RoutingService).listRoutes({ includeUnowned: true });
    expect(unowned.routes.find((r) => r.destination?.cidr === "10.70.0.0/24")).toMatchObject({ origin: RouteOrigin.FOREIGN });
    expect(unowned.routes.find((r) => r.destination?.cidr === "10.60.0.0/24")).toMatchObject({ installed: false });
    await d.stop();
    d = await startDaemon({ netns: router.name, dataDir: d.dataDir });
    expect(router.ipJson("route", "show", "10.60.0.0/24")).toHaveLength(1);
    expect(router.ipJson("route", "show", "10.70.0.0/24")).toHaveLength(1);
    expect(router.ok("nft", "list", "table", "inet", "foreign")).toBe(true);
    expect(ping(router, "10.60.0.1")).toBe(true);
  });

  it("installs 100,000 routes through BulkUpdateRoutes and reports each invalid item", async () => {
    type Batch = MessageInitShape<typeof BulkUpdateRoutesRequestSchema>;
    const TOTAL = 100_000;
    const BATCH = 5000;
    async function* batches(): AsyncIterable<Batch> {
      for (let start = 0; start < TOTAL; start += BATCH) {
        const adds: MessageInitShape<typeof RouteSchema>[] = [];
        for (let i = start; i < start + BATCH; i++) {
          adds.push({ destination: { cidr: `172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32` }, table: 1000, interface: "r0" });
        }
        yield { adds };
      }
      yield { adds: [{ destination: { cidr: "10.1.2.3/8" }, table: 1000, interface: "r0" }, { destination: { cidr: "10.9.0.0/16" }, table: 1000, interface: "nope0" }] };
    }
    const summary = await d.client(RoutingService, 300_000).bulkUpdateRoutes(batches());
    expect(summary.added).toBe(BigInt(TOTAL));
    expect(summary.failures.map((f) => [f.index, f.reason])).toEqual([
      [BigInt(TOTAL), "INVALID_PREFIX"],
      [BigInt(TOTAL + 1), "REFERENCE_MISSING"],
    ]);
    const count = router.run("ip", "route", "show", "table", "1000").trim().split("\n").length;
    expect(count).toBe(TOTAL);
  }, 300_000);
});

