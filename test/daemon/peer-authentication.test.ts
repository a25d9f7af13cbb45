// Proves: socket callers are authenticated by SO_PEERCRED. uid 0 is root/admin; a uid mapped to a user
// gets that user's role; an unmapped uid is refused with UNAUTHENTICATED/UNKNOWN_PEER, never served anonymously.
// Topology: one daemon process, clients as child processes running under other uids (group "orbital").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
  await d.client(UserService).createUser({ user: { name: "vera", uid: 2001, role: "viewer" } });
});
afterAll(() => d.cleanup());

describe("peer credential authentication", () => {
  it("maps uid 0 to the built-in superuser", async () => {
    const me = await d.client(UserService).whoAmI({});
    expect(me.user).toBe("root");
    expect(me.role).toBe("admin");
    expect(me.uid).toBe(0);
    expect(me.pid).toBe(process.pid);
  });

  it("maps a configured uid to its user and role", async () => {
    const r = await callAs(d.socketPath, 2001, "orbital.user.v1.UserService/WhoAmI");
    expect(r.error).toBeUndefined();
    expect(r.responses?.[0]).toMatchObject({ user: "vera", role: "viewer", uid: 2001, authMethod: "AUTH_METHOD_PEER_CREDENTIALS" });
  });

  it("refuses a uid that maps to nobody, with a reason and a trace id", async () => {
    const r = await callAs(d.socketPath, 4242, "orbital.system.v1.SystemService/GetVersion");
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 16, reason: "UNKNOWN_PEER", metadata: { uid: "4242" } });
    expect(r.error?.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});
