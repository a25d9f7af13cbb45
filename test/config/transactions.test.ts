// Proves: configuration transactions through the API: Begin binds a candidate to its principal, staged
// mutations change nothing until Commit, Diff shows the candidate (structured and as text), Discard drops it,
// ListRevisions/GetRevision show history (secrets redacted) and Rollback commits an old revision's content.
// Topology: one daemon (sim data plane); root in-process, an operator and a viewer as child processes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeKind, ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
  const users = d.client(UserService);
  await users.createUser({ user: { name: "otto", uid: 3301, role: "operator" } });
  await users.createUser({ user: { name: "vic", uid: 3302, role: "viewer" } });
});
afterAll(() => d.cleanup());

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as OrbitalError);

describe("transactions", () => {
  it("stages changes invisibly, diffs them, and commits them as one revision", async () => {
    const config = d.client(ConfigService);
    const users = d.client(UserService);
    const before = (await config.listRevisions({})).activeRevision;
    const { transaction } = await config.begin({});
    expect(transaction?.owner).toBe("root");
    expect(transaction?.baseRevision).toBe(before);
    const tx = transaction!.id;
    const staged = await users.createRole({ role: { name: "netops", capabilities: ["routing.read", "routing.write"] }, transactionId: tx });
    expect(staged.revision).toBe(0n);
    await users.createUser({ user: { name: "nina", uid: 3303, role: "netops" }, transactionId: tx });
    await users.updateUser({ user: { name: "vic", description: "auditor" }, updateMask: { paths: ["description"] }, transactionId: tx });
    // Nothing is visible before the commit.
    expect(await failure(users.getUser({ name: "nina" }))).toMatchObject({ reason: "NOT_FOUND" });
    expect((await config.listRevisions({})).activeRevision).toBe(before);

    const diff = await config.diff({ transactionId: tx });
    expect(diff.changes.map((c) => [c.path, c.kind])).toEqual([
      ["roles[netops]", ChangeKind.ADDED],
      ["users[nina]", ChangeKind.ADDED],
      ["users[vic]", ChangeKind.MODIFIED],
    ]);
    expect(diff.text).toMatch(/^\+ roles\[netops\]/m);
    expect(diff.text).toMatch(/^~ users\[vic\]/m);
    for (const line of diff.text.trimEnd().split("\n")) expect(line.length).toBeLessThanOrEqual(80);

    const { revision } = await config.commit({ transactionId: tx, comment: "netops team" });
    expect(revision).toMatchObject({ revision: before + 1n, author: "root", comment: "netops team" });
    expect((await users.getUser({ name: "nina" })).user?.role).toBe("netops");
    // The transaction ended with its commit.
    expect(await failure(config.commit({ transactionId: tx }))).toMatchObject({ code: 5, reason: "TRANSACTION_NOT_FOUND", metadata: { transactionId: tx } });
  });

  it("drops a discarded candidate", async () => {
    const config = d.client(ConfigService);
    const { transaction } = await config.begin({});
    await d.client(UserService).createRole({ role: { name: "temp", capabilities: [] }, transactionId: transaction!.id });
    await config.discard({ transactionId: transaction!.id });
    expect(await failure(d.client(UserService).getRole({ name: "temp" }))).toMatchObject({ reason: "NOT_FOUND" });
    expect(await failure(config.diff({ transactionId: transaction!.id }))).toMatchObject({ reason: "TRANSACTION_NOT_FOUND" });
  });

  it("binds a transaction to its principal", async () => {
    const { transaction } = await d.client(ConfigService).begin({});
    const r = await callAs(d.socketPath, 3301, "orbital.config.v1.ConfigService/Diff", { transactionId: transaction!.id });
    expect(r.error).toMatchObject({ code: 7, reason: "TRANSACTION_NOT_OWNED", metadata: { transactionId: transaction!.id, owner: "root" } });
    const own = await callAs(d.socketPath, 3301, "orbital.config.v1.ConfigService/Begin");
    expect(own.responses?.[0]).toMatchObject({ transaction: { owner: "otto" } });
    const viewer = await callAs(d.socketPath, 3302, "orbital.config.v1.ConfigService/Begin");
    expect(viewer.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING", metadata: { capability: "config.write" } });
  });

  it("lists revisions newest first and redacts token hashes", async () => {
    const config = d.client(ConfigService);
    await d.client(UserService).createApiToken({ token: { user: "otto", description: "ci" } });
    const list = await config.listRevisions({ page: { size: 2 } });
    expect(list.revisions).toHaveLength(2);
    expect(list.revisions[0]!.revision).toBe(list.activeRevision);
    expect(list.revisions[0]!.revision).toBeGreaterThan(list.revisions[1]!.revision);
    expect(list.page?.nextToken).not.toBe("");
    const active = await config.getRevision({ revision: 0n });
    expect(active.info?.revision).toBe(list.activeRevision);
    expect(active.configuration?.apiTokens.length).toBe(1);
    expect(active.configuration?.apiTokenHashes).toEqual({});
    expect(await failure(config.getRevision({ revision: 999n }))).toMatchObject({ code: 5, reason: "REVISION_NOT_FOUND", metadata: { revision: "999" } });
  });

  it("rolls back by committing an old revision's content as a new revision", async () => {
    const config = d.client(ConfigService);
    const users = d.client(UserService);
    const target = (await config.listRevisions({})).activeRevision;
    await users.deleteUser({ name: "nina" });
    await users.createRole({ role: { name: "later", capabilities: ["system.read"] } });
    const { revision } = await config.rollback({ revision: target, comment: "undo" });
    expect(revision).toMatchObject({ rolledBackTo: target, comment: "undo" });
    expect(revision!.revision).toBe(target + 3n);
    const [now, then] = await Promise.all([config.getRevision({ revision: 0n }), config.getRevision({ revision: target })]);
    expect(now.configuration).toEqual(then.configuration);
    expect((await users.getUser({ name: "nina" })).user?.role).toBe("netops");
  });
});
