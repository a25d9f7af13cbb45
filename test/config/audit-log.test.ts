// Proves: every call of a mutating RPC (one that needs a ".write" capability) is recorded in the audit log,
// allowed or denied: principal (or uid when unauthenticated), method, result code, reason and trace id.
// Topology: one daemon; root in-process, a viewer and an unmapped uid as child processes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(() => d.cleanup());

function audit(): Record<string, string>[] {
  return readFileSync(path.join(d.dataDir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
}

describe("audit log", () => {
  it("records allowed and denied mutating calls, and no reads", async () => {
    let traceId = "";
    await d.client(UserService).createUser({ user: { name: "val", uid: 6101, role: "viewer" } }, { onTrace: (t) => (traceId = t) });
    await d.client(UserService).listUsers({});
    const denied = await callAs(d.socketPath, 6101, "orbital.user.v1.UserService/DeleteUser", { name: "root" });
    const stranger = await callAs(d.socketPath, 6199, "orbital.user.v1.UserService/CreateRole", { role: { name: "x" } });
    await expect.poll(() => audit().length).toBe(3);
    const [created, refused, unknown] = audit();
    expect(created).toMatchObject({ principal: "root", method: "/orbital.user.v1.UserService/CreateUser", code: "OK", traceId });
    expect(refused).toMatchObject({ principal: "val", method: "/orbital.user.v1.UserService/DeleteUser", code: "PERMISSION_DENIED", reason: "CAPABILITY_MISSING", traceId: denied.error?.traceId });
    expect(unknown).toMatchObject({ principal: "uid:6199", method: "/orbital.user.v1.UserService/CreateRole", code: "UNAUTHENTICATED", reason: "UNKNOWN_PEER", traceId: stranger.error?.traceId });
    for (const r of audit()) expect(Date.parse(r.time!)).not.toBeNaN();
  });
});
