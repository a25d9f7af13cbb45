// Proves: a transaction that stages only single-route changes (Create/Update/DeleteRoute with a transaction
// id) diffs as exactly those changes (a route created and deleted again in it is no change), commits them as
// one revision, merges with commits made since it began when they touched other routes (or made a route what
// the transaction makes of it), and is refused with CONFIG_CONFLICT naming the route when one of its routes
// was changed otherwise; a transaction that also stages something else commits as a whole, as before.
// Topology: one orbitald (sim data plane); the SDK in this process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrbitalError } from "../../src/common/errors.js";
import { ChangeKind, ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(() => d.cleanup());

const blackhole = (cidr: string, metric = 0) => ({ destination: { cidr }, type: RouteType.BLACKHOLE, metric });
const metricOf = async (cidr: string) => (await d.api(RoutingService).getRoute({ destination: { cidr } })).route!.metric;

describe("transactions of single routes", () => {
  it("diff and commit as just their changes, merge with other routes' commits, conflict on their own", async () => {
    const config = d.api(ConfigService);
    const routing = d.api(RoutingService);
    for (const cidr of ["10.20.1.0/24", "10.20.2.0/24", "10.20.3.0/24"]) await routing.createRoute({ route: blackhole(cidr) });

    const a = (await config.begin({})).transaction!;
    const b = (await config.begin({})).transaction!;
    await routing.createRoute({ transactionId: a.id, route: blackhole("10.20.9.0/24") });
    await routing.updateRoute({ transactionId: a.id, route: { destination: { cidr: "10.20.1.0/24" }, metric: 11 }, updateMask: { paths: ["metric"] } });
    await routing.deleteRoute({ transactionId: a.id, destination: { cidr: "10.20.2.0/24" } });
    await routing.createRoute({ transactionId: a.id, route: blackhole("10.20.8.0/24") });
    await routing.deleteRoute({ transactionId: a.id, destination: { cidr: "10.20.8.0/24" } });
    const diff = await config.diff({ transactionId: a.id });
    expect(diff.changes.map((c) => [c.path, c.kind])).toEqual([
      ["routes[table=254,destination=10.20.1.0/24]", ChangeKind.MODIFIED],
      ["routes[table=254,destination=10.20.2.0/24]", ChangeKind.REMOVED],
      ["routes[table=254,destination=10.20.9.0/24]", ChangeKind.ADDED],
    ]);
    expect(diff.text).toContain("+ routes[table=254,destination=10.20.9.0/24]");
    expect(diff.text).toContain('  - {"destination":{"cidr":"10.20.1.0/24"},"type":"ROUTE_TYPE_BLACKHOLE"}\n');
    await expect(routing.getRoute({ destination: { cidr: "10.20.9.0/24" } })).rejects.toMatchObject({ reason: "NOT_FOUND" });

    // Meanwhile: another route changes, and one of a's is made what a makes of it.
    await routing.updateRoute({ route: { destination: { cidr: "10.20.3.0/24" }, metric: 33 }, updateMask: { paths: ["metric"] } });
    await routing.createRoute({ route: blackhole("10.20.9.0/24") });
    // b changes 10.20.1.0/24 otherwise than a.
    await routing.updateRoute({ transactionId: b.id, route: { destination: { cidr: "10.20.1.0/24" }, metric: 99 }, updateMask: { paths: ["metric"] } });

    const committed = await config.commit({ transactionId: a.id, comment: "a" });
    expect(committed.revision).toMatchObject({ comment: "a", changedSections: ["routes"] });
    expect(await metricOf("10.20.1.0/24")).toBe(11);
    expect(await metricOf("10.20.3.0/24")).toBe(33);
    await expect(routing.getRoute({ destination: { cidr: "10.20.2.0/24" } })).rejects.toMatchObject({ reason: "NOT_FOUND" });
    expect((await config.getRevision({ revision: 0n })).configuration!.routes.map((r) => r.destination!.cidr)).toEqual(["10.20.1.0/24", "10.20.3.0/24", "10.20.9.0/24"]);

    const err = await config.commit({ transactionId: b.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrbitalError);
    expect(err).toMatchObject({ reason: "CONFIG_CONFLICT" });
    expect((err as OrbitalError).message).toContain("routes[table=254,destination=10.20.1.0/24]");
    expect(await metricOf("10.20.1.0/24")).toBe(11);
  });

  it("a transaction that also stages another section commits as a whole", async () => {
    const config = d.api(ConfigService);
    const tx = (await config.begin({})).transaction!;
    await d.api(RoutingService).createRoute({ transactionId: tx.id, route: blackhole("10.21.0.0/24") });
    await d.api(UserService).createRole({ transactionId: tx.id, role: { name: "with-route", capabilities: [] } });
    await d.api(RoutingService).updateRoute({ transactionId: tx.id, route: { destination: { cidr: "10.21.0.0/24" }, metric: 5 }, updateMask: { paths: ["metric"] } });
    expect((await config.diff({ transactionId: tx.id })).changes.map((c) => c.path)).toEqual(["roles[with-route]", "routes[table=254,destination=10.21.0.0/24]"]);
    const committed = await config.commit({ transactionId: tx.id });
    expect(committed.revision!.changedSections).toEqual(["routes", "roles"]);
    expect(await metricOf("10.21.0.0/24")).toBe(5);
  });
});
