// Proves: revisions written by the release before revision deltas (fixtures/release-revisions: seven full
// <number>.binpb files made by that build's daemon with the sim data plane: role legacy-a; routes
// 10.0.2.0/24, 10.0.10.0/24 and 10.0.1.0/24 created; 10.0.10.0/24's metric set to 7; 10.0.2.0/24 deleted;
// role legacy-b) are still the active configuration after the upgrade, every one reads back with GetRevision,
// new commits go on top of them, Rollback restores one of them, and all of it survives a restart. (Revisions
// this small are stored whole: a delta is written only where it is smaller; route-history.test.ts shows them.)
// Topology: one orbitald (sim data plane), restarted once on the same data dir; the SDK in this process.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { startDaemon } from "../support/daemon.js";

const fixture = path.join(import.meta.dirname, "fixtures", "release-revisions");
const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-release-revisions-"));
const revisionsDir = path.join(dataDir, "config", "revisions");
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Each fixture revision's routes (destination:metric, in order) and roles. */
const written: Record<number, { routes: string[]; roles: string[] }> = {
  1: { routes: [], roles: ["legacy-a"] },
  2: { routes: ["10.0.2.0/24:0"], roles: ["legacy-a"] },
  3: { routes: ["10.0.2.0/24:0", "10.0.10.0/24:0"], roles: ["legacy-a"] },
  4: { routes: ["10.0.1.0/24:0", "10.0.2.0/24:0", "10.0.10.0/24:0"], roles: ["legacy-a"] },
  5: { routes: ["10.0.1.0/24:0", "10.0.2.0/24:0", "10.0.10.0/24:7"], roles: ["legacy-a"] },
  6: { routes: ["10.0.1.0/24:0", "10.0.10.0/24:7"], roles: ["legacy-a"] },
  7: { routes: ["10.0.1.0/24:0", "10.0.10.0/24:7"], roles: ["legacy-a", "legacy-b"] },
};

describe("revisions written by the previous release", () => {
  it("read back, take deltas on top, roll back and survive a restart", async () => {
    cpSync(fixture, revisionsDir, { recursive: true });
    let d = await startDaemon({ dataDir });
    try {
      const config = d.api(ConfigService);
      const content = async (revision: bigint) => {
        const c = (await config.getRevision({ revision })).configuration!;
        return { routes: c.routes.map((r) => `${r.destination!.cidr}:${r.metric}`), roles: c.roles.map((r) => r.name) };
      };
      expect((await config.getRevision({ revision: 0n })).info!.revision).toBe(7n);
      for (const [n, want] of Object.entries(written)) expect(await content(BigInt(n)), `revision ${n}`).toEqual(want);

      const routing = d.api(RoutingService);
      const added = await routing.createRoute({ route: { destination: { cidr: "10.0.3.0/24" }, type: RouteType.BLACKHOLE } });
      expect(added.revision).toBe(8n);
      expect(await content(8n)).toEqual({ routes: ["10.0.1.0/24:0", "10.0.3.0/24:0", "10.0.10.0/24:7"], roles: ["legacy-a", "legacy-b"] });
      const back = await config.rollback({ revision: 3n });
      expect(back.revision!.revision).toBe(9n);
      expect(await content(0n)).toEqual(written[3]);
      expect(await d.stop()).toBe(0);

      d = await startDaemon({ dataDir });
      const again = d.api(ConfigService);
      expect((await again.getRevision({ revision: 0n })).info!.revision).toBe(9n);
      expect((await again.listRevisions({ page: { size: 100 } })).revisions.map((r) => r.revision)).toEqual([9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n]);
      expect((await again.getRevision({ revision: 8n })).configuration!.routes.map((r) => r.destination!.cidr)).toEqual(["10.0.1.0/24", "10.0.3.0/24", "10.0.10.0/24"]);
      expect((await again.getRevision({ revision: 2n })).configuration!.routes.map((r) => r.destination!.cidr)).toEqual(["10.0.2.0/24"]);
    } finally {
      await d.cleanup();
    }
  });
});
