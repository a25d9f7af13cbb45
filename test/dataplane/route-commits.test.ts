// Proves, on a real kernel: a one-change commit of a single route (CreateRoute, UpdateRoute, DeleteRoute
// outside a transaction), which applies only that route, makes the kernel match it: a new route is
// installed; a metric change (another kernel key) replaces the old kernel route by the new one; a change of
// gateway or type is replaced in place; a deleted route leaves the FIB, also one that someone removed behind
// orbitald's back. The 20,000 other configured routes stay installed and untouched throughout, and a
// configured route that is not in force (its interface is missing) stays reported as such after commits of
// other routes. Checked with `ip -j`.
// Topology: namespace "sc-router" runs the daemon; "sc-host" is its neighbour over r0 <-> h0 (10.61.0.1/24 <->
// 10.61.0.2/24).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { canUseNetns, Netns, vethPair } from "../support/netns.js";

const CONFIGURED = 20_000;
const BATCH = 10_000;
let router: Netns;
let host: Netns;
let d: RunningDaemon;

interface KernelRoute {
  dst: string;
  gateway?: string;
  metric?: number;
  type?: string;
  protocol: string;
}
const kernelRoutes = (cidr: string) => router.ipJsonNumeric<KernelRoute[]>("route", "show", "table", "all", cidr);
const ours = (cidr: string) => kernelRoutes(cidr).filter((r) => r.protocol === "77");
const bulkCount = () => router.ip("route", "show", "table", "1000", "proto", "77").trim().split("\n").filter(Boolean).length;
const bulkDestination = (n: number) => `10.70.${n >> 8}.${n & 255}/32`;

beforeAll(async () => {
  if (!canUseNetns) return;
  router = Netns.create("sc-router");
  host = Netns.create("sc-host");
  vethPair(router, "r0", host, "h0", "10.61.0.1/24", "10.61.0.2/24");
  d = await startDaemon({ netns: router.name });
  async function* bulk() {
    for (let first = 0; first < CONFIGURED; first += BATCH) {
      yield { adds: Array.from({ length: BATCH }, (_, i) => ({ destination: { cidr: bulkDestination(first + i) }, table: 1000, type: RouteType.BLACKHOLE })) };
    }
  }
  const r = await d.api(RoutingService).bulkUpdateRoutes(bulk(), { deadlineMs: 120_000 });
  expect(r.failures).toEqual([]);
}, 180_000);

afterAll(async () => {
  await d?.cleanup();
  router?.dispose();
  host?.dispose();
});

describe.skipIf(!canUseNetns)("one-change route commits on a real kernel", () => {
  it("install, replace, re-key and delete exactly the route they change", async () => {
    const routing = d.api(RoutingService);
    expect(bulkCount()).toBe(CONFIGURED);
    await routing.createRoute({ route: { destination: { cidr: "10.90.0.0/24" }, gateway: { address: "10.61.0.2" } } });
    expect(ours("10.90.0.0/24")).toEqual([expect.objectContaining({ dst: "10.90.0.0/24", gateway: "10.61.0.2" })]);

    // A metric is part of the kernel's key: the old route goes, the new one comes.
    await routing.updateRoute({ route: { destination: { cidr: "10.90.0.0/24" }, metric: 50 }, updateMask: { paths: ["metric"] } });
    expect(ours("10.90.0.0/24")).toEqual([expect.objectContaining({ gateway: "10.61.0.2", metric: 50 })]);

    // A new type under the same key is replaced in place.
    await routing.updateRoute({ route: { destination: { cidr: "10.90.0.0/24" }, type: RouteType.BLACKHOLE, gateway: { address: "" } }, updateMask: { paths: ["type", "gateway"] } });
    const replaced = ours("10.90.0.0/24");
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toMatchObject({ type: "6", metric: 50 }); // 6: blackhole
    expect(replaced[0]!.gateway).toBeUndefined();

    await routing.deleteRoute({ destination: { cidr: "10.90.0.0/24" } });
    expect(kernelRoutes("10.90.0.0/24")).toEqual([]);

    // One of the bulk routes removed behind orbitald's back: deleting it still commits.
    router.ip("route", "del", "blackhole", bulkDestination(7), "table", "1000", "proto", "77");
    await routing.deleteRoute({ destination: { cidr: bulkDestination(7) }, table: 1000 });
    await expect(routing.getRoute({ destination: { cidr: bulkDestination(7) }, table: 1000 })).rejects.toMatchObject({ reason: "NOT_FOUND" });
    expect(bulkCount()).toBe(CONFIGURED - 1);
    expect(ours(bulkDestination(8))).toEqual([expect.objectContaining({ type: "6" })]);
  });

  it("a route not in force stays reported after commits of other routes", async () => {
    const routing = d.api(RoutingService);
    // A gateway no interface reaches: the kernel refuses it (ENETUNREACH) at the next full apply, a restart.
    await routing.createRoute({ route: { destination: { cidr: "10.91.0.0/24" }, gateway: { address: "10.61.0.2" } } });
    await d.stop();
    router.run("ip", "addr", "del", "10.61.0.1/24", "dev", "r0");
    router.ok("ip", "route", "del", "10.91.0.0/24", "proto", "77"); // should the kernel not have flushed it
    d = await startDaemon({ netns: router.name, dataDir: d.dataDir });
    const item = "routes[table=254,destination=10.91.0.0/24]";
    const unapplied = async () => (await d.api(SystemService).getHealth({})).unappliedItems.map((i) => i.item);
    expect(await unapplied()).toContain(item);
    await d.api(RoutingService).createRoute({ route: { destination: { cidr: "10.92.0.0/24" }, type: RouteType.BLACKHOLE } });
    await d.api(RoutingService).deleteRoute({ destination: { cidr: "10.92.0.0/24" } });
    expect(await unapplied()).toContain(item);
    expect((await d.api(RoutingService).getRoute({ destination: { cidr: "10.91.0.0/24" } })).route).toMatchObject({ installed: false });
    expect(bulkCount()).toBe(CONFIGURED - 1);
  }, 60_000);
});
