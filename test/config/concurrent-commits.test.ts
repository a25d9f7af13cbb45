// Proves: commits are serialized and no update is lost: many one-change commits at once all land as
// consecutive revisions; two transactions from the same base merge when they touch different items, and the
// second fails with ABORTED/CONFIG_CONFLICT when both changed the same item. Topology: one daemon, root clients.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(() => d.cleanup());

describe("concurrent commits", () => {
  it("serializes 40 simultaneous one-change commits without losing one", async () => {
    const start = (await d.client(ConfigService).listRevisions({})).activeRevision;
    const clients = [d.client(UserService), d.client(UserService), d.client(UserService), d.client(UserService)];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => clients[i % 4]!.createRole({ role: { name: `r${i}`, capabilities: ["system.read"] } })),
    );
    const revisions = results.map((r) => r.revision).sort((a, b) => (a < b ? -1 : 1));
    expect(revisions).toEqual(Array.from({ length: 40 }, (_, i) => start + 1n + BigInt(i)));
    const roles = await d.client(UserService).listRoles({ page: { size: 100 } });
    for (let i = 0; i < 40; i++) expect(roles.roles.some((r) => r.name === `r${i}`)).toBe(true);
  });

  it("merges transactions that touched different items and refuses the one whose item was overtaken", async () => {
    const config = d.client(ConfigService);
    const users = d.client(UserService);
    await users.createRole({ role: { name: "shared", capabilities: [] } });
    const [a, b, c] = await Promise.all([config.begin({}), config.begin({}), config.begin({})]);
    const base = a.transaction!.baseRevision;
    expect(b.transaction!.baseRevision).toBe(base);
    await users.updateRole({ role: { name: "shared", description: "from a" }, updateMask: { paths: ["description"] }, transactionId: a.transaction!.id });
    await users.updateRole({ role: { name: "shared", description: "from b" }, updateMask: { paths: ["description"] }, transactionId: b.transaction!.id });
    await users.createRole({ role: { name: "only-c", capabilities: [] }, transactionId: c.transaction!.id });

    const first = await config.commit({ transactionId: a.transaction!.id });
    expect(first.revision?.revision).toBe(base + 1n);
    const err = await config.commit({ transactionId: b.transaction!.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrbitalError);
    expect(err).toMatchObject({ code: 10, reason: "CONFIG_CONFLICT", metadata: { baseRevision: String(base), runningRevision: String(base + 1n) } });
    expect((err as OrbitalError).message).toContain("roles[shared]");
    const merged = await config.commit({ transactionId: c.transaction!.id });
    expect(merged.revision?.revision).toBe(base + 2n);
    expect((await users.getRole({ name: "shared" })).role?.description).toBe("from a");
    expect((await users.getRole({ name: "only-c" })).role?.name).toBe("only-c");
  });
});
