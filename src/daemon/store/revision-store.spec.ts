// Contract of the revision store's deltas: a commit with its change is stored as a delta on the revision it
// was made from while that is smaller than a full copy, every revision reads back whole (route items and
// whole sections), a full revision is written once the deltas since the last one add up to its size, pruning
// keeps what the oldest kept delta is made from (its chain down to a full revision), a confirmation rewrites only a revision's info,
// and a broken delta makes the revisions
// built on it unusable (so that loading falls back to the one before it) without touching older ones.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RevisionSchema, type Revision } from "../../gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema, type Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { RouteSchema, RouteType, type Route } from "../../gen/orbital/routing/v1/routing_pb.js";
import { RoleSchema } from "../../gen/orbital/user/v1/user_pb.js";
import type { Logger } from "../../common/logger.js";
import { applyItemChanges, routeKey } from "../config/collections.js";
import { RevisionStore } from "./revision-store.js";

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "revision-store-spec-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const quietLog = () => ({ warn: vi.fn(), error: vi.fn() }) as unknown as Logger;
const route = (cidr: string, metric = 0): Route => create(RouteSchema, { destination: { cidr }, type: RouteType.BLACKHOLE, metric });
const revision = (n: bigint, configuration: Configuration): Revision => create(RevisionSchema, { info: { revision: n, author: "spec" }, configuration });
const cidrs = (c: Configuration) => c.routes.map((r) => `${r.destination!.cidr}:${r.metric}`);
const files = () => readdirSync(path.join(dataDir, "config", "revisions")).sort();

/** A store holding revision 1 (200 routes, full) and 2..n, each one route change as a delta. */
function history(n: number): { store: RevisionStore; contents: Map<bigint, string[]> } {
  const store = new RevisionStore(dataDir, quietLog());
  const config = create(ConfigurationSchema, { routes: Array.from({ length: 200 }, (_, i) => route(`10.0.${i}.0/24`)) });
  store.write(revision(1n, config));
  const contents = new Map([[1n, cidrs(config)]]);
  for (let r = 2n; r <= BigInt(n); r++) {
    const changed = Number(r) % 2 === 0 ? route(`10.1.${r}.0/24`) : route(`10.0.${r}.0/24`, Number(r));
    const changes = new Map([[routeKey(changed), changed]]);
    applyItemChanges(config, "routes", changes);
    store.write(revision(r, config), { base: r - 1n, sections: [], routes: changes });
    contents.set(r, cidrs(config));
  }
  return { store, contents };
}

describe("RevisionStore deltas", () => {
  it("stores single-route commits as deltas and reads every revision back whole", () => {
    const { store, contents } = history(6);
    expect(files()).toEqual(["00000001.binpb", "00000002.delta", "00000003.delta", "00000004.delta", "00000005.delta", "00000006.delta"]);
    for (const [n, want] of contents) expect(cidrs(store.read(n).configuration!), `revision ${n}`).toEqual(want);
    expect(store.read(6n).info!.revision).toBe(6n);
    // A removal, and a whole section replaced, read back too.
    const config = store.read(6n).configuration!;
    const gone = config.routes[3]!;
    applyItemChanges(config, "routes", new Map([[routeKey(gone), undefined]]));
    store.write(revision(7n, config), { base: 6n, sections: [], routes: new Map([[routeKey(gone), undefined]]) });
    config.roles = [create(RoleSchema, { name: "r", capabilities: ["system.read"] })];
    store.write(revision(8n, config), { base: 7n, sections: ["roles"] });
    expect(cidrs(store.read(7n).configuration!)).not.toContain(`${gone.destination!.cidr}:${gone.metric}`);
    expect(store.read(8n).configuration!.roles.map((r) => r.name)).toEqual(["r"]);
    expect(cidrs(store.read(8n).configuration!)).toEqual(cidrs(store.read(7n).configuration!));
  });

  it("writes a full revision once the deltas since the last one add up to its size", () => {
    const { contents } = history(120);
    const dir = path.join(dataDir, "config", "revisions");
    const names = files();
    const fulls = names.filter((f) => f.endsWith(".binpb"));
    expect(fulls.length).toBeGreaterThanOrEqual(2);
    // Between two full revisions: deltas adding up to less than the first one's size.
    const between = names.slice(names.indexOf(fulls[0]!) + 1, names.indexOf(fulls[1]!));
    expect(between.length).toBeGreaterThan(5);
    expect(between.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0)).toBeLessThan(statSync(path.join(dir, fulls[0]!)).size);
    const fresh = new RevisionStore(dataDir, quietLog());
    for (const n of [120n, 60n, BigInt(between.length + 2)]) expect(cidrs(fresh.read(n).configuration!), `revision ${n}`).toEqual(contents.get(n));
  });

  it("prunes to the newest N but keeps the full revision and deltas they are made from", () => {
    const { store, contents } = history(120);
    const lastFull = files().filter((f) => f.endsWith(".binpb") && f <= "00000116").at(-1)!;
    store.prune(5);
    const left = files();
    // Everything from the full revision that 116 (the oldest kept) is made from on, nothing older.
    expect(left[0]).toBe(lastFull);
    expect(left.at(-1)).toBe("00000120.delta");
    expect(left.length).toBe(120 - Number(lastFull.slice(0, 8)) + 1);
    for (const n of [116n, 120n]) expect(cidrs(store.read(n).configuration!)).toEqual(contents.get(n));
  });

  it("a confirmation rewrites only the info: a delta stays the delta, a full revision stays full", () => {
    const { store, contents } = history(6);
    const dir = path.join(dataDir, "config", "revisions");
    const config = store.read(6n).configuration!;
    const changed = route("10.9.0.0/24");
    const changes = new Map([[routeKey(changed), changed]]);
    applyItemChanges(config, "routes", changes);
    const pending = revision(7n, config);
    pending.info!.confirmDeadline = timestampFromMs(1_900_000_000_000);
    store.write(pending, { base: 6n, sections: [], routes: changes });
    expect(store.readInfo(7n).confirmDeadline).toBeDefined();
    const deltaBytes = statSync(path.join(dir, "00000007.delta")).size;
    const confirmed = store.read(7n);
    confirmed.info!.confirmDeadline = undefined;
    confirmed.info!.comment = "confirmed";
    store.rewriteInfo(confirmed);
    expect(files()).toEqual(["00000001.binpb", "00000002.delta", "00000003.delta", "00000004.delta", "00000005.delta", "00000006.delta", "00000007.delta"]);
    expect(statSync(path.join(dir, "00000007.delta")).size).toBeLessThan(deltaBytes + 16);
    const fresh = new RevisionStore(dataDir, quietLog());
    expect(fresh.readInfo(7n)).toMatchObject({ revision: 7n, comment: "confirmed" });
    expect(fresh.readInfo(7n).confirmDeadline).toBeUndefined();
    expect(cidrs(fresh.read(7n).configuration!)).toEqual(cidrs(config));
    expect(cidrs(fresh.read(6n).configuration!)).toEqual(contents.get(6n));
    // A full revision (1) is written whole again, with its configuration.
    const first = fresh.read(1n);
    first.info!.comment = "confirmed";
    fresh.rewriteInfo(first);
    expect(fresh.readInfo(1n).comment).toBe("confirmed");
    expect(cidrs(fresh.read(1n).configuration!)).toEqual(contents.get(1n));
    expect(files()[0]).toBe("00000001.binpb");
  });

  it("a broken delta makes the revisions on it unusable, and loading falls back to the one before", () => {
    const { contents } = history(6);
    writeFileSync(path.join(dataDir, "config", "revisions", "00000004.delta"), Buffer.from([0xff, 0xff, 0xff, 0x07, 0x01]));
    const store = new RevisionStore(dataDir, quietLog());
    expect(() => store.read(5n)).toThrow();
    const { active, skipped } = store.loadActive(() => undefined);
    expect(active!.info!.revision).toBe(3n);
    expect(cidrs(active!.configuration!)).toEqual(contents.get(3n));
    expect(skipped.map((s) => s.split(" (")[0])).toEqual(["revision 6 is unusable", "revision 5 is unusable", "revision 4 is unusable"]);
  });
});
