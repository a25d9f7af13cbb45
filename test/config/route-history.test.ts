// Proves: on a 100,000-route configuration, 50 one-change commits of single routes (creates, metric updates,
// deletes) are each kept as a revision that GetRevision reads back with exactly its content, that Rollback
// restores (to the oldest kept, 50 revisions back, and to one in the middle), and that a transaction's Diff
// against the running one names just what it changes; the revision storage holds the 50 revisions in a
// small multiple of one full configuration (deltas, not a copy per commit), and a restart reads the newest
// revision back through them.
// Topology: one orbitald (sim data plane), restarted once on the same data dir; the SDK in this process.
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ChangeKind, ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { RouteType, RoutingService, type Route } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { startDaemon } from "../support/daemon.js";

const ROUTES = 100_000;
const COMMITS = 50;
const BATCH = 10_000;
const CALL_DEADLINE_MS = 120_000;
const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-route-history-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const destinationOf = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}/32`;
const keyOf = (r: Pick<Route, "destination">) => r.destination!.cidr;
/** What a revision holds, as destination → metric (every route is a blackhole). */
type Expected = Map<string, number>;

async function* bulk() {
  for (let first = 0; first < ROUTES; first += BATCH) {
    yield { adds: Array.from({ length: BATCH }, (_, i) => ({ destination: { cidr: destinationOf(first + i) }, type: RouteType.BLACKHOLE })) };
  }
}

function revisionBytes(): { total: number; files: number } {
  const dir = path.join(dataDir, "config", "revisions");
  const names = readdirSync(dir).filter((f) => !f.startsWith("."));
  return { total: names.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0), files: names.length };
}

function expectContent(routes: Route[], expected: Expected, what: string): void {
  expect(routes.length, what).toBe(expected.size);
  const got = new Map(routes.map((r) => [keyOf(r), r.metric]));
  for (const [cidr, metric] of expected) if (got.get(cidr) !== metric) expect([cidr, got.get(cidr)], what).toEqual([cidr, metric]);
}

describe("route history on a 100k-route configuration", () => {
  it(`keeps ${COMMITS} one-change revisions readable, diffable and restorable, in deltas`, async () => {
    let d = await startDaemon({ dataDir });
    try {
      // Reads and rollbacks of 100k routes can take over the default 10 s on a loaded 2-core machine: this test is
      // about what they return, not how fast (bench/commit-latency.mjs measures that).
      const routing = d.client(RoutingService, CALL_DEADLINE_MS);
      const config = d.client(ConfigService, CALL_DEADLINE_MS);
      const loaded = await routing.bulkUpdateRoutes(bulk(), { deadlineMs: 300_000 });
      expect(loaded.failures).toEqual([]);
      const full = revisionBytes().total; // one revision: the bulk commit's, a full one
      // What each commit changed (destination → metric, undefined: deleted); expectedAt() replays them.
      const changes: { revision: bigint; cidr: string; metric: number | undefined }[] = [];
      const expectedAt = (n: bigint): Expected => {
        const state: Expected = new Map(Array.from({ length: ROUTES }, (_, i) => [destinationOf(i), 0]));
        for (const c of changes) {
          if (c.revision > n) break;
          if (c.metric === undefined) state.delete(c.cidr);
          else state.set(c.cidr, c.metric);
        }
        return state;
      };
      let revision = loaded.revision;
      for (let i = 0; i < COMMITS; i++) {
        if (i % 3 === 0) {
          const cidr = `198.18.${i}.0/24`;
          revision = (await routing.createRoute({ route: { destination: { cidr }, type: RouteType.BLACKHOLE, metric: i } })).revision;
          changes.push({ revision, cidr, metric: i });
        } else if (i % 3 === 1) {
          const cidr = destinationOf(i * 997);
          revision = (await routing.updateRoute({ route: { destination: { cidr }, metric: 1000 + i }, updateMask: { paths: ["metric"] } })).revision;
          changes.push({ revision, cidr, metric: 1000 + i });
        } else {
          const cidr = destinationOf(i * 1999 + 1);
          revision = (await routing.deleteRoute({ destination: { cidr } })).revision;
          changes.push({ revision, cidr, metric: undefined });
        }
      }
      const history = await config.listRevisions({ page: { size: 1000 } });
      expect(history.revisions.length).toBe(COMMITS);
      const kept = history.revisions.map((r) => r.revision);
      expect(kept[0]).toBe(revision);
      // Every kept revision but the bulk one is a one-change commit of routes.
      for (const r of history.revisions) expect(r.changedSections).toEqual(["routes"]);

      // Deltas: 50 revisions of 100k routes in far less than 50 full copies.
      const stored = revisionBytes();
      expect(stored.total).toBeLessThan(3 * full);

      // GetRevision: the oldest kept, some in the middle, the newest.
      for (const n of [kept.at(-1)!, kept[37]!, kept[20]!, kept[1]!, kept[0]!]) {
        const got = await config.getRevision({ revision: n });
        expectContent(got.configuration!.routes, expectedAt(n), `revision ${n}`);
      }

      // Rollback 49 revisions back (the oldest kept), then forward to one in the middle.
      const oldest = kept.at(-1)!;
      const back = await config.rollback({ revision: oldest, comment: "to the oldest kept" });
      expect(back.revision!.rolledBackTo).toBe(oldest);
      expectContent((await config.getRevision({ revision: 0n })).configuration!.routes, expectedAt(oldest), "after rollback to the oldest");
      const middle = kept[25]!;
      await config.rollback({ revision: middle });
      expectContent((await config.getRevision({ revision: 0n })).configuration!.routes, expectedAt(middle), "after rollback to the middle");
      expect((await routing.getRoute({ destination: { cidr: "198.18.0.0/24" } })).route!.metric).toBe(0);

      // A transaction's Diff names just its change against the (rolled back) running configuration.
      const tx = (await config.begin({})).transaction!.id;
      await routing.createRoute({ transactionId: tx, route: { destination: { cidr: "203.0.113.0/24" }, type: RouteType.BLACKHOLE } });
      await routing.deleteRoute({ transactionId: tx, destination: { cidr: destinationOf(5) } });
      const diff = await config.diff({ transactionId: tx });
      expect(diff.changes.map((c) => [c.path, c.kind])).toEqual([
        ["routes[table=254,destination=10.0.0.5/32]", ChangeKind.REMOVED],
        ["routes[table=254,destination=203.0.113.0/24]", ChangeKind.ADDED],
      ]);
      const committed = await config.commit({ transactionId: tx });
      const final = new Map(expectedAt(middle));
      final.set("203.0.113.0/24", 0);
      final.delete(destinationOf(5));
      expect((await config.getRevision({ revision: committed.revision!.revision })).configuration!.routes.length).toBe(final.size);
      expect(await d.stop()).toBe(0);

      // A restart reads the newest revision back through its deltas.
      d = await startDaemon({ dataDir });
      const restarted = d.client(ConfigService, CALL_DEADLINE_MS);
      const again = await restarted.getRevision({ revision: 0n });
      expect(again.info!.revision).toBe(committed.revision!.revision);
      expectContent(again.configuration!.routes, final, "after the restart");
      expect((await restarted.getRevision({ revision: kept[30]! })).configuration!.routes.length).toBe(expectedAt(kept[30]!).size);
    } finally {
      await d.cleanup();
    }
  }, 300_000);
});
