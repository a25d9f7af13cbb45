// Proves, on a real kernel: a commit the kernel refuses leaves every object it touched as it was (an interface
// configured for the first time gets its MTU, state and alias back, also after a restart); deleting the
// configuration of a physical interface returns it to the state it had before orbitald (also after a
// restart); a route orbitald does not own is never replaced or removed (the commit is refused naming it);
// orbitald starts, serves and reports DEGRADED when a configured route's interface is missing, and installs
// what was missing as soon as the link comes back, without a restart. Checked with `ip -j`.
// Topology: namespace "router" runs the daemon; "host" is its neighbour over r0 <-> h0 (10.51.0.1/24 <->
// 10.51.0.2/24); r1 <-> h1 is a second link (10.52.0.0/24) that starts down, at MTU 1500, without alias.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { AdminState, InterfaceService } from "../../src/gen/orbital/interface/v1/interface_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { HealthStatus, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import type { OrbitalError } from "../../src/common/errors.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { canUseNetns, Netns, vethPair } from "../support/netns.js";
import { waitFor } from "../support/rest.js";

let router: Netns;
let host: Netns;
let d: RunningDaemon;

interface IpLink {
  mtu: number;
  flags: string[];
  ifalias?: string;
}

const link = (name: string) => router.ipJson<IpLink[]>("link", "show", name)[0]!;
/** What orbitald must leave or give back: MTU, administratively up or not, alias. */
const stateOf = (name: string) => {
  const l = link(name);
  return { mtu: l.mtu, up: l.flags.includes("UP"), alias: l.ifalias ?? "" };
};
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as OrbitalError);

/** (Re)creates r1 <-> h1 as the test's pristine second link: down, MTU 1500, no alias. */
function secondLink(): void {
  vethPair(router, "r1", host, "h1", undefined, "10.52.0.2/24");
  router.run("ip", "link", "set", "r1", "down");
}

async function restart(): Promise<void> {
  await d.stop();
  d = await startDaemon({ netns: router.name, dataDir: d.dataDir });
}

beforeAll(async () => {
  if (!canUseNetns) return;
  router = Netns.create("orb-failsafe");
  host = Netns.create("orb-failsafe-host");
  vethPair(router, "r0", host, "h0", "10.51.0.1/24", "10.51.0.2/24");
  secondLink();
  d = await startDaemon({ netns: router.name });
});

afterAll(async () => {
  await d?.cleanup();
  router?.dispose();
  host?.dispose();
});

describe.skipIf(!canUseNetns)("fail-safe apply on a real kernel", () => {
  it("a refused commit leaves an interface it configured for the first time as it was, also after a restart", async () => {
    const pristine = stateOf("r1");
    expect(pristine).toEqual({ mtu: 1500, up: false, alias: "" });
    const config = d.api(ConfigService);
    const before = (await config.getRevision({ revision: 0n })).info!.revision;
    const { transaction } = await config.begin({});
    const transactionId = transaction!.id;
    await d.api(InterfaceService).updateInterface({ transactionId, interface: { name: "r1", mtu: 1280, adminState: AdminState.UP, description: "uplink 2" } });
    // 192.0.2.99 is on no connected subnet: the kernel refuses the route (ENETUNREACH).
    await d.api(RoutingService).createRoute({ transactionId, route: { destination: { cidr: "10.83.0.0/24" }, gateway: { address: "192.0.2.99" } } });
    const err = await failure(config.commit({ transactionId }));
    expect(err).toMatchObject({ code: 9, reason: "DATAPLANE_REJECTED", metadata: { item: "routes[table=254,destination=10.83.0.0/24]" } });
    expect((await config.getRevision({ revision: 0n })).info!.revision).toBe(before);
    expect(stateOf("r1")).toEqual(pristine);
    await restart();
    expect(stateOf("r1")).toEqual(pristine);
  });

  it("DeleteInterface returns a physical interface to the state it had before orbitald, also across a restart", async () => {
    const pristine = stateOf("r1");
    const ifs = d.api(InterfaceService);
    await ifs.updateInterface({ interface: { name: "r1", mtu: 1280, adminState: AdminState.UP, description: "uplink 2", addresses: [{ cidr: "10.52.0.1/24" }] } });
    expect(stateOf("r1")).toEqual({ mtu: 1280, up: true, alias: "uplink 2" });
    await ifs.deleteInterface({ name: "r1" });
    expect(stateOf("r1")).toEqual(pristine);
    expect(router.ipJson<{ addr_info: unknown[] }[]>("-4", "addr", "show", "r1")[0]?.addr_info ?? []).toEqual([]);
    // The record of the original state is on disk: a restart in between changes nothing.
    await d.api(InterfaceService).updateInterface({ interface: { name: "r1", mtu: 1300, description: "again" } });
    expect(stateOf("r1")).toMatchObject({ mtu: 1300, alias: "again" });
    await restart();
    await d.api(InterfaceService).deleteInterface({ name: "r1" });
    expect(stateOf("r1")).toEqual(pristine);
  });

  it("never replaces or removes a route it does not own: the commit is refused naming the foreign route", async () => {
    router.run("ip", "route", "add", "blackhole", "10.81.0.0/24", "proto", "static");
    const routing = d.api(RoutingService);
    const err = await failure(routing.createRoute({ route: { destination: { cidr: "10.81.0.0/24" }, gateway: { address: "10.51.0.2" } } }));
    expect(err).toMatchObject({
      code: 6,
      reason: "FOREIGN_ROUTE_CONFLICT",
      metadata: { item: "routes[table=254,destination=10.81.0.0/24]", table: "254", destination: "10.81.0.0/24", metric: "0", protocol: "4", type: "blackhole" },
    });
    const kernel = router.ipJsonNumeric<{ dst: string; type?: string; protocol: string }[]>("route", "show", "10.81.0.0/24");
    expect(kernel).toEqual([expect.objectContaining({ dst: "10.81.0.0/24", type: "6", protocol: "4" })]); // 6: blackhole
    expect(await failure(routing.getRoute({ destination: { cidr: "10.81.0.0/24" } }))).toMatchObject({ reason: "NOT_FOUND" });
    // Another metric is another key: both live side by side, and deleting ours leaves theirs.
    await routing.createRoute({ route: { destination: { cidr: "10.81.0.0/24" }, gateway: { address: "10.51.0.2" }, metric: 100 } });
    expect(router.ipJsonNumeric("route", "show", "10.81.0.0/24").map((r) => r.protocol).sort()).toEqual(["4", "77"]);
    await routing.deleteRoute({ destination: { cidr: "10.81.0.0/24" } });
    expect(router.ipJsonNumeric("route", "show", "10.81.0.0/24")).toEqual([expect.objectContaining({ protocol: "4" })]);
    router.run("ip", "route", "del", "blackhole", "10.81.0.0/24", "proto", "static");
  });

  it("a foreign route that takes a configured route's key while orbitald is down stays; ours follows once it goes", async () => {
    const routing = d.api(RoutingService);
    await routing.createRoute({ route: { destination: { cidr: "10.84.0.0/24" }, type: RouteType.BLACKHOLE } });
    await d.stop();
    router.run("ip", "route", "del", "10.84.0.0/24");
    router.run("ip", "route", "add", "unreachable", "10.84.0.0/24", "proto", "static");
    d = await startDaemon({ netns: router.name, dataDir: d.dataDir });
    const route = (await d.api(RoutingService).getRoute({ destination: { cidr: "10.84.0.0/24" } })).route!;
    expect(route).toMatchObject({ installed: false });
    expect(route.notInstalledReason).toMatch(/does not own/);
    expect(router.ipJsonNumeric("route", "show", "10.84.0.0/24")).toEqual([expect.objectContaining({ type: "7", protocol: "4" })]); // 7: unreachable
    router.run("ip", "route", "del", "unreachable", "10.84.0.0/24", "proto", "static");
    // The deletion is a kernel event: the reconciler installs ours without a restart.
    await waitFor(() => router.ipJsonNumeric("route", "show", "10.84.0.0/24").some((r) => r.protocol === "77"), 10_000, "our route");
    await d.api(RoutingService).deleteRoute({ destination: { cidr: "10.84.0.0/24" } });
  });

  it("starts, serves and reports DEGRADED when a route's interface is missing, and applies it when the link returns", async () => {
    const ifs = d.api(InterfaceService);
    await ifs.updateInterface({ interface: { name: "r1", adminState: AdminState.UP, addresses: [{ cidr: "10.52.0.1/24" }] } });
    await d.api(RoutingService).createRoute({ route: { destination: { cidr: "10.85.0.0/24" }, gateway: { address: "10.52.0.2" } } });
    await d.stop();
    router.run("ip", "link", "del", "r1");
    d = await startDaemon({ netns: router.name, dataDir: d.dataDir });
    const health = await d.api(SystemService).getHealth({});
    const byService = Object.fromEntries(health.services.map((s) => [s.service, s]));
    expect(byService["orbital.routing.v1.RoutingService"]).toMatchObject({ status: HealthStatus.DEGRADED });
    expect(byService["orbital.routing.v1.RoutingService"]!.detail).toContain("routes[table=254,destination=10.85.0.0/24]");
    expect(byService["orbital.user.v1.UserService"]).toMatchObject({ status: HealthStatus.SERVING });
    expect(health.backends.find((b) => b.name === "rtnetlink")).toMatchObject({ status: HealthStatus.DEGRADED });
    const items = Object.fromEntries(health.unappliedItems.map((i) => [i.item, i]));
    expect(items["routes[table=254,destination=10.85.0.0/24]"]).toMatchObject({ backend: "rtnetlink", errno: "ENETUNREACH" });
    expect(items["interfaces[r1]"]).toMatchObject({ backend: "rtnetlink", errno: "ENODEV" });
    const route = (await d.api(RoutingService).getRoute({ destination: { cidr: "10.85.0.0/24" } })).route!;
    expect(route).toMatchObject({ installed: false });
    expect(route.notInstalledReason).toMatch(/unreachable/i);
    // The API works for fixing things: an unrelated commit goes through.
    await d.api(RoutingService).createRoute({ route: { destination: { cidr: "10.86.0.0/24" }, type: RouteType.BLACKHOLE } });
    // The NIC comes back: link events make the reconciler apply the address and the route.
    secondLink();
    await waitFor(() => router.ipJson("route", "show", "10.85.0.0/24").length === 1, 10_000, "the route via r1");
    expect(router.ipJson<{ addr_info: { local: string }[] }[]>("-4", "addr", "show", "r1")[0]!.addr_info.map((a) => a.local)).toEqual(["10.52.0.1"]);
    await waitFor(async () => (await d.api(SystemService).getHealth({})).unappliedItems.length === 0, 10_000, "nothing unapplied");
    const after = await d.api(SystemService).getHealth({});
    expect(after.services.find((s) => s.service === "orbital.routing.v1.RoutingService")).toMatchObject({ status: HealthStatus.SERVING, detail: "" });
    expect((await d.api(RoutingService).getRoute({ destination: { cidr: "10.85.0.0/24" } })).route).toMatchObject({ installed: true, notInstalledReason: "" });
  });
});
